"""A small lexer for the SQL script ``pg_restore -f -`` writes, as psql would split it.

It tracks quotes (``'...'``, ``E'...'``, ``"..."``), dollar quotes, comments,
parentheses and SQL-standard function bodies (``BEGIN ATOMIC ... END``), so
the stream engine knows whether a line starts a new statement (and so can
recognise ``COPY ... FROM stdin;`` headers and refuse statements it must never
forward) and the schema reader can split the script into statements.  The
same lexer finds the parentheses and commas of a column list or a table body
(:func:`paren_body`, :func:`split_top_level`): one set of quoting rules.

Also: identifier parsing and quoting helpers.
"""
from __future__ import annotations

import re

_IDENT_CHAR = re.compile(r"[A-Za-z0-9_$\x80-\U0010ffff]")
_DOLLAR = re.compile(r"\$([A-Za-z_\x80-\U0010ffff][A-Za-z_0-9\x80-\U0010ffff]*)?\$")
_SPECIAL = re.compile(r"""[-'"$/;(),*]|[A-Za-z_\x80-\U0010ffff][A-Za-z_0-9$\x80-\U0010ffff]*""")
_PUNCTUATION = frozenset("-'\"$/;(),*")
_OPENERS = frozenset("-/'\"$")  # may open a comment or a quote
_COMMENT_MARK = re.compile(r"/\*|\*/")
_ROUTINE = re.compile(r"\s*CREATE\s+(?:OR\s+REPLACE\s+)?(?:FUNCTION|PROCEDURE)\b", re.I)


class SqlScanner:
    """Feed lines (with their newline); get back the statements completed by each line.

    :meth:`tokens` is the lexer: it steps over quotes and comments and yields
    what is outside them.  :meth:`feed_line` follows the tokens to find where
    statements end: a ``;`` outside parentheses and outside the body of a
    ``BEGIN ATOMIC ... END`` function.
    """

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
        seg_start = 0
        for at, tok in self.tokens(line):
            if tok == ";":
                if self.paren == 0 and self.begin_depth == 0:
                    self._parts.append(line[seg_start:at + 1])
                    seg_start = at + 1
                    self._end_statement(done)
            elif tok not in _PUNCTUATION:
                self._word(line, at, tok)
            else:
                self._started = True
                if tok == "(":
                    self.paren += 1
                elif tok == ")":
                    self.paren = max(0, self.paren - 1)
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

    # -- the lexer ---------------------------------------------------------------------------
    def tokens(self, text: str, start: int = 0):
        """Yield ``(position, token)`` for each token of ``text`` outside quotes and comments: a word, or one of
        ``( ) , ; * - / $``.

        Quotes and comments are stepped over; one still open at the end of
        ``text`` carries over to the next call (``quote``).  A quote, or any
        text other than blanks, comments and the tokens themselves, marks the
        statement started.
        """
        i, n = start, len(text)
        while i < n:
            if self.quote is not None:
                i = self._skip_quoted(text, i)
                continue
            m = _SPECIAL.search(text, i)
            at = n if m is None else m.start()
            if not self._started and text[i:at].strip():
                self._started = True
            if m is None:
                return
            if text[at] in _OPENERS:
                inside = self._open_quote(text, at)
                if inside is not None:
                    i = inside
                    continue
            yield at, m.group()
            i = m.end()

    def _open_quote(self, text: str, at: int) -> int | None:
        """If a comment or quote opens at ``at``, enter it and return where its inside starts; else None."""
        c = text[at]
        if text.startswith("--", at):
            end = text.find("\n", at)  # a comment runs to the end of the line; alone, it starts no statement
            return len(text) if end < 0 else end
        if text.startswith("/*", at):
            self.quote, self.comment_depth = "/*", 1
            return at + 2
        if c == "'":
            self.quote, inside = ("E'" if _escape_string_at(text, at) else "'"), at + 1
        elif c == '"':
            self.quote, inside = '"', at + 1
        elif c == "$" and (m := _DOLLAR.match(text, at)) and not (at > 0 and _IDENT_CHAR.match(text[at - 1])):
            self.quote, inside = m.group(), m.end()
        else:
            return None  # a token (a lone $ is a parameter: $1)
        self._started = True
        return inside

    def _skip_quoted(self, text: str, i: int) -> int:
        """Step through the open quote or comment from ``i``: the index after its end, or the end of ``text``."""
        q = self.quote
        if q == "/*":
            return self._skip_comment(text, i)
        if q in ("'", "E'", '"'):
            end = _quote_end(text, i, q)
        else:  # a dollar quote
            k = text.find(q, i)
            end = -1 if k == -1 else k + len(q)
        if end == -1:
            return len(text)
        self.quote = None
        return end

    def _skip_comment(self, text: str, i: int) -> int:
        """Step through a ``/* ... */`` comment (they nest)."""
        while True:
            m = _COMMENT_MARK.search(text, i)
            if not m:
                return len(text)
            i = m.end()
            if m.group() == "/*":
                self.comment_depth += 1
                continue
            self.comment_depth -= 1
            if self.comment_depth == 0:
                self.quote = None
                return i

    # -- statements ------------------------------------------------------------------------
    def _word(self, line: str, at: int, word: str) -> None:
        """Follow ``BEGIN ATOMIC ... END`` in a function or procedure: its ``;`` do not end the statement."""
        if not self._started:
            self.routine = bool(_ROUTINE.match(line, at))
        self._started = True
        word = word.upper()
        if self.routine:
            if word == "ATOMIC" and self._last_word == "BEGIN":
                self.begin_depth += 1
            elif word == "CASE" and self.begin_depth:
                self.begin_depth += 1
            elif word == "END" and self.begin_depth:
                self.begin_depth -= 1
        self._last_word = word

    def _end_statement(self, done: list[str]) -> None:
        stmt = "".join(self._parts)
        self._parts = []
        if stmt.strip():
            done.append(stmt)
        self._started = False
        self.routine = False
        self._last_word = ""


