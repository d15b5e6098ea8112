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
"""
from __future__ import annotations

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
