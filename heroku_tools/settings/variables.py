"""The one ``${VAR}`` grammar, shared by every value that may name a local variable.

Settings values (``settings:``, ``data.secret``, ``notify:`` URLs and headers,
settings files) can take part of their value from the environment of the
person or CI job running heroku-tools::

    ${NAME}             the value of NAME; an error when it is not set
    ${NAME:-default}    the value of NAME, or ``default`` when it is unset or empty
    $$                  a literal ``$``

A ``$`` followed by anything else stays as written. The settings are checked
with :func:`check` when they load (a malformed reference is a settings error
naming the file, line and key); values are expanded with :func:`interpolate`
only when an operation needs them, so a variable only live's notifications
use never stops anyone deploying dev. Messages name variables, never values.
"""
from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence

from ..errors import SettingsError

_REFERENCE = re.compile(r"\$(\$|\{([^}]*)\}|\{)")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\Z")


class MissingReference(SettingsError):
    """A ``${NAME}`` without a default names a variable that is not set; ``missing`` lists them."""

    def __init__(self, message: str, code: int | None = None, *, missing: Sequence[str] = (), **kwargs):
        super().__init__(message, code, **kwargs)
        self.missing = list(missing)


class MalformedReference(SettingsError):
    """A ``${`` that is not a well-formed reference (the message says what to write instead)."""


def references(value: str) -> list[str]:
    """The variables ``value`` refers to (``${NAME}`` and ``${NAME:-default}``), in order."""
    return [m.group(2).split(":-", 1)[0] for m in _REFERENCE.finditer(value) if m.group(2) is not None]


def starts_with_reference(value: str) -> bool:
    """Whether ``value`` begins with a ``${NAME}`` reference (a whole URL kept in a variable)."""
    match = _REFERENCE.match(value)
    return bool(match and match.group(2) is not None)


def check(value: str, *, key: str = "") -> str:
    """``value`` if every ``$`` in it is well formed; :class:`MalformedReference` otherwise."""
    for match in _REFERENCE.finditer(value):
        _name(match, key)
    return value


def interpolate(value: str, environ: Mapping[str, str] | None = None, *, key: str = "") -> str:
    """``value`` with its references expanded from ``environ`` (default ``os.environ``).

    An unset ``NAME`` without a default raises :class:`MissingReference`
    naming every such variable of ``value`` (never the value itself).
    """
    environ = os.environ if environ is None else environ
    missing: list[str] = []

    def replace(match: re.Match) -> str:
        name = _name(match, key)
        if name is None:
            return "$"
        _, has_default, default = match.group(2).partition(":-")
        if name in environ and not (has_default and environ[name] == ""):
            return environ[name]
        if has_default:
            return default
        missing.append(name)
        return ""

    result = _REFERENCE.sub(replace, value)
    if missing:
        raise MissingReference(
            f"{key or 'a value'} refers to {', '.join('${' + n + '}' for n in missing)}, not set in this environment",
            missing=missing,
        )
    return result


def _name(match: re.Match, key: str) -> str | None:
    """The variable a match names (None for ``$$``); :class:`MalformedReference` for a bad one."""
    if match.group(1) == "$":
        return None
    inner = match.group(2)
    if inner is None:
        raise MalformedReference(f"{key or 'a value'}: '${{' without a closing '}}' (write $$ for a literal $)")
    name = inner.partition(":-")[0]
    if not _NAME.match(name):
        raise MalformedReference(f"{key or 'a value'}: ${{{name}}} is not a variable reference (write $$ for a literal $)")
    return name
