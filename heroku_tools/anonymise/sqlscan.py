"""A small lexer for the SQL script ``pg_restore -f -`` writes, as psql would split it.

It tracks quotes (``'...'``, ``E'...'``, ``"..."``), dollar quotes, comments,
parentheses and SQL-standard function bodies (``BEGIN ATOMIC ... END``), so
the stream engine knows whether a line starts a new statement (and so can
recognise ``COPY ... FROM stdin;`` headers and refuse statements it must never
forward) and the schema reader can split the script into statements.

Also: identifier parsing and quoting helpers.
"""
from __future__ import annotations

import re

_IDENT_CHAR = re.compile(r"[A-Za-z0-9_$\x80-\U0010ffff]")
_DOLLAR = re.compile(r"\$([A-Za-z_\x80-\U0010ffff][A-Za-z_0-9\x80-\U0010ffff]*)?\$")
_SPECIAL = re.compile(r"""[-'"$/;()*]|[A-Za-z_\x80-\U0010ffff][A-Za-z_0-9$\x80-\U0010ffff]*""")
_COMMENT_MARK = re.compile(r"/\*|\*/")
_ROUTINE = re.compile(r"\s*CREATE\s+(?:OR\s+REPLACE\s+)?(?:FUNCTION|PROCEDURE)\b", re.I)


class SqlScanner:
    """Feed lines (with their newline); get back the statements completed by each line."""

    def __init__(self):
        self.quote: str | None = None      # "'", "E'", '"', "$tag$", "/*"
        self.comment_depth = 0
        self.paren = 0
        self.begin_depth = 0
        self.routine = False
        self._last_word = ""
        self._parts: list[str] = []
        self._started = False              # non-blank, non-comment text since the last ';'

    @property
    def idle(self) -> bool:
        """At the start of a statement: outside any quote, nothing pending."""
        return self.quote is None and not self._started

    def feed_line(self, line: str) -> list[str]:
        done: list[str] = []
        i, n = 0, len(line)
        seg_start = 0
        while i < n:
            q = self.quote
            if q is not None:
                if q == "'" or q == "E'":
                    j = i
                    while True:
                        k = line.find("'", j)
                        if q == "E'":
                            b = line.find("\\", j)
                            if b != -1 and (k == -1 or b < k):
                                j = b + 2
                                continue
                        break
                    if k == -1:
                        i = n
                    elif k + 1 < n and line[k + 1] == "'":
                        i = k + 2
                    else:
                        self.quote = None
                        i = k + 1
                elif q == '"':
                    k = line.find('"', i)
                    if k == -1:
                        i = n
                    elif k + 1 < n and line[k + 1] == '"':
                        i = k + 2
                    else:
                        self.quote = None
                        i = k + 1
                elif q == "/*":
                    m = _COMMENT_MARK.search(line, i)
                    if not m:
                        i = n
                    elif m.group() == "/*":
                        self.comment_depth += 1
                        i = m.end()
                    else:
                        self.comment_depth -= 1
                        i = m.end()
                        if self.comment_depth == 0:
                            self.quote = None
                else:  # dollar quote
                    k = line.find(q, i)
                    if k == -1:
                        i = n
                    else:
                        self.quote = None
                        i = k + len(q)
                continue
            m = _SPECIAL.search(line, i)
            if not m:
                if line[i:].strip():
                    self._started = True
                break
            if line[i:m.start()].strip():
                self._started = True
            tok = m.group()
            i = m.end()
            c = tok[0]
            if c == "-":
                if line.startswith("--", m.start()):
                    i = n  # a comment runs to the end of the line; alone, it starts no statement
                    continue
                self._started = True
            elif c == "/":
                if line.startswith("/*", m.start()):
                    self.quote = "/*"
                    self.comment_depth = 1
                    i = m.start() + 2
                    continue
                self._started = True
            elif c == "'":
                self._started = True
                prev = line[m.start() - 1] if m.start() > 0 else ""
                before = line[m.start() - 2] if m.start() > 1 else ""
                if prev in "Ee" and not _IDENT_CHAR.match(before or " "):
                    self.quote = "E'"
                else:
                    self.quote = "'"
            elif c == '"':
                self._started = True
                self.quote = '"'
            elif c == "$":
                self._started = True
                prev = line[m.start() - 1] if m.start() > 0 else ""
                dm = _DOLLAR.match(line, m.start())
                if dm and not (prev and _IDENT_CHAR.match(prev)):
                    self.quote = dm.group()
                    i = dm.end()
            elif c == "(":
                self._started = True
                self.paren += 1
            elif c == ")":
                self._started = True
                self.paren = max(0, self.paren - 1)
            elif c == "*":
                self._started = True
            elif c == ";":
                if self.paren == 0 and self.begin_depth == 0:
                    self._parts.append(line[seg_start:i])
                    seg_start = i
                    stmt = "".join(self._parts)
                    self._parts = []
                    if stmt.strip():
                        done.append(stmt)
                    self._started = False
                    self.routine = False
                    self._last_word = ""
            else:  # a word
                if not self._started:
                    self.routine = bool(_ROUTINE.match(line, m.start()))
                self._started = True
                word = tok.upper()
                if self.routine:
                    if word == "ATOMIC" and self._last_word == "BEGIN":
                        self.begin_depth += 1
                    elif word == "CASE" and self.begin_depth:
                        self.begin_depth += 1
                    elif word == "END" and self.begin_depth:
                        self.begin_depth -= 1
                self._last_word = word
        self._parts.append(line[seg_start:])
        if not self._started and self.quote is None:
            # only blanks and comments since the last statement: drop them
            self._parts = []
        return done

    def finish(self) -> str | None:
        """Text left after the last ';' (an unterminated statement), or None."""
        rest = "".join(self._parts)
        self._parts = []
        return rest if rest.strip() and self._started else None


