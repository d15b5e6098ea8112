"""Plans: what making an app have the wanted vars takes, before anything is changed."""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from colorama import Fore, Style

from .declared import Declared
from .mask import Masker
from .names import matches_any
from .snapshot import Snapshot
from .table import Paint, Row, no_paint, table


class Action(Row):
    """What a plan does with one var; only the first three change the app."""

    #: Not on the app, declared: set it.
    ADD = "add", "+", Fore.GREEN
    #: On the app with another value: set it.
    CHANGE = "change", "!", Fore.YELLOW
    #: On the app, declared removed: remove it.
    REMOVE = "remove", "-", Fore.RED
    #: On the app, not declared: left alone.
    REMOTE_ONLY = "remote_only", "?", Fore.MAGENTA
    #: Already as declared.
    SAME = "same", "=", Style.DIM
    #: Set by an add-on: never changed or removed.
    ADDON = "addon", "~", Fore.CYAN, Style.DIM


PLAN_SIGNS = {action: action.symbol for action in Action}
_PLAN_ORDER = (Action.ADD, Action.CHANGE, Action.REMOVE, Action.ADDON, Action.REMOTE_ONLY, Action.SAME)


@dataclass(frozen=True)
class PlanEntry:
    key: str
    action: Action
    current: str | None
    wanted: str | None
    managed_by: str | None = None


@dataclass(frozen=True)
class Plan:
    """What making ``app`` match ``wanted`` takes: ``+`` add, ``!`` change, ``-`` remove,
    ``?`` on the app only (left alone), ``=`` already right, ``~`` set by an add-on (left alone)."""

    label: str
    app: str
    source: str
    entries: tuple[PlanEntry, ...]

    @property
    def to_set(self) -> dict[str, str]:
        """Additions and changes, by name: the values the one request sends."""
        changes = {e.key: e.wanted for e in self.entries if e.action in (Action.ADD, Action.CHANGE)}
        return {key: changes[key] for key in sorted(changes)}  # type: ignore[misc]

    @property
    def to_unset(self) -> list[str]:
        """Removals, by name: sent as ``null`` in the same request."""
        return sorted(e.key for e in self.entries if e.action is Action.REMOVE)

    @property
    def changes(self) -> bool:
        return bool(self.to_set or self.to_unset)

    def count(self, action: Action) -> int:
        return sum(1 for entry in self.entries if entry.action is action)

    def describe(self, done: bool = False) -> str:
        """``2 to add, 1 to change, 1 to remove`` (``done``: ``2 added, ...``), or ``no changes``."""
        words = (
            (Action.ADD, "add", "added"), (Action.CHANGE, "change", "changed"), (Action.REMOVE, "remove", "removed")
        )
        parts = [f"{self.count(action)} {past if done else 'to ' + word}" for action, word, past in words
                 if self.count(action)]
        return ", ".join(parts) or "no changes"

    @property
    def change_count(self) -> int:
        return len(self.to_set) + len(self.to_unset)


def plan(current: Snapshot, wanted: Mapping[str, str], removed: Iterable[str] = (), *, source: str = "",
         report_remote_only: bool = True, ignore: Iterable[str] = ()) -> Plan:
    """The plan to make ``current`` (an app) have ``wanted`` and lack ``removed``.

    Vars an add-on sets are never changed or removed (``~``). With
    ``report_remote_only``, the app's other vars are listed as ``?`` (left
    alone), except those matching ``ignore``.
    """
    removed = [key for key in removed if key not in wanted]
    entries = [_wanted(current, key, value) for key, value in wanted.items()]
    entries += [_removed(current, key) for key in removed]
    if report_remote_only:
        declared_keys = set(wanted) | set(removed)
        patterns = (*ignore, *current.ignore)
        for key, have in current.values.items():
            if key in declared_keys or matches_any(key, patterns):
                continue
            managed = current.managed.get(key)
            entries.append(PlanEntry(key, Action.ADDON if managed else Action.REMOTE_ONLY, have, None, managed))
    entries.sort(key=lambda e: (_PLAN_ORDER.index(e.action), e.key))
    return Plan(current.name, current.app or current.name, source, tuple(entries))


def _wanted(current: Snapshot, key: str, value: str) -> PlanEntry:
    have, managed = current.values.get(key), current.managed.get(key)
    if managed:
        return PlanEntry(key, Action.ADDON, have, value, managed)
    if have is None:
        return PlanEntry(key, Action.ADD, None, value)
    return PlanEntry(key, Action.CHANGE if have != value else Action.SAME, have, value)


def _removed(current: Snapshot, key: str) -> PlanEntry:
    have, managed = current.values.get(key), current.managed.get(key)
    if managed:
        return PlanEntry(key, Action.ADDON, have, None, managed)
    return PlanEntry(key, Action.REMOVE if have is not None else Action.SAME, have, None)


def plan_push(current: Snapshot, declared_vars: Declared, *, ignore: Iterable[str] = ()) -> Plan:
    """The plan of ``config.push``: the app made to match its declared settings."""
    return plan(current, declared_vars.values, declared_vars.removed, source=declared_vars.source, ignore=ignore)


def _plan_cell(entry: PlanEntry, masker: Masker, reveal: bool) -> str:
    show = lambda value: masker.show(value, reveal)  # noqa: E731
    if entry.action is Action.ADD:
        return show(entry.wanted)
    if entry.action is Action.CHANGE:
        return f"{show(entry.current)} -> {show(entry.wanted)}"
    if entry.action is Action.REMOVE:
        return f"{show(entry.current)} -> removed"
    if entry.action is Action.REMOTE_ONLY:
        return f"{show(entry.current)}  (on the app, not declared: left alone)"
    if entry.action is Action.ADDON:
        return f"set by {entry.managed_by}: left alone"
    return "not set (nothing to remove)" if entry.current is None else f"{show(entry.current)}  (unchanged)"


def render_plan(result: Plan, masker: Masker, *, reveal: bool = False, paint: Paint = no_paint,
                heading: str | None = None) -> str:
    heading = heading or f"Plan for {result.label} ({result.app})" + (f" from {result.source}" if result.source else "")
    lines = [f"{heading}:"]
    rows = [(e.action.symbol, e.key, [_plan_cell(e, masker, reveal)]) for e in result.entries]
    styles = [e.action.style for e in result.entries]
    lines += ["  " + line for line in table(rows, styles, paint)] if rows else ["  nothing declared"]
    extra = []
    if result.count(Action.REMOTE_ONLY):
        extra.append(f"{result.count(Action.REMOTE_ONLY)} on the app only (left alone)")
    if result.count(Action.ADDON):
        extra.append(f"{result.count(Action.ADDON)} set by add-ons (left alone)")
    how = ": 1 release" if result.changes else ""
    lines.append(f"{result.describe()}{how}" + (f"; {', '.join(extra)}" if extra else ""))
    return "\n".join(lines)


def plan_json(result: Plan, masker: Masker, *, reveal: bool = False) -> dict:
    return {
        "environment": result.label,
        "app": result.app,
        "source": result.source,
        "values_shown": reveal,
        "changes": result.changes,
        "to_set": sorted(result.to_set),
        "to_unset": result.to_unset,
        "vars": [
            {
                "key": e.key,
                "action": e.action.value,
                "sign": e.action.symbol,
                "managed_by": e.managed_by,
                "current": masker.describe(e.current, reveal),
                "wanted": masker.describe(e.wanted, reveal),
            }
            for e in result.entries
        ],
    }
