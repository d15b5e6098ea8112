"""The migration plan of a deploy or a promotion: what will be applied, with verdicts.

The deploy flow reads the target's ``django_migrations`` and calls
:func:`plan` (a push) or :func:`promotion_plan` (a pipeline promotion); both
are pure functions of what they are given.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .classify import Classified, classify, worst
from .graph import Graph, promoted
from .markers import Overrides
from .parse import Key, Migration
from .verdicts import Verdict


@dataclass(frozen=True)
class Plan:
    """The migrations ``migrate`` will apply, in order, each with its verdict.

    ``external``: dependencies on migrations the code read does not include
    (a third-party app's); ``unknown_applied``: rows of the target's
    ``django_migrations`` with no file here (applied by newer code, say).
    """

    pending: tuple[Classified, ...]
    problems: tuple[str, ...] = ()
    external: tuple[Key, ...] = ()
    unknown_applied: tuple[Key, ...] = ()

    @property
    def deciding(self) -> Classified | None:
        """The migration that decides the plan's verdict (``None`` when nothing is pending)."""
        return worst(self.pending)

    @property
    def verdict(self) -> Verdict | None:
        deciding = self.deciding
        return deciding.verdict if deciding else None

    def as_json(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict.value if self.verdict else None,
            "pending": [item.as_json() for item in self.pending],
            "problems": list(self.problems),
            "external": [str(key) for key in self.external],
            "unknown_applied": [str(key) for key in self.unknown_applied],
        }


def plan(
    migrations: Iterable[Migration],
    applied: Iterable[tuple[str, str]],
    *,
    overrides: Overrides | Mapping[str, Iterable[str]] | None = None,
    swappable: Mapping[str, str] | None = None,
) -> Plan:
    """What the new code's ``migrate`` applies on a database with these ``django_migrations`` rows.

    ``migrations``: the code's migrations (:func:`~.read.read_commit`, plus
    Django's contrib and third-party apps' from :func:`~.read.read_directory`
    when the caller has them).
    """
    graph = Graph(migrations, applied)
    pending = classify(graph, [migration.key for migration in graph.pending()], overrides=overrides, swappable=swappable)
    return Plan(tuple(pending), tuple(graph.problems), tuple(sorted(graph.external)), tuple(graph.unknown_applied()))


def promotion_plan(
    migrations: Iterable[Migration],
    upstream_applied: Sequence[tuple[str, str]],
    target_applied: Iterable[tuple[str, str]],
    *,
    overrides: Overrides | Mapping[str, Iterable[str]] | None = None,
    swappable: Mapping[str, str] | None = None,
) -> Plan:
    """What a promoted slug will apply: applied upstream (in ``django_migrations.id`` order), not on the target.

    Migrations without a file here (third-party apps not read) are in the
    plan as unknown: pending, operations unknown. A file the graph set aside
    (a squash partly applied on the target, or what a squash replaces) is left
    to the graph's squash semantics, as ``migrate`` would.
    """
    migrations = list(migrations)
    target = list(target_applied)
    graph = Graph(migrations, target)
    files = {migration.key for migration in migrations}
    keys = [item.key for item in promoted(upstream_applied, target, migrations)
            if item.key in graph.migrations or item.key not in files]
    pending = classify(graph, keys, overrides=overrides, swappable=swappable)
    return Plan(tuple(pending), tuple(graph.problems), tuple(sorted(graph.external)), tuple(graph.unknown_applied()))
