"""A table's COPY plan: what happens to each column of its rows, and the row rewriter generated for it.

A table is truncated (its rows dropped), kept (its rows passed through
untouched) or transformed: :meth:`TablePlan.compile` builds a fake for each
faked column and generates a function that splits rows into fields only as
far as the last ruled column and replaces each ruled field.  The plan also
counts what was sent, for the verification (see :mod:`.transaction`).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from . import copytext
from .check import build_fake
from .errors import AnonymiseError, Problem, SchemaMismatch, UnsafeDump
from .fakes import FakeError, Fakes
from .fakes.base import Memo
from .rules import TableRule
from .schema import Table
from .sqlscan import display

NULL = b"\\N"
CACHE_LIMIT = 200_000


@dataclass
class TablePlan:
    key: tuple[str, str]
    columns: list[str]
    mode: str                       #: truncate | keep | transform
    rule: TableRule
    table: Table | None
    rows_in: int = 0
    rows_out: int = 0
    #: column -> [values sent, total length or None]  (fake/hash columns)
    sent: dict = field(default_factory=dict)
    transform_direct: object = None
    transform_general: object = None
    ops: list = field(default_factory=list)
    cache_reviewed: bool = False
    #: column -> (action, extra) for verification
    checks: dict = field(default_factory=dict)
    fake_columns: list = field(default_factory=list)
    #: indices of the ruled columns the schema declares NOT NULL (no field there is ``\N``: none to look for)
    not_null: set = field(default_factory=set)

    @property
    def name(self) -> str:
        return display(self.key)

    def compile(self, fakes: Fakes, encoding: str) -> None:
        """Prepare the row rewriter of a table with rules other than keep: build its fakes, then the code."""
        self.ops = []
        for i, col in enumerate(self.columns):
            rule = self.rule.columns[col]
            if rule.action == "keep":
                continue
            column = self.table.columns.get(col) if self.table else None
            if column is not None and column.not_null:
                self.not_null.add(i)
            if rule.action == "null":
                self.ops.append((i, "null", None, None))
                self.checks[col] = ("null", None)
            elif rule.action == "value":
                self.ops.append((i, "value", copytext.encode_field(rule.value.encode(encoding)), None))
                self.checks[col] = ("value", (rule.value, column))
            else:
                try:
                    fake = build_fake(fakes, column, rule)
                except FakeError as exc:
                    raise SchemaMismatch([Problem(self.name, col, str(exc), "invalid")], "the dump") from None
                general = _copy_function(fake, encoding, f"{self.name}.{col}")
                direct = fake.fast() if (encoding == "utf-8" and fake.copy_safe and not fake.may_fail) else general
                self.ops.append((i, "fake", (direct, general), Memo(general, CACHE_LIMIT) if fake.cacheable else None))
                self.sent[col] = [0, None]
                self.checks[col] = ("fake", False)
        self.fake_columns = [self.columns[i] for i, kind, _, _ in self.ops if kind == "fake"]
        self._generate()

    def _generate(self) -> None:
        """Generate the row rewriter (column indices only: no name reaches the source).

        Each ruled field costs one call (or one dict lookup for a cached fake)
        and, unless the schema declares the column NOT NULL, one comparison with
        ``\\N``; fields after the last ruled column are never split.
        Two variants: one passes field bytes straight to the fakes (segments
        without COPY escapes, the usual case), the other decodes and re-encodes
        escapes.
        """
        ncols = len(self.columns)
        last = max(i for i, *_ in self.ops)
        maxsplit = last + 1 if last < ncols - 1 else -1
        width = last + 2 if maxsplit >= 0 else ncols
        ns_direct: dict = {"NULL": NULL}
        ns_general: dict = {"NULL": NULL}
        body, fake_idx = [], []
        for i, kind, payload, cache in self.ops:
            if kind == "null":
                body.append(f"        f[{i}] = NULL")
                continue
            if kind == "value":
                ns_direct[f"V{i}"] = ns_general[f"V{i}"] = payload
                body.append(f"        f[{i}] = V{i}" if i in self.not_null else f"        if f[{i}] != NULL: f[{i}] = V{i}")
                continue
            ns_direct[f"F{i}"], ns_general[f"F{i}"] = payload
            fake_idx.append(i)
            call = f"F{i}({{}})"
            if cache is not None:
                # one cache for both variants: keys are raw COPY fields, values COPY fields
                ns_direct[f"C{i}"] = ns_general[f"C{i}"] = cache
                call = f"C{i}[{{}}]"
            if i in self.not_null:
                body.append(f"        f[{i}] = {call.format(f'f[{i}]')}")
            else:
                body.append(f"        v = f[{i}]\n"
                            f"        if v != NULL:\n"
                            f"            f[{i}] = {call.format('v')}\n"
                            f"        else:\n"
                            f"            z{i} += 1")

        def bad(row: bytes, _name=self.name, _n=ncols):
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
        code = compile(src, f"<transform {self.name}>", "exec")
        for ns in (ns_direct, ns_general):
            ns["bad"] = bad
            exec(code, ns)
        self.transform_direct = ns_direct["transform"]
        self.transform_general = ns_general["transform"]

    def _review_caches(self) -> None:
        """After the first rows: stop caching fakes of columns whose values hardly repeat (a miss costs more)."""
        changed = False
        for k, (i, kind, payload, cache) in enumerate(self.ops):
            if cache is not None and len(cache) > 0.9 * self.rows_in:
                self.ops[k] = (i, kind, payload, None)
                changed = True
        if changed:
            self._generate()
        self.cache_reviewed = True

    def rewrite(self, seg: bytes) -> bytes:
        """Rewrite whole rows (``seg`` ends with a newline): count them, and the values sent per faked column."""
        # any backslash other than the NULL markers means some value has COPY escapes
        if seg.count(b"\\") == seg.count(b"\\N"):
            data, n, nulls = self.transform_direct(seg)
        else:
            data, n, nulls = self.transform_general(seg)
        self.rows_in += n
        self.rows_out += n
        for col, z in zip(self.fake_columns, nulls, strict=True):
            self.sent[col][0] += n - z
        if not self.cache_reviewed and self.rows_in >= 50_000:
            self._review_caches()
        return data


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
