"""Config vars: read, mask, compare, plan, apply and pull them, without ever showing a secret.

The ``config`` tasks are thin layers over these functions, which a project's
own fabfile can call as well::

    from heroku_tools import configvars
    from heroku_tools.heroku import Heroku
    from heroku_tools.settings import load

    settings = load()
    heroku = Heroku.from_settings(settings, cwd=settings.root)
    uat, live = configvars.snapshots(settings, heroku, ["uat", "live"])
    result = configvars.diff(uat, live, ignore=settings.config_ignore)
    print(configvars.render_diff(result, configvars.Masker()))
    if not result.matches:
        ...

Values are masked everywhere unless asked for: a masked value shows its length
and a short keyed fingerprint (HMAC-SHA256 under a key kept outside the
output), so two values can be told apart without either being shown.

Declared settings (an environment's ``settings:`` in ``heroku-tools.yml``, or a
YAML or ``.env`` file it names) are strings as Heroku stores them: YAML ``true``
is ``"true"``, ``1`` is ``"1"``, ``null`` declares the var removed. ``${NAME}``
(or ``${NAME:-default}``) takes a value from the local environment, ``$$`` is a
literal ``$``; a reference to an unset variable is an error before anything
changes.

Changes go through the heroku CLI as separate arguments, never a shell: all
additions and changes in ONE ``config:set`` (one release), all removals in at
most one ``config:unset``. What was applied is read back from Heroku, so a
failure part-way says exactly which keys changed and which did not.
"""
from __future__ import annotations

import datetime
import fnmatch
import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import sys
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from colorama import Fore, Style

from .. import output
from ..confirm import confirm
from ..errors import (
    AppNotFound,
    CommandError,
    HerokuToolsError,
    NotLoggedIn,
    SettingsError,
    UnknownEnvironment,
    did_you_mean,
)
from ..protection import check_target
from ..runner import first_error_line
from ..settings import CONFIG_VAR_NAME, Environment, Settings, check_config_vars
from ..settings.yamlmarks import Origin, compose

log = logging.getLogger("heroku_tools")

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

FINGERPRINT_ENV = "HEROKU_TOOLS_FINGERPRINT_KEY"
FINGERPRINT_LENGTH = 8
ABSENT = "(not set)"


class ConfigError(HerokuToolsError):
    """A config var operation could not be done; nothing was changed unless it says so."""


class MissingReference(SettingsError):
    """Declared settings refer to local environment variables that are not set (``missing``)."""

    def __init__(self, message: str, code: int | None = None, *, missing: Sequence[str] = (), **kwargs):
        super().__init__(message, code, **kwargs)
        self.missing = list(missing)


class ApplyFailed(HerokuToolsError):
    """A change failed part-way: ``applied`` and ``not_applied`` say where the app stands.

    ``not_applied`` holds the keys that were to be set and are not, then the
    keys that were to be removed and are still there.
    """

    def __init__(self, message: str, *, applied: Sequence[str], not_applied: Sequence[str], **kwargs):
        super().__init__(message, **kwargs)
        self.applied = list(applied)
        self.not_applied = list(not_applied)


# -- names ---------------------------------------------------------------------------


def check_key(key: str) -> str:
    """``key`` if it is a usable config var name; :class:`ConfigError` otherwise."""
    if not isinstance(key, str) or not CONFIG_VAR_NAME.match(key):
        raise ConfigError(f"{key!r} is not a usable config var name (no '=' or spaces, not starting with '-')")
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


# -- masking -------------------------------------------------------------------------


def key_file(environ: Mapping[str, str] | None = None) -> Path:
    """Where the per-user fingerprint key lives: ``$XDG_CONFIG_HOME/heroku-tools/fingerprint.key``."""
    environ = os.environ if environ is None else environ
    if os.name == "nt" and environ.get("APPDATA"):
        base = Path(environ["APPDATA"])
    else:
        base = Path(environ.get("XDG_CONFIG_HOME") or Path(environ.get("HOME") or Path.home()) / ".config")
    return base / "heroku-tools" / "fingerprint.key"


def fingerprint_key(environ: Mapping[str, str] | None = None) -> bytes:
    """The key fingerprints are made with: ``$HEROKU_TOOLS_FINGERPRINT_KEY``, else a random
    per-user key created (mode 0600) on first use; if it cannot be stored, one for this run.

    Set the variable to the same secret on two machines (CI and a laptop) to compare
    their fingerprints; anyone without the key cannot test guesses against a fingerprint.
    """
    environ = os.environ if environ is None else environ
    explicit = environ.get(FINGERPRINT_ENV)
    if explicit:
        return explicit.encode("utf-8")
    path = key_file(environ)
    try:
        return path.read_bytes().strip() or _new_key(path, replace=True)
    except FileNotFoundError:
        pass
    except OSError as exc:
        log.debug("fingerprint key %s unreadable (%s): using a key for this run only", path, exc)
        return secrets.token_hex(32).encode()
    try:
        return _new_key(path)
    except FileExistsError:
        return path.read_bytes().strip()
    except OSError as exc:
        log.debug("fingerprint key %s not writable (%s): using a key for this run only", path, exc)
        return secrets.token_hex(32).encode()


def _new_key(path: Path, replace: bool = False) -> bytes:
    key = secrets.token_hex(32).encode()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if replace else os.O_EXCL)
    fd = os.open(path, flags, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key + b"\n")
    return key


