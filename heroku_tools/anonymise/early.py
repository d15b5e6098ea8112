"""Post-data statements the restore runs as soon as the data they need is in, not after all of it.

``pg_restore`` writes every table's data, then every index and constraint
(the post-data). Run in that order, the server builds and checks them all at
the end, while the anonymiser, done with the data, waits: the restore's
longest serial stretch. Most of them need only part of the data:

* a table's own indexes and PRIMARY KEY / UNIQUE constraints need its data;
* a FOREIGN KEY needs the data of both its tables and the key it references.

So the stream sends each one right after the last data it needs
(:meth:`EarlyStatements.after`), and the server builds and checks it while the
stream rewrites later tables — as far as the restore's queue to psql lets the
stream run ahead: all of a small table's build, a second or two of a very
large one's (see ``QUEUE_BYTES`` in :mod:`.restore`). Where the anonymiser and
the server share the same few CPUs there is little to gain; where the server
is on its own host (Heroku Postgres) the build is taken off the end of the
restore. The result is the same database: each statement
runs on the same complete data, in the same transaction, and the stream drops
the statement when the dump's post-data reaches it. Anything else (a
partitioned table's index, a key built by a statement that stays in the
post-data) keeps its place.
"""
from __future__ import annotations

from dataclasses import dataclass, field

TableKey = tuple[str, str]


@dataclass(frozen=True)
class ForeignKey:
    """An ``ALTER TABLE ONLY ... ADD CONSTRAINT ... FOREIGN KEY`` statement, as the script spells it."""

    statement: str
    table: TableKey
    references: TableKey
    columns: frozenset  #: the referenced columns: a key of ``references`` must exist before it runs


@dataclass
class EarlyStatements:
    """What the stream may send early, and when: call :meth:`after` as each table's data ends."""

    #: per table, its index and PRIMARY KEY / UNIQUE statements
    indexes: dict[TableKey, list[str]] = field(default_factory=dict)
    #: foreign keys whose referenced key exists once the referenced table's data (and indexes) are in
    foreign_keys: list[ForeignKey] = field(default_factory=list)
    _loaded: set[TableKey] = field(default_factory=set)

    def after(self, table: TableKey) -> list[str]:
        """The statements due now that ``table``'s data is in: its indexes, then the foreign keys whose two
        tables are both loaded (a key they reference was built by its own table's indexes, sent before)."""
        self._loaded.add(table)
        ready = [fk for fk in self.foreign_keys if {fk.table, fk.references} <= self._loaded]
        self.foreign_keys = [fk for fk in self.foreign_keys if fk not in ready]
        return self.indexes.pop(table, []) + [fk.statement for fk in ready]
