"""Every settings key checked and built into :mod:`~heroku_tools.settings.model` objects.

Validators take a raw value and return it checked (or converted), or raise
:class:`_Expected` saying what the key takes; :func:`_check` turns that into
one :class:`~heroku_tools.errors.SettingsError` naming the file, line and key.
A value that may be a secret (a webhook URL, a token) is never echoed.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from fnmatch import fnmatchcase
from pathlib import Path
from types import MappingProxyType
from typing import Any

from ..errors import SettingsError, did_you_mean
from . import variables
from .model import (APP_NAME, CONFIG_VAR_NAME, DEFAULT_OPTIONS, PERSONAL, Environment, Health, NotifyTarget, Route,
                    Settings)
from .yamlmarks import KeyPath, Origin, kind, shown

TOP_KEYS = ("environments", "commands", "options", "heroku", "git", "config_ignore", "data", "migrations", "routes",
            "health")
#: Keys of the ``migrations:`` block: migrations (``app.name``) whose verdict the project decides itself.
MIGRATION_KEYS = ("compatible", "locking", "incompatible", "unknown")
#: The ``migrations:`` block's other keys: how the migrate step runs.
MIGRATE_KEYS = ("lock_timeout", "lock_retries", "backup_before")
_DURATION = re.compile(r"^[1-9][0-9]*(ms|s|min)?$")
#: Keys of the ``data:`` block (restores down the chain; see :mod:`heroku_tools.backups`).
DATA_KEYS = ("rules", "secret", "canary", "post_restore")
BIN_KEYS = ("bin",)
#: Keys of a route written as a mapping (``release/*: {env: live, allow_protected: true}``).
ROUTE_KEYS = ("env", "allow_protected")
TAG_FIELDS = {"label": "live", "version": 1, "app_name": "my-app"}
_LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
#: A template of personal environments: one ``*`` where each person's name goes (``dev-*``).
_TEMPLATE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*\*[A-Za-z0-9_-]*$")


class Where:
    """Finds which origin a merged value came from: configuration wins over the file."""

    def __init__(self, file: Origin, invoke: Origin, over_data: dict):
        self.file, self.invoke, self.over = file, invoke, over_data

    def error(self, path: KeyPath, problem: str, at: KeyPath | None = None) -> SettingsError:
        return SettingsError(f"{self.describe(path, at)}: {problem}")

    def describe(self, path: KeyPath, at: KeyPath | None = None) -> str:
        node: Any = self.over
        for key in at or path:
            if not isinstance(node, dict) or key not in node:
                return self.file.describe(path, at)
            node = node[key]
        return self.invoke.describe(path, at)


def normalise(data: dict, origin: Origin) -> dict:
    """Check the top level and turn ``environments`` into an ordered mapping by label."""
    for key in data:
        if key not in TOP_KEYS:
            raise origin.error((), f"unknown key {key!r}{did_you_mean(key, TOP_KEYS)}", at=(key,))
    data = dict(data)
    if "environments" in data:
        data["environments"] = _environments_by_label(data["environments"], origin)
    return data


def _environments_by_label(raw, origin: Origin) -> dict:
    if isinstance(raw, dict):
        result = {}
        for label, env in raw.items():
            path = ("environments", label)
            if not isinstance(env, dict):
                raise origin.error(path, f"expected a mapping of environment settings, got {kind(env)}")
            if "label" in env and env["label"] != label:
                raise origin.error(path + ("label",), f"expected {label!r} (the key above it), got {env['label']!r}")
            result[label] = {**env, "label": label}
        return result
    if not isinstance(raw, list):
        raise origin.error(("environments",), f"expected a list of environments, got {kind(raw)}")
    result = {}
    for index, env in enumerate(raw):
        path = ("environments", index)
        if not isinstance(env, dict):
            raise origin.error(path, f"expected a mapping with label and app_name, got {kind(env)}")
        if "label" not in env:
            raise origin.error(path, "missing key 'label'")
        label = env["label"]
        if not isinstance(label, str) or not (_LABEL.match(label) or _TEMPLATE.match(label)):
            raise origin.error(path + ("label",), f"expected a name such as 'uat' (or 'dev-*', a template), got {label!r}")
        if label in result:
            first = origin.line(("environments", label))
            raise origin.error(path + ("label",), f"duplicate environment {label!r}" + (f" (first at line {first})" if first else ""))
        origin.rename(path, ("environments", label))
        result[label] = env
    return result


def build(data: dict, where: Where, source: Path | None) -> Settings:
    commands = _commands(data.get("commands"), where)
    options = _options(data.get("options"), commands, where)
    health = _health_keys(("health",), data.get("health"), where)
    environments = _build_environments(data.get("environments") or {}, where, health)
    tools = {}
    for tool in ("heroku", "git"):
        section = data.get(tool) or {}
        if not isinstance(section, dict):
            raise where.error((tool,), f"expected a mapping such as {{bin: {tool}}}, got {kind(section)}")
        for key in section:
            if key not in BIN_KEYS:
                raise where.error((tool,), f"unknown key {key!r}{did_you_mean(key, BIN_KEYS)}", at=(tool, key))
        tools[tool] = _check((tool, "bin"), section.get("bin"), _optional(_string), where)
    config_ignore = _check(("config_ignore",), data.get("config_ignore"), _optional(_patterns), where)
    data_block = _data_block(data.get("data"), where)
    migration_overrides, migrate = _migrations_block(data.get("migrations"), where)
    routes = _routes(data.get("routes"), environments, where)
    return Settings(
        environments=environments,
        commands=MappingProxyType(commands),
        options=options,
        heroku_bin=tools["heroku"],
        git_bin=tools["git"],
        source=source,
        config_ignore=config_ignore or (),
        data=data_block,
        migrations=migration_overrides,
        **migrate,
        routes=routes,
    )


def _data_block(raw, where: Where) -> Mapping[str, Any]:
    """Validate ``data:``: the rules themselves are checked by :mod:`heroku_tools.anonymise` on use."""
    if raw is None:
        return MappingProxyType({})
    if not isinstance(raw, dict):
        raise where.error(("data",), f"expected a mapping with {', '.join(DATA_KEYS)}, got {kind(raw)}")
    for key in raw:
        if key not in DATA_KEYS:
            raise where.error(("data",), f"unknown key {key!r}{did_you_mean(key, DATA_KEYS)}", at=("data", key))
    rules = raw.get("rules")
    if rules is not None and not isinstance(rules, (str, dict)):
        raise where.error(("data", "rules"), f"expected a mapping of tables, or a file path, got {kind(rules)}")
    checked = {
        "rules": rules,
        "secret": _check(("data", "secret"), raw.get("secret"), _optional(_string), where),
        "canary": _check(("data", "canary"), raw.get("canary"), _optional(_commands_list), where) or (),
        "post_restore": _check(("data", "post_restore"), raw.get("post_restore"), _optional(_commands_list), where) or (),
    }
    return MappingProxyType(checked)


def _migrations_block(raw, where: Where) -> tuple[Mapping[str, tuple[str, ...]], dict]:
    """``migrations:``: verdicts decided by the project (``compatible: [app.0007_x]``), and how migrate runs."""
    if raw is None:
        return MappingProxyType({}), {}
    if not isinstance(raw, dict):
        raise where.error(("migrations",), f"expected a mapping such as {{compatible: [app.0007_name]}}, got {kind(raw)}")
    overrides, migrate = {}, {}
    for key, value in raw.items():
        if key in MIGRATION_KEYS:
            overrides[key] = _check(("migrations", key), value, _migration_names, where)
        elif key in MIGRATE_KEYS:
            migrate[key] = _check(("migrations", key), value, _MIGRATE_CHECKS[key], where)
        else:
            names = (*MIGRATION_KEYS, *MIGRATE_KEYS)
            raise where.error(("migrations",), f"unknown key {key!r}{did_you_mean(key, names)}", at=("migrations", key))
    return MappingProxyType(overrides), migrate


def _commands(raw, where: Where) -> dict[str, str]:
    if not isinstance(raw, dict):
        raise where.error(("commands",), f"expected a mapping of name: command line, got {kind(raw)}")
    commands = {}
    for name, line in raw.items():
        if line is None:
            continue
        commands[str(name)] = _check(("commands", name), line, _string, where)
    return commands


def _options(raw, commands: dict, where: Where) -> Mapping[str, tuple[str, ...]]:
    if not isinstance(raw, dict):
        raise where.error(("options",), f"expected a mapping of command: file patterns, got {kind(raw)}")
    rules = {}
    for command, patterns in raw.items():
        path = ("options", command)
        if patterns is None:
            patterns = []
        if isinstance(patterns, str):
            patterns = [patterns]
        if not isinstance(patterns, list) or not all(isinstance(p, str) and p for p in patterns):
            raise where.error(path, f"expected a list of file patterns, got {patterns!r}")
        if command not in commands:
            if patterns == DEFAULT_OPTIONS.get(command):
                continue  # a default rule for a command the project removed
            raise where.error(path, f"no command named {command!r}{did_you_mean(command, commands)}")
        rules[str(command)] = tuple(patterns)
    return MappingProxyType(rules)


def _build_environments(raw: dict, where: Where, health: dict) -> tuple[Environment, ...]:
    if not raw:
        raise where.error(("environments",), "expected at least one environment")
    templates = [label for label in raw if "*" in label]
    if len(templates) > 1:
        raise where.error(("environments", templates[1], "label"),
                          f"one template of personal environments at most; {templates[0]!r} is one already")
    databases = [label for label, env in raw.items() if "database_url" in env]
    labels = [label for label in raw if "*" not in label and label not in databases]
    envs = []
    apps: dict[str, str] = {}
    for label, env in raw.items():
        base = ("environments", label)
        if label in databases:
            envs.append(Environment(**_database_values(base, env, where)))
            continue
        if databases and list(raw).index(databases[0]) < list(raw).index(label):
            raise where.error(("environments", databases[0]), f"a database environment ({databases[0]}) is the lowest: "
                              f"list it after every app environment ({label} comes after it)")
        if label in templates:
            envs.append(Environment(**_template_values(base, env, where), health=_health(health, base, env, where)))
            continue
        values = {**_environment_values(base, env, where), "health": _health(health, base, env, where)}
        _check_own_app(base, values["app_name"], label, apps, where)
        position = labels.index(label)
        values.setdefault("upstream", labels[position + 1] if position + 1 < len(labels) else None)
        _check_chain(base, values, labels, where, databases)
        if values.get("protected") is None:
            values["protected"] = label == "live"
        envs.append(Environment(**values))
    return tuple(envs)


def _template_values(base: KeyPath, env: dict, where: Where) -> dict:
    """A template's keys (``label: dev-*``, ``app_name: my-app-dev-*``): an environment's, minus what a person's
    scratch app never has — protection, promotion, a place in the chain."""
    for key in ("protected", "pipeline", "upstream"):
        if env.get(key):
            raise where.error(base + (key,), f"a personal environment ({base[-1]}) {TEMPLATE_NEVER[key]}")
    values = _environment_values(base, {key: value for key, value in env.items() if key != "app_name"},
                                 where, required=("label",))
    if env.get("app_name") is None:
        raise where.error(base, "missing key 'app_name' (with a * where each person's name goes: my-app-dev-*)")
    values["app_name"] = _check(base + ("app_name",), env["app_name"], _template_app, where)
    return {**values, "protected": False, "pipeline": False, "upstream": None}


#: Why a template refuses a key: what a personal environment never is.
TEMPLATE_NEVER = {
    "protected": "is never protected: it is one person's scratch app",
    "pipeline": "is deployed by push, never by promotion",
    "upstream": "takes no upstream: it deploys any branch, and is never promoted to",
}


def _environment_values(base: KeyPath, env: dict, where: Where, required=("label", "app_name")) -> dict:
    """Every key of one environment checked, as :class:`Environment`'s keyword arguments."""
    for key in env:
        if key not in ENVIRONMENT_KEY_NAMES:
            raise where.error(base, f"unknown key {key!r}{did_you_mean(key, ENVIRONMENT_KEY_NAMES)}", at=base + (key,))
    for key in required:
        if env.get(key) is None:
            hint = " (or database_url, for a database environment)" if key == "app_name" else ""
            raise where.error(base, f"missing key {key!r}{hint}")
    checks = {**ENVIRONMENT_KEYS, "label": _template_label} if "*" in str(env.get("label")) else ENVIRONMENT_KEYS
    values = {key: _check(base + (key,), env[key], checks[key], where) for key in env if key not in ("notify", "health")}
    if env.get("notify") is not None:
        values["notify"] = _notify_targets(base + ("notify",), env["notify"], where)
    declared = values.pop("settings", None)
    if isinstance(declared, Mapping):
        check_config_vars(base + ("settings",), declared, where.error)
    if declared is not None:
        values["config_vars"] = declared
    for key in ("config_ignore", "maintenance_scale_down"):  # null: the default (none)
        if values.get(key) is None:
            values.pop(key, None)
    return values


