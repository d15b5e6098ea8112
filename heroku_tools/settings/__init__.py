"""Project settings: ``heroku-tools.yml``, validated into typed objects.

The file lives at the project root (the current directory or one of its
parents); ``--config PATH`` (``heroku-tools`` program) or ``HEROKU_TOOLS_CONFIG``
name another. The original project's format loads unchanged::

    environments:
        - label:    live
          app_name: my-app-live
          branch:   master
        - label:    uat
          app_name: my-app-uat
          branch:   master
    commands:
        migrate: python manage.py migrate

Everything can also be given, or overridden, through Invoke's configuration
(``invoke.yaml``, ``fabric.yaml``, ``ns.configure(...)``) under the single
``heroku_tools`` key; there ``environments`` may also be a mapping keyed by
label, so ``heroku_tools.environments.live.app_name`` can be overridden alone.
The two are merged deeply, configuration over file, because Invoke merges
collection configuration only shallowly (invoke#782).

A mistake gives one :class:`~heroku_tools.errors.SettingsError` naming the file,
line, key and what was expected, with a suggestion for near misses, because a
typo in a deploy tool's settings should never get as far as Heroku.

The package: :mod:`~heroku_tools.settings.model` (the typed objects),
:mod:`~heroku_tools.settings.yamlmarks` (YAML with line numbers),
:mod:`~heroku_tools.settings.validate` (every key checked and built),
:mod:`~heroku_tools.settings.variables` (the one ``${VAR}`` grammar); this
module finds, reads and merges.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import SettingsError
from .model import (
    CONFIG_VAR_NAME, DEFAULT_COMMANDS, as_config_value, DEFAULT_OPTIONS, DEFAULT_TAG_FORMAT, ENV_VAR, FILENAME, NAMESPACE,
    Environment, Health, NotifyTarget, Settings,
)
from .validate import Where, build, check_config_vars, normalise
from .yamlmarks import Origin, compose, kind

__all__ = [
    "CONFIG_VAR_NAME", "DEFAULT_COMMANDS", "DEFAULT_OPTIONS", "DEFAULT_TAG_FORMAT", "ENV_VAR", "FILENAME", "NAMESPACE",
    "Environment", "Health", "NotifyTarget", "Settings", "as_config_value", "check_config_vars", "find", "from_context", "load", "parse",
]


def from_context(c) -> Settings:
    """The settings for an Invoke/Fabric context: the file, overridden by ``c.config.heroku_tools``."""
    overrides = _plain(c.config.get(NAMESPACE) or {})
    if not isinstance(overrides, dict):
        raise SettingsError(f"invoke configuration: {NAMESPACE}: expected a mapping, got {kind(overrides)}")
    path = overrides.pop("config", None)
    return load(path, overrides=overrides)


def find(path: str | os.PathLike | None = None, *, cwd: Path | None = None) -> Path | None:
    """The settings file to read: ``path``, ``$HEROKU_TOOLS_CONFIG``, or the nearest ``heroku-tools.yml``."""
    cwd = Path(cwd or os.getcwd())
    explicit = path or os.environ.get(ENV_VAR)
    if explicit:
        candidate = cwd / Path(explicit).expanduser()
        if not candidate.is_file():
            raise SettingsError(f"settings file {str(explicit)!r} does not exist")
        return candidate.resolve()
    for directory in (cwd, *cwd.parents):
        candidate = directory / FILENAME
        if candidate.is_file():
            return candidate.resolve()
    return None


def load(
    path: str | os.PathLike | None = None, *, overrides: Mapping[str, Any] | None = None, cwd: Path | None = None
) -> Settings:
    """Read and validate the settings file (see :func:`find`), then apply ``overrides``."""
    source = find(path, cwd=cwd)
    if source is None and not (overrides or {}).get("environments"):
        where = Path(cwd or os.getcwd())
        raise SettingsError(
            f"no {FILENAME} in {where} or its parents: create one, "
            f"or name it with --config PATH or {ENV_VAR}"
        )
    text = read_text(source) if source else ""
    return parse(text, source=source, overrides=overrides)


def read_text(path: Path) -> str:
    """A settings file's text; not UTF-8 is a settings error naming the line, never a traceback."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise SettingsError(f"{_display(path)}, line {line}: not UTF-8 text (byte 0x{data[error.start]:02x}): "
                            "save the file as UTF-8") from None


def parse(text: str, *, source: Path | str | None = None, overrides: Mapping[str, Any] | None = None) -> Settings:
    """Validate settings given as YAML ``text`` (from ``source``) plus ``overrides``."""
    source = Path(source) if source else None
    display = _display(source) if source else FILENAME
    data, marks = compose(text, display)
    file = Origin(display, marks)
    invoke = Origin("invoke configuration", None)
    if not isinstance(data, dict):
        raise file.error((), f"expected a mapping of settings, got {kind(data)}")
    file_data = normalise(data, file)
    over_data = normalise(dict(overrides or {}), invoke)
    defaults = {"commands": dict(DEFAULT_COMMANDS), "options": dict(DEFAULT_OPTIONS)}
    merged = _merge(_merge(defaults, file_data), over_data)
    if isinstance(merged["commands"], dict):
        # The project's own order first: it is the order the commands run in.
        order = [*_keys(over_data.get("commands")), *_keys(file_data.get("commands")), *DEFAULT_COMMANDS]
        merged["commands"] = {name: merged["commands"][name] for name in dict.fromkeys(order)}
    where = Where(file, invoke, over_data)
    return build(merged, where, source)


# -- helpers -------------------------------------------------------------------


def _merge(base: dict, over: dict) -> dict:
    """Deep merge: mappings merge key by key, anything else in ``over`` replaces."""
    result = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = _merge(result[key], value)
        else:
            result[key] = value
    return result


def _keys(value) -> list:
    return list(value) if isinstance(value, dict) else []


def _plain(value):
    """Invoke's ``DataProxy`` objects as plain dicts and lists."""
    if hasattr(value, "items") and not isinstance(value, (str, bytes)):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)