class Masker:
    """Masks values: ``<37 chars 9f2c1a7e>``. The same value always gets the same mask."""

    def __init__(self, key: bytes | str | None = None):
        if isinstance(key, str):
            key = key.encode("utf-8")
        self._key = key

    @property
    def key(self) -> bytes:
        if self._key is None:
            self._key = fingerprint_key()
        return self._key

    def fingerprint(self, value: str) -> str:
        digest = hmac.new(self.key, value.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()
        return digest[:FINGERPRINT_LENGTH]

    def mask(self, value: str) -> str:
        if value == "":
            return "<empty>"
        return f"<{len(value)} char{'s' if len(value) != 1 else ''} {self.fingerprint(value)}>"

    def show(self, value: str | None, reveal: bool = False) -> str:
        """``value`` as a report shows it: masked, or (``reveal``) printable and unambiguous."""
        if value is None:
            return ABSENT
        return visible(value) if reveal else self.mask(value)

    def describe(self, value: str | None, reveal: bool = False) -> dict | None:
        """``value`` for JSON output: length and fingerprint, plus the value if ``reveal``."""
        if value is None:
            return None
        described: dict[str, Any] = {"length": len(value), "fingerprint": self.fingerprint(value)}
        if reveal:
            described["value"] = value
        return described


_PLAIN = re.compile(r"^[^\s\"'\\<(][^\x00-\x1f\x7f\"\\]*(?<!\s)\Z")


def visible(value: str) -> str:
    """A value shown on one line: as is when plain, else JSON-quoted (newlines as ``\\n``)."""
    if value and _PLAIN.match(value) and value.isprintable():
        return value
    return json.dumps(value, ensure_ascii=False)


def scrub(text: str, values: Iterable[str]) -> str:
    """``text`` with every value of 4 or more characters replaced by ``…``."""
    for value in sorted({v for v in values if len(v) >= 4}, key=len, reverse=True):
        text = text.replace(value, "…")
    return text


# -- reading from Heroku -------------------------------------------------------------


@dataclass(frozen=True)
class Snapshot:
    """One side of a comparison: an app's config vars, or declared settings.

    ``managed`` maps vars set by the app's add-ons to the add-on (service) name;
    ``removed`` holds the vars declared ``null`` (settings only); ``ignore`` the
    name patterns not to compare for this side.
    """

    name: str
    kind: str  # "environment" or "settings"
    values: Mapping[str, str]
    app: str | None = None
    managed: Mapping[str, str] = field(default_factory=dict)
    removed: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    source: str | None = None

    @property
    def title(self) -> str:
        if self.kind == "environment":
            return f"{self.name} ({self.app})"
        return self.source or self.name


def fetch(heroku, app: str) -> dict[str, str]:
    """The app's config vars (``heroku config --json``)."""
    values = heroku.config(app)
    if not isinstance(values, dict):
        raise ConfigError(f"`heroku config --json -a {app}` did not print a mapping of config vars")
    return {str(key): "" if value is None else str(value) for key, value in values.items()}


def addon_vars(heroku, app: str) -> dict[str, str]:
    """Vars the app's add-ons set, with the add-on that sets each: ``{"DATABASE_URL": "heroku-postgresql"}``."""
    managed: dict[str, str] = {}
    for addon in heroku.addons(app):
        service = addon.service or addon.plan or addon.name or "an add-on"
        service = service.split(":")[0]
        for var in addon.config_vars:
            managed.setdefault(var, service)
        for attachment in addon.raw.get("attachments") or []:
            attached_to = (attachment.get("app") or {}).get("name")
            if attachment.get("name") and attached_to in (None, app):
                managed.setdefault(f"{attachment['name']}_URL", service)
    return managed


def parallel(calls: Sequence[Callable[[], Any]]) -> list[Any]:
    """Run ``calls`` at once (each is a heroku CLI call, ~1 s of mostly waiting); results in order."""
    if len(calls) <= 1:
        return [call() for call in calls]
    with ThreadPoolExecutor(max_workers=min(8, len(calls))) as pool:
        futures = [pool.submit(call) for call in calls]
        return [future.result() for future in futures]


def environment_snapshot(env: Environment, values: Mapping[str, str], managed: Mapping[str, str]) -> Snapshot:
    return Snapshot(
        name=env.label, kind="environment", values=dict(values), app=env.app_name,
        managed=dict(managed), ignore=tuple(env.config_ignore),
    )


def snapshots(settings: Settings, heroku, names: Sequence[str], *, environ: Mapping[str, str] | None = None,
              cwd: Path | None = None) -> list[Snapshot]:
    """A :class:`Snapshot` for each name: an environment label, ``@label`` (that
    environment's declared settings) or the path of a settings file.

    Every name is checked, and every declared file read, before Heroku is asked
    anything; then all apps' config and add-ons are fetched at once.
    """
    plans: list[tuple[str, Any]] = [resolve(settings, name, environ=environ, cwd=cwd) for name in names]
    calls: list[Callable[[], Any]] = []
    for kind, item in plans:
        if kind == "environment":
            calls += [lambda app=item.app_name: fetch(heroku, app), lambda app=item.app_name: addon_vars(heroku, app)]
    fetched = iter(parallel(calls))
    result = []
    for kind, item in plans:
        if kind == "environment":
            values, managed = next(fetched), next(fetched)
            result.append(environment_snapshot(item, values, managed))
        else:
            result.append(item)
    return result


def resolve(settings: Settings, name: str, *, environ: Mapping[str, str] | None = None,
            cwd: Path | None = None) -> tuple[str, Any]:
    """``("environment", Environment)`` or ``("settings", Snapshot)`` for a name on the command line."""
    name = str(name)
    if name in settings.labels:
        return "environment", settings.environment(name)
    if name.startswith("@"):
        env = settings.environment(name[1:])
        return "settings", declared_snapshot(settings, env, environ=environ)
    for base in (Path(cwd or Path.cwd()), settings.root):
        candidate = base / name
        if candidate.is_file():
            declared = load_settings_file(candidate, environ=environ, display=name)
            return "settings", Snapshot(
                name=name, kind="settings", values=declared.values, removed=declared.removed, source=declared.source
            )
    if name.startswith("-"):
        settings.environment(name)  # the error for a flag given where an environment was expected
    if "/" in name or "." in name or os.sep in name:
        known = ", ".join(settings.labels)
        raise ConfigError(f"{name!r} is neither an environment ({known}) nor a settings file that exists")
    raise UnknownEnvironment(
        f"unknown environment {name!r}{did_you_mean(name, settings.labels)} "
        f"(known: {', '.join(settings.labels)}; or give a settings file, "
        "or @ENV for an environment's declared settings)"
    )


# -- declared settings ---------------------------------------------------------------


@dataclass(frozen=True)
class Declared:
    """Config vars declared for an app: values to have (strings) and names to remove."""

    values: Mapping[str, str]
    removed: tuple[str, ...] = ()
    source: str = ""

    @property
    def keys(self) -> list[str]:
        return [*self.values, *self.removed]


def as_config_value(value: Any) -> str | None:
    """A declared value as the string Heroku stores: ``true``/``false``, ``1``, ``0.5``; ``None`` stays (removal)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    raise SettingsError(f"a config var value must be a string, number or true/false, not {type(value).__name__}")


_REFERENCE = re.compile(r"\$(\$|\{([^}]*)\}|\{)")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\Z")


def references(value: str) -> list[str]:
    """The local variables ``value`` refers to (``${NAME}``), in order."""
    return [m.group(2).split(":-", 1)[0] for m in _REFERENCE.finditer(value) if m.group(2) is not None]


def interpolate(value: str, environ: Mapping[str, str] | None = None, *, key: str = "") -> str:
    """``value`` with ``${NAME}`` (or ``${NAME:-default}``) taken from ``environ`` and ``$$`` as ``$``.

    A ``$`` followed by anything else stays as written. An unset ``NAME``
    without a default raises :class:`MissingReference` naming it (never the value).
    """
    environ = os.environ if environ is None else environ
    missing: list[str] = []

    def replace(match: re.Match) -> str:
        if match.group(1) == "$":
            return "$"
        inner = match.group(2)
        if inner is None:
            raise SettingsError(f"{key or 'a value'}: '${{' without a closing '}}' (write $$ for a literal $)")
        name, has_default, default = inner.partition(":-")
        if not _NAME.match(name):
            raise SettingsError(
                f"{key or 'a value'}: ${{{inner}}} is not a variable reference (write $$ for a literal $)"
            )
        if name in environ:
            if has_default and environ[name] == "":
                return default
            return environ[name]
        if has_default:
            return default
        missing.append(name)
        return ""

    result = _REFERENCE.sub(replace, value)
    if missing:
        raise MissingReference(
            f"{key or 'a value'} refers to {', '.join('${' + n + '}' for n in missing)}, "
            "not set in this environment",
            missing=missing,
        )
    return result


def _interpolate_all(raw: Mapping[str, Any], environ: Mapping[str, str] | None, source: str) -> Declared:
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
    return _interpolate_all(env.config_vars, environ, where)


def declared_snapshot(settings: Settings, env: Environment, *, environ: Mapping[str, str] | None = None) -> Snapshot:
    result = declared(settings, env, environ=environ)
    return Snapshot(
        name=f"@{env.label}", kind="settings", values=result.values, removed=result.removed,
        ignore=tuple(env.config_ignore), source=result.source,
    )


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
        try:
            raw: Mapping[str, Any] = parse_dotenv(text)
        except ValueError as exc:
            raise SettingsError(f"{display}, {exc}") from None
        for key in raw:
            if not CONFIG_VAR_NAME.match(key):
                raise SettingsError(f"{display}: {key!r} is not a usable config var name")
        return _interpolate_all(raw, environ, display)
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
    return _interpolate_all(data, environ, display)


# -- .env files ----------------------------------------------------------------------

_DOTENV_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")
_SAFE = re.compile(r"^[A-Za-z0-9_./:@%+,=\-]+\Z")
_DOUBLE_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_DOUBLE_UNESCAPES = {"\\": "\\", '"': '"', "'": "'", "n": "\n", "r": "\r", "t": "\t", "a": "\a", "b": "\b",
                     "f": "\f", "v": "\v"}


def dotenv_value(value: str) -> str:
    """``value`` quoted for a ``.env`` file so python-dotenv, django-environ and a POSIX
    shell read back exactly ``value``: bare when safe, single quotes when that suffices,
    else double quotes with ``\\n``-style escapes."""
    if _SAFE.match(value):
        return value
    if "'" not in value and "\\" not in value and value.isprintable():
        return f"'{value}'"
    return '"' + "".join(_DOUBLE_ESCAPES.get(ch, ch) for ch in value) + '"'


def render_dotenv(values: Mapping[str, str], header: str | None = None) -> str:
    """A ``.env`` file of ``values`` (sorted by name), with ``header`` as comment lines."""
    lines = [f"# {line}".rstrip() for line in (header or "").splitlines()]
    lines += [f"{key}={dotenv_value(values[key])}" for key in sorted(values)]
    return "\n".join(lines) + "\n"


def parse_dotenv(text: str) -> dict[str, str]:
    """Read a ``.env`` file as python-dotenv does (without interpolation): ``KEY=value``,
    ``export KEY=value``, ``'single'`` (``\\'`` and ``\\\\`` escapes), ``"double"`` (``\\n``,
    ``\\t``, ``\\"``... escapes, may span lines), comments and blank lines.

    Raises ``ValueError("line N: ...")`` on a line it cannot read.
    """
    result: dict[str, str] = {}
    pos, line = 0, 1
    n = len(text)

    def skip_blank_and_comments():
        nonlocal pos, line
        while pos < n:
            if text[pos] == "\n":
                pos += 1
                line += 1
            elif text[pos] in " \t\r":
                pos += 1
            elif text[pos] == "#":
                while pos < n and text[pos] != "\n":
                    pos += 1
            else:
                break

    while True:
        skip_blank_and_comments()
        if pos >= n:
            break
        start_line = line
        if text.startswith("export ", pos):
            pos += len("export ")
            while pos < n and text[pos] in " \t":
                pos += 1
        match = _DOTENV_KEY.match(text, pos)
        if not match:
            raise ValueError(f"line {start_line}: expected KEY=value")
        key = match.group(0)
        pos = match.end()
        while pos < n and text[pos] in " \t":
            pos += 1
        if pos >= n or text[pos] != "=":
            raise ValueError(f"line {start_line}: expected '=' after {key}")
        pos += 1
        while pos < n and text[pos] in " \t":
            pos += 1
        if pos < n and text[pos] in "'\"":
            quote = text[pos]
            pos += 1
            chars = []
            while True:
                if pos >= n:
                    raise ValueError(f"line {start_line}: {key}: unterminated {quote}quoted value")
                ch = text[pos]
                if ch == "\\" and pos + 1 < n:
                    nxt = text[pos + 1]
                    if quote == "'" and nxt in "'\\":
                        chars.append(nxt)
                        pos += 2
                        continue
                    if quote == '"' and nxt in _DOUBLE_UNESCAPES:
                        chars.append(_DOUBLE_UNESCAPES[nxt])
                        pos += 2
                        continue
                if ch == quote:
                    pos += 1
                    break
                if ch == "\n":
                    line += 1
                chars.append(ch)
                pos += 1
            value = "".join(chars)
            # the rest of the line may hold only a comment
            rest_end = text.find("\n", pos)
            rest_end = n if rest_end < 0 else rest_end
            rest = text[pos:rest_end].strip()
            if rest and not rest.startswith("#"):
                raise ValueError(f"line {line}: {key}: unexpected text after the closing quote")
            pos = rest_end
        else:
            end = text.find("\n", pos)
            end = n if end < 0 else end
            raw = text[pos:end]
            comment = re.search(r"\s#", raw)
            if comment:
                raw = raw[: comment.start()]
            value = raw.strip()
            pos = end
        result[key] = value
    return result


# -- diff ----------------------------------------------------------------------------


class Status(str, Enum):
    DIFFERENT = "different"
    ONLY_A = "only_a"
    ONLY_B = "only_b"
    EQUAL = "equal"
    ADDON = "addon"
    #: On an app only, compared with declared settings that do not mention it.
    UNDECLARED = "undeclared"
    IGNORED = "ignored"

    def __str__(self) -> str:
        return self.value


DIFF_SYMBOLS = {
    Status.DIFFERENT: "!", Status.ONLY_A: "<", Status.ONLY_B: ">",
    Status.EQUAL: "=", Status.ADDON: "~", Status.UNDECLARED: "?", Status.IGNORED: "#",
}
DRIFT = (Status.DIFFERENT, Status.ONLY_A, Status.ONLY_B)
_DIFF_ORDER = (
    Status.DIFFERENT, Status.ONLY_A, Status.ONLY_B, Status.EQUAL, Status.UNDECLARED, Status.ADDON, Status.IGNORED,
)


@dataclass(frozen=True)
class DiffEntry:
    key: str
    status: Status
    a: str | None
    b: str | None
    #: The add-on that sets the var (or "add-on" for a name that looks like one).
    managed_by: str | None = None

    @property
    def drift(self) -> bool:
        return self.status in DRIFT


@dataclass(frozen=True)
class ConfigDiff:
    a: Snapshot
    b: Snapshot
    entries: tuple[DiffEntry, ...]

    @property
    def drift(self) -> list[DiffEntry]:
        return [entry for entry in self.entries if entry.drift]

    @property
    def matches(self) -> bool:
        return not self.drift

    def count(self, status: Status) -> int:
        return sum(1 for entry in self.entries if entry.status is status)


def diff(a: Snapshot, b: Snapshot, *, ignore: Iterable[str] = ()) -> ConfigDiff:
    """Compare two snapshots key by key.

    Vars set by an add-on on either side (or named like one) are ``ADDON``,
    vars matching ``ignore`` or either side's own ignore patterns ``IGNORED``,
    and an app's vars that declared settings on the other side do not mention
    ``UNDECLARED`` (declared settings manage only what they list, as
    ``config.push`` does): none of them counts as drift. A var declared removed
    counts as not set, so an app still having it is drift.
    """
    patterns = (*ignore, *a.ignore, *b.ignore)
    entries = []
    for key in sorted(set(a.values) | set(b.values)):
        va, vb = a.values.get(key), b.values.get(key)
        managed = a.managed.get(key) or b.managed.get(key) or ("add-on" if is_addon_name(key) else None)
        if matches_any(key, patterns):
            status = Status.IGNORED
        elif managed:
            status = Status.ADDON
        elif va is None:
            status = Status.UNDECLARED if _undeclared(a=b, by=a, key=key) else Status.ONLY_B
        elif vb is None:
            status = Status.UNDECLARED if _undeclared(a=a, by=b, key=key) else Status.ONLY_A
        else:
            status = Status.EQUAL if va == vb else Status.DIFFERENT
        entries.append(DiffEntry(key, status, va, vb, managed))
    entries.sort(key=lambda entry: (_DIFF_ORDER.index(entry.status), entry.key))
    return ConfigDiff(a, b, tuple(entries))


def _undeclared(a: Snapshot, by: Snapshot, key: str) -> bool:
    """Whether ``key``, set on app ``a`` only, is simply not mentioned by declared settings ``by``."""
    return a.kind == "environment" and by.kind == "settings" and key not in by.removed


_ROW_STYLE = {
    Status.DIFFERENT: (Fore.YELLOW,), Status.ONLY_A: (Fore.RED,), Status.ONLY_B: (Fore.GREEN,),
    Status.EQUAL: (Style.DIM,), Status.ADDON: (Fore.CYAN, Style.DIM), Status.IGNORED: (Style.DIM,),
    Status.UNDECLARED: (Fore.MAGENTA,),
}
MAX_COLUMN = 48


def _cell(side: Snapshot, entry: DiffEntry, masker: Masker, reveal: bool) -> str:
    value = side.values.get(entry.key)
    if value is None:
        return "(removed)" if entry.key in side.removed else ABSENT
    if entry.status is Status.ADDON:
        return f"add-on {entry.managed_by}" if entry.managed_by != "add-on" else "add-on var"
    if entry.status is Status.IGNORED:
        return "ignored"
    return masker.show(value, reveal)


def _table(rows: list[tuple[str, str, list[str]]], styles: list[tuple], paint: Callable[..., str]) -> list[str]:
    """Rows of (symbol, key, cells) aligned in columns; the last cell is never padded."""
    widths = [max((len(row[1]) for row in rows), default=0)]
    ncells = max((len(row[2]) for row in rows), default=0)
    for i in range(ncells - 1):
        widths.append(min(MAX_COLUMN, max((len(row[2][i]) for row in rows if len(row[2]) > i), default=0)))
    out = []
    for (symbol, key, cells), style in zip(rows, styles, strict=True):
        parts = [key.ljust(widths[0])]
        parts += [cell.ljust(widths[i + 1]) for i, cell in enumerate(cells[:-1])]
        parts += cells[-1:]
        out.append(paint(f"{symbol} " + "  ".join(parts).rstrip(), *style))
    return out


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def render_diff(result: ConfigDiff, masker: Masker, *, reveal: bool = False,
                paint: Callable[..., str] = lambda text, *styles: text) -> str:
    """The diff as aligned text: a heading, one row per var, a summary line."""
    a, b = result.a, result.b
    masked = "values shown" if reveal else "values masked: length and fingerprint; --show-values to reveal"
    lines = [f"Comparing {a.title} with {b.title} ({masked})"]
    if not result.entries:
        lines.append("  neither has any config vars")
    else:
        header = (" ", "KEY", [a.name, b.name])
        rows = [header] + [
            (DIFF_SYMBOLS[e.status], e.key, [_cell(a, e, masker, reveal), _cell(b, e, masker, reveal)])
            for e in result.entries
        ]
        styles = [(Style.BRIGHT,)] + [_ROW_STYLE[e.status] for e in result.entries]
        lines += _table(rows, styles, paint)
    lines.append(summary(result))
    return "\n".join(lines)


def summary(result: ConfigDiff) -> str:
    a, b = result.a.name, result.b.name
    drift = [
        (result.count(Status.DIFFERENT), "different"),
        (result.count(Status.ONLY_A), f"only in {a}"),
        (result.count(Status.ONLY_B), f"only in {b}"),
    ]
    equal = result.count(Status.EQUAL)
    settings_side = result.b if result.b.kind == "settings" else result.a
    skipped = [
        (result.count(Status.UNDECLARED), f"not declared in {settings_side.name}"),
        (result.count(Status.ADDON), "set by add-ons"),
        (result.count(Status.IGNORED), "ignored"),
    ]
    skipped_text = ", ".join(f"{n} {what}" for n, what in skipped if n)
    tail = f"; not compared: {skipped_text}" if skipped_text else ""
    if result.matches:
        return f"{a} and {b} match: {_plural(equal, 'var')} equal{tail}"
    counted = ", ".join(f"{n} {what}" for n, what in drift if n)
    return f"{_plural(len(result.drift), 'difference')}: {counted}; {equal} equal{tail}"


def diff_json(result: ConfigDiff, masker: Masker, *, reveal: bool = False) -> dict:
    """The diff for ``--json``: sides, whether they match, counts, and each var (masked unless ``reveal``)."""

    def side(snapshot: Snapshot) -> dict:
        return {"name": snapshot.name, "kind": snapshot.kind, "app": snapshot.app, "source": snapshot.source}

    return {
        "a": side(result.a),
        "b": side(result.b),
        "match": result.matches,
        "values_shown": reveal,
        "counts": {status.value: result.count(status) for status in Status},
        "vars": [
            {
                "key": e.key,
                "status": e.status.value,
                "managed_by": e.managed_by,
                "a": masker.describe(e.a, reveal),
                "b": masker.describe(e.b, reveal),
            }
            for e in result.entries
        ],
    }


# -- show ----------------------------------------------------------------------------


def render_show(snapshot: Snapshot, masker: Masker, *, reveal: bool = False,
                paint: Callable[..., str] = lambda text, *styles: text) -> str:
    masked = "values shown" if reveal else "values masked; --show-values to reveal"
    lines = [f"Config vars of {snapshot.title}: {_plural(len(snapshot.values), 'var')} ({masked})"]
    rows, styles = [], []
    for key in sorted(snapshot.values):
        managed = snapshot.managed.get(key)
        cells = [masker.show(snapshot.values[key], reveal)]
        if managed:
            cells.append(f"(set by {managed})")
        rows.append((" ", key, cells + [""] if len(cells) == 1 else cells))
        styles.append((Fore.CYAN, Style.DIM) if managed else ())
    lines += [line.rstrip() for line in _table(rows, styles, paint)] if rows else []
    return "\n".join(lines)


def show_json(snapshot: Snapshot, masker: Masker, *, reveal: bool = False) -> dict:
    return {
        "environment": snapshot.name,
        "app": snapshot.app,
        "values_shown": reveal,
        "vars": {
            key: {**(masker.describe(snapshot.values[key], reveal) or {}), "managed_by": snapshot.managed.get(key)}
            for key in sorted(snapshot.values)
        },
    }


# -- plan ----------------------------------------------------------------------------


class Action(str, Enum):
    ADD = "add"
    CHANGE = "change"
    REMOVE = "remove"
    REMOTE_ONLY = "remote_only"
    SAME = "same"
    ADDON = "addon"

    def __str__(self) -> str:
        return self.value


PLAN_SIGNS = {
    Action.ADD: "+", Action.CHANGE: "!", Action.REMOVE: "-",
    Action.REMOTE_ONLY: "?", Action.SAME: "=", Action.ADDON: "~",
}
_PLAN_ORDER = (Action.ADD, Action.CHANGE, Action.REMOVE, Action.ADDON, Action.REMOTE_ONLY, Action.SAME)
_PLAN_STYLE = {
    Action.ADD: (Fore.GREEN,), Action.CHANGE: (Fore.YELLOW,), Action.REMOVE: (Fore.RED,),
    Action.REMOTE_ONLY: (Fore.MAGENTA,), Action.SAME: (Style.DIM,), Action.ADDON: (Fore.CYAN, Style.DIM),
}


@dataclass(frozen=True)
class PlanEntry:
    key: str
    action: Action
    current: str | None
    wanted: str | None
    managed_by: str | None = None


@dataclass(frozen=True)
class Plan:
    """What making ``app`` match ``wanted`` takes: ``+`` add, ``!`` change, ``-`` remove,
    ``?`` on the app only (left alone), ``=`` already right, ``~`` set by an add-on (left alone)."""

    label: str
    app: str
    source: str
    entries: tuple[PlanEntry, ...]

    @property
    def to_set(self) -> dict[str, str]:
        """Additions and changes, by name: what the ONE ``config:set`` sends."""
        changes = {e.key: e.wanted for e in self.entries if e.action in (Action.ADD, Action.CHANGE)}
        return {key: changes[key] for key in sorted(changes)}  # type: ignore[misc]

    @property
    def to_unset(self) -> list[str]:
        """Removals, by name: what the (at most one) ``config:unset`` sends."""
        return sorted(e.key for e in self.entries if e.action is Action.REMOVE)

    @property
    def changes(self) -> bool:
        return bool(self.to_set or self.to_unset)

    def count(self, action: Action) -> int:
        return sum(1 for entry in self.entries if entry.action is action)

    def describe(self, done: bool = False) -> str:
        """``2 to add, 1 to change, 1 to remove`` (``done``: ``2 added, ...``), or ``no changes``."""
        words = (
            (Action.ADD, "add", "added"), (Action.CHANGE, "change", "changed"), (Action.REMOVE, "remove", "removed")
        )
        parts = [f"{self.count(action)} {past if done else 'to ' + word}" for action, word, past in words
                 if self.count(action)]
        return ", ".join(parts) or "no changes"

    @property
    def change_count(self) -> int:
        return len(self.to_set) + len(self.to_unset)


def plan(current: Snapshot, wanted: Mapping[str, str], removed: Iterable[str] = (), *, source: str = "",
         report_remote_only: bool = True, ignore: Iterable[str] = ()) -> Plan:
    """The plan to make ``current`` (an app) have ``wanted`` and lack ``removed``.

    Vars an add-on sets are never changed or removed (``~``). With
    ``report_remote_only``, the app's other vars are listed as ``?`` (left
    alone), except those matching ``ignore``.
    """
    entries: list[PlanEntry] = []
    removed = [key for key in removed if key not in wanted]
    for key, value in wanted.items():
        have = current.values.get(key)
        managed = current.managed.get(key)
        if managed:
            entries.append(PlanEntry(key, Action.ADDON, have, value, managed))
        elif have is None:
            entries.append(PlanEntry(key, Action.ADD, None, value))
        elif have != value:
            entries.append(PlanEntry(key, Action.CHANGE, have, value))
        else:
            entries.append(PlanEntry(key, Action.SAME, have, value))
    for key in removed:
        have = current.values.get(key)
        managed = current.managed.get(key)
        if managed:
            entries.append(PlanEntry(key, Action.ADDON, have, None, managed))
        elif have is not None:
            entries.append(PlanEntry(key, Action.REMOVE, have, None))
        else:
            entries.append(PlanEntry(key, Action.SAME, None, None))
    if report_remote_only:
        declared_keys = set(wanted) | set(removed)
        patterns = (*ignore, *current.ignore)
        for key, have in current.values.items():
            if key in declared_keys or matches_any(key, patterns):
                continue
            managed = current.managed.get(key)
            entries.append(PlanEntry(key, Action.ADDON if managed else Action.REMOTE_ONLY, have, None, managed))
    entries.sort(key=lambda e: (_PLAN_ORDER.index(e.action), e.key))
    return Plan(current.name, current.app or current.name, source, tuple(entries))


def plan_push(current: Snapshot, declared_vars: Declared, *, ignore: Iterable[str] = ()) -> Plan:
    """The plan of ``config.push``: the app made to match its declared settings."""
    return plan(current, declared_vars.values, declared_vars.removed, source=declared_vars.source, ignore=ignore)


def _plan_cell(entry: PlanEntry, masker: Masker, reveal: bool) -> str:
    show = lambda value: masker.show(value, reveal)  # noqa: E731
    if entry.action is Action.ADD:
        return show(entry.wanted)
    if entry.action is Action.CHANGE:
        return f"{show(entry.current)} -> {show(entry.wanted)}"
    if entry.action is Action.REMOVE:
        return f"{show(entry.current)} -> removed"
    if entry.action is Action.REMOTE_ONLY:
        return f"{show(entry.current)}  (on the app, not declared: left alone)"
    if entry.action is Action.ADDON:
        return f"set by {entry.managed_by}: left alone"
    return "not set (nothing to remove)" if entry.current is None else f"{show(entry.current)}  (unchanged)"


def render_plan(result: Plan, masker: Masker, *, reveal: bool = False,
                paint: Callable[..., str] = lambda text, *styles: text, heading: str | None = None) -> str:
    heading = heading or f"Plan for {result.label} ({result.app})" + (f" from {result.source}" if result.source else "")
    lines = [f"{heading}:"]
    rows = [(PLAN_SIGNS[e.action], e.key, [_plan_cell(e, masker, reveal)]) for e in result.entries]
    styles = [_PLAN_STYLE[e.action] for e in result.entries]
    lines += ["  " + line for line in _table(rows, styles, paint)] if rows else ["  nothing declared"]
    extra = []
    if result.count(Action.REMOTE_ONLY):
        extra.append(f"{result.count(Action.REMOTE_ONLY)} on the app only (left alone)")
    if result.count(Action.ADDON):
        extra.append(f"{result.count(Action.ADDON)} set by add-ons (left alone)")
    steps = [step for step, todo in (("config:set", result.to_set), ("config:unset", result.to_unset)) if todo]
    how = f": {_plural(len(steps), 'release')} ({', then '.join(steps)})" if steps else ""
    lines.append(f"{result.describe()}{how}" + (f"; {', '.join(extra)}" if extra else ""))
    return "\n".join(lines)


def plan_json(result: Plan, masker: Masker, *, reveal: bool = False) -> dict:
    return {
        "environment": result.label,
        "app": result.app,
        "source": result.source,
        "values_shown": reveal,
        "changes": result.changes,
        "to_set": sorted(result.to_set),
        "to_unset": result.to_unset,
        "vars": [
            {
                "key": e.key,
                "action": e.action.value,
                "sign": PLAN_SIGNS[e.action],
                "managed_by": e.managed_by,
                "current": masker.describe(e.current, reveal),
                "wanted": masker.describe(e.wanted, reveal),
            }
            for e in result.entries
        ],
    }


# -- apply ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Applied:
    app: str
    set_keys: tuple[str, ...]
    unset_keys: tuple[str, ...]
    #: Release versions made, in order (``None`` where the CLI did not say).
    versions: tuple[int | None, ...]


def apply(heroku, app: str, to_set: Mapping[str, str], to_unset: Sequence[str] = (), *,
          recover: str | Sequence[str] = (), verify: bool = True) -> Applied:
    """Set ``to_set`` in ONE ``config:set`` (one release), then remove ``to_unset`` in at most
    one ``config:unset``, then (``verify``) read the config back to check it is as planned.

    A failure raises :class:`ApplyFailed` saying, from the config read back, which keys
    were applied and which were not; ``recover`` are the commands offered to finish the job.
    No value ever appears in a message.
    """
    to_set = dict(to_set)
    to_unset = [key for key in to_unset if key not in to_set]
    secrets_ = list(to_set.values())
    versions: list[int | None] = []
    for key in [*to_set, *to_unset]:
        check_key(key)
    if to_set:
        try:
            versions.append(heroku.config_set(app, to_set))
        except CommandError as exc:
            raise _partial(heroku, app, to_set, to_unset, "config:set", exc, secrets_, recover) from None
    if to_unset:
        try:
            versions.append(heroku.config_unset(app, to_unset))
        except CommandError as exc:
            raise _partial(heroku, app, to_set, to_unset, "config:unset", exc, secrets_, recover) from None
    if verify and (to_set or to_unset):
        try:
            now = fetch(heroku, app)
        except CommandError as exc:
            raise ApplyFailed(
                f"the changes to {app} were sent, but reading its config back to check them failed: "
                f"{scrub(first_error_line(exc.stderr) or exc.message, secrets_)}",
                applied=[], not_applied=[],
                state=[f"{app}: probably {_changes(to_set, to_unset)} applied; not checked"],
                recover=[f"heroku-tools config.show ENV   # check {app}", *_as_list(recover)],
            ) from None
        wrong = [key for key, value in to_set.items() if now.get(key) != value]
        wrong += [key for key in to_unset if key in now]
        if wrong:
            done = [key for key in [*to_set, *to_unset] if key not in wrong]
            raise ApplyFailed(
                f"Heroku reported success, but {len(wrong)} of the changes to {app} are not there: {', '.join(wrong)}",
                applied=done, not_applied=wrong,
                state=_state_lines(app, done, wrong),
                recover=_as_list(recover),
            )
    return Applied(app, tuple(to_set), tuple(to_unset), tuple(versions))


def _changes(to_set: Mapping, to_unset: Sequence) -> str:
    parts = []
    if to_set:
        parts.append(f"set {', '.join(to_set)}")
    if to_unset:
        parts.append(f"remove {', '.join(to_unset)}")
    return " and ".join(parts)


def _as_list(value: str | Sequence[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _state_lines(app: str, applied: Sequence[str], not_applied: Sequence[str]) -> list[str]:
    lines = []
    lines.append(f"applied on {app}: {', '.join(applied)}" if applied else f"nothing was applied on {app}")
    if not_applied:
        lines.append(f"not applied: {', '.join(not_applied)}")
    return lines


def _partial(heroku, app, to_set, to_unset, step, exc: CommandError, secrets_, recover) -> ApplyFailed:
    reason = scrub(first_error_line(exc.stderr) or f"exit status {exc.exit_code}", secrets_)
    if isinstance(exc, (NotLoggedIn, AppNotFound)):
        reason = scrub(exc.message, secrets_)
    try:
        now = fetch(heroku, app)
    except CommandError as again:
        checked = scrub(first_error_line(again.stderr) or again.message, secrets_)
        return ApplyFailed(
            f"`heroku {step}` on {app} failed: {reason}",
            applied=[], not_applied=[],
            state=[f"unknown: reading {app}'s config back failed too ({checked})",
                   f"meant to {_changes(to_set, to_unset)}"],
            recover=[f"heroku config -a {app}   # see where it stands (shows values)", *_as_list(recover)],
        )
    applied = [key for key, value in to_set.items() if now.get(key) == value]
    if step == "config:unset":  # after a failed config:set, config:unset was never run
        applied += [key for key in to_unset if key not in now]
    not_applied = [key for key in to_set if key not in applied] + [key for key in to_unset if key not in applied]
    return ApplyFailed(
        f"`heroku {step}` on {app} failed: {reason}",
        applied=applied, not_applied=not_applied,
        state=_state_lines(app, applied, not_applied),
        recover=_as_list(recover),
    )


# -- pull ----------------------------------------------------------------------------


def write_private(path: Path | str, text: str, *, force: bool = False) -> Path:
    """Write ``text`` to ``path``, readable and writable by its owner only (0600) from the start.

    Without ``force`` an existing file is left alone (:class:`ConfigError`); with it the
    file is replaced atomically (a temporary 0600 file renamed over it).
    """
    path = Path(path)
    data = text.encode("utf-8")
    if not force:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            raise ConfigError(f"{path} exists: pass --force to replace it, or -o to write elsewhere") from None
        except OSError as exc:
            raise ConfigError(f"{path} cannot be written: {exc.strerror}") from None
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        return path
    directory = path.parent if str(path.parent) else Path(".")
    try:
        fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=directory)  # mode 0600
    except OSError as exc:
        raise ConfigError(f"{path} cannot be written: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return path


def pull_text(
    snapshot: Snapshot, *, include_addons: bool = False, now: datetime.datetime | None = None
) -> tuple[str, list[str]]:
    """The ``.env`` text of ``snapshot``'s vars, and the add-on vars left out (unless ``include_addons``)."""
    left_out = [] if include_addons else sorted(k for k in snapshot.values if snapshot.managed.get(k))
    values = {k: v for k, v in snapshot.values.items() if k not in left_out}
    when = (now or datetime.datetime.now(datetime.timezone.utc)).strftime("%Y-%m-%d %H:%M:%S %Z").strip()
    header = (
        f"Config vars of {snapshot.app} ({snapshot.name}), pulled by heroku-tools at {when}.\n"
        "Secrets: keep this file out of git."
    )
    if left_out:
        header += f"\nLeft out, set by add-ons: {', '.join(left_out)}"
    return render_dotenv(values, header), left_out


# -- what the tasks do, for a fabfile too ------------------------------------------------

Report = Callable[[str], None]


def stdout_paint(text: str, *styles: str) -> str:
    """Colour for text going to stdout (only on a terminal, and without ``NO_COLOR``)."""
    return output.paint(text, *styles, stream=sys.stdout)


def compare(settings: Settings, heroku, source: str, target: str, *, ignore: Iterable[str] = (),
            environ: Mapping[str, str] | None = None) -> ConfigDiff:
    """``config.diff``: the two sides (environments, ``@ENV`` or settings files), compared."""
    a, b = snapshots(settings, heroku, [source, target], environ=environ)
    return diff(a, b, ignore=(*settings.config_ignore, *ignore))


def _refuse_addon_vars(snapshot: Snapshot, keys: Iterable[str]) -> None:
    managed = {key: snapshot.managed[key] for key in keys if key in snapshot.managed}
    if managed:
        detail = ", ".join(f"{key} (set by {addon})" for key, addon in managed.items())
        raise ConfigError(
            f"{detail} {'is' if len(managed) == 1 else 'are'} managed by an add-on on {snapshot.app}: "
            "change it through the add-on; nothing was changed"
        )


def guard(settings: Settings, heroku, env: Environment, snapshot: Snapshot, action: str) -> None:
    """Refuse a change to an app whose database belongs to a protected environment (:mod:`~heroku_tools.protection`)."""
    for note in check_target(settings, env, lambda app: fetch(heroku, app), action=action, target_config=snapshot.values):
        output.warn(note)


def _confirm(env: Environment, action: str, confirm_app: str | None, always: bool, stream=None) -> None:
    if always or env.protected or confirm_app is not None:
        confirm(env.app_name, action, confirm_app=confirm_app, stdout=stream)


def set_vars(settings: Settings, heroku, label: str, values: Mapping[str, str], *, confirm_app: str | None = None,
             dry_run: bool = False, reveal: bool = False, report: Report = print,
             paint: Callable[..., str] = stdout_paint, masker: Masker | None = None) -> Applied | None:
    """``config.set``: show what changes, confirm on a protected environment, then ONE ``config:set``."""
    env = settings.environment(label)
    for key in values:
        check_key(key)
    masker = masker or Masker()
    (snapshot,) = snapshots(settings, heroku, [env.label])
    guard(settings, heroku, env, snapshot, f"set config vars on {env.label} ({env.app_name})")
    _refuse_addon_vars(snapshot, values)
    result = plan(snapshot, values, report_remote_only=False)
    report(render_plan(result, masker, reveal=reveal, paint=paint, heading=f"Setting on {env.label} ({env.app_name})"))
    if not result.changes:
        output.success(f"nothing to change: {env.app_name} already has these values")
        return None
    if dry_run:
        output.info("dry run: nothing was changed")
        return None
    _confirm(env, f"set {', '.join(result.to_set)} on {env.label} ({env.app_name})", confirm_app, always=False)
    applied = apply(heroku, env.app_name, result.to_set,
                    recover="run the same config.set again (it changes only what is still different)")
    output.success(f"{env.label} ({env.app_name}): set {', '.join(applied.set_keys)}{_versions(applied)}")
    return applied


def unset_vars(settings: Settings, heroku, label: str, keys: Sequence[str], *, confirm_app: str | None = None,
               dry_run: bool = False, reveal: bool = False, report: Report = print,
               paint: Callable[..., str] = stdout_paint, masker: Masker | None = None) -> Applied | None:
    """``config.unset``: show what goes, confirm on a protected environment, then ONE ``config:unset``."""
    env = settings.environment(label)
    if not keys:
        raise ConfigError("nothing to unset: give one or more KEY")
    for key in keys:
        check_key(key)
    masker = masker or Masker()
    (snapshot,) = snapshots(settings, heroku, [env.label])
    guard(settings, heroku, env, snapshot, f"remove config vars from {env.label} ({env.app_name})")
    _refuse_addon_vars(snapshot, keys)
    result = plan(snapshot, {}, list(dict.fromkeys(keys)), report_remote_only=False)
    heading = f"Removing from {env.label} ({env.app_name})"
    report(render_plan(result, masker, reveal=reveal, paint=paint, heading=heading))
    if not result.changes:
        output.success(f"nothing to change: {env.app_name} has none of {', '.join(keys)}")
        return None
    if dry_run:
        output.info("dry run: nothing was changed")
        return None
    _confirm(env, f"remove {', '.join(result.to_unset)} from {env.label} ({env.app_name})", confirm_app, always=False)
    applied = apply(heroku, env.app_name, {}, result.to_unset,
                    recover=f"heroku-tools config.unset {env.label} {' '.join(result.to_unset)}")
    output.success(f"{env.label} ({env.app_name}): removed {', '.join(applied.unset_keys)}{_versions(applied)}")
    return applied


def push(settings: Settings, heroku, label: str, *, confirm_app: str | None = None, dry_run: bool = False,
         reveal: bool = False, report: Report = print, paint: Callable[..., str] = stdout_paint,
         masker: Masker | None = None, environ: Mapping[str, str] | None = None,
         prompt_stream=None) -> tuple[Plan, Applied | None]:
    """``config.push``: make the app match the settings declared for ``label``.

    Declared settings are read and interpolated first (a missing ``${NAME}``
    stops it before Heroku is asked anything); the plan is shown; the code is
    asked for (or ``confirm_app`` checked); then one ``config:set`` and at most one
    ``config:unset``. Returns the plan and what was applied (``None``: nothing).
    """
    env = settings.environment(label)
    wanted = declared(settings, env, environ=environ)
    masker = masker or Masker()
    (snapshot,) = snapshots(settings, heroku, [env.label])
    guard(settings, heroku, env, snapshot, f"push config vars to {env.label} ({env.app_name})")
    result = plan_push(snapshot, wanted, ignore=settings.config_ignore)
    report(render_plan(result, masker, reveal=reveal, paint=paint))
    if not result.changes:
        output.success(f"{env.label} ({env.app_name}) already matches {wanted.source}: nothing to push")
        return result, None
    if dry_run:
        output.info("dry run: nothing was changed")
        return result, None
    changes = _plural(result.change_count, "config var change")
    _confirm(env, f"push {changes} to {env.label} ({env.app_name})", confirm_app, always=True, stream=prompt_stream)
    applied = apply(heroku, env.app_name, result.to_set, result.to_unset,
                    recover=f"heroku-tools config.push {env.label}   # safe to repeat: it applies only what is left")
    output.success(
        f"{env.label} ({env.app_name}) now matches {wanted.source}: {result.describe(done=True)}{_versions(applied)}"
    )
    return result, applied


def pull(settings: Settings, heroku, label: str, destination: str | Path = ".env", *, force: bool = False,
         include_addons: bool = False) -> tuple[Path | None, Snapshot, str, list[str]]:
    """``config.pull``: the app's vars as a ``.env`` file, mode 0600 (``-`` : the text is returned only).

    Vars set by add-ons (the app's databases) are left out unless
    ``include_addons``: a local ``.env`` holding live's ``DATABASE_URL`` points
    development at the live database.
    """
    env = settings.environment(label)
    path = None if str(destination) == "-" else Path(destination)
    if path is not None and path.exists() and not force:
        raise ConfigError(f"{path} exists: pass --force to replace it, or -o to write elsewhere; nothing was fetched")
    (snapshot,) = snapshots(settings, heroku, [env.label])
    text, left_out = pull_text(snapshot, include_addons=include_addons)
    if path is not None:
        write_private(path, text, force=force)
    return path, snapshot, text, left_out


def _versions(applied: Applied) -> str:
    versions = [f"v{v}" for v in applied.versions if v is not None]
    if not versions:
        return ""
    return f" ({'release' if len(versions) == 1 else 'releases'} {', '.join(versions)})"


def git_would_track(settings: Settings, path: Path) -> bool:
    """Whether ``path`` is in a git work tree and not ignored (a ``.env`` there is one ``git add .`` from leaking)."""
    from ..git import Git

    try:
        git = Git.from_settings(settings, cwd=path.resolve().parent)
        return git.execute(["check-ignore", "-q", "--", path.name], ok=(0, 1, 128)).exit_code == 1
    except HerokuToolsError:
        return False