#: The keys of a database environment (``database_url:``): a developer's own database, the lowest target of a restore.
DATABASE_KEYS = ("label", "database_url", "remote_host", "protected")


def _database_values(base: KeyPath, env: dict, where: Where) -> dict:
    """A database environment's keys, as :class:`Environment`'s keyword arguments.

    Any key only an app has is refused by name (a ``branch`` here would mean
    the file confuses this environment with an app), and so is ``protected:
    true``: a database environment is only ever a restore's lowest target.
    """
    if "*" in base[-1]:
        raise where.error(base + ("database_url",), f"a template of personal environments ({base[-1]}) is a Heroku "
                          "app (app_name), never a database")
    for key in env:
        if key == "app_name":
            raise where.error(base + (key,), "an environment is a Heroku app (app_name) or a database (database_url), "
                              "not both")
        if key in ENVIRONMENT_KEY_NAMES and key not in DATABASE_KEYS:
            raise where.error(base + (key,), f"{base[-1]} is a database (database_url), not a Heroku app: "
                              f"{key!r} only makes sense for an app")
        if key not in DATABASE_KEYS:
            raise where.error(base, f"unknown key {key!r}{did_you_mean(key, DATABASE_KEYS)}", at=base + (key,))
    if _check(base + ("protected",), env.get("protected"), _optional(_bool), where):
        raise where.error(base + ("protected",), f"a database environment ({base[-1]}) is never protected: it is "
                          "only ever the lowest target of a restore, and never a source")
    return {
        "label": _check(base + ("label",), env["label"], _label, where),
        "app_name": "",
        "database_url": _check_secret(base + ("database_url",), env["database_url"], _database_url, where),
        "remote_host": _check(base + ("remote_host",), env.get("remote_host", False), _bool, where),
        "protected": False,
        "push_tags": False,
    }


