"""Declared settings: the config vars an environment should have, from ``heroku-tools.yml`` or a file.

Declared values are strings as Heroku stores them (:func:`~heroku_tools.settings.as_config_value`:
YAML ``true`` is ``"true"``, ``1`` is ``"1"``); ``null`` declares the var removed.
``${NAME}`` (or ``${NAME:-default}``) takes a value from the local environment
and ``$$`` is a literal ``$`` (:mod:`heroku_tools.settings.variables`, the one
grammar); a reference to an unset variable is an error before anything changes.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import SettingsError
from ..settings import CONFIG_VAR_NAME, Environment, Settings, as_config_value, check_config_vars
from ..settings.variables import MissingReference, interpolate
from ..settings.yamlmarks import Origin, compose
from .dotenv import DotenvError, parse_dotenv
from .errors import ConfigError


@dataclass(frozen=True)
class Declared:
    """Config vars declared for an app: values to have (strings) and names to remove."""

    values: Mapping[str, str]
    removed: tuple[str, ...] = ()
    source: str = ""

    @property
    def keys(self) -> list[str]:
        return [*self.values, *self.removed]


def interpolate_all(raw: Mapping[str, Any], environ: Mapping[str, str] | None, source: str) -> Declared:
    """``raw`` declared vars as strings, every reference expanded; one error naming every unset variable."""
    values: dict[str, str] = {}
    removed: list[str] = []
    missing: dict[str, list[str]] = {}
    for key, value in raw.items():
        value = as_config_value(value)
        if value is None:
            removed.append(key)
            continue
        try:
            values[key] = interpolate(value, environ, key=key)
        except MissingReference as exc:
            missing[key] = exc.missing
    if missing:
        names = sorted({name for names in missing.values() for name in names})
        refs = ", ".join("${" + name + "}" for name in names)
        verb = "is" if len(names) == 1 else "are"
        raise MissingReference(
            f"{source}: {refs} {verb} not set in this environment (needed by {', '.join(missing)}); "
            "nothing was changed",
            missing=names,
            recover=f"export {names[0]}=... (or give a default: ${{{names[0]}:-value}}) and run it again",
        )
    return Declared(values=values, removed=tuple(removed), source=source)


def declared(settings: Settings, env: Environment | str, *, environ: Mapping[str, str] | None = None) -> Declared:
    """The config vars declared for ``env`` (its ``settings:``), interpolated."""
    env = settings.environment(env) if isinstance(env, str) else env
    if env.config_vars is None:
        raise ConfigError(
            f"{env.label} declares no settings: add a settings: mapping (or the path of a file) "
            f"to environment {env.label} in {settings.source.name if settings.source else 'heroku-tools.yml'}"
        )
    if isinstance(env.config_vars, str):
        path = Path(env.config_vars).expanduser()
        path = path if path.is_absolute() else settings.root / path
        if not path.is_file():
            raise SettingsError(
                f"environment {env.label}: settings file {env.config_vars!r} does not exist (looked in {path.parent})"
            )
        return load_settings_file(path, environ=environ, display=env.config_vars)
    where = f"{settings.source.name if settings.source else 'settings'} (environments.{env.label}.settings)"
    return interpolate_all(env.config_vars, environ, where)


def load_settings_file(
    path: Path | str, *, environ: Mapping[str, str] | None = None, display: str | None = None
) -> Declared:
    """Declared config vars from a file: ``.env`` format when the name ends in or starts with
    ``.env``, YAML otherwise (a mapping of vars, or one with a ``settings:`` mapping in it,
    as the original tool's per-environment files had)."""
    path = Path(path)
    display = display or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SettingsError(f"settings file {display}: cannot be read ({exc})") from None
    if path.name.endswith(".env") or path.name.startswith(".env"):
        return interpolate_all(_dotenv_vars(text, display), environ, display)
    return interpolate_all(_yaml_vars(text, display), environ, display)


def _dotenv_vars(text: str, display: str) -> dict[str, str]:
    try:
        raw = parse_dotenv(text)
    except DotenvError as exc:
        raise SettingsError(f"{display}, {exc}") from None
    for key in raw:
        if not CONFIG_VAR_NAME.match(key):
            raise SettingsError(f"{display}: {key!r} is not a usable config var name")
    return raw


def _yaml_vars(text: str, display: str) -> dict:
    data, marks = compose(text, display)
    origin = Origin(display, marks)
    path_in: tuple = ()
    if isinstance(data, dict) and isinstance(data.get("settings"), dict):
        data, path_in = data["settings"], ("settings",)
    if data in (None, {}):
        data = {}
    if not isinstance(data, dict):
        kind = "a list" if isinstance(data, list) else "a single value"
        raise SettingsError(f"{display}: expected a mapping of config vars, got {kind}")
    check_config_vars(path_in, data, origin.error)
    return data
