"""The tables and columns of a dump or of a live database.

* :meth:`Schema.from_sql` parses the script ``pg_restore --schema-only -f -``
  writes (``CREATE TABLE`` for columns and types, ``ADD CONSTRAINT ... PRIMARY
  KEY/UNIQUE`` and ``CREATE UNIQUE INDEX`` for unique columns, ``CREATE SCHEMA``);
* :func:`read_dump_schema` runs ``pg_restore`` on a dump file (or URL);
* :func:`read_database_schema` asks a live database's catalogs through ``psql``.

Only ordinary and partitioned tables count (views and materialized views hold
no data of their own; foreign tables are not dumped); tables that belong to an
extension are left out, as ``pg_dump`` leaves out their data.
"""
from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass, field

from .early import EarlyStatements, ForeignKey, TableKey
from .errors import AnonymiseError, RestoreFailed
from .pgtypes import PgType, parse_type
from ..database import libpq_env
from .sources import open_dump_source
from .sqlscan import (
    paren_body, read_identifier, read_identifier_list, read_qualified, split_statements, split_top_level, top_level,
)


@dataclass(frozen=True)
class Column:
    name: str
    type: PgType
    not_null: bool = False
    generated: bool = False  #: GENERATED ALWAYS AS (...) STORED: computed, never in COPY data

    @property
    def max_length(self) -> int | None:
        return self.type.length


@dataclass
class Table:
    schema: str
    name: str
    columns: dict[str, Column] = field(default_factory=dict)
    unique_sets: list[frozenset] = field(default_factory=list)
    partitioned: bool = False

    @property
    def key(self) -> TableKey:
        return (self.schema, self.name)

    def is_unique(self, column: str) -> bool:
        """True if the column alone is a primary key, unique constraint or unique index."""
        return frozenset([column]) in self.unique_sets

    @property
    def data_columns(self) -> list[str]:
        """Columns whose values a dump carries (generated columns excluded)."""
        return [c.name for c in self.columns.values() if not c.generated]