def _check_own_app(base: KeyPath, app: str, label: str, apps: dict[str, str], where: Where) -> None:
    """Protection belongs to the app: a second label for it would bypass the first one's rules."""
    if app in apps:
        raise where.error(base + ("app_name",), f"{app!r} is already the app of environment {apps[app]!r}: "
                          "each environment needs its own app (a second label would bypass its protection)")
    apps[app] = label


def _check_chain(base: KeyPath, values: dict, labels: list[str], where: Where, databases: list[str]) -> None:
    """The environment's place in the chain: a known upstream, and a way to get code (branch or pipeline)."""
    upstream = values["upstream"]
    if upstream is not None:
        if upstream in databases:
            raise where.error(base + ("upstream",), f"{upstream} is a database environment: never an upstream "
                              "(code comes from an app or a branch)")
        if upstream not in labels:
            raise where.error(base + ("upstream",), f"unknown environment {upstream!r}{did_you_mean(upstream, labels)}"
                              + (" (a template of personal environments is never an upstream)" if "*" in upstream else ""))
        if upstream == base[-1]:
            raise where.error(base + ("upstream",), "an environment cannot be its own upstream")
    if values.get("pipeline") and upstream is None:
        raise where.error(base + ("pipeline",), "a pipeline environment needs an upstream to promote from")
    if not values.get("pipeline") and values.get("branch") is None:
        raise where.error(base, "missing key 'branch' (the git branch deployed here)")


