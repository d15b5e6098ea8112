r"""Errors of the anonymising restore.  Every message names the table (and column) at fault.

They are :class:`~heroku_tools.errors.HerokuToolsError`\ s, so a task shows
them as one message and an exit status, never a traceback.
"""
from __future__ import annotations

from ..errors import HerokuToolsError


class AnonymiseError(HerokuToolsError):
    """Base of every anonymiser error."""


class RulesError(AnonymiseError):
    """The rules document is malformed (unknown action, bad option, ...)."""


class Problem:
    """One gap between the rules and a schema: ``table.column: message``."""

    __slots__ = ("table", "column", "message", "kind")

    def __init__(self, table: str, column: str | None, message: str, kind: str):
        self.table, self.column, self.message, self.kind = table, column, message, kind

    @property
    def where(self) -> str:
        return f"{self.table}.{self.column}" if self.column else self.table

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"

    def __repr__(self) -> str:
        return f"Problem({self.kind}, {self.where!r}, {self.message!r})"

    def __eq__(self, other):
        return isinstance(other, Problem) and \
            (self.table, self.column, self.kind) == (other.table, other.column, other.kind)

    def __hash__(self):
        return hash((self.table, self.column, self.kind))


class SchemaMismatch(AnonymiseError):
    """The rules do not cover the schema exactly (deny by default) or do not fit it.

    ``problems`` lists each gap; ``kind`` is one of ``missing-table``,
    ``missing-column``, ``stale-table``, ``stale-column``, ``invalid``.
    """

    def __init__(self, problems: list[Problem], context: str = ""):
        self.problems = list(problems)
        head = f"{context}: " if context else ""
        lines = [f"{head}the anonymisation rules do not match the schema ({len(self.problems)} problem(s)):"]
        lines += [f"  - {p}" for p in self.problems]
        super().__init__("\n".join(lines))


class UnsafeDump(AnonymiseError):
    """The dump holds something the engine cannot anonymise (INSERT data, large objects, ...)."""


class VerificationFailed(AnonymiseError):
    """A check before COMMIT failed: nothing was committed."""


class CanaryFound(VerificationFailed):
    """The canary value was about to reach (or reached) the target: nothing was committed."""


class RestoreFailed(AnonymiseError):
    """A process of the pipeline failed (download, pg_restore, psql): nothing was committed."""