def split_statements(text: str) -> list[str]:
    """Split a psql script into statements (psql meta-command lines and COPY data skipped)."""
    scanner = SqlScanner()
    out: list[str] = []
    lines = text.splitlines(keepends=True)
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if scanner.idle and line.startswith("\\"):
            continue
        done = scanner.feed_line(line)
        out.extend(done)
        if done and scanner.idle and re.match(r"\s*COPY\b.*\bFROM\s+stdin\s*;\s*$", done[-1], re.I | re.S):
            while i < len(lines) and lines[i].rstrip("\r\n") != "\\.":
                i += 1
            i += 1
    rest = scanner.finish()
    if rest:
        out.append(rest)
    return out


# -- identifiers ----------------------------------------------------------------------
_UNQUOTED = re.compile(r"[A-Za-z_\x80-\U0010ffff][A-Za-z_0-9$\x80-\U0010ffff]*")


def read_identifier(text: str, pos: int = 0) -> tuple[str, int]:
    """Read one identifier at ``pos`` (after optional spaces): returns (name, end)."""
    n = len(text)
    while pos < n and text[pos].isspace():
        pos += 1
    if pos < n and text[pos] == '"':
        out = []
        i = pos + 1
        while True:
            k = text.find('"', i)
            if k == -1:
                raise ValueError(f"unterminated quoted identifier in {text[pos:pos + 60]!r}")
            out.append(text[i:k])
            if k + 1 < n and text[k + 1] == '"':
                out.append('"')
                i = k + 2
                continue
            return "".join(out), k + 1
    m = _UNQUOTED.match(text, pos)
    if not m:
        raise ValueError(f"expected an identifier at {text[pos:pos + 60]!r}")
    return m.group().lower(), m.end()


def read_qualified(text: str, pos: int = 0) -> tuple[tuple[str, str], int]:
    """``schema.name`` (or ``name``, schema ``public``) at ``pos``: ((schema, name), end)."""
    first, pos = read_identifier(text, pos)
    if pos < len(text) and text[pos] == ".":
        second, pos = read_identifier(text, pos + 1)
        return (first, second), pos
    return ("public", first), pos


def read_identifier_list(text: str) -> list[str]:
    """``a, "B c", d`` → ['a', 'B c', 'd']."""
    names, pos, n = [], 0, len(text)
    while True:
        while pos < n and text[pos].isspace():
            pos += 1
        if pos >= n:
            return names
        name, pos = read_identifier(text, pos)
        names.append(name)
        while pos < n and text[pos].isspace():
            pos += 1
        if pos < n:
            if text[pos] != ",":
                raise ValueError(f"expected ',' in identifier list {text!r}")
            pos += 1


_SAFE_IDENT = re.compile(r"[a-z_][a-z0-9_]*")
_RESERVED = frozenset("""
all analyse analyze and any array as asc asymmetric authorization binary both case cast check collate collation
column concurrently constraint create cross current_catalog current_date current_role current_schema current_time
current_timestamp current_user default deferrable desc distinct do else end except false fetch for foreign freeze
from full grant group having ilike in initially inner intersect into is isnull join lateral leading left like limit
localtime localtimestamp natural not notnull null offset on only or order outer overlaps placing primary references
returning right select session_user similar some symmetric system_user table tablesample then to trailing true union
unique user using variadic verbose when where window with
""".split())


def quote_ident(name: str) -> str:
    if _SAFE_IDENT.fullmatch(name) and name not in _RESERVED:
        return name
    return '"' + name.replace('"', '""') + '"'


def qualified(key: tuple[str, str]) -> str:
    return f"{quote_ident(key[0])}.{quote_ident(key[1])}"


def quote_literal(value: str) -> str:
    if "\x00" in value:
        raise ValueError("NUL cannot appear in a PostgreSQL string")
    return "'" + value.replace("'", "''") + "'"


def display(key: tuple[str, str]) -> str:
    """Name of a table as the rules write it: ``auth_user`` for public tables, ``schema.table`` otherwise
    (a part containing a dot, or starting with a quote, is double-quoted)."""
    def part(p: str) -> str:
        return '"' + p.replace('"', '""') + '"' if ("." in p or p.startswith('"')) else p
    schema, name = key
    return part(name) if schema == "public" else f"{part(schema)}.{part(name)}"