# Validators: return the value, or raise _Expected("what was expected").


class _Expected(Exception):
    """A value is not what its settings key takes; the message says what it takes."""


def _string(value):
    if not isinstance(value, str) or not value.strip():
        raise _Expected("a non-empty string")
    return value


def _bool(value):
    if not isinstance(value, bool):
        raise _Expected("true or false")
    return value


def _optional(check: Callable) -> Callable:
    def optional(value):
        if value is None:
            return None
        try:
            return check(value)
        except _Expected as exc:
            raise _Expected(f"{exc} (or null)") from None

    return optional


def _app_name(value):
    if not isinstance(value, str) or not APP_NAME.match(value):
        raise _Expected("a Heroku app name (3-30 lowercase letters, digits and dashes, starting with a letter)")
    return value


def _template_app(value):
    """``my-app-dev-*``: an app name with one ``*`` where each person's name goes."""
    if not isinstance(value, str) or value.count("*") != 1 or not APP_NAME.match(value.replace("*", "name")):
        raise _Expected("an app name with one * where each person's name goes, such as my-app-dev-*")
    return value


def _template_label(value):
    if not isinstance(value, str) or not _TEMPLATE.match(value):
        raise _Expected("a template label with one *, such as 'dev-*'")
    return value


def _label(value):
    if not isinstance(value, str) or not _LABEL.match(value):
        raise _Expected("a name such as 'uat' (letters, digits, '-' and '_')")
    return value


