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
   each ruled field replaced (null, fixed value, keyed fake, keyed hash);
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

from . import copytext
from .check import build_fake, find_problems
from .errors import AnonymiseError, CanaryFound, Problem, RestoreFailed, SchemaMismatch, UnsafeDump
from .fakes import FakeError, Fakes
from .rules import Rules, TableRule
from .schema import Schema, Table, strip_comments
from .sqlscan import (
    SqlScanner, display, paren_body, qualified, quote_ident, quote_literal, read_identifier_list, read_qualified,
)

NULL = b"\\N"
VERIFY_MARK = "heroku-tools verification failed"
CANARY_MARK = "heroku-tools canary found"
STATUS_MARK = "heroku-tools-commit-status:"
CANARY_RE = re.compile(r"[A-Za-z0-9@._+\-]{6,200}")
CACHE_LIMIT = 200_000

_ENCODINGS = {"UTF8": "utf-8", "UNICODE": "utf-8", "SQL_ASCII": "ascii", "LATIN1": "latin-1", "LATIN9": "iso8859-15",
              "WIN1252": "cp1252"}
_ALLOWED_STATEMENTS = {"SET", "RESET", "SELECT", "CREATE", "ALTER", "COMMENT", "SECURITY", "GRANT", "REVOKE",
                       "REFRESH", "COPY"}
_TOC_HEADER = re.compile(r"--\s+(?:Data for )?Name: .*; Type: ([A-Z ]+); Schema: ")
_LARGE_OBJECTS = {"BLOB", "BLOBS", "BLOB METADATA", "LARGE OBJECT", "LARGE OBJECTS"}


