"""Config var names: which are usable, which add-ons set, and ``KEY=VALUE`` words from a command line."""
from __future__ import annotations

import fnmatch
from collections.abc import Iterable

from ..settings import CONFIG_VAR_NAME
from .errors import ConfigError

#: Names of vars that add-ons usually set. The add-ons' own list (``heroku addons
#: --json``) is authoritative for an app; these patterns also catch vars that a
#: settings file declares or an add-on attached under another name.
ADDON_PATTERNS = (
    "DATABASE_URL",
    "DATABASE_CONNECTION_POOL_URL",
    "HEROKU_POSTGRESQL_*_URL",
    "REDIS_URL",
    "REDIS_TLS_URL",
    "HEROKU_REDIS_*_URL",
    "HEROKU_REDIS_*_TLS_URL",
    "REDISCLOUD_URL",
    "REDISTOGO_URL",
    "MEMCACHIER_*",
    "MEMCACHEDCLOUD_*",
    "CLOUDAMQP_URL",
    "CLOUDAMQP_APIKEY",
    "HEROKU_KAFKA_*",
    "BONSAI_URL",
    "SEARCHBOX_URL",
    "SEARCHBOX_SSL_URL",
    "PAPERTRAIL_API_TOKEN",
    "CLOUDINARY_URL",
    "BUCKETEER_*",
)


def check_key(key: str) -> str:
    """``key`` if it is a usable config var name; :class:`ConfigError` otherwise."""
    if not isinstance(key, str) or not CONFIG_VAR_NAME.match(key):
        raise ConfigError(
            f"{key!r} is not a usable config var name (no '=', spaces or control characters, not starting with '-')"
        )
    return key


def parse_assignments(pairs: Iterable[str]) -> dict[str, str]:
    """``["A=1", "B=x=y"]`` → ``{"A": "1", "B": "x=y"}``: split at the first ``=``, values kept exactly.

    Messages name the key, never the value.
    """
    result: dict[str, str] = {}
    for pair in pairs:
        key, equals, value = pair.partition("=")
        if not equals:
            shown = key if CONFIG_VAR_NAME.match(key) else "an argument"
            raise ConfigError(f"expected KEY=VALUE, got {shown!r} without '=' (to remove a var, use config.unset)")
        check_key(key)
        if key in result:
            raise ConfigError(f"{key} is given twice; give each var once")
        result[key] = value
    if not result:
        raise ConfigError("nothing to set: give one or more KEY=VALUE")
    return result


def matches_any(key: str, patterns: Iterable[str]) -> bool:
    return any(fnmatch.fnmatchcase(key, pattern) for pattern in patterns)


def is_addon_name(key: str) -> bool:
    """Whether ``key`` looks like a var an add-on sets (:data:`ADDON_PATTERNS`)."""
    return matches_any(key, ADDON_PATTERNS)