def _tag_format(value):
    _string(value)
    try:
        value.format(**TAG_FIELDS)
    except (KeyError, IndexError, ValueError):
        raise _Expected("a tag format using only {label}, {version} and {app_name}") from None
    return value


def _settings_value(value):
    if isinstance(value, str) and value.strip():
        return value
    if isinstance(value, dict):
        return MappingProxyType(dict(value))
    raise _Expected("a mapping of config vars to values, or the path of a file holding them")


def check_config_vars(path: KeyPath, values: Mapping, error: Callable[..., SettingsError]) -> None:
    """Each declared config var: a usable name, and a plain value (``null``: remove it).

    Values are never quoted in the message: they may be secrets.
    """
    for key, value in values.items():
        if not isinstance(key, str) or not CONFIG_VAR_NAME.match(key):
            raise error(path, f"{key!r} is not a usable config var name (no '=' or spaces, not starting with '-')",
                        at=path + (key,))
        if not isinstance(value, (str, int, float, bool, type(None))):
            kind = "a mapping" if isinstance(value, dict) else "a list" if isinstance(value, list) else type(value).__name__
            raise error(path + (key,), f"expected a string, a number, true/false, or null (to remove it), got {kind}")


def _strings(expected: str) -> Callable:
    """A validator for a string or a list of non-blank strings (given as a tuple)."""
    def strings(value):
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(item, str) and item.strip() for item in value):
            raise _Expected(expected)
        return tuple(value)

    return strings


_patterns = _strings("a list of config var name patterns such as ['SENTRY_RELEASE', 'NEW_RELIC_*']")
_commands_list = _strings("a string or a list of strings")
_process_types = _strings("a list of process types such as [worker, clock]")


def _migration_names(value):
    names = _strings("a list of migrations such as [customers.0007_phone]")(value)
    for name in names:
        if name.count(".") != 1 or not all(name.split(".")):
            raise _Expected(f"migrations named app.name, such as customers.0007_phone (not {name!r})")
    return names


def _lock_timeout(value):
    text = str(value)
    if isinstance(value, bool) or not _DURATION.match(text):
        raise _Expected("a duration PostgreSQL takes, such as 5s, 500ms or 1min")
    return text


def _lock_retries(value):
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 10:
        raise _Expected("a number of retries from 0 to 10")
    return value


def _backup_before(value):
    if value not in ("incompatible", "always", "never"):
        raise _Expected("incompatible (before incompatible or unknown migrations), always or never")
    return value


_MIGRATE_CHECKS = {"lock_timeout": _lock_timeout, "lock_retries": _lock_retries, "backup_before": _backup_before}


def _maintenance_from(value):
    if value not in ("build", "push"):
        raise _Expected("build (the page goes up once the build is done) or push (before the push)")
    return value


def _data(value):
    if not isinstance(value, dict):
        raise _Expected("a mapping of data rules")
    return MappingProxyType(dict(value))


def _routes(raw, environments: tuple[Environment, ...], where: Where) -> tuple[Route, ...]:
    """``routes: {master: uat, dev: dev, "feature/*": personal}``: each branch (or pattern) to a known environment."""
    if raw is None:
        return ()
    if not isinstance(raw, dict):
        raise where.error(("routes",), "expected a mapping of branch: environment, such as "
                          f"{{master: uat, 'feature/*': {PERSONAL}}}, got {kind(raw)}")
    return tuple(_route(("routes", branch), branch, target, environments, where) for branch, target in raw.items())


