"""The deploy options bitmask: which steps a deployment runs.

The values are the original tool's, so ``--options 21`` means what it always
meant (push + migrations + collectstatic)::

    1  git push             4  migrations          16  collect static
    2  syncdb               8  load fixtures

A user's fabfile can build one directly — ``DeployOptions.PUSH | DeployOptions.MIGRATE``
— or let :func:`infer_options` derive it from the files a deployment changes.
``SYNCDB`` is never inferred: on modern Django it maps to
``migrate --run-syncdb`` and is only run when asked for.
"""
from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from collections.abc import Iterable, Mapping

from ..settings import DEFAULT_OPTIONS


class DeployOptions(enum.IntFlag):
    PUSH = 1
    SYNCDB = 2
    MIGRATE = 4
    LOADDATA = 8
    COLLECTSTATIC = 16

    @classmethod
    def parse(cls, value: int | str) -> DeployOptions:
        """Accept ``21``, ``"21"`` or ``"push,migrate,collectstatic"``."""
        if isinstance(value, int) or str(value).strip().isdigit():
            number = int(value)
            if number < 0 or number > sum(int(flag) for flag in cls):
                raise ValueError(f"options must be between 0 and {sum(int(f) for f in cls)}, got {number}")
            return cls(number)
        result = cls(0)
        for name in re.split(r"[,\s|+]+", str(value).strip()):
            if not name:
                continue
            try:
                result |= cls[name.upper()]
            except KeyError:
                known = ", ".join(flag.name.lower() for flag in cls)
                raise ValueError(f"unknown option {name!r}; expected a number or some of: {known}") from None
        return result

    def describe(self) -> list[tuple[DeployOptions, bool]]:
        """Every flag with whether it is set, in bit order — one report line each."""
        return [(flag, bool(self & flag)) for flag in DeployOptions]


#: What each bit means in the report, and which ``commands`` entry runs it.
STEP_LABELS = {
    DeployOptions.PUSH: "git push",
    DeployOptions.SYNCDB: "syncdb (migrate --run-syncdb)",
    DeployOptions.MIGRATE: "run migrations",
    DeployOptions.LOADDATA: "load fixtures",
    DeployOptions.COLLECTSTATIC: "collect static files",
}

STEP_COMMANDS = {
    DeployOptions.SYNCDB: "syncdb",
    DeployOptions.MIGRATE: "migrate",
    DeployOptions.LOADDATA: "loaddata",
    DeployOptions.COLLECTSTATIC: "collectstatic",
}

def _glob_to_regex(pattern: str) -> re.Pattern:
    """Translate a gitignore-like glob: ``**`` spans directories, ``*`` does not.

    ``**/`` at the start also matches the top level, so ``**/migrations/*.py``
    matches ``migrations/0001.py`` as well as ``app/migrations/0001.py``.
    """
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("^" + "".join(out) + "$")


def matching_files(files: Iterable[str], patterns: Iterable[str]) -> list[str]:
    compiled = [_glob_to_regex(p) for p in patterns]
    return [f for f in files if any(rx.match(f) for rx in compiled)]


@dataclass(frozen=True)
class Inference:
    """The inferred options and, per step, the files that triggered it."""

    options: DeployOptions
    reasons: Mapping[DeployOptions, tuple[str, ...]]


def infer_options(
    changed_files: Iterable[str] | None,
    rules: Mapping[str, Iterable[str]] | None = None,
) -> Inference:
    """Derive the bitmask from the files a deployment changes.

    ``changed_files=None`` means the deployed commit is unknown, so every file
    may have changed: every inferable step runs (a missed migration is worse
    than a redundant one) except ``loaddata``, which needs fixture names. A push is always part of the result; whether it
    becomes a promotion is the environment's business, not the options'.
    """
    rules = {**DEFAULT_OPTIONS, **(rules or {})}
    options = DeployOptions.PUSH
    reasons: dict[DeployOptions, tuple[str, ...]] = {}
    for flag, command in STEP_COMMANDS.items():
        if flag is DeployOptions.SYNCDB or command not in rules:
            continue
        if changed_files is None:
            # Fixtures are loaded by name, so with nothing known to have changed
            # there is nothing to load; every other step is safe to repeat.
            if flag is not DeployOptions.LOADDATA:
                options |= flag
                reasons[flag] = ("(deployed commit unknown: assuming every file changed)",)
            continue
        hits = matching_files(changed_files, rules[command])
        if hits:
            options |= flag
            reasons[flag] = tuple(hits)
    return Inference(options, reasons)


def apply_overrides(options: DeployOptions, **flags: bool | None) -> DeployOptions:
    """Apply ``--migrate/--no-migrate``-style flags (None leaves a bit as inferred)."""
    for name, value in flags.items():
        if value is None:
            continue
        flag = DeployOptions[name.upper()]
        options = options | flag if value else options & ~flag
    return options


__all__ = [
    "DeployOptions",
    "Inference",
    "STEP_COMMANDS",
    "STEP_LABELS",
    "apply_overrides",
    "infer_options",
    "matching_files",
]

