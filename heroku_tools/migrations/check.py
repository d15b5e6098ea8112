"""``migrations.check``: judge the migrations a branch adds, before anything is deployed.

The database everywhere the old revision runs is taken to have applied
exactly that revision's migrations; the migrations the new revision adds are
then what a deploy will apply, judged together (a table one of them creates
is new to the old code for the others too). A pull-request gate: it fails
when one of them would break the running code, or cannot be judged, and
nobody marked it.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import CommandError, HerokuToolsError
from ..git import Git
from .classify import Classified, classify, worst
from .graph import Graph
from .markers import Overrides
from .parse import Key
from .read import Snapshot, read_commit
from .verdicts import Verdict, compatible


@dataclass(frozen=True)
class CheckResult:
    """The migrations added between ``since`` and ``head`` (full shas), with their verdicts.

    ``changed``: migrations that exist at both revisions but whose file
    changed (already applied where ``since`` runs: Django will not run them
    again); ``removed``: migrations gone from ``head``.
    """

    head: str
    since: str
    since_label: str
    migrations: tuple[Classified, ...]
    changed: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()

    @property
    def blocking(self) -> list[Classified]:
        """Migrations that are incompatible or unknown, and that nobody marked."""
        return [item for item in self.migrations if item.verdict.needs_downtime and not item.marked]

    @property
    def failed(self) -> bool:
        return bool(self.blocking)

    @property
    def verdict(self) -> Verdict | None:
        deciding = worst(self.migrations)
        return deciding.verdict if deciding else None

    def as_json(self) -> dict[str, Any]:
        return {
            "head": self.head,
            "since": self.since,
            "since_label": self.since_label,
            "verdict": self.verdict.value if self.verdict else None,
            "failed": self.failed,
            "migrations": [item.as_json() for item in self.migrations],
            "changed": list(self.changed),
            "removed": list(self.removed),
            "problems": list(self.problems),
        }


def check(
    git: Git,
    since: str | None = None,
    *,
    branch: str = "master",
    head: str = "HEAD",
    overrides: Overrides | Mapping[str, Iterable[str]] | None = None,
    swappable: Mapping[str, str] | None = None,
) -> CheckResult:
    """Judge the migrations ``head`` adds since ``since`` (default: the merge base of ``head`` and ``branch``)."""
    head_sha = _commit(git, head, "--head")
    since_sha, since_label = _since(git, since, head, branch)
    new = read_commit(git, head_sha, swappable=swappable)
    old = read_commit(git, since_sha, swappable=swappable, known=new)
    applied = {key for migration in old.migrations for key in (migration.key, *migration.replaces)}
    graph = Graph(new.migrations, applied)
    added = [key for key in graph.order() if key not in graph.applied]
    judged = dict(zip(added, classify(graph, added, overrides=overrides, swappable=swappable), strict=True))
    for key in new.by_key.keys() - applied - judged.keys():  # a new squash of migrations already applied
        if key in graph.migrations:
            judged[key] = _already_applied(graph, key, since_sha)
    ordered = [judged[key] for key in graph.order() if key in judged]
    changed, removed = _differences(old, new)
    return CheckResult(head_sha, since_sha, since_label, tuple(ordered), changed, removed,
                       tuple(dict.fromkeys([*new.problems, *graph.problems])))


def _commit(git: Git, revision: str, option: str) -> str:
    try:
        return git.rev_parse(revision)
    except CommandError as exc:
        if exc.exit_code != 1:  # not "no such revision": git itself failed (not a repository...)
            raise
        raise HerokuToolsError(f"{option} {revision}: no such commit in this repository") from None


def _since(git: Git, since: str | None, head: str, branch: str) -> tuple[str, str]:
    """The revision to compare with, and how to name it in the report.

    The live branch is looked up locally, then as ``origin/<branch>`` (a CI
    checkout often has only the remote-tracking one).
    """
    if since is not None:
        return _commit(git, since, "--since"), since
    candidates = (f"refs/heads/{branch}", f"refs/remotes/origin/{branch}")
    ref = next((candidate for candidate in candidates if git.commit_exists(candidate)), None)
    if ref is None:
        raise HerokuToolsError(
            f"no branch {branch!r} to compare with: name the live branch with --branch, or a revision with --since")
    result = git.execute(["merge-base", head, ref], ok=(0, 1))
    if result.exit_code:
        raise HerokuToolsError(f"{head} and {branch} have no common ancestor: give a revision with --since")
    return result.stdout.strip(), f"merge base of {head} and {branch}"


def _already_applied(graph: Graph, key: Key, since: str) -> Classified:
    judgement = compatible(f"squashes migrations already applied where {since[:7]} runs: nothing runs")
    return Classified(key, graph.migrations[key], Verdict.COMPATIBLE, judgement)


def _differences(old: Snapshot, new: Snapshot) -> tuple[tuple[str, ...], tuple[str, ...]]:
    before = {migration.key: migration for migration in old.migrations}
    after = {migration.key: migration for migration in new.migrations}
    changed = sorted(str(key) for key in before.keys() & after.keys()
                     if old.files.get(before[key].path) != new.files.get(after[key].path))
    replaced = {old_key for migration in new.migrations for old_key in migration.replaces}
    removed = sorted(str(key) for key in before.keys() - after.keys() - replaced)
    return tuple(changed), tuple(removed)


def render(result: CheckResult, paint: Callable[[str, Verdict], str] = lambda text, verdict: text) -> str:
    """The report for people: each migration with its verdict, deciding operation, reason and advice."""
    count = len(result.migrations)
    lines = [f"Migrations added since {result.since[:7]} ({result.since_label}): {count or 'none'}"]
    for item in result.migrations:
        lines += ["", *describe(item, paint)]
    if result.changed:
        lines += ["", f"Changed since {result.since[:7]} but already applied where it runs (Django will not run them "
                      f"again): {', '.join(result.changed)}"]
    if result.removed:
        lines += ["", f"Removed since {result.since[:7]} (databases that applied them keep their changes): "
                      f"{', '.join(result.removed)}"]
    lines += [f"Problem: {problem}" for problem in result.problems]
    lines += ["", _summary(result)]
    return "\n".join(lines)


def describe(item: Classified, paint: Callable[[str, Verdict], str] = lambda text, verdict: text) -> list[str]:
    """One migration's lines in a report: verdict and name, where, why, and what to do (or who decided)."""
    lines = [f"  {paint(f'{item.verdict.value:<12}', item.verdict)}  {item.key}"]
    if item.file:
        where = f"{item.file}:{item.line}" if item.line else item.file
        lines.append(f"                {where}" + (f"  {item.operation.name}" if item.operation and item.operation.call else ""))
    lines.append(f"                {item.reason}")
    if item.mark:
        lines.append(f"                marked {item.verdict.value} by {item.mark.source}"
                     + (f"; the rules said {item.judgement.verdict.value}" if item.judgement.verdict != item.verdict else ""))
    elif item.advice:
        lines.append(f"                → {item.advice}")
    return lines


def _summary(result: CheckResult) -> str:
    if not result.migrations:
        return "Nothing to judge."
    blocking = result.blocking
    if not blocking:
        return "OK: every added migration can run while the old code serves, or is marked."
    names = ", ".join(f"{item.key} ({item.verdict.value})" for item in blocking)
    return (f"FAILED: {len(blocking)} would need downtime unless shipped in two steps, or cannot be judged: {names}. "
            "Split them as advised, or mark them `# heroku-tools: compatible`/`incompatible` once decided.")