def _route(path: KeyPath, branch, target, environments: tuple[Environment, ...], where: Where) -> Route:
    if not isinstance(branch, str) or not branch.strip():
        raise where.error(path, f"expected a branch name or pattern (such as 'feature/*'), got {shown(branch)}")
    allow = False
    if isinstance(target, dict):
        for key in target:
            if key not in ROUTE_KEYS:
                raise where.error(path, f"unknown key {key!r}{did_you_mean(key, ROUTE_KEYS)}", at=path + (key,))
        allow = _check(path + ("allow_protected",), target.get("allow_protected", False), _bool, where)
        target = target.get("env")
    if not isinstance(target, str):
        raise where.error(path, f"expected an environment label, or {{env: LABEL, allow_protected: true}}, got {shown(target)}")
    template = next((env for env in environments if env.is_template), None)
    if target == PERSONAL or "*" in target:
        if template is None or target not in (PERSONAL, template.label):
            raise where.error(path, f"{target!r} names a personal environment, but no environment is its template "
                              "(label: dev-*, app_name: my-app-dev-*)")
        return Route(branch, PERSONAL, allow)
    labels = [env.label for env in environments if not env.is_template and not env.is_database]
    if target in [env.label for env in environments if env.is_database]:
        raise where.error(path, f"{target} is a database environment, not a Heroku app: no branch deploys to it")
    if target not in labels:
        known = ", ".join(labels + [PERSONAL] * (template is not None))
        raise where.error(path, f"unknown environment {target!r}{did_you_mean(target, labels)} (known: {known})")
    env = environments[[other.label for other in environments].index(target)]
    if allow and env.protected and env.branch and not fnmatchcase(env.branch, branch):
        # A protected environment deploys from its own branch only: this route could never be taken.
        raise where.error(path, f"allows {target}, but {target} is protected and deploys only from {env.branch}: "
                          f"a route to it must be for {env.branch}")
    return Route(branch, target, allow)


def _health(top: dict, base: KeyPath, env: dict, where: Where) -> Health:
    """The environment's health check: the top-level ``health:`` keys with its own over them."""
    return Health(**{**top, **_health_keys(base + ("health",), env.get("health"), where)})


