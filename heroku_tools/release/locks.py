"""Migrations that cannot stall the site on a lock: a short ``lock_timeout``, retries, and the blocker named.

Even a "compatible" ``ALTER TABLE … ADD COLUMN`` needs an ACCESS EXCLUSIVE
lock. Queued behind one long query or an idle transaction it waits — and
every query on that table queues behind *it*: the site hangs with no error.
So the schema steps run with ``lock_timeout`` set for their session (libpq
reads ``PGOPTIONS``, so psycopg 2 and 3 apply it to every connection Django
makes), a timeout is retried a few times with back-off, and when the lock
still cannot be had the deploy fails naming who holds it, read from
``pg_locks``/``pg_stat_activity`` over the target's ``DATABASE_URL``.

A timed-out ``CREATE INDEX CONCURRENTLY`` leaves an INVALID index behind, and
retrying it fails with "already exists": before a retry, the invalid indexes
the pending migrations create are dropped; one this deploy cannot account
for stops the retries, with the reason.
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from .. import database
from ..errors import HerokuToolsError
from ..migrations import Plan

#: What PostgreSQL says when ``lock_timeout`` expires (SQLSTATE 55P03, lock_not_available).
_TIMED_OUT = re.compile(r"canceling statement due to lock timeout|LockNotAvailable|lock_not_available")
#: Sessions holding a lock on a table of the app's schemas, longest first (the likely blockers).
_HOLDERS = """
SELECT DISTINCT a.pid, coalesce(nullif(a.application_name, ''), '(no name)'), coalesce(a.state, ''),
       to_char(coalesce(a.xact_start, a.query_start), 'YYYY-MM-DD HH24:MI:SS'),
       regexp_replace(left(coalesce(a.query, ''), 100), '\\s+', ' ', 'g'), c.relname,
       coalesce(a.xact_start, a.query_start)
FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid JOIN pg_class c ON c.oid = l.relation
WHERE l.granted AND a.pid <> pg_backend_pid() AND c.relkind IN ('r', 'p')
  AND c.relnamespace NOT IN ('pg_catalog'::regnamespace, 'information_schema'::regnamespace)
  AND a.backend_type = 'client backend'
ORDER BY 7 NULLS LAST
LIMIT 5
"""
_INVALID = """
SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
WHERE NOT i.indisvalid AND c.relnamespace NOT IN ('pg_catalog'::regnamespace, 'pg_toast'::regnamespace)
"""


def timed_out(output: str) -> bool:
    """Whether a step's output says a statement gave up waiting for a lock."""
    return bool(_TIMED_OUT.search(output))


@dataclass(frozen=True)
class Holder:
    """A session holding a lock a migration may have waited for."""

    pid: int
    application: str
    state: str
    since: str
    query: str
    table: str

    def __str__(self) -> str:
        return (f"pid {self.pid} ({self.application}, {self.state or 'state unknown'} since {self.since}) "
                f"holds a lock on {self.table}: {self.query!r}")


def holders(url: str) -> list[Holder]:
    """The sessions holding locks on the app's tables, longest-running first; none when they cannot be read."""
    try:
        rows = database.query(url, _HOLDERS)
    except HerokuToolsError:
        return []
    return [Holder(int(row[0]), row[1], row[2], row[3], row[4], row[5]) for row in rows if len(row) >= 6]


def concurrent_index_names(plan: Plan | None) -> set[str]:
    """The indexes the pending migrations build ``CONCURRENTLY``: the only invalid ones a retry may drop."""
    names = set()
    for item in plan.pending if plan is not None else ():
        for operation in item.migration.operations if item.migration else ():
            call = operation.call
            if call is not None and call.short == "AddIndexConcurrently":
                index = call.arg(1, "index")
                name = index.arg(99, "name") if hasattr(index, "arg") else None
                if isinstance(name, str):
                    names.add(name)
    return names


def clear_invalid_indexes(url: str, ours: Iterable[str]) -> list[str]:
    """Drop the invalid indexes a timed-out concurrent build of ours left; refuse one that is not ours.

    Another session's concurrent build in progress is invalid too until it
    finishes: an index this deploy cannot account for is never touched.
    """
    invalid = {row[0] for row in database.query(url, _INVALID)}
    ours = set(ours)
    strangers = sorted(invalid - ours)
    if strangers:
        raise HerokuToolsError(f"not retrying: invalid indexes this deploy did not build ({', '.join(strangers)}) "
                               "— another session may be building them; a retry could fail on them or break them")
    dropped = sorted(invalid & ours)
    for name in dropped:
        database.execute(url, f'DROP INDEX CONCURRENTLY IF EXISTS "{name}"')
    return dropped


def through_pooler(config: dict) -> bool:
    """Whether ``DATABASE_URL`` is Heroku's connection pooler, which may ignore ``PGOPTIONS`` in transaction mode."""
    pooled = config.get("DATABASE_CONNECTION_POOL_URL")
    return bool(pooled) and pooled == config.get("DATABASE_URL")
