"""PostgreSQL column types as ``pg_dump`` / ``format_type()`` spell them, reduced to what the rules need."""
from __future__ import annotations

import re
from dataclasses import dataclass

TEXT_TYPES = {"text", "character varying", "varchar", "character", "char", "bpchar", "citext", "name"}
CATEGORIES = {
    **{t: "text" for t in TEXT_TYPES},
    "uuid": "uuid",
    "date": "date",
    "timestamp without time zone": "timestamp",
    "timestamp with time zone": "timestamp",
    "timestamp": "timestamp",
    "timestamptz": "timestamp",
    "json": "json",
    "jsonb": "json",
    "inet": "inet",
    "cidr": "inet",
    "bytea": "bytea",
    "smallint": "number",
    "integer": "number",
    "bigint": "number",
    "numeric": "number",
    "real": "number",
    "double precision": "number",
    "boolean": "bool",
    "xml": "text-like",
    "tsvector": "text-like",
    "hstore": "text-like",
}

_MODIFIER = re.compile(r"\(\s*([0-9]+)\s*(?:,\s*[0-9]+\s*)?\)")


@dataclass(frozen=True)
class PgType:
    text: str            #: as written, e.g. ``character varying(150)``
    name: str            #: base name, e.g. ``character varying``
    length: int | None   #: maximum length in characters (character types), else None
    array: bool

    @property
    def category(self) -> str:
        """``text``, ``uuid``, ``date``, ``timestamp``, ``json``, ``inet``, ``bytea``, ``number``, ``bool``,
        ``text-like`` (xml, tsvector, hstore: text inside, no fakes), ``array`` or ``other``."""
        if self.array:
            return "array"
        return CATEGORIES.get(self.name, "other")

    @property
    def may_hold_text(self) -> bool:
        """Could a string (a canary) be stored in it?  Used to choose the columns the canary check scans."""
        return self.array or self.category in ("text", "json", "text-like", "bytea", "other")

    def __str__(self) -> str:
        return self.text


def parse_type(text: str) -> PgType:
    original = text.strip()
    t = original
    array = False
    while t.endswith("[]"):
        array = True
        t = t[:-2].rstrip()
    length = None
    m = _MODIFIER.search(t)
    if m:
        base_candidate = (t[: m.start()] + t[m.end():]).strip()
        base_candidate = re.sub(r"\s+", " ", base_candidate)
        if _unqualify(base_candidate) in ("character varying", "varchar", "character", "char", "bpchar",
                                          "bit", "bit varying"):
            length = int(m.group(1))
        t = base_candidate
    name = _unqualify(t)
    if name in ("character", "char", "bpchar") and length is None and not m:
        # ``character`` alone means character(1)
        length = 1
    return PgType(text=original, name=name, length=length, array=array)


def _unqualify(t: str) -> str:
    """``public.citext`` → ``citext``; ``"My Type"`` → ``My Type``; unquoted names lower-cased."""
    parts = []
    buf, quoted, i = "", False, 0
    while i < len(t):
        c = t[i]
        if c == '"':
            if quoted and i + 1 < len(t) and t[i + 1] == '"':
                buf += '"'
                i += 2
                continue
            quoted = not quoted
        elif c == "." and not quoted:
            parts.append(buf)
            buf = ""
        else:
            buf += c if quoted else c.lower()
        i += 1
    parts.append(buf)
    last = parts[-1].strip()
    return re.sub(r"\s+", " ", last) if '"' not in t else last