def _escape_string_at(text: str, at: int) -> bool:
    """Does the quote at ``at`` open an ``E'...'`` string (backslash escapes)?"""
    prev = text[at - 1] if at > 0 else ""
    before = text[at - 2] if at > 1 else ""
    return prev in "Ee" and not _IDENT_CHAR.match(before or " ")


def _quote_end(text: str, i: int, quote: str) -> int:
    """The index after the quote that closes ``'...'``, ``E'...'`` or ``"..."`` (opened before ``i``), or -1 if
    ``text`` ends first.  A doubled quote stands for itself, and in ``E'...'`` a backslash escapes the next
    character."""
    mark, n = quote[-1], len(text)
    while True:
        k = text.find(mark, i)
        if quote == "E'":
            b = text.find("\\", i)
            if b != -1 and (k == -1 or b < k):
                i = b + 2
                continue
        if k == -1:
            return -1
        if k + 1 < n and text[k + 1] == mark:
            i = k + 2
            continue
        return k + 1


def top_level(text: str, start: int = 0):
    """Yield ``(position, token, depth)`` for the tokens of ``text`` from ``start`` on, as
    :meth:`SqlScanner.tokens` reads them; ``depth`` counts the parentheses open around the token (a ``(``
    or ``)`` is at the depth outside its pair)."""
    depth = 0
    for at, tok in SqlScanner().tokens(text, start):
        if tok == ")":
            depth -= 1
        yield at, tok, depth
        if tok == "(":
            depth += 1


def paren_body(text: str, start: int) -> tuple[str, int]:
    """Text inside the parentheses opening at ``start`` and the index after the closing one."""
    for at, tok, depth in top_level(text, start):
        if tok == ")" and depth == 0:
            return text[start + 1:at], at + 1
    raise ValueError("unbalanced parentheses")


def split_top_level(text: str) -> list[str]:
    """``text`` cut at each ``,`` outside parentheses, quotes and comments."""
    parts, begin = [], 0
    for at, tok, depth in top_level(text):
        if tok == "," and depth == 0:
            parts.append(text[begin:at])
            begin = at + 1
    parts.append(text[begin:])
    return parts


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
        return read_quoted(text, pos)
    m = _UNQUOTED.match(text, pos)
    if not m:
        raise ValueError(f"expected an identifier at {text[pos:pos + 60]!r}")
    return m.group().lower(), m.end()


def read_quoted(text: str, pos: int) -> tuple[str, int]:
    """The double-quoted name at ``pos`` (``""`` inside stands for one ``"``): (name, end)."""
    end = _quote_end(text, pos + 1, '"')
    if end == -1:
        raise ValueError(f"unterminated quoted identifier in {text[pos:pos + 60]!r}")
    return text[pos + 1:end - 1].replace('""', '"'), end


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