@dataclass
class TablePlan:
    key: tuple[str, str]
    columns: list[str]
    mode: str                       #: truncate | keep | transform
    rule: TableRule
    table: Table | None
    rows_in: int = 0
    rows_out: int = 0
    copies: int = 0
    #: column -> [values sent, total length or None]  (fake/hash columns)
    sent: dict = field(default_factory=dict)
    transform_direct: object = None
    transform_general: object = None
    caches: list = field(default_factory=list)
    ops: list = field(default_factory=list)
    cache_reviewed: bool = False
    #: column -> (action, extra) for verification
    checks: dict = field(default_factory=dict)
    fake_columns: list = field(default_factory=list)

    @property
    def name(self) -> str:
        return display(self.key)


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
                 early_indexes: dict | None = None):
        self.rules = Rules.from_mapping(rules) if not isinstance(rules, Rules) else rules
        self.fakes = secret if isinstance(secret, Fakes) else Fakes(secret)
        self.check_canary(canary)
        self.canary = canary
        self._scan = _CanaryScan(canary.encode()) if canary else None
        self.wipe = wipe
        self.verify = verify
        self.verify_canary_in_database = verify_canary_in_database
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
        #: table -> its index statements, to run right after its data (see Schema.index_statements)
        self.early_indexes = dict(early_indexes or {})
        self._moved: set[str] = set()
        self._complete = False
        self._scanned: set[int] = set()
        #: finish() refuses a stream without pg_restore's "dump complete" trailer
        self.require_complete = True
        self._stmt_lines: list[bytes] = []

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
        tail.append("SELECT txid_current() AS heroku_tools_xid \\gset\n")
        tail.append("COMMIT;\n")
        tail.append(f"SELECT '{STATUS_MARK}' || txid_status(:heroku_tools_xid);\n")
        self._finished = True
        script = "".join(tail).encode("utf-8")
        self.stats.bytes_out += len(script)
        out.append(script)
        return out

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
        self._start_copy(plan, raw, out)

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
        head = ["\\set ON_ERROR_STOP on\n", "BEGIN;\n", "SET LOCAL client_min_messages = warning;\n"]
        if self.wipe:
            head.append(wipe_sql(sorted(self.schema.schemas)))
        out.append("".join(head).encode("utf-8"))
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
            self._compile(plan)
        self.plans[key] = plan
        return plan

    def _compile(self, plan: TablePlan) -> None:
        """Prepare the row rewriter of a table with rules other than keep: build its fakes, then the code."""
        plan.ops = []
        for i, col in enumerate(plan.columns):
            rule = plan.rule.columns[col]
            if rule.action == "keep":
                continue
            column = plan.table.columns.get(col) if plan.table else None
            if rule.action == "null":
                plan.ops.append((i, "null", None, None))
                plan.checks[col] = ("null", None)
            elif rule.action == "value":
                plan.ops.append((i, "value", copytext.encode_field(rule.value.encode(self.encoding)), None))
                plan.checks[col] = ("value", (rule.value, column))
            else:
                try:
                    fake = build_fake(self.fakes, column, rule)
                except FakeError as exc:
                    raise SchemaMismatch([Problem(plan.name, col, str(exc), "invalid")], "the dump") from None
                general = _copy_function(fake, self.encoding, f"{plan.name}.{col}")
                direct = fake.fast() if (self.encoding == "utf-8" and fake.copy_safe and not fake.may_fail) else general
                plan.ops.append((i, "fake", (direct, general), {} if fake.cacheable else None))
                plan.sent[col] = [0, None]
                plan.checks[col] = ("fake", False)
        plan.fake_columns = [plan.columns[i] for i, kind, _, _ in plan.ops if kind == "fake"]
        self._generate(plan)

    def _generate(self, plan: TablePlan) -> None:
        """Generate the row rewriter (column indices only: no name reaches the source).

        Each ruled field costs one comparison and one call (or one dict lookup
        for a cached fake); fields after the last ruled column are never split.
        Two variants: one passes field bytes straight to the fakes (segments
        without COPY escapes, the usual case), the other decodes and re-encodes
        escapes.
        """
        ncols = len(plan.columns)
        last = max(i for i, *_ in plan.ops)
        maxsplit = last + 1 if last < ncols - 1 else -1
        width = last + 2 if maxsplit >= 0 else ncols
        ns_direct: dict = {"NULL": NULL}
        ns_general: dict = {"NULL": NULL}
        body, fake_idx, caches = [], [], []
        for i, kind, payload, cache in plan.ops:
            if kind == "null":
                body.append(f"        f[{i}] = NULL")
                continue
            if kind == "value":
                ns_direct[f"V{i}"] = ns_general[f"V{i}"] = payload
                body.append(f"        if f[{i}] != NULL: f[{i}] = V{i}")
                continue
            ns_direct[f"F{i}"], ns_general[f"F{i}"] = payload
            fake_idx.append(i)
            if cache is not None:
                # one cache for both variants: keys are raw COPY fields, values COPY fields
                caches.append(cache)
                for ns in (ns_direct, ns_general):
                    ns[f"G{i}"], ns[f"S{i}"] = cache.get, cache.__setitem__
                body.append(f"        v = f[{i}]\n"
                            f"        if v != NULL:\n"
                            f"            w = G{i}(v)\n"
                            f"            if w is None:\n"
                            f"                w = F{i}(v)\n"
                            f"                S{i}(v, w)\n"
                            f"            f[{i}] = w\n"
                            f"        else:\n"
                            f"            z{i} += 1")
            else:
                body.append(f"        v = f[{i}]\n"
                            f"        if v != NULL:\n"
                            f"            f[{i}] = F{i}(v)\n"
                            f"        else:\n"
                            f"            z{i} += 1")

        def bad(row: bytes, _name=plan.name, _n=ncols):
            fields = row.count(b"\t") + 1
            raise UnsafeDump(f"a COPY row of {_name} has {fields} fields where {_n} were expected")

        split = f"row.split(b'\\t', {maxsplit})" if maxsplit >= 0 else "row.split(b'\\t')"
        zeros = "".join(f"    z{i} = 0\n" for i in fake_idx)
        nulls = "(" + "".join(f"z{i}, " for i in fake_idx) + ")"
        src = ("def transform(seg):\n"
               "    rows = seg.split(b'\\n')\n"
               "    rows.pop()\n"
               "    out = []\n"
               "    emit = out.append\n"
               + zeros +
               "    for row in rows:\n"
               f"        f = {split}\n"
               f"        if len(f) != {width}: bad(row)\n"
               + "\n".join(body) + "\n"
               "        emit(b'\\t'.join(f))\n"
               "    emit(b'')\n"
               f"    return b'\\n'.join(out), len(rows), {nulls}\n")
        code = compile(src, f"<transform {plan.name}>", "exec")
        for ns in (ns_direct, ns_general):
            ns["bad"] = bad
            exec(code, ns)
        plan.transform_direct = ns_direct["transform"]
        plan.transform_general = ns_general["transform"]
        plan.caches = caches

    def _review_caches(self, plan: TablePlan) -> None:
        """After the first rows: stop caching fakes of columns whose values hardly repeat (a miss costs more)."""
        changed = False
        for k, (i, kind, payload, cache) in enumerate(plan.ops):
            if cache is not None and len(cache) > 0.9 * plan.rows_in:
                plan.ops[k] = (i, kind, payload, None)
                changed = True
        if changed:
            self._generate(plan)
        plan.cache_reviewed = True

    def _start_copy(self, plan: TablePlan, raw: bytes, out: list[bytes]) -> None:
        self._copy = plan
        plan.copies += 1
        out.append(raw)

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
        plan = self._copy
        mode = plan.mode
        if mode == "keep":
            n = seg.count(b"\n")
            plan.rows_in += n
            plan.rows_out += n
            self._check_canary(seg, plan)
            out.append(seg)
        elif mode == "truncate":
            plan.rows_in += seg.count(b"\n")
        else:
            # any backslash other than the NULL markers means some value has COPY escapes
            if seg.count(b"\\") == seg.count(b"\\N"):
                data, n, nulls = plan.transform_direct(seg)
            else:
                data, n, nulls = plan.transform_general(seg)
            plan.rows_in += n
            plan.rows_out += n
            for col, z in zip(plan.fake_columns, nulls, strict=True):
                plan.sent[col][0] += n - z
            for cache in plan.caches:
                if len(cache) > CACHE_LIMIT:
                    cache.clear()
            if not plan.cache_reviewed and plan.rows_in >= 50_000:
                self._review_caches(plan)
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
        early = self.early_indexes.pop(plan.key, None)
        if early:
            # build this table's indexes now: the server works on them while later tables are rewritten
            for stmt in early:
                out.append(stmt.encode(self.encoding) + b"\n")
                self._moved.add(strip_comments(stmt))
        self._copy = None
        self.stats.tables = len(self.plans)
        self.stats.rows_in = sum(p.rows_in for p in self.plans.values())
        self.stats.rows_out = sum(p.rows_out for p in self.plans.values())
        self.stats.per_table[plan.name] = plan.rows_out

    # -- verification ------------------------------------------------------------------------
    def _verify_sql(self, plan: TablePlan) -> str:
        name = plan.name
        table_sql = qualified(plan.key)
        selects = ["count(*) AS n"]
        checks = [(f"r.n <> {plan.rows_out}", f"{name} holds \x01 rows where the anonymiser sent {plan.rows_out}",
                   "r.n")]
        for i, (col, (action, extra)) in enumerate(plan.checks.items()):
            c = quote_ident(col)
            label = f"{name}.{col}"
            if action == "null":
                selects.append(f"count({c}) AS c{i}")
                checks.append((f"r.c{i} <> 0", f"{label} holds \x01 values where its rule is null", f"r.c{i}"))
            elif action == "value":
                value, column = extra
                if column is not None:
                    lit = quote_literal(value)
                    if column.type.category == "json":
                        cond = f"{c}::text <> CAST({lit} AS {column.type.text})::text"
                    else:
                        cond = f"{c} <> CAST({lit} AS {column.type.text})"
                    selects.append(f"count(*) FILTER (WHERE {cond}) AS c{i}")
                    checks.append((f"r.c{i} <> 0", f"{label} holds \x01 values other than its fixed value", f"r.c{i}"))
            else:
                count, length = plan.sent[col]
                selects.append(f"count({c}) AS c{i}")
                checks.append((f"r.c{i} <> {count}",
                               f"{label} holds \x01 values where the anonymiser sent {count}", f"r.c{i}"))
                if length is not None:
                    selects.append(f"coalesce(sum(length({c})), 0) AS l{i}")
                    checks.append((f"r.l{i} <> {length}",
                                   f"{label} holds \x01 characters where the anonymiser sent {length}", f"r.l{i}"))
        canary_checks = []
        if self.canary and self.verify_canary_in_database and plan.rows_out:
            lit = quote_literal(self.canary)
            cols = plan.table.columns.values() if plan.table else []
            for col in cols:
                if not col.type.may_hold_text:
                    continue
                c = quote_ident(col.name)
                if col.type.category == "bytea":
                    canary_checks.append(f"position(convert_to({lit}, 'UTF8') in {c}) > 0")
                else:
                    canary_checks.append(f"strpos({c}::text, {lit}) > 0")
        if canary_checks:
            selects.append("count(*) FILTER (WHERE " + " OR ".join(canary_checks) + ") AS canary")
        lines = ["DO $ht_verify$", "DECLARE r record;", "BEGIN",
                 f"  SELECT {', '.join(selects)} INTO r FROM {table_sql};"]
        for cond, message, value in checks:
            raised = _raise_literal(f"{VERIFY_MARK}: {message}")
            lines.append(f"  IF {cond} THEN RAISE EXCEPTION {raised}, {value}; END IF;")
        if canary_checks:
            message = _raise_literal(f"{CANARY_MARK}: {name} holds the canary in \x01 rows")
            lines.append(f"  IF r.canary > 0 THEN RAISE EXCEPTION {message}, r.canary; END IF;")
        lines.append("END $ht_verify$;")
        sql = "\n".join(lines) + "\n"
        body = sql[len("DO $ht_verify$"):-len("$ht_verify$;\n")]
        if "$ht_verify$" in body:
            raise UnsafeDump(f"cannot build the verification of {name}: a name contains $ht_verify$")
        return sql


