"""Reading a Heroku Postgres database from this machine: one query through ``psql``, over its ``DATABASE_URL``.

A deploy's plan needs a few facts only the target's database knows (which
migrations it has applied); they are read with ``psql`` — the client every
machine that runs heroku-tools' restores already has — with the URL's parts
in libpq's environment variables, so the password never reaches a command
line. Where the database cannot be reached from here (Heroku Shield and
Private Spaces keep databases off the internet), the caller falls back to
asking a one-off dyno, which reads the same table.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import urllib.parse
from collections.abc import Mapping

from .errors import HerokuToolsError

#: URL query parameters libpq takes, and the environment variable each becomes.
QUERY_ENV = {
    "host": "PGHOST", "hostaddr": "PGHOSTADDR", "port": "PGPORT", "user": "PGUSER", "password": "PGPASSWORD",
    "dbname": "PGDATABASE", "sslmode": "PGSSLMODE", "sslrootcert": "PGSSLROOTCERT", "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY", "application_name": "PGAPPNAME", "connect_timeout": "PGCONNECT_TIMEOUT",
    "options": "PGOPTIONS", "target_session_attrs": "PGTARGETSESSIONATTRS", "channel_binding": "PGCHANNELBINDING",
    "gssencmode": "PGGSSENCMODE",
}

#: The query a deploy's plan makes: every applied migration, in the order it was applied.
APPLIED_MIGRATIONS = "SELECT app, name FROM django_migrations ORDER BY id"


class DatabaseUnreachable(HerokuToolsError):
    """``psql`` is missing, or the database did not answer from this machine."""


class DatabaseURLError(HerokuToolsError):
    """A ``DATABASE_URL`` that libpq cannot take."""


def libpq_env(url: str, base: Mapping[str, str] | None = None, *, application: str = "heroku-tools") -> dict[str, str]:
    """Environment for ``psql``/``pg_restore`` connecting to ``url``: the password kept off the command line.

    Any ``PG*`` variable of ``base`` (default ``os.environ``) is dropped, so a
    developer's own ``PGDATABASE`` can never redirect the connection.
    """
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("postgres", "postgresql"):
        raise DatabaseURLError("the database URL must be a postgres:// or postgresql:// URL")
    env = {key: value for key, value in (os.environ if base is None else base).items()
           if not (key.startswith("PG") and key != "PGSSLROOTCERT")}
    for name, value in (("PGHOST", parts.hostname), ("PGPORT", parts.port), ("PGUSER", parts.username),
                        ("PGPASSWORD", parts.password), ("PGDATABASE", parts.path.lstrip("/"))):
        if value:
            env[name] = urllib.parse.unquote(str(value))
    for key, values in urllib.parse.parse_qs(parts.query, keep_blank_values=True).items():
        if key not in QUERY_ENV:
            raise DatabaseURLError(f"the database URL has an unsupported parameter {key!r}")
        env[QUERY_ENV[key]] = values[-1]
    env.setdefault("PGAPPNAME", application)
    env.setdefault("PGCONNECT_TIMEOUT", "10")
    return env


def query(url: str, sql: str, *, timeout: float = 30) -> list[list[str]]:
    """The rows of one read-only query, each a list of text columns."""
    psql = shutil.which("psql")
    if psql is None:
        raise DatabaseUnreachable("psql is not installed here (it comes with the PostgreSQL client)")
    try:
        result = subprocess.run(
            [psql, "-X", "-A", "-t", "-F", "\t", "--no-password", "-v", "ON_ERROR_STOP=1", "-c", sql],
            env=libpq_env(url), capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        raise DatabaseUnreachable(f"the database did not answer within {timeout:g}s") from None
    if result.returncode != 0:
        raise DatabaseUnreachable(result.stderr.strip().splitlines()[-1] if result.stderr.strip() else "psql failed")
    return [line.split("\t") for line in result.stdout.splitlines() if line]


def execute(url: str, sql: str, *, timeout: float = 60) -> None:
    """Run one statement (outside a transaction block: ``DROP INDEX CONCURRENTLY`` needs that)."""
    query(url, sql, timeout=timeout)


def parse_applied(text: str) -> list[tuple[str, str]]:
    """``app<TAB>name`` lines (``psql -A -t -F '\\t'`` output) as ``(app, name)`` rows."""
    rows = []
    for line in text.splitlines():
        app, tab, name = line.strip().partition("\t")
        if tab and app and name:
            rows.append((app, name))
    return rows


def applied_migrations(url: str) -> list[tuple[str, str]]:
    """The rows of ``django_migrations``, oldest first; none when the table does not exist yet."""
    exists = query(url, "SELECT to_regclass('django_migrations') IS NOT NULL")
    if not exists or exists[0][0] != "t":
        return []
    return [(row[0], row[1]) for row in query(url, APPLIED_MIGRATIONS)]


def identity(url: str) -> str:
    """``host:port/dbname`` of a database URL, without its credentials: what two URLs must share to be one database."""
    parts = urllib.parse.urlsplit(url)
    return f"{parts.hostname or 'localhost'}:{parts.port or 5432}/{urllib.parse.unquote(parts.path.lstrip('/'))}"
