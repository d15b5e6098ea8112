"""Comparing two snapshots key by key, and the comparison as text or JSON."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from colorama import Fore, Style

from .mask import ABSENT, Masker
from .names import is_addon_name, matches_any
from .snapshot import Snapshot
from .table import Paint, Row, no_paint, plural, table


class Status(Row):
    """How one var compares; drift is the first three."""

    #: Set on both sides, to different values.
    DIFFERENT = "different", "!", Fore.YELLOW
    #: Only on the first side (SOURCE).
    ONLY_A = "only_a", "<", Fore.RED
    #: Only on the second side (TARGET).
    ONLY_B = "only_b", ">", Fore.GREEN
    #: The same value on both sides.
    EQUAL = "equal", "=", Style.DIM
    #: Set by an add-on on either side (or named like such a var): never drift.
    ADDON = "addon", "~", Fore.CYAN, Style.DIM
    #: On an app only, compared with declared settings that do not mention it.
    UNDECLARED = "undeclared", "?", Fore.MAGENTA
    #: Matching an ignore pattern.
    IGNORED = "ignored", "#", Style.DIM


DIFF_SYMBOLS = {status: status.symbol for status in Status}
DRIFT = (Status.DIFFERENT, Status.ONLY_A, Status.ONLY_B)
_DIFF_ORDER = (
    Status.DIFFERENT, Status.ONLY_A, Status.ONLY_B, Status.EQUAL, Status.UNDECLARED, Status.ADDON, Status.IGNORED,
)


@dataclass(frozen=True)
class DiffEntry:
    key: str
    status: Status
    a: str | None
    b: str | None
    #: The add-on that sets the var (or "add-on" for a name that looks like one).
    managed_by: str | None = None

    @property
    def drift(self) -> bool:
        return self.status in DRIFT


@dataclass(frozen=True)
class ConfigDiff:
    a: Snapshot
    b: Snapshot
    entries: tuple[DiffEntry, ...]

    @property
    def drift(self) -> list[DiffEntry]:
        return [entry for entry in self.entries if entry.drift]

    @property
    def matches(self) -> bool:
        return not self.drift

    def count(self, status: Status) -> int:
        return sum(1 for entry in self.entries if entry.status is status)


def diff(a: Snapshot, b: Snapshot, *, ignore: Iterable[str] = ()) -> ConfigDiff:
    """Compare two snapshots key by key.

    Vars set by an add-on on either side (or named like one) are ``ADDON``,
    vars matching ``ignore`` or either side's own ignore patterns ``IGNORED``,
    and an app's vars that declared settings on the other side do not mention
    ``UNDECLARED`` (declared settings manage only what they list, as
    ``config.push`` does): none of them counts as drift. A var declared removed
    counts as not set, so an app still having it is drift.
    """
    patterns = (*ignore, *a.ignore, *b.ignore)
    entries = []
    for key in sorted(set(a.values) | set(b.values)):
        va, vb = a.values.get(key), b.values.get(key)
        managed = a.managed.get(key) or b.managed.get(key) or ("add-on" if is_addon_name(key) else None)
        if matches_any(key, patterns):
            status = Status.IGNORED
        elif managed:
            status = Status.ADDON
        elif va is None:
            status = Status.UNDECLARED if _undeclared(a=b, by=a, key=key) else Status.ONLY_B
        elif vb is None:
            status = Status.UNDECLARED if _undeclared(a=a, by=b, key=key) else Status.ONLY_A
        else:
            status = Status.EQUAL if va == vb else Status.DIFFERENT
        entries.append(DiffEntry(key, status, va, vb, managed))
    entries.sort(key=lambda entry: (_DIFF_ORDER.index(entry.status), entry.key))
    return ConfigDiff(a, b, tuple(entries))


def _undeclared(a: Snapshot, by: Snapshot, key: str) -> bool:
    """Whether ``key``, set on app ``a`` only, is simply not mentioned by declared settings ``by``."""
    return a.kind == "environment" and by.kind == "settings" and key not in by.removed


def _cell(side: Snapshot, entry: DiffEntry, masker: Masker, reveal: bool) -> str:
    value = side.values.get(entry.key)
    if value is None:
        return "(removed)" if entry.key in side.removed else ABSENT
    if entry.status is Status.ADDON:
        return f"add-on {entry.managed_by}" if entry.managed_by != "add-on" else "add-on var"
    if entry.status is Status.IGNORED:
        return "ignored"
    return masker.show(value, reveal)


def render_diff(result: ConfigDiff, masker: Masker, *, reveal: bool = False, paint: Paint = no_paint) -> str:
    """The diff as aligned text: a heading, one row per var, a summary line."""
    a, b = result.a, result.b
    masked = "values shown" if reveal else "values masked: length and fingerprint; --show-values to reveal"
    lines = [f"Comparing {a.title} with {b.title} ({masked})"]
    if not result.entries:
        lines.append("  neither has any config vars")
    else:
        header = (" ", "KEY", [a.name, b.name])
        rows = [header] + [
            (e.status.symbol, e.key, [_cell(a, e, masker, reveal), _cell(b, e, masker, reveal)])
            for e in result.entries
        ]
        styles = [(Style.BRIGHT,)] + [e.status.style for e in result.entries]
        lines += table(rows, styles, paint)
    lines.append(summary(result))
    return "\n".join(lines)


def summary(result: ConfigDiff) -> str:
    a, b = result.a.name, result.b.name
    drift = [
        (result.count(Status.DIFFERENT), "different"),
        (result.count(Status.ONLY_A), f"only in {a}"),
        (result.count(Status.ONLY_B), f"only in {b}"),
    ]
    equal = result.count(Status.EQUAL)
    settings_side = result.b if result.b.kind == "settings" else result.a
    skipped = [
        (result.count(Status.UNDECLARED), f"not declared in {settings_side.name}"),
        (result.count(Status.ADDON), "set by add-ons"),
        (result.count(Status.IGNORED), "ignored"),
    ]
    skipped_text = ", ".join(f"{n} {what}" for n, what in skipped if n)
    tail = f"; not compared: {skipped_text}" if skipped_text else ""
    if result.matches:
        return f"{a} and {b} match: {plural(equal, 'var')} equal{tail}"
    counted = ", ".join(f"{n} {what}" for n, what in drift if n)
    return f"{plural(len(result.drift), 'difference')}: {counted}; {equal} equal{tail}"


def diff_json(result: ConfigDiff, masker: Masker, *, reveal: bool = False) -> dict:
    """The diff for ``--json``: sides, whether they match, counts, and each var (masked unless ``reveal``)."""

    def side(snapshot: Snapshot) -> dict:
        return {"name": snapshot.name, "kind": snapshot.kind, "app": snapshot.app, "source": snapshot.source}

    return {
        "a": side(result.a),
        "b": side(result.b),
        "match": result.matches,
        "values_shown": reveal,
        "counts": {status.value: result.count(status) for status in Status},
        "vars": [
            {
                "key": e.key,
                "status": e.status.value,
                "managed_by": e.managed_by,
                "a": masker.describe(e.a, reveal),
                "b": masker.describe(e.b, reveal),
            }
            for e in result.entries
        ],
    }
