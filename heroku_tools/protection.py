"""Protection belongs to the app and its database, not to a label.

``protected: true`` (live's default) marks an environment whose app and data
must never be overwritten by a restore, a push from the wrong branch, or any
change made under another name. A label is only a name in a settings file: a
second label pointing at live's app, or an app whose ``DATABASE_URL`` is
attached to live's database, would otherwise reach live with none of live's
rules. So before an operation changes an environment, :func:`check_target`
resolves what the environment *is* — its app and every PostgreSQL database in
its config vars (``DATABASE_URL`` and each attached ``HEROKU_POSTGRESQL_*_URL``,
identified by host, port and database name) — and refuses when any of it
belongs to a protected environment. Settings already refuse two environments
with the same app (:mod:`heroku_tools.settings`); this module catches what only
Heroku knows: which databases the apps share.

An operation on the protected environment itself is not refused here: what a
protected environment allows (a deploy from its branch or by promotion, a
confirmed config change or rollback; never a restore into it) is each
operation's own rule.

A database environment (``database_url:``, a developer's own database) has no
app to read: :func:`check_database_target` identifies its URL the way libpq
would connect (a unix socket and every loopback address are this machine;
``PGHOST``, ``PGPORT``, ``PGDATABASE`` fill what the URL leaves out) and
refuses it when it is any app environment's database, a protected one above
all — and when it is on another machine, unless ``remote_host: true`` says
that is intended.
"""
from __future__ import annotations

import getpass
import os
import socket
import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from .errors import HerokuToolsError
from .settings import Environment, Settings

#: URL schemes of a PostgreSQL connection string in a config var.
_POSTGRES_SCHEMES = ("postgres", "postgresql")
_DEFAULT_PORT = 5432


class ProtectedTarget(HerokuToolsError):
    """The operation would change a protected environment's app or database under another name."""


@dataclass(frozen=True, order=True)
class Database:
    """A PostgreSQL database as a server knows it: credentials and options do not make another one."""

    host: str
    port: int
    name: str

    def __str__(self) -> str:
        return f"{self.host}:{self.port}/{self.name}"


def database_of(url: str) -> Database | None:
    """The database a ``postgres://`` URL points at; None for anything else."""
    try:
        parts = urllib.parse.urlsplit(str(url).strip())
        port = parts.port or _DEFAULT_PORT
    except ValueError:
        return None
    if parts.scheme not in _POSTGRES_SCHEMES or not parts.hostname:
        return None
    name = urllib.parse.unquote(parts.path.lstrip("/"))
    return Database(parts.hostname.lower(), port, name) if name else None


def databases(config: Mapping[str, str]) -> dict[Database, str]:
    """Every PostgreSQL database an app's config vars point at, with the first var naming it."""
    found: dict[Database, str] = {}
    for key in sorted(config):
        identity = database_of(config[key]) if isinstance(config[key], str) else None
        if identity is not None:
            found.setdefault(identity, key)
    return found


class Unverified(HerokuToolsError):
    """A protected environment's config vars could not be read, so sharing cannot be ruled out."""


#: Host names of this machine's loopback interface; a unix socket (an empty host, or a directory) is this machine too.
_LOOPBACK = ("localhost", "::1")


def _local_host(host: str) -> str:
    """``host`` with every name of this machine's loopback interface and socket spelled ``localhost``."""
    host = host.lower()
    if not host or host.startswith("/") or host in _LOOPBACK or host.startswith("127."):
        return "localhost"
    return host


def libpq_database_of(url: str, environ: Mapping[str, str] | None = None) -> Database | None:
    """The database ``psql URL`` connects to, with libpq's defaults filled in; None if not a ``postgres://`` URL.

    ``postgres:///acme_dev`` is the socket on this machine, port ``$PGPORT`` or
    5432; a missing name is ``$PGDATABASE``, else the user's name. Every way
    of saying "this machine" (a socket, ``localhost``, ``127.0.0.1``, ``::1``)
    comes out as ``localhost``, so that two spellings of one server compare equal.
    """
    environ = os.environ if environ is None else environ
    try:
        parts = urllib.parse.urlsplit(str(url).strip())
        query = dict(urllib.parse.parse_qsl(parts.query))
        port = parts.port or int(query.get("port") or environ.get("PGPORT") or _DEFAULT_PORT)
    except ValueError:
        return None
    if parts.scheme not in _POSTGRES_SCHEMES:
        return None
    host = parts.hostname or query.get("host") or environ.get("PGHOST") or ""
    user = parts.username or query.get("user") or environ.get("PGUSER") or _login()
    name = urllib.parse.unquote(parts.path.lstrip("/")) or query.get("dbname") or environ.get("PGDATABASE") or user
    return Database(_local_host(host), port, name)