def _raise_literal(message: str) -> str:
    """A RAISE format string: chr(1) marks the one placeholder; any other ``%`` is literal."""
    return quote_literal(message.replace("%", "%%").replace("\x01", "%"))


def _copy_function(fake, encoding: str, where: str):
    """COPY field (not ``\\N``) → COPY field, through ``fake``."""
    apply = fake.fast()
    decode = copytext.decode_field
    if encoding == "utf-8" and fake.copy_safe:
        def convert(raw: bytes) -> bytes:
            try:
                return apply(decode(raw) if b"\\" in raw else raw)
            except FakeError as exc:
                raise AnonymiseError(f"{where}: {exc}") from None
        return convert
    encode = copytext.encode_field

    def convert_general(raw: bytes) -> bytes:
        try:
            value = decode(raw) if b"\\" in raw else raw
            if encoding != "utf-8":
                value = value.decode(encoding).encode("utf-8")
            result = apply(value)
            if encoding != "utf-8":
                result = result.decode("utf-8").encode(encoding)
            return encode(result)
        except FakeError as exc:
            raise AnonymiseError(f"{where}: {exc}") from None
        except UnicodeError as exc:
            raise AnonymiseError(f"{where}: cannot convert a value between UTF-8 and {encoding}: {exc}") from None
    return convert_general