def _health_keys(path: KeyPath, raw, where: Where) -> dict:
    """One ``health:`` block checked, as :class:`Health`'s keyword arguments (only the keys written)."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise where.error(path, f"expected a mapping such as {{path: /health/, timeout: 60}}, got {kind(raw)}")
    values = {}
    for key, value in raw.items():
        if key not in HEALTH_CHECKS:
            raise where.error(path, f"unknown key {key!r}{did_you_mean(key, HEALTH_CHECKS)}", at=path + (key,))
        values[HEALTH_FIELDS.get(key, key)] = _check(path + (key,), value, HEALTH_CHECKS[key], where)
    if "paths" in values:
        values["path_set"] = True
    return values


def _paths(value):
    paths = _strings("a path such as /health/, or a list of them")(value)
    if not all(path.startswith("/") for path in paths):
        raise _Expected("paths starting with /, such as /health/")
    return paths


def _statuses(value):
    statuses = value if isinstance(value, list) else [value]
    if not statuses or not all(isinstance(s, int) and not isinstance(s, bool) and 100 <= s <= 599 for s in statuses):
        raise _Expected("an HTTP status such as 200, or a list of them")
    return tuple(statuses)


def _seconds(most: float) -> Callable:
    def seconds(value):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= most:
            raise _Expected(f"a number of seconds above 0, at most {most:g}")
        return float(value)

    return seconds


def _successes(value):
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 100:
        raise _Expected("a number of answers in a row from 1 to 100")
    return value


def _release_text(value):
    _string(value)
    if "{version}" not in value:
        raise _Expected("text with {version} where the release version goes, such as 'release v{version}'")
    try:
        value.format(version=1)
    except (KeyError, IndexError, ValueError):
        raise _Expected("text using only {version}, such as 'release v{version}'") from None
    return value


#: Each ``health:`` key's validator; ``path`` fills :attr:`Health.paths`.
HEALTH_CHECKS: dict[str, Callable] = {
    "enabled": _bool,
    "path": _paths,
    "status": _statuses,
    "timeout": _seconds(3600),
    "successes": _successes,
    "interval": _seconds(600),
    "release_header": _string,
    "release_text": _release_text,
    "rollback": _bool,
}
HEALTH_FIELDS = {"path": "paths"}


NOTIFY_KINDS = ("slack", "webhook")
NOTIFY_KEYS = (*NOTIFY_KINDS, "headers")


def _notify_targets(path: KeyPath, raw, where: Where) -> tuple[NotifyTarget, ...]:
    """``notify: [{slack: URL}, {webhook: URL, headers: {...}}]``, each checked where it was written."""
    if not isinstance(raw, list):
        example = "[{slack: '${SLACK_WEBHOOK_URL}'}]"
        raise where.error(path, f"expected a list of targets such as {example}, got {kind(raw)}")
    return tuple(_notify_target(path + (index,), entry, where) for index, entry in enumerate(raw))


def _notify_target(at: KeyPath, entry, where: Where) -> NotifyTarget:
    if not isinstance(entry, dict):
        raise where.error(at, f"expected a mapping such as {{webhook: URL}}, got {kind(entry)}")
    for key in entry:
        if key not in NOTIFY_KEYS:
            raise where.error(at, f"unknown key {key!r}{did_you_mean(key, NOTIFY_KEYS)}", at=at + (key,))
    kinds = [name for name in NOTIFY_KINDS if name in entry]
    if len(kinds) != 1:
        raise where.error(at, "expected exactly one of 'slack' or 'webhook' (the URL to post to)")
    target_kind = kinds[0]
    url = _check_secret(at + (target_kind,), entry[target_kind], _notify_url, where)
    headers = entry.get("headers") or {}
    if headers and target_kind != "webhook":
        raise where.error(at + ("headers",), "headers are sent to a 'webhook' target only")
    if not isinstance(headers, dict) or not all(isinstance(v, str) for v in (*headers, *headers.values())):
        raise where.error(at + ("headers",), "expected a mapping of header names to strings")
    for name, value in headers.items():
        _check_secret(at + ("headers", name), value, _variables, where)
    return NotifyTarget(target_kind, url, MappingProxyType(dict(headers)), where.describe(at))


def _check_secret(path: KeyPath, value, check: Callable, where: Where):
    """:func:`_check` for a value that may be a secret (a webhook URL, a token): never echoed."""
    try:
        return check(value)
    except _Expected as exc:
        raise where.error(path, f"expected {exc} (the value is not shown: it may be a secret)") from None


def _variables(value):
    """A string whose ``${NAME}`` references are well formed (they are expanded when used)."""
    _string(value)
    try:
        return variables.check(value)
    except variables.MalformedReference as error:
        raise _Expected(f"${{NAME}} or ${{NAME:-default}} references ({error.message.split(': ', 1)[-1]})") from None


def _database_url(value):
    """``postgres:///acme_dev``, ``postgresql://me@localhost:5433/acme``, or ``${VAR}`` holding one."""
    _variables(value)
    if not variables.starts_with_reference(value) and not value.startswith(("postgres://", "postgresql://")):
        raise _Expected("a postgres:// URL (postgres:///my_app_dev for a local socket), or ${VARIABLE} naming an "
                        "environment variable that holds one")
    return value


def _notify_url(value):
    _variables(value)
    if not variables.starts_with_reference(value) and not value.startswith(("https://", "http://")):
        raise _Expected("an http(s) URL, or ${VARIABLE} naming an environment variable that holds one")
    return value


ENVIRONMENT_KEYS: dict[str, Callable] = {
    "label": _label,
    "app_name": _app_name,
    "branch": _optional(_string),
    "pipeline": _bool,
    "upstream": _optional(_label),
    "protected": _optional(_bool),
    "tag_format": _tag_format,
    "push_tags": _bool,
    "preboot": _optional(_bool),
    "settings": _optional(_settings_value),
    "config_ignore": _optional(_patterns),
    "data": _optional(_data),
    "remote": _string,
    "maintenance_from": _maintenance_from,
    "maintenance_scale_down": _optional(_process_types),
}
#: Every key an environment takes: ``notify`` is a list checked target by target (:func:`_notify_targets`),
#: ``health`` a block over the top-level one (:func:`_health`).
ENVIRONMENT_KEY_NAMES = (*ENVIRONMENT_KEYS, "notify", "health")


def _check(path: KeyPath, value, check: Callable, where: Where):
    try:
        return check(value)
    except _Expected as exc:
        raise where.error(path, f"expected {exc}, got {shown(value)}") from None