def _login() -> str:
    """The user name libpq defaults to (the operating system's); empty when there is none to read."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return ""


def on_this_machine(database: Database) -> bool:
    """Whether ``database`` (from :func:`libpq_database_of`) is served by this machine."""
    return database.host in ("localhost", socket.gethostname().lower())


def check_database_target(
    settings: Settings,
    env: Environment,
    url: str,
    read_config: Callable[[str], Mapping[str, str]],
    *,
    action: str,
) -> Database:
    """The database environment ``env``'s database (``url``, expanded), once it is shown to be nobody else's.

    Refused, before anything moves: a URL on another machine unless ``env``
    says ``remote_host: true`` (a developer's database is on their machine: a
    socket, localhost, a container's published port); a protected
    environment's database, or one whose config vars cannot be read (strict,
    as every restore is); any other app environment's database, the source's
    included (that app's own lock and maintenance page would be bypassed).
    """
    where = f"environments.{env.label}.database_url"
    target = libpq_database_of(url)
    if target is None:
        raise HerokuToolsError(f"{where} is not a postgres:// URL; nothing was changed",
                               recover=f"$EDITOR heroku-tools.yml   # correct {where}, or the variable it names")
    if not env.remote_host and not on_this_machine(target):
        raise ProtectedTarget(
            f"refusing to {action}: {where} points at {target.host}, not this machine; nothing was changed",
            recover=f"$EDITOR heroku-tools.yml   # remote_host: true on environments.{env.label} if {target.host} "
            "is really meant; else correct the URL")
    apps = [other for other in settings.environments if not other.is_database and not other.is_template]
    configs = dict(zip([other.label for other in apps], _read_all(read_config, [other.app_name for other in apps]),
                       strict=True))
    for other in apps:
        config = configs[other.label]
        if isinstance(config, BaseException):
            if other.protected:
                why = getattr(config, "message", str(config))
                raise Unverified(f"refusing to {action}: could not verify that {env.label}'s database is not "
                                 f"{other.label}'s ({other.label} is protected): {why}; nothing was changed",
                                 recover=f"run it as someone who can read {other.app_name}'s config vars")
            continue
        for var in databases(config).values():
            if libpq_database_of(str(config[var])) == target:
                guard = f", and {other.label} is protected" if other.protected else \
                    ": a database environment needs a database of its own (an app's is changed through its app)"
                raise ProtectedTarget(
                    f"refusing to {action}: {where} ({target}) is {other.label}'s database "
                    f"({other.app_name}'s {var}){guard}; nothing was changed",
                    recover=f"$EDITOR heroku-tools.yml   # correct {where}, or the variable it names")
    return target


def check_target(
    settings: Settings,
    env: Environment,
    read_config: Callable[[str], Mapping[str, str]],
    *,
    action: str,
    target_config: Mapping[str, str] | None = None,
    strict: bool = False,
) -> list[str]:
    """Refuse ``action`` on ``env`` when its app or a database of it belongs to a protected environment.

    ``read_config(app)`` returns an app's config vars (the Platform API or the
    CLI); the protected apps are read concurrently. ``target_config`` saves a
    read the caller has already made. A protected app that cannot be read
    (another team's app, no access) is a note returned to show in the report —
    or, with ``strict`` (a data restore), a refusal: data is never moved
    somewhere that might be live.
    """
    if env.protected:
        return []
    guarded = [other for other in settings.environments if other.protected and other.label != env.label]
    if not guarded:
        return []
    apps = [env.app_name] * (target_config is None) + [other.app_name for other in guarded]
    configs = dict(zip(apps, _read_all(read_config, apps), strict=True))
    if target_config is not None:
        configs[env.app_name] = target_config
    target = configs[env.app_name]
    if isinstance(target, BaseException):
        raise target
    mine = databases(target)
    notes = []
    for other in guarded:
        theirs = configs[other.app_name]
        if isinstance(theirs, BaseException):
            why = getattr(theirs, "message", str(theirs))
            note = (f"could not verify that {env.label}'s database is not {other.label}'s "
                    f"({other.label} is protected): {why}")
            if strict:
                raise Unverified(f"refusing to {action}: {note}; nothing was changed",
                                 recover=f"run it as someone who can read {other.app_name}'s config vars")
            notes.append(note)
            continue
        shared = sorted(set(mine) & set(databases(theirs)))
        if shared:
            db = shared[0]
            raise ProtectedTarget(
                f"refusing to {action}: {env.label}'s {mine[db]} ({db}) is {other.label}'s database "
                f"({other.app_name}'s {databases(theirs)[db]}), and {other.label} is protected; nothing was changed",
                recover=f"detach {other.label}'s database from {env.app_name} (heroku addons -a {env.app_name}), "
                "or correct heroku-tools.yml",
            )
    return notes


def _read_all(read_config: Callable[[str], Mapping[str, str]], apps: Iterable[str]) -> list:
    """Each app's config vars, read at once; a failed read is returned as its exception."""
    def read(app: str):
        try:
            return dict(read_config(app))
        except HerokuToolsError as error:
            return error

    apps = list(apps)
    with ThreadPoolExecutor(max_workers=min(8, len(apps))) as pool:
        return list(pool.map(read, apps))
