"""What Heroku can hold, checked before anything is sent: each value, and all of an app's vars together.

Heroku documents one limit: an app's config var data — all its keys and
values together — cannot exceed 32 kB (Dev Center, "Configuration and Config
Vars", config var policies). It is taken here as 32,768 bytes of UTF-8. A
value is also refused when no process environment can hold it: a NUL byte
(a dyno's environment is NUL-terminated strings) or text that is not valid
Unicode (a lone surrogate cannot be encoded). Messages name the key and the
limit, never the value.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ..settings import as_config_value
from .errors import ConfigError
from .names import check_key

#: Heroku's limit on an app's config vars, all keys and values together (32 kB, as bytes of UTF-8).
CONFIG_LIMIT = 32 * 1024
LIMIT_TEXT = f"Heroku's limit of 32 kB ({CONFIG_LIMIT:,} bytes) for all of an app's config vars together"


def size(key: str, value: str) -> int:
    """The bytes a var counts for against :data:`CONFIG_LIMIT`: its name and its value, as UTF-8."""
    return len(key.encode("utf-8", "surrogatepass")) + len(value.encode("utf-8", "surrogatepass"))


def config_values(values: Mapping[str, Any]) -> dict[str, str]:
    """``values`` as the strings Heroku stores (``True`` is ``"true"``, ``2`` is ``"2"``); ``None`` is refused
    (a var is removed by unsetting it, not by setting it to nothing)."""
    converted = {}
    for key, value in values.items():
        if value is None:
            raise ConfigError(f"{key}: None is not a value; to remove the var, unset it")
        converted[key] = as_config_value(value)
    return converted


def check_values(values: Mapping[str, str]) -> None:
    """Each of ``values`` (name and value) is one Heroku can store; one :class:`ConfigError` naming them all."""
    problems = []
    for key, value in values.items():
        check_key(key)
        if not isinstance(value, str):
            problems.append(f"{key}: a value must be a string, not {type(value).__name__}")
        elif "\x00" in value:
            problems.append(f"{key}: the value contains a NUL byte, which no process environment can hold")
        elif not _encodable(value):
            problems.append(f"{key}: the value is not valid Unicode text (a lone surrogate)")
        elif size(key, value) > CONFIG_LIMIT:
            problems.append(f"{key}: {size(key, value):,} bytes with its name, over {LIMIT_TEXT}")
    if problems:
        raise ConfigError(f"Heroku cannot hold {_these(problems)}; nothing was changed:\n  " + "\n  ".join(problems))


def check_total(current: Mapping[str, str], to_set: Mapping[str, str], to_unset: Iterable[str] = ()) -> None:
    """The app's vars after the change fit :data:`CONFIG_LIMIT` (:class:`ConfigError` naming the largest)."""
    after = {**current, **to_set}
    for key in to_unset:
        after.pop(key, None)
    total = sum(size(key, value) for key, value in after.items())
    if total > CONFIG_LIMIT:
        largest = sorted(after, key=lambda key: size(key, after[key]), reverse=True)[:3]
        detail = ", ".join(f"{key} {size(key, after[key]):,}" for key in largest)
        raise ConfigError(
            f"after this change the app's config vars would take {total:,} bytes, over {LIMIT_TEXT}; "
            f"nothing was changed (largest, in bytes: {detail})"
        )


def check_change(current: Mapping[str, str], to_set: Mapping[str, str], to_unset: Iterable[str] = ()) -> None:
    """:func:`check_values` of what is sent, then :func:`check_total` of what the app would have."""
    for key in to_unset:
        check_key(key)
    check_values(to_set)
    check_total(current, to_set, to_unset)


def _encodable(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _these(problems: list[str]) -> str:
    return "this value" if len(problems) == 1 else f"these {len(problems)} values"