@dataclass
class Schema:
    tables: dict[TableKey, Table] = field(default_factory=dict)
    schemas: set[str] = field(default_factory=set)  #: schemas the script creates (``CREATE SCHEMA``)
    #: per table, its own index and PRIMARY KEY / UNIQUE statements (post-data), as the script spells them:
    #: the stream may run them right after the table's data, while later tables are still being rewritten
    index_statements: dict[TableKey, list[str]] = field(default_factory=dict)
    #: FOREIGN KEY statements of plain tables (post-data), as the script spells them
    foreign_keys: list[ForeignKey] = field(default_factory=list)
    #: per table, the keys (column sets) that exist once its data and its index statements are in
    early_keys: dict[TableKey, set[frozenset]] = field(default_factory=dict)

    def table(self, key: TableKey) -> Table | None:
        return self.tables.get(key)

    def early_statements(self) -> EarlyStatements:
        """The post-data statements a stream may send as soon as the data they need is in (see :mod:`.early`):
        every index statement, and the foreign keys whose referenced key is built by one of them."""
        return EarlyStatements(
            indexes={key: list(statements) for key, statements in self.index_statements.items()},
            foreign_keys=[fk for fk in self.foreign_keys if fk.columns in self.early_keys.get(fk.references, ())],
        )

    # -- from SQL ----------------------------------------------------------------------
    @classmethod
    def from_sql(cls, text: str) -> Schema:
        return cls.from_statements(split_statements(text))

    @classmethod
    def from_statements(cls, statements) -> Schema:
        schema = cls()
        for stmt in statements:
            schema.add_statement(stmt)
        return schema

    def add_statement(self, stmt: str) -> None:
        s = strip_comments(stmt)
        head = s[:80].upper()
        try:
            if re.match(r"CREATE\s+(UNLOGGED\s+)?TABLE\b", head):
                self._create_table(s)
            elif re.match(r"CREATE\s+SCHEMA\b", head):
                m = re.match(r"CREATE\s+SCHEMA\s+(IF\s+NOT\s+EXISTS\s+)?", s, re.I)
                name, _ = read_identifier(s, m.end())
                self.schemas.add(name)
            elif re.match(r"ALTER\s+TABLE\b", head):
                self._alter_table(s)
            elif re.match(r"CREATE\s+UNIQUE\s+INDEX\b", head):
                self._unique_index(s)
            if re.match(r"CREATE\s+(UNIQUE\s+)?INDEX\b|ALTER\s+TABLE\s+ONLY\b", head):
                self._index_statement(s)
        except ValueError as exc:
            raise AnonymiseError(f"cannot read the schema statement {s[:120]!r}: {exc}") from None

    def _create_table(self, s: str) -> None:
        m = re.match(r"CREATE\s+(?:UNLOGGED\s+)?TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?", s, re.I)
        key, pos = read_qualified(s, m.end())
        rest = s[pos:].lstrip()
        if rest.upper().startswith("PARTITION OF") or rest.upper().startswith("OF "):
            # a partition or typed table created from its parent's/type's columns: the COPY
            # header will tell the columns; record the table without columns
            self.tables.setdefault(key, Table(*key))
            return
        if not rest.startswith("("):
            raise ValueError("expected a column list")
        body, end = paren_body(rest, 0)
        table = Table(*key)
        tail = rest[end:].upper()
        table.partitioned = "PARTITION BY" in tail
        for element in split_top_level(body):
            element = element.strip()
            if not element:
                continue
            first = element.split(None, 1)[0].upper()
            constraint = first in ("CONSTRAINT", "CHECK", "PRIMARY", "UNIQUE", "FOREIGN", "EXCLUDE", "LIKE")
            if constraint and not element.startswith('"'):
                _table_constraint(table, element)
                continue
            col = _column(element)
            table.columns[col.name] = col
        self.tables[key] = table
        if not table.partitioned:
            self.early_keys[key] = set(table.unique_sets)  # in place before any data

    def _alter_table(self, s: str) -> None:
        m = re.match(r"ALTER\s+TABLE\s+(?:ONLY\s+)?(?:IF\s+EXISTS\s+)?", s, re.I)
        key, pos = read_qualified(s, m.end())
        table = self.tables.get(key)
        if table is None:
            return
        rest = s[pos:]
        for cm in re.finditer(r"\bADD\s+CONSTRAINT\s+", rest, re.I):
            _, p = read_identifier(rest, cm.end())
            _table_constraint(table, "CONSTRAINT x " + rest[p:])

    def _index_statement(self, s: str) -> None:
        """Record ``s`` if it only builds an index of one plain table (movable to right after its data), or
        adds a foreign key to one."""
        m = re.match(r"CREATE\s+(UNIQUE\s+)?INDEX\s+", s, re.I)
        if m:
            _, pos = read_identifier(s, m.end())
            on = re.compile(r"\s*ON\s+", re.I).match(s, pos)
            if not on or re.match(r"ONLY\b", s[on.end():], re.I):
                return
            key, pos = read_qualified(s, on.end())
            builds = _index_key(s, pos) if m.group(1) else None
        else:
            m = re.match(r"ALTER\s+TABLE\s+ONLY\s+", s, re.I)
            key, pos = read_qualified(s, m.end())
            rest = s[pos:]
            adds = re.findall(r"\bADD\s+CONSTRAINT\b", rest, re.I)
            if len(adds) != 1:
                return
            added = _ADD_CONSTRAINT.match(rest)
            kind = added.group(1).upper() if added else ""
            if kind.startswith("FOREIGN"):
                self._foreign_key(s, key, rest, added.end())
                return
            if not kind:
                return
            builds = _constraint_key(rest, added.end())
        table = self.tables.get(key)
        if table is None or table.partitioned:
            return
        self.index_statements.setdefault(key, []).append(s)
        if builds:
            self.early_keys.setdefault(key, set()).add(builds)

    def _foreign_key(self, s: str, key: TableKey, rest: str, pos: int) -> None:
        """Record ``ALTER TABLE ONLY key ADD CONSTRAINT name FOREIGN KEY (cols) REFERENCES other (cols)``
        between two plain tables."""
        try:
            _, pos = paren_body(rest, rest.index("(", pos))
            ref = re.compile(r"\s*REFERENCES\s+", re.I).match(rest, pos)
            references, pos = read_qualified(rest, ref.end()) if ref else (None, pos)
            paren = re.compile(r"\s*\(").match(rest, pos)
            # without a column list it references the primary key, unnamed: not worth guessing
            columns = read_identifier_list(paren_body(rest, paren.end() - 1)[0]) if references and paren else []
        except ValueError:  # a form not read here: it keeps its place in the post-data
            return
        if not columns:
            return
        tables = [self.tables.get(key), self.tables.get(references)]
        if any(table is None or table.partitioned for table in tables):
            return
        self.foreign_keys.append(ForeignKey(s, key, references, frozenset(columns)))

    def _unique_index(self, s: str) -> None:
        m = re.match(r"CREATE\s+UNIQUE\s+INDEX\s+(?:CONCURRENTLY\s+)?(?:IF\s+NOT\s+EXISTS\s+)?", s, re.I)
        _, pos = read_identifier(s, m.end())
        on = re.compile(r"\s*ON\s+(?:ONLY\s+)?", re.I).match(s, pos)
        if not on:
            return
        key, pos = read_qualified(s, on.end())
        table = self.tables.get(key)
        if table is None:
            return
        paren = s.find("(", pos)
        if paren < 0:
            return
        body, _ = paren_body(s, paren)
        columns = []
        for element in split_top_level(body):
            element = element.strip()
            if element.startswith("("):
                return  # an expression index: not a plain unique column
            name, _ = read_identifier(element, 0)
            columns.append(name)
        if columns:
            table.unique_sets.append(frozenset(columns))