def wipe_sql(extra_schemas=()) -> str:
    """Drop and re-create ``public`` (keeping its owner and grants where allowed) and drop the dump's schemas.

    Runs inside the restore's transaction, so a failure later leaves them as they were.  If the dump
    creates ``public`` itself, it is only dropped.
    """
    if "public" in extra_schemas:
        return "".join(f"DROP SCHEMA IF EXISTS {quote_ident(schema)} CASCADE;\n" for schema in extra_schemas)
    lines = [
        "DO $ht_wipe$",
        "DECLARE owner_name name; acl aclitem[]; owner_oid oid; item record;",
        "BEGIN",
        "  SELECT r.rolname, n.nspacl, n.nspowner INTO owner_name, acl, owner_oid",
        "    FROM pg_namespace n JOIN pg_roles r ON r.oid = n.nspowner WHERE n.nspname = 'public';",
        "  DROP SCHEMA IF EXISTS public CASCADE;",
        "  CREATE SCHEMA public;",
        "  IF owner_name IS NOT NULL AND owner_name <> current_user THEN",
        "    BEGIN",
        "      EXECUTE format('ALTER SCHEMA public OWNER TO %I', owner_name);",
        "    EXCEPTION WHEN insufficient_privilege THEN NULL;",
        "    END;",
        "  END IF;",
        "  FOR item IN SELECT a.grantee, a.privilege_type FROM aclexplode(acl) a WHERE a.grantee <> owner_oid LOOP",
        "    BEGIN",
        "      IF item.grantee = 0 THEN",
        "        EXECUTE format('GRANT %s ON SCHEMA public TO PUBLIC', item.privilege_type);",
        "      ELSE",
        "        EXECUTE format('GRANT %s ON SCHEMA public TO %I', item.privilege_type,",
        "                       (SELECT rolname FROM pg_roles WHERE oid = item.grantee));",
        "      END IF;",
        "    EXCEPTION WHEN insufficient_privilege OR undefined_object THEN NULL;",
        "    END;",
        "  END LOOP;",
        "END $ht_wipe$;",
    ]
    for schema in extra_schemas:
        if schema != "public":
            lines.append(f"DROP SCHEMA IF EXISTS {quote_ident(schema)} CASCADE;")
    return "\n".join(lines) + "\n"
