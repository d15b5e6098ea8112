"""A deliberately small rule for ``RunSQL``: clear the obviously harmless, leave the rest unknown.

Each statement must match one pattern whole; any other statement, a
``$$``-quoted body or SQL that is not a literal makes the operation unknown.
"""
from __future__ import annotations

import re
from typing import Any

from .values import Ref
from .verdicts import Judgement, Verdict, compatible, locking, unknown, worst

_IDENT = r'(?:"[^"]+"|[a-z_][\w$]*)(?:\.(?:"[^"]+"|[a-z_][\w$]*))?'
_CONCURRENT_INDEX = re.compile(rf"create index concurrently (?:if not exists )?(?:{_IDENT} )?on .+")
_PATTERNS = [
    (re.compile(r"comment on .+"), Verdict.COMPATIBLE, "sets a comment, catalog only"),
    (re.compile(rf"create extension (?:if not exists )?{_IDENT}(?: .*)?"), Verdict.COMPATIBLE, "creates an extension"),
    (re.compile(rf"drop index (?:concurrently )?(?:if exists )?{_IDENT}(?:, ?{_IDENT})*"), Verdict.COMPATIBLE,
     "drops an index"),
    (re.compile(rf"alter table (?:if exists )?(?:only )?{_IDENT} alter (?:column )?{_IDENT} (?:set default .+|drop not null)"),
     Verdict.COMPATIBLE, "sets a column default or drops NOT NULL, catalog only"),
    (re.compile(rf"alter table (?:if exists )?(?:only )?{_IDENT} (?:drop constraint (?:if exists )?|validate constraint ){_IDENT}"),
     Verdict.COMPATIBLE, "drops or validates a constraint without blocking writes"),
    (re.compile(r"set (?:local )?(?:lock_timeout|statement_timeout) *(?:=|to) *.+"), Verdict.COMPATIBLE,
     "sets a timeout for the session"),
    (re.compile(rf"create index (?:if not exists )?(?:{_IDENT} )?on .+"), Verdict.LOCKING,
     "builds an index with a plain CREATE INDEX, which blocks writes while it builds"),
]
_FIX = "use CREATE INDEX CONCURRENTLY in a migration with atomic = False"


def run_sql(sql: Any, *, atomic: bool) -> Judgement:
    """The verdict for ``RunSQL(sql)``: the worst of its statements, unknown unless each is recognised."""
    if isinstance(sql, Ref) and sql.qualified.endswith("RunSQL.noop"):
        return compatible("RunSQL.noop: no SQL going forward")
    texts = _texts(sql)
    if texts is None:
        return unknown("runs SQL that is not a literal string: what it does cannot be read")
    statements = []
    for text in texts:
        parts = split(text)
        if parts is None:
            return unknown("runs SQL with $$-quoted bodies: what it does cannot be read")
        statements += parts
    if not statements:
        return compatible("runs no SQL")
    return worst(_statement(statement, atomic) for statement in statements)


def _texts(sql: Any) -> list[str] | None:
    """The SQL strings: one string, or a list of strings or ``(sql, params)`` pairs."""
    if isinstance(sql, str):
        return [sql]
    if not isinstance(sql, (list, tuple)):
        return None
    texts = []
    for item in sql:
        text = item[0] if isinstance(item, (list, tuple)) and len(item) == 2 else item
        if not isinstance(text, str):
            return None
        texts.append(text)
    return texts


def _statement(statement: str, atomic: bool) -> Judgement:
    shown = statement if len(statement) <= 70 else statement[:67] + "..."
    normal = statement.lower()
    if _CONCURRENT_INDEX.fullmatch(normal):
        if atomic:
            return unknown(f"runs `{shown}` in an atomic migration: CONCURRENTLY fails inside a transaction",
                           "set atomic = False on the migration")
        return compatible(f"runs `{shown}`: builds an index without blocking writes")
    for pattern, verdict, what in _PATTERNS:
        if pattern.fullmatch(normal):
            if verdict is Verdict.LOCKING:
                return locking(f"runs `{shown}`: {what}", _FIX)
            return compatible(f"runs `{shown}`: {what}")
    return unknown(f"runs `{shown}`: what it does to the running code cannot be told",
                   "read it: if the running code is unaffected, mark the operation `# heroku-tools: compatible`")


def split(text: str) -> list[str] | None:
    """The statements of ``text``, comments removed and whitespace collapsed; ``None`` for ``$$`` quoting.

    Semicolons inside quotes do not split; ``--`` and ``/* */`` comments go.
    """
    statements, current, index = [], [], 0
    while index < len(text):
        char = text[index]
        if char == "$":
            return None
        if char in "'\"":
            end = _closing(text, index)
            current.append(text[index:end])
            index = end
            continue
        if text.startswith("--", index):
            index = text.find("\n", index) if "\n" in text[index:] else len(text)
            continue
        if text.startswith("/*", index):
            index = text.find("*/", index) + 2 if "*/" in text[index:] else len(text)
            continue
        if char == ";":
            statements.append("".join(current))
            current = []
        else:
            current.append(char)
        index += 1
    statements.append("".join(current))
    return [" ".join(statement.split()) for statement in statements if statement.strip()]


def _closing(text: str, start: int) -> int:
    """The index after the quote opened at ``start`` (a doubled quote is an escaped one)."""
    quote, index = text[start], start + 1
    while index < len(text):
        if text[index] == quote:
            if text.startswith(quote * 2, index):
                index += 2
                continue
            return index + 1
        index += 1
    return len(text)