def strip_comments(stmt: str) -> str:
    """A statement without the comment and blank lines before it, trimmed."""
    lines = stmt.splitlines()
    while lines and (not lines[0].strip() or lines[0].lstrip().startswith("--")):
        lines.pop(0)
    return "\n".join(lines).strip()


_COLUMN_STOP = re.compile(
    r"\s+(COLLATE|DEFAULT|NOT\s+NULL|NULL|GENERATED|CONSTRAINT|CHECK|REFERENCES|PRIMARY\s+KEY|UNIQUE)\b", re.I)


def _column(element: str) -> Column:
    name, pos = read_identifier(element, 0)
    rest = element[pos:]
    stop = _type_end(rest)
    type_text = rest[:stop].strip()
    tail = rest[stop:].upper()
    not_null = bool(re.search(r"\bNOT\s+NULL\b", tail)) or bool(re.search(r"\bPRIMARY\s+KEY\b", tail))
    generated = bool(re.search(r"\bGENERATED\s+ALWAYS\s+AS\s*\(", tail))
    return Column(name=name, type=parse_type(type_text), not_null=not_null, generated=generated)


def _type_end(rest: str) -> int:
    """Where a column's type ends: at the first constraint keyword outside quotes and parentheses."""
    tokens = top_level(rest)
    token = next(tokens, None)
    for m in _COLUMN_STOP.finditer(rest):
        # every keyword outside quotes is a token: walk the tokens up to this one (no further than needed)
        while token is not None and token[0] < m.start(1):
            token = next(tokens, None)
        if token is None:
            break
        if token[0] == m.start(1) and token[2] == 0:
            return m.start()
    return len(rest)


_ADD_CONSTRAINT = re.compile(r"\s*ADD\s+CONSTRAINT\s+(?:\"(?:[^\"]|\"\")*\"|\S+)\s+"
                             r"(PRIMARY\s+KEY|UNIQUE|FOREIGN\s+KEY)\b", re.I)


def _constraint_key(rest: str, pos: int) -> frozenset | None:
    """The columns of the PRIMARY KEY / UNIQUE constraint whose keyword ends at ``pos``."""
    m = re.compile(r"(?:\s+NULLS\s+(?:NOT\s+)?DISTINCT)?\s*\(", re.I).match(rest, pos)
    if not m:
        return None
    try:
        columns = read_identifier_list(paren_body(rest, m.end() - 1)[0])
    except ValueError:  # a form not read here: the key counts as not built early
        return None
    return frozenset(columns) or None


def _index_key(s: str, pos: int) -> frozenset | None:
    """The columns of a unique index on plain columns, without a WHERE (a key a foreign key can reference)."""
    paren = s.find("(", pos)
    if paren < 0:
        return None
    body, end = paren_body(s, paren)
    if re.search(r"\bWHERE\b", s[end:], re.I):
        return None
    try:
        return frozenset(read_identifier_list(body)) or None
    except ValueError:  # an expression, an operator class, an ordering: not a plain key
        return None


def _table_constraint(table: Table, element: str) -> None:
    m = re.match(r"\s*(?:CONSTRAINT\s+(?:\"(?:[^\"]|\"\")*\"|\S+)\s+)?"
                 r"(PRIMARY\s+KEY|UNIQUE(?:\s+NULLS\s+(?:NOT\s+)?DISTINCT)?)\s*\(", element, re.I)
    if not m:
        return
    body, _ = paren_body(element, m.end() - 1)
    columns = read_identifier_list(body)
    if columns:
        table.unique_sets.append(frozenset(columns))
        if m.group(1).upper().startswith("PRIMARY"):
            for c in columns:
                if c in table.columns:
                    col = table.columns[c]
                    table.columns[c] = Column(col.name, col.type, True, col.generated)


# -- readers ------------------------------------------------------------------------------
PG_RESTORE_SAFE_FLAGS = [
    "--no-owner", "--no-privileges", "--no-tablespaces", "--no-publications", "--no-subscriptions",
    "--no-security-labels",
]


