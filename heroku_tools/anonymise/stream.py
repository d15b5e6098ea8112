"""The anonymising stream: ``pg_restore -f -`` SQL in, a fail-closed psql script out.

:class:`AnonymisingStream` takes the SQL text of a dump chunk by chunk
(:meth:`~AnonymisingStream.feed`) and returns the script to give ``psql -X -v
ON_ERROR_STOP=1``:

1. it holds back everything before the first ``COPY`` (the pre-data DDL:
   schemas, types, tables, functions), reads the tables and columns from it and
   checks them against the rules (deny by default).  A gap raises
   :class:`SchemaMismatch` before one byte has been sent to the target;
2. it then emits ``BEGIN;``, the wipe of the target's schemas (``public`` and
   every schema the dump creates, dropped and re-created inside the
   transaction, so a failure leaves them as they were), and the held-back DDL;
3. every ``COPY ... FROM stdin;`` block is checked against its table's rules
   (every column of the COPY header needs a rule) and rewritten: a ``truncate``
   table's rows are dropped, a table whose columns are all ``keep`` passes
   through untouched (no per-row work), other rows are split into fields and
   each ruled field replaced (null, fixed value, keyed fake, keyed hash); after
   a block come the post-data statements whose data is now all in (``early``,
   see :mod:`.early`), dropped later where the dump has them;
4. anything else that could carry data (``INSERT`` statements, large objects,
   a data section that is not a COPY) or end the transaction early
   (``COMMIT``, ``ROLLBACK``, ...), or any psql meta-command other than
   ``\\restrict`` / ``\\unrestrict``, raises :class:`UnsafeDump`;
5. :meth:`~AnonymisingStream.finish` (called only once the producer has exited
   successfully) emits the verification queries and then ``COMMIT;``.  If the
   input stops early, the stream ends without ``COMMIT`` and PostgreSQL rolls
   the whole transaction back when psql disconnects.

Verification, inside the transaction, per table (one scan each): the row
count equals the rows the stream sent; a ``null`` column holds no value; a
``value`` column holds only that value; a faked or hashed column holds exactly
as many values as the stream sent, with the same total length (text columns);
and, with a canary, no text-like column of any loaded table contains it.
Together with what the stream guarantees by construction (every value of a
ruled column is replaced by a function of it that never returns its input, and
rows reach tables only through the COPY blocks it rewrote), this shows that no
row reached the table by another path and no value escaped its rule, at the
cost of one sequential scan per table rather than a comparison with every
source value.  The canary is also looked for in every byte the stream emits,
so a canary in a column ruled ``keep`` by mistake stops the stream before that
row is sent.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from .check import find_problems
from .early import EarlyStatements
from .errors import AnonymiseError, CanaryFound, Problem, RestoreFailed, SchemaMismatch, UnsafeDump
from .fakes import Fakes
from .rules import Rules
from .schema import Schema, strip_comments
from .sqlscan import SqlScanner, display, paren_body, read_identifier_list, read_qualified
from .tableplan import TablePlan
from .transaction import CANARY_MARK, COMMIT_SQL, begin_sql, verify_sql

CANARY_RE = re.compile(r"[A-Za-z0-9@._+\-]{6,200}")

_ENCODINGS = {"UTF8": "utf-8", "UNICODE": "utf-8", "SQL_ASCII": "ascii", "LATIN1": "latin-1", "LATIN9": "iso8859-15",
              "WIN1252": "cp1252"}
_ALLOWED_STATEMENTS = {"SET", "RESET", "SELECT", "CREATE", "ALTER", "COMMENT", "SECURITY", "GRANT", "REVOKE",
                       "REFRESH", "COPY"}
#: Statements whose text can hold credentials (a foreign server's options, a user mapping's password):
#: never forwarded, whatever the rules.
_NEVER_FORWARDED = re.compile(r"(CREATE|ALTER)\s+(SERVER|USER\s+MAPPING)\b", re.I)
_TOC_HEADER = re.compile(r"--\s+(?:Data for )?Name: .*; Type: ([A-Z ]+); Schema: ")
_LARGE_OBJECTS = {"BLOB", "BLOBS", "BLOB METADATA", "LARGE OBJECT", "LARGE OBJECTS"}


@dataclass
class StreamStats:
    tables: int = 0
    rows_in: int = 0
    rows_out: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    per_table: dict = field(default_factory=dict)


class _CanaryScan:
    def __init__(self, canary: bytes):
        self.canary = canary
        self.tail = b""

    def hit(self, piece: bytes) -> int:
        """Index in (tail + piece) where the canary starts, or -1."""
        c = self.canary
        if c in piece:
            return piece.index(c) + len(self.tail)
        joined = self.tail + piece[: len(c) - 1]
        if c in joined:
            return joined.index(c)
        k = len(c) - 1
        self.tail = (self.tail + piece)[-k:] if k else b""
        return -1


class AnonymisingStream:
    """Rewrite ``pg_restore -f -`` output for ``psql``; see the module documentation."""

    def __init__(self, rules: Rules, secret: bytes | str | Fakes, *, canary: str | None = None,
                 wipe: bool = True, verify: bool = True, verify_canary_in_database: bool = True,
                 early: EarlyStatements | None = None, commit: bool = True):
        self.rules = Rules.from_mapping(rules) if not isinstance(rules, Rules) else rules
        self.fakes = secret if isinstance(secret, Fakes) else Fakes(secret)
        self.check_canary(canary)
        self.canary = canary
        self._scan = _CanaryScan(canary.encode()) if canary else None
        self.wipe = wipe
        self.verify = verify
        self.verify_canary_in_database = verify_canary_in_database
        #: False: :meth:`finish` ends with the verification, and whoever loads the script sends
        #: :data:`COMMIT_SQL` once it knows the script arrived whole (a dyno's emit mode, see :mod:`.dyno`).
        self.commit = commit
        self.encoding = "utf-8"
        self.scanner = SqlScanner()
        self.state = "predata"
        self.schema: Schema | None = None
        self.plans: dict[tuple[str, str], TablePlan] = {}
        self.stats = StreamStats()
        self._statements: list[str] = []
        self._held: list[bytes] = []
        self._tail = b""
        self._copy: TablePlan | None = None
        self._expect_copy = False
        self._finished = False
        #: post-data statements to send as soon as the data they need is in (see :mod:`.early`)
        self.early = early
        self._moved: set[str] = set()
        self._complete = False
        self._scanned: set[int] = set()
        #: finish() refuses a stream without pg_restore's "dump complete" trailer
        self.require_complete = True
        self._stmt_lines: list[bytes] = []
        #: The statement being read is dropped (a comment's text, a foreign server's options).
        self._dropping = False

    @staticmethod
    def check_canary(canary: str | None) -> None:
        if canary is not None and not CANARY_RE.fullmatch(canary):
            raise ValueError("a canary must be 6-200 characters of letters, digits and @._+-")

    # -- input ------------------------------------------------------------------------
    def feed(self, data: bytes) -> list[bytes]:
        """Consume a chunk of pg_restore output; return the script pieces to send now."""
        if self._finished:
            raise AnonymiseError("the stream is finished")
        self.stats.bytes_in += len(data)
        out: list[bytes] = []
        buf = self._tail + data if self._tail else data
        pos, n = 0, len(buf)
        while pos < n:
            if self._copy is None:
                nl = buf.find(b"\n", pos)
                if nl < 0:
                    break
                self._sql_line(buf[pos:nl + 1], out)
                pos = nl + 1
            else:
                new = self._copy_data(buf, pos, out)
                if new == pos:
                    break
                pos = new
        self._tail = buf[pos:]
        return self._emit(out)

    def finish(self) -> list[bytes]:
        """The end of the input, after the producer exited successfully: verification, then COMMIT."""
        if self._finished:
            raise AnonymiseError("the stream is finished")
        if self._copy is not None:
            raise RestoreFailed(f"the dump ended inside the data of {self._copy.name}: it is truncated")
        if self._tail.strip():
            raise RestoreFailed("the dump ended in the middle of a line: it is truncated")
        if not self.scanner.idle:
            raise RestoreFailed("the dump ended in the middle of a statement: it is truncated")
        if self._expect_copy:
            raise RestoreFailed("the dump ended before the data it announced: it is truncated")
        if not self._complete and self.require_complete:
            raise RestoreFailed("the dump ended without pg_restore's closing line: it is truncated")
        out: list[bytes] = []
        if self.state == "predata":
            self._release(out)
        out = self._emit(out)
        tail = []
        if self.verify:
            for plan in self.plans.values():
                sql = self._verify_sql(plan)
                if sql:
                    tail.append(sql)
        if self.commit:
            tail.append(COMMIT_SQL)
        self._finished = True
        script = "".join(tail).encode("utf-8")
        self.stats.bytes_out += len(script)
        out.append(script)
        return out

    @property
    def position(self) -> tuple[str | None, int]:
        """The table whose rows are being read (None between tables) and how many of its rows have been read."""
        plan = self._copy
        return (plan.name, plan.rows_in) if plan is not None else (None, 0)

    # -- output -----------------------------------------------------------------------
    def _emit(self, out: list[bytes]) -> list[bytes]:
        if self._scan is not None:
            scanned, self._scanned = self._scanned, set()
            for piece in out:
                if id(piece) in scanned:
                    # rows already searched by _check_canary; they end with a newline, which no canary spans
                    self._scan.tail = b""
                    continue
                at = self._scan.hit(piece)
                if at >= 0:
                    raise CanaryFound(f"{CANARY_MARK}: the canary value is in {self._where_canary(piece)}: "
                                      "stopped before sending it; nothing was committed")
        for piece in out:
            self.stats.bytes_out += len(piece)
        return out

    def _where_canary(self, piece: bytes, plan: TablePlan | None = None) -> str:
        canary = self.canary.encode()
        for line in piece.split(b"\n"):
            if canary in line and plan is not None and line.count(b"\t") == len(plan.columns) - 1:
                for col, value in zip(plan.columns, line.split(b"\t"), strict=True):
                    if canary in value:
                        return f"{plan.name}.{col}"
        return f"the data of {plan.name}" if plan is not None else "the dump's SQL outside table data"

    # -- SQL outside COPY ---------------------------------------------------------------
    def _sql_line(self, raw: bytes, out: list[bytes]) -> None:
        """One line of SQL outside COPY data: check what it starts, then hold it, send it or drop it."""
        text = self._decode(raw)
        copy_plan = None
        if self.scanner.idle:  # the line starts a statement, a comment or a psql meta-command
            if text.startswith("\\"):
                self._check_meta_command(text)
                self._pass(raw, out)
                return
            copy_plan = self._check_statement_start(text)
        done = self.scanner.feed_line(text)
        if copy_plan is not None:
            self._enter_copy(copy_plan, text, raw, done, out)
        elif self._dropping:
            self._dropping = not self.scanner.idle  # the statement's last line ends the dropping
        else:
            self._forward(raw, done, out)

    def _decode(self, raw: bytes) -> str:
        try:
            return raw.decode(self.encoding)
        except UnicodeDecodeError:
            raise UnsafeDump(f"the dump's SQL is not valid {self.encoding}") from None

    @staticmethod
    def _check_meta_command(text: str) -> None:
        if not re.fullmatch(r"\\(un)?restrict\s+[A-Za-z0-9]+\s*", text):
            raise UnsafeDump(f"the dump contains a psql meta-command: {text.strip()[:80]!r}")

    def _check_statement_start(self, text: str) -> TablePlan | None:
        """Check a line that starts a statement (or a comment); for a ``COPY`` header, return its table's plan."""
        stripped = text.strip()
        if stripped.startswith("--"):
            self._toc_comment(stripped)
            return None
        if not stripped:
            return None
        word = re.match(r"[A-Za-z_]*", stripped).group().upper()
        self._check_statement(word, stripped)
        if (word == "COMMENT" and self.rules.comments == "drop") or _NEVER_FORWARDED.match(stripped):
            self._dropping = True
            return None
        if word != "COPY":
            return None
        plan = self._copy_header(text)
        self._expect_copy = False
        return plan

    def _toc_comment(self, stripped: str) -> None:
        """pg_restore's comments name each entry's type before it: refuse large objects and statistics, note
        that a table's data comes next, and note the closing line (a dump without it is truncated)."""
        if stripped == "-- PostgreSQL database dump complete":
            self._complete = True
        m = _TOC_HEADER.match(stripped)
        if not m:
            return
        kind = m.group(1).strip()
        if kind in _LARGE_OBJECTS:
            raise UnsafeDump("the dump contains large objects, which cannot be anonymised: "
                             "dump without them (pg_dump --no-blobs)")
        if kind.startswith("STATISTICS"):
            raise UnsafeDump("the dump contains planner statistics, whose sample values are raw data: "
                             "restore with pg_restore --no-statistics")
        if kind == "TABLE DATA":
            self._expect_copy = True

    def _check_statement(self, word: str, stripped: str) -> None:
        """Refuse a statement that could carry data or end the transaction; follow ``SET client_encoding``."""
        if self._expect_copy and word != "COPY":
            raise UnsafeDump(f"table data in the dump is not a COPY (was it dumped with --inserts?): "
                             f"{stripped[:80]!r}")
        if word not in _ALLOWED_STATEMENTS:
            raise UnsafeDump(f"the dump contains a {word or stripped[:20]!r} statement, which the "
                             "anonymising restore never forwards")
        if word == "SELECT" and re.match(r"SELECT\s+pg_catalog\.lo", stripped, re.I):
            raise UnsafeDump("the dump contains large objects, which cannot be anonymised")
        if word == "SELECT" and "pg_restore_" in stripped and "_stats" in stripped:
            raise UnsafeDump("the dump contains planner statistics, whose sample values are raw data: "
                             "restore with pg_restore --no-statistics")
        if word == "SET":
            self._set_encoding(stripped)

    def _set_encoding(self, stripped: str) -> None:
        m = re.fullmatch(r"SET\s+client_encoding\s*=\s*'([A-Za-z0-9_]+)';", stripped, re.I)
        if m:
            enc = m.group(1).upper()
            if enc not in _ENCODINGS:
                raise UnsafeDump(f"the dump's encoding {enc} is not supported")
            self.encoding = _ENCODINGS[enc]

    def _enter_copy(self, plan: TablePlan, text: str, raw: bytes, done: list[str], out: list[bytes]) -> None:
        """A ``COPY ... FROM stdin;`` line: the data follows.  The first one ends the pre-data (see _release)."""
        if not done or not self.scanner.idle:
            raise UnsafeDump(f"cannot read the COPY header {text.strip()[:120]!r}")
        if self.state == "predata":
            self._release(out)
        self._copy = plan
        out.append(raw)

    def _forward(self, raw: bytes, done: list[str], out: list[bytes]) -> None:
        """A line of a statement: held back before the first COPY, sent after it."""
        if self.state == "predata":
            self._statements.extend(done)
            self._held.append(raw)
        elif not self._moved:
            out.append(raw)
        else:
            # hold each statement until complete: one already run right after its table's data is dropped
            self._stmt_lines.append(raw)
            if self.scanner.idle:
                lines, self._stmt_lines = self._stmt_lines, []
                if not (len(done) == 1 and strip_comments(done[0]) in self._moved):
                    out.extend(lines)

    def _pass(self, raw: bytes, out: list[bytes]) -> None:
        if self.state == "predata":
            self._held.append(raw)
        else:
            out.append(raw)

    def _release(self, out: list[bytes]) -> None:
        """End of pre-data: check the schema against the rules, then emit BEGIN, the wipe and the DDL."""
        self.schema = Schema.from_statements(self._statements)
        self._statements = []
        problems = find_problems(self.rules, self.schema)
        if problems:
            raise SchemaMismatch(problems, "the dump")
        out.append(begin_sql(sorted(self.schema.schemas), wipe=self.wipe).encode("utf-8"))
        out.extend(self._held)
        self._held = []
        self.state = "sql"

    # -- COPY ------------------------------------------------------------------------------
    def _copy_header(self, text: str) -> TablePlan:
        line = text.rstrip("\n")
        if not line.startswith("COPY "):
            raise UnsafeDump(f"cannot read the COPY header {line[:120]!r}")
        try:
            key, pos = read_qualified(line, 5)
            rest = line[pos:]
            columns: list[str] = []
            if rest.startswith(" ("):
                body, end = paren_body(rest, 1)
                columns = read_identifier_list(body)
                rest = rest[end:]
            if rest.strip() != "FROM stdin;":
                raise ValueError("not FROM stdin")
        except ValueError:
            raise UnsafeDump(f"cannot read the COPY header {line[:120]!r}") from None
        return self._plan(key, columns)

    def _plan(self, key, columns: list[str]) -> TablePlan:
        name = display(key)
        rule = self.rules.table(key)
        if rule is None:
            raise SchemaMismatch([Problem(name, None, "the dump has data for this table and the rules have no rules "
                                          "for it", "missing-table")], "the dump")
        table = self.schema.table(key) if self.schema else None
        if len(set(columns)) != len(columns):
            raise UnsafeDump(f"the COPY header of {name} repeats a column")
        if key in self.plans:
            plan = self.plans[key]
            if plan.columns != columns:
                raise UnsafeDump(f"{name} has two COPY blocks with different columns")
            return plan
        if rule.truncate:
            plan = TablePlan(key, columns, "truncate", rule, table)
            self.plans[key] = plan
            return plan
        problems = []
        for col in columns:
            if col not in rule.columns:
                problems.append(Problem(name, col, "the dump has data for this column and the rules have no rule "
                                        "for it", "missing-column"))
        for col in rule.columns:
            if col not in columns:
                generated = table is not None and col in table.columns and table.columns[col].generated
                if not generated:
                    problems.append(Problem(name, col, "rule for a column the dump's data does not have",
                                            "stale-column"))
        if problems:
            raise SchemaMismatch(problems, "the dump")
        mode = "keep" if all(rule.columns[c].action == "keep" for c in columns) else "transform"
        plan = TablePlan(key, columns, mode, rule, table)
        if mode == "transform":
            plan.compile(self.fakes, self.encoding)
        self.plans[key] = plan
        return plan

    def _copy_data(self, buf: bytes, pos: int, out: list[bytes]) -> int:
        if buf.startswith(b"\\.\n", pos):
            self._end_copy(out)
            return pos + 3
        end = buf.find(b"\n\\.\n", pos)
        if end >= 0:
            self._rows(buf[pos:end + 1], out)
            self._end_copy(out)
            return end + 4
        last = buf.rfind(b"\n", pos)
        if last < 0:
            return pos
        self._rows(buf[pos:last + 1], out)
        return last + 1

    def _rows(self, seg: bytes, out: list[bytes]) -> None:
        """Whole rows of the open COPY block: dropped, passed through, or rewritten; then searched for the canary."""
        plan = self._copy
        if plan.mode == "truncate":
            plan.rows_in += seg.count(b"\n")
            return
        if plan.mode == "keep":
            n = seg.count(b"\n")
            plan.rows_in += n
            plan.rows_out += n
            data = seg
        else:
            data = plan.rewrite(seg)
        self._check_canary(data, plan)
        out.append(data)

    def _check_canary(self, data: bytes, plan: TablePlan) -> None:
        """Rows are whole lines and a canary holds no newline: one search per segment names the column."""
        if self._scan is not None:
            if self._scan.canary in data:
                raise CanaryFound(f"{CANARY_MARK}: the canary value is in {self._where_canary(data, plan)}: "
                                  "stopped before sending it; nothing was committed")
            self._scanned.add(id(data))

    def _end_copy(self, out: list[bytes]) -> None:
        plan = self._copy
        out.append(b"\\.\n")
        # the server builds and checks these while later tables are rewritten
        for stmt in self.early.after(plan.key) if self.early else ():
            out.append(stmt.encode(self.encoding) + b"\n")
            self._moved.add(strip_comments(stmt))
        self._copy = None
        self.stats.tables = len(self.plans)
        self.stats.rows_in = sum(p.rows_in for p in self.plans.values())
        self.stats.rows_out = sum(p.rows_out for p in self.plans.values())
        self.stats.per_table[plan.name] = plan.rows_out

    # -- verification ------------------------------------------------------------------------
    def _verify_sql(self, plan: TablePlan) -> str:
        return verify_sql(plan, self.canary if self.verify_canary_in_database else None)
