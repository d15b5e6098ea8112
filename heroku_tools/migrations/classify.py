"""Verdicts for migrations: each operation judged against the state the earlier migrations leave.

The whole graph is replayed in ``migrate``'s order (cheap: no SQL, no
imports); the migrations asked about are judged on the way, so a rule sees
the models exactly as the migrations before it left them, and knows which
tables and columns the same deploy creates (the old code has never used those).

A migration's verdict is its worst operation (among equals, the first one
nobody marked); marks then apply, strongest first: the caller's overrides,
a ``# heroku-tools:`` comment on the ``class Migration`` line,
django-safemigrate's ``safe``, django-syzygy's ``stage``.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .graph import Graph
from .markers import Mark, Overrides
from .parse import SWAPPABLE, Key, Migration, Operation
from .rules import Context, judge
from .state import ProjectState
from .verdicts import Judgement, Verdict, compatible, unknown


@dataclass(frozen=True)
class OperationVerdict:
    """One operation, the rules' judgement of it, and its own ``# heroku-tools:`` mark if any."""

    operation: Operation
    judgement: Judgement
    mark: Mark | None = None

    @property
    def verdict(self) -> Verdict:
        return self.mark.verdict if self.mark else self.judgement.verdict

    def as_json(self) -> dict[str, Any]:
        return {
            "class": self.operation.name if self.operation.call else None,
            "line": self.operation.line,
            "verdict": self.verdict.value,
            "reason": self.judgement.reason,
            "marked_by": self.mark.source if self.mark else None,
        }


@dataclass(frozen=True)
class Classified:
    """A migration's verdict, the operation that decided it, and what overrode the rules, if anything.

    ``judgement`` is the rules' reason and advice for the deciding operation
    (kept when a mark overrides the verdict, so a report can say both).
    ``migration`` is ``None`` for a migration whose file is not known here.
    """

    key: Key
    migration: Migration | None
    verdict: Verdict
    judgement: Judgement
    operation: Operation | None = None
    mark: Mark | None = None
    operations: tuple[OperationVerdict, ...] = ()

    @property
    def reason(self) -> str:
        return self.judgement.reason

    @property
    def advice(self) -> str:
        return self.judgement.advice

    @property
    def marked(self) -> bool:
        """Someone decided this verdict (an override or a marker), so a gate need not stop on it."""
        return self.mark is not None

    @property
    def file(self) -> str | None:
        return self.migration.path if self.migration else None

    @property
    def line(self) -> int | None:
        if self.operation is not None:
            return self.operation.line
        return self.migration.line if self.migration else None

    def as_json(self) -> dict[str, Any]:
        deciding = None
        if self.migration is not None:
            deciding = {"class": self.operation.name if self.operation else None, "file": self.file, "line": self.line}
        return {
            "app": self.key.app,
            "name": self.key.name,
            "verdict": self.verdict.value,
            "rules_verdict": self.judgement.verdict.value,
            "reason": self.reason,
            "advice": self.advice,
            "marked_by": self.mark.source if self.mark else None,
            "operation": deciding,
            "operations": [operation.as_json() for operation in self.operations],
        }


def as_overrides(overrides: Overrides | Mapping[str, Iterable[str]] | None) -> Overrides:
    return overrides if isinstance(overrides, Overrides) else Overrides.from_mapping(overrides)


def classify(
    graph: Graph,
    keys: Iterable[tuple[str, str]],
    *,
    overrides: Overrides | Mapping[str, Iterable[str]] | None = None,
    swappable: Mapping[str, str] | None = None,
    alone: bool = False,
) -> list[Classified]:
    """Verdicts for ``keys`` (in the order given), each judged against the state before it.

    The migrations in ``keys`` ship together: a table one of them creates is
    new to the old code for the others too. ``alone=True`` judges each as if
    it shipped by itself instead (a report over a project's history).
    ``overrides``: ``{"compatible": ["app.0007_x"], ...}`` or :class:`Overrides`.
    ``swappable``: where ``settings.AUTH_USER_MODEL`` (and the like) point, e.g.
    ``{"AUTH_USER_MODEL": "accounts.User"}``; default ``auth.User``.
    A key the graph has no file for is unknown: "operations unknown".
    """
    wanted = [Key(*key) for key in keys]
    overrides = as_overrides(overrides)
    state = ProjectState({**SWAPPABLE, **(swappable or {})})
    judged: dict[Key, Classified] = {}
    targets = set(wanted)
    for key in graph.order():
        migration = graph.migrations[key]
        if key in targets:
            judged[key] = judge_migration(state, migration, overrides)
            if alone:
                state.forget_new()
        else:
            replay(state, migration)
    return [judged.get(key) or _not_known(key, overrides) for key in wanted]


def replay(state: ProjectState, migration: Migration) -> None:
    """Apply an already-run migration to the state, judging nothing."""
    for operation in migration.operations:
        state.apply(migration.app, operation, new=False)


def judge_migration(state: ProjectState, migration: Migration, overrides: Overrides) -> Classified:
    """Judge each operation against the state, advancing the state as Django would."""
    verdicts = []
    for operation in migration.operations:
        judgement = judge(Context(state, migration.app, migration), operation)
        verdicts.append(OperationVerdict(operation, judgement, operation.mark))
        state.apply(migration.app, operation, new=True)
    deciding = _deciding(verdicts)
    if migration.problems:
        problem = unknown(f"not understood: {'; '.join(migration.problems)}")
        if deciding is None or deciding.verdict.severity <= problem.verdict.severity:
            deciding = OperationVerdict(Operation(None, migration.line), problem)
    if deciding is None:
        deciding = OperationVerdict(Operation(None, migration.line), compatible("has no operations"))
    mark = overrides.mark(str(migration.key)) or next(iter(migration.marks), None) or deciding.mark
    return Classified(
        migration.key,
        migration,
        mark.verdict if mark else deciding.verdict,
        deciding.judgement,
        deciding.operation if deciding.operation.call or deciding.operation.source else None,
        mark,
        tuple(verdicts),
    )


def _deciding(verdicts: list[OperationVerdict]) -> OperationVerdict | None:
    """The worst operation; among equals the first unmarked one (so one mark cannot hide another's verdict)."""
    best = None
    for candidate in verdicts:
        rank = (candidate.verdict.severity, candidate.mark is None)
        if best is None or rank > (best.verdict.severity, best.mark is None):
            best = candidate
    return best


def _not_known(key: Key, overrides: Overrides) -> Classified:
    mark = overrides.mark(str(key))
    judgement = unknown(f"{key}: pending, operations unknown: its file is not in what was read")
    return Classified(key, None, mark.verdict if mark else judgement.verdict, judgement, mark=mark)


def worst(classified: Iterable[Classified]) -> Classified | None:
    """The migration that decides a set's verdict: the most severe, the first of equals."""
    found = None
    for item in classified:
        if found is None or item.verdict.severity > found.verdict.severity:
            found = item
    return found