def read_dump_schema(dump: str, *, pg_restore: str = "pg_restore", env: dict | None = None) -> Schema:
    """The schema of a ``pg_dump -Fc`` archive (file path or http(s) URL): reads only its table of contents."""
    source = open_dump_source(dump)
    argv = [pg_restore, "--schema-only", *PG_RESTORE_SAFE_FLAGS, "-f", "-"]
    try:
        result = source.run_to_completion(argv, env=env)
    finally:
        source.close()
    if result.returncode != 0:
        raise RestoreFailed(f"pg_restore could not read the dump's schema (exit {result.returncode}): "
                            f"{result.stderr.decode('utf-8', 'replace').strip()[-2000:]}")
    return Schema.from_sql(result.stdout.decode("utf-8"))


_CATALOG_QUERY = r"""
SELECT coalesce(json_agg(t), '[]'::json) FROM (
  SELECT n.nspname AS schema, c.relname AS name, c.relkind = 'p' AS partitioned,
    (SELECT coalesce(json_agg(json_build_object(
        'name', a.attname, 'type', format_type(a.atttypid, a.atttypmod),
        'not_null', a.attnotnull, 'generated', a.attgenerated <> '') ORDER BY a.attnum), '[]'::json)
       FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped) AS columns,
    (SELECT coalesce(json_agg((SELECT json_agg(a.attname) FROM unnest(i.indkey::int2[]) k
                                JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k)), '[]'::json)
       FROM pg_index i WHERE i.indrelid = c.oid AND i.indisunique AND i.indexprs IS NULL
         AND 0 <> ALL (i.indkey::int2[])) AS uniques
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE c.relkind IN ('r', 'p')
    AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
    AND n.nspname NOT LIKE 'pg\_temp\_%' AND n.nspname NOT LIKE 'pg\_toast\_temp\_%'
    AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                    AND d.objid = c.oid AND d.deptype = 'e')
  ORDER BY 1, 2
) t
"""


def read_database_schema(url: str, *, psql: str = "psql", env: dict | None = None) -> Schema:
    """The schema of a live database (its catalogs, through psql)."""
    run_env = libpq_env(url, env)
    result = subprocess.run([psql, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "--no-password",
                             "-c", _CATALOG_QUERY], capture_output=True, env=run_env, stdin=subprocess.DEVNULL)
    if result.returncode != 0:
        raise RestoreFailed(f"psql could not read the database schema (exit {result.returncode}): "
                            f"{result.stderr.decode('utf-8', 'replace').strip()[-2000:]}")
    return schema_from_catalog(json.loads(result.stdout.decode("utf-8")))


#: Views, materialized views and functions (not an extension's) whose text holds a string literal.
_LITERALS_QUERY = """
SELECT kind || ' ' || name FROM (
  SELECT CASE c.relkind WHEN 'm' THEN 'materialized view' ELSE 'view' END AS kind,
         quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS name, pg_get_viewdef(c.oid) AS body
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE c.relkind IN ('v', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
    AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'e')
  UNION ALL
  SELECT 'function', quote_ident(n.nspname) || '.' || quote_ident(p.proname), p.prosrc
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
  WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
    AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e')
) AS bodies WHERE body ~ '''[^'']+''' ORDER BY 1
"""


def read_literal_holders(url: str, *, psql: str = "psql", env: dict | None = None) -> list[str]:
    """Views and functions whose text holds string literals: copied as written, which the rules cannot see.

    A literal there is usually a constant (``'active'``), but it can be a
    name or an address someone wrote into a view; ``backups.check`` names
    each for review.
    """
    result = subprocess.run([psql, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "--no-password",
                             "-c", _LITERALS_QUERY], capture_output=True, env=libpq_env(url, env),
                            stdin=subprocess.DEVNULL)
    if result.returncode != 0:
        raise RestoreFailed(f"psql could not read the views and functions (exit {result.returncode}): "
                            f"{result.stderr.decode('utf-8', 'replace').strip()[-2000:]}")
    return [line for line in result.stdout.decode("utf-8").splitlines() if line]


def schema_from_catalog(rows: list[dict]) -> Schema:
    schema = Schema()
    for row in rows:
        table = Table(row["schema"], row["name"], partitioned=bool(row.get("partitioned")))
        for c in row["columns"]:
            table.columns[c["name"]] = Column(c["name"], parse_type(c["type"]), bool(c["not_null"]),
                                              bool(c["generated"]))
        for u in row["uniques"] or []:
            if u:
                table.unique_sets.append(frozenset(u))
        schema.tables[table.key] = table
        if row["schema"] != "public":
            schema.schemas.add(row["schema"])
    return schema
