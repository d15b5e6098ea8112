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
"""
from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from .errors import SettingsError, UnknownEnvironment, did_you_mean

FILENAME = "heroku-tools.yml"
ENV_VAR = "HEROKU_TOOLS_CONFIG"
#: Invoke configuration namespace (``c.config.heroku_tools``).
NAMESPACE = "heroku_tools"

#: Django's post-push commands; a project's ``commands`` add to or replace these
#: (``name: null`` removes one).
DEFAULT_COMMANDS = {
    "migrate": "python manage.py migrate --noinput",
    "collectstatic": "python manage.py collectstatic --noinput",
    "loaddata": "python manage.py loaddata",
    "syncdb": "python manage.py migrate --run-syncdb --noinput",
}

#: Which changed files call for which command (globs, ``**`` spans directories;
#: matched by :func:`heroku_tools.options.infer_options`).
DEFAULT_OPTIONS = {
    "migrate": ["**/migrations/*.py"],
    "collectstatic": ["**/static/**"],
    "loaddata": ["**/fixtures/**"],
}

DEFAULT_TAG_FORMAT = "{label}/v{version}"
TAG_FIELDS = {"label": "live", "version": 1, "app_name": "my-app"}

TOP_KEYS = ("environments", "commands", "options", "heroku", "git", "config_ignore", "data")
#: Keys of the ``data:`` block (restores down the chain; see :mod:`heroku_tools.backups`).
DATA_KEYS = ("rules", "secret", "canary", "post_restore")
BIN_KEYS = ("bin",)
_APP_NAME = re.compile(r"^[a-z][a-z0-9-]{2,29}$")
_LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
#: A config var name Heroku and the CLI take: no ``=`` or white space, not starting with ``-``.
CONFIG_VAR_NAME = re.compile(r"^[^-=\s][^=\s]*\Z")

KeyPath = tuple  # a key path into the settings, e.g. ("environments", "uat", "branch")


# -- typed settings ------------------------------------------------------------


@dataclass(frozen=True)
class NotifyTarget:
    """One ``notify`` entry of an environment, as written: ``${VAR}`` not yet expanded.

    Expansion waits until the environment is deployed to (:func:`heroku_tools.notify.resolve`),
    so a variable only live's notifications need does not stop anyone deploying dev.
    """

    #: ``slack`` (a Slack-compatible incoming webhook) or ``webhook`` (the JSON payload).
    kind: str
    url: str
    headers: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    #: Where it was written (``heroku-tools.yml, line 12: environments.live.notify[0]``), for errors.
    origin: str = ""


@dataclass(frozen=True)
class Environment:
    """One Heroku app in the dev → uat → live chain."""

    label: str
    app_name: str
    branch: str | None = None
    #: Deploy by promoting the upstream environment's slug instead of pushing.
    pipeline: bool = False
    #: Label of the environment code comes from (the next one down the list).
    upstream: str | None = None
    #: Destructive operations (data restores, forced pushes) are refused or confirmed.
    protected: bool = False
    tag_format: str = DEFAULT_TAG_FORMAT
    push_tags: bool = True
    #: ``None``: ask Heroku whether the app has preboot enabled.
    preboot: bool | None = None
    #: Config vars for the app: a mapping (``null`` declares a removal), or the path of a
    #: file holding them (see :mod:`heroku_tools.configvars`).
    settings: Mapping[str, Any] | str | None = None
    #: Config var name patterns (``fnmatch``) ``config.diff`` does not compare for this app.
    config_ignore: tuple[str, ...] = ()
    #: Data rules (anonymisation, restores), kept raw for the data tasks.
    data: Mapping[str, Any] | None = None
    #: The git remote code is fetched from and tags pushed to.
    remote: str = "origin"
    #: Where deployments, promotions and rollbacks are announced (see :mod:`heroku_tools.notify`).
    notify: tuple[NotifyTarget, ...] = ()

    def tag(self, version: int) -> str:
        """The git tag recording release ``version`` of this environment."""
        return self.tag_format.format(label=self.label, version=version, app_name=self.app_name)


@dataclass(frozen=True)
class Settings:
    environments: tuple[Environment, ...]
    #: Named post-push commands, in definition order.
    commands: Mapping[str, str]
    #: Which changed files call for which command: ``{"migrate": ("**/migrations/*.py",)}``
    #: (see :func:`heroku_tools.options.infer_options`); an empty tuple disables a default rule.
    options: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))
    heroku_bin: str | None = None
    git_bin: str | None = None
    #: The settings file, if one was read.
    source: Path | None = None
    #: Config var name patterns (``fnmatch``) ``config.diff`` never compares, for every app.
    config_ignore: tuple[str, ...] = ()
    #: The ``data:`` block: anonymisation ``rules`` (a mapping, or a file path), ``secret``
    #: (``${VAR}`` expanded when a restore runs), ``canary`` values and ``post_restore`` commands.
    data: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def labels(self) -> list[str]:
        return [env.label for env in self.environments]

    @property
    def root(self) -> Path:
        """The project root: relative paths in the settings are relative to it."""
        return self.source.parent if self.source else Path.cwd()

    def environment(self, label: str) -> Environment:
        """The environment called ``label``; a clear error (with a suggestion) otherwise.

        Use it for every environment name taken from the command line: Invoke
        can hand a flag such as ``--help`` over as a positional value (invoke#982).
        """
        for env in self.environments:
            if env.label == label:
                return env
        known = ", ".join(self.labels)
        if str(label).startswith("-"):
            raise UnknownEnvironment(
                f"expected an environment ({known}), got the flag {label!r}: give the environment first"
            )
        raise UnknownEnvironment(f"unknown environment {label!r}{did_you_mean(label, self.labels)} (known: {known})")

    def upstream_of(self, env: Environment | str) -> Environment | None:
        """The environment ``env`` takes its code from, if any."""
        env = self.environment(env) if isinstance(env, str) else env
        return self.environment(env.upstream) if env.upstream else None

    def downstream_of(self, env: Environment | str) -> list[Environment]:
        """The environments that take their code from ``env`` (``promote env`` reaches them)."""
        label = env if isinstance(env, str) else env.label
        self.environment(label)
        return [other for other in self.environments if other.upstream == label]


# -- loading -------------------------------------------------------------------


def from_context(c) -> Settings:
    """The settings for an Invoke/Fabric context: the file, overridden by ``c.config.heroku_tools``."""
    overrides = _plain(c.config.get(NAMESPACE) or {})
    if not isinstance(overrides, dict):
        raise SettingsError(f"invoke configuration: {NAMESPACE}: expected a mapping, got {_kind(overrides)}")
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
    text = source.read_text(encoding="utf-8") if source else ""
    return parse(text, source=source, overrides=overrides)


def parse(text: str, *, source: Path | str | None = None, overrides: Mapping[str, Any] | None = None) -> Settings:
    """Validate settings given as YAML ``text`` (from ``source``) plus ``overrides``."""
    source = Path(source) if source else None
    display = _display(source) if source else FILENAME
    data, marks = _compose(text, display)
    file = _Origin(display, marks)
    invoke = _Origin("invoke configuration", None)
    if not isinstance(data, dict):
        raise file.error((), f"expected a mapping of settings, got {_kind(data)}")
    file_data = _normalise(data, file)
    over_data = _normalise(dict(overrides or {}), invoke)
    defaults = {"commands": dict(DEFAULT_COMMANDS), "options": dict(DEFAULT_OPTIONS)}
    merged = _merge(_merge(defaults, file_data), over_data)
    if isinstance(merged["commands"], dict):
        # The project's own order first: it is the order the commands run in.
        order = [*_keys(over_data.get("commands")), *_keys(file_data.get("commands")), *DEFAULT_COMMANDS]
        merged["commands"] = {name: merged["commands"][name] for name in dict.fromkeys(order)}
    where = _Where(file, invoke, over_data)
    return _build(merged, where, source)


# -- YAML with line numbers ----------------------------------------------------


def _compose(text: str, display: str) -> tuple[Any, dict]:
    """Parse YAML keeping the line of every key and list item, for error messages."""
    loader = yaml.SafeLoader(text)
    marks: dict[KeyPath, int] = {}
    try:
        node = loader.get_single_node()
        data = _construct(loader, node, (), marks, display) if node is not None else {}
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f", line {mark.line + 1}" if mark else ""
        problem = " ".join(filter(None, [exc.context, exc.problem]))
        raise SettingsError(f"{display}{line}: invalid YAML: {problem}") from None
    except yaml.YAMLError as exc:
        raise SettingsError(f"{display}: invalid YAML: {exc}") from None
    finally:
        loader.dispose()
    return data, marks


def _construct(loader, node, path: KeyPath, marks: dict, display: str):
    marks.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)
        result: dict = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if not isinstance(key, (str, int, float, bool)) or key is None:
                raise SettingsError(f"{display}, line {line}: {_dotted(path) or 'settings'}: keys must be plain names")
            if key in result:
                raise SettingsError(
                    f"{display}, line {line}: {_dotted(path + (key,))}: duplicate key "
                    f"(first at line {marks[path + (key,)]})"
                )
            marks[path + (key,)] = line
            result[key] = _construct(loader, value_node, path + (key,), marks, display)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_construct(loader, item, path + (i,), marks, display) for i, item in enumerate(node.value)]
    return loader.construct_object(node, deep=True)


# -- validation ----------------------------------------------------------------


class _Origin:
    """Where a piece of raw settings came from: a file with line marks, or Invoke's configuration."""

    def __init__(self, name: str, marks: dict | None):
        self.name, self.marks = name, marks

    def line(self, path: KeyPath) -> int | None:
        """The line of ``path``, or of its nearest ancestor that has one."""
        for end in range(len(path), -1, -1):
            if self.marks and path[:end] in self.marks:
                return self.marks[path[:end]]
        return None

    def locate(self, path: KeyPath) -> str:
        if self.marks is None:
            return f"{self.name} ({_dotted((NAMESPACE, *path))})"
        line = self.line(path)
        return f"{self.name}, line {line}" if line else self.name

    def error(self, path: KeyPath, problem: str, at: KeyPath | None = None) -> SettingsError:
        """``problem`` with ``path``, located at the line of ``at`` (default: ``path``)."""
        return SettingsError(f"{self.describe(path, at)}: {problem}")

    def describe(self, path: KeyPath, at: KeyPath | None = None) -> str:
        """Where ``path`` is: ``heroku-tools.yml, line 12: environments.live.notify[0]``."""
        if self.marks is None:
            return self.locate(path)
        key = _dotted(path)
        return f"{self.locate(at or path)}{': ' + key if key else ''}"

    def rename(self, old: KeyPath, new: KeyPath) -> None:
        """Re-key the marks under ``old`` (a list item) to ``new`` (its label)."""
        if self.marks is None:
            return
        for path in [p for p in self.marks if p[: len(old)] == old]:
            self.marks[new + path[len(old):]] = self.marks.pop(path)


class _Where:
    """Finds which origin a merged value came from: configuration wins over the file."""

    def __init__(self, file: _Origin, invoke: _Origin, over_data: dict):
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


def _normalise(data: dict, origin: _Origin) -> dict:
    """Check the top level and turn ``environments`` into an ordered mapping by label."""
    for key in data:
        if key not in TOP_KEYS:
            raise origin.error((), f"unknown key {key!r}{did_you_mean(key, TOP_KEYS)}", at=(key,))
    data = dict(data)
    if "environments" in data:
        data["environments"] = _environments_by_label(data["environments"], origin)
    return data


def _environments_by_label(raw, origin: _Origin) -> dict:
    if isinstance(raw, dict):
        result = {}
        for label, env in raw.items():
            path = ("environments", label)
            if not isinstance(env, dict):
                raise origin.error(path, f"expected a mapping of environment settings, got {_kind(env)}")
            if "label" in env and env["label"] != label:
                raise origin.error(path + ("label",), f"expected {label!r} (the key above it), got {env['label']!r}")
            result[label] = {**env, "label": label}
        return result
    if not isinstance(raw, list):
        raise origin.error(("environments",), f"expected a list of environments, got {_kind(raw)}")
    result = {}
    for index, env in enumerate(raw):
        path = ("environments", index)
        if not isinstance(env, dict):
            raise origin.error(path, f"expected a mapping with label and app_name, got {_kind(env)}")
        if "label" not in env:
            raise origin.error(path, "missing key 'label'")
        label = env["label"]
        if not isinstance(label, str) or not _LABEL.match(label):
            raise origin.error(path + ("label",), f"expected a name such as 'uat', got {label!r}")
        if label in result:
            first = origin.line(("environments", label))
            raise origin.error(path + ("label",), f"duplicate environment {label!r}" + (f" (first at line {first})" if first else ""))
        origin.rename(path, ("environments", label))
        result[label] = env
    return result


def _build(data: dict, where: _Where, source: Path | None) -> Settings:
    commands = _commands(data.get("commands"), where)
    options = _options(data.get("options"), commands, where)
    environments = _build_environments(data.get("environments") or {}, where)
    tools = {}
    for tool in ("heroku", "git"):
        section = data.get(tool) or {}
        if not isinstance(section, dict):
            raise where.error((tool,), f"expected a mapping such as {{bin: {tool}}}, got {_kind(section)}")
        for key in section:
            if key not in BIN_KEYS:
                raise where.error((tool,), f"unknown key {key!r}{did_you_mean(key, BIN_KEYS)}", at=(tool, key))
        tools[tool] = _check((tool, "bin"), section.get("bin"), _optional(_string), where)
    config_ignore = _check(("config_ignore",), data.get("config_ignore"), _optional(_patterns), where)
    data_block = _data_block(data.get("data"), where)
    return Settings(
        environments=environments,
        commands=MappingProxyType(commands),
        options=options,
        heroku_bin=tools["heroku"],
        git_bin=tools["git"],
        source=source,
        config_ignore=config_ignore or (),
        data=data_block,
    )


def _data_block(raw, where: _Where) -> Mapping[str, Any]:
    """Validate ``data:``: the rules themselves are checked by :mod:`heroku_tools.anonymise` on use."""
    if raw is None:
        return MappingProxyType({})
    if not isinstance(raw, dict):
        raise where.error(("data",), f"expected a mapping with {', '.join(DATA_KEYS)}, got {_kind(raw)}")
    for key in raw:
        if key not in DATA_KEYS:
            raise where.error(("data",), f"unknown key {key!r}{did_you_mean(key, DATA_KEYS)}", at=("data", key))
    rules = raw.get("rules")
    if rules is not None and not isinstance(rules, (str, dict)):
        raise where.error(("data", "rules"), f"expected a mapping of tables, or a file path, got {_kind(rules)}")
    checked = {
        "rules": rules,
        "secret": _check(("data", "secret"), raw.get("secret"), _optional(_string), where),
        "canary": _check(("data", "canary"), raw.get("canary"), _optional(_strings), where) or (),
        "post_restore": _check(("data", "post_restore"), raw.get("post_restore"), _optional(_strings), where) or (),
    }
    return MappingProxyType(checked)


def _strings(value):
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(item, str) and item.strip() for item in value):
        raise _Expected("a string or a list of strings")
    return tuple(value)


def _commands(raw, where: _Where) -> dict[str, str]:
    if not isinstance(raw, dict):
        raise where.error(("commands",), f"expected a mapping of name: command line, got {_kind(raw)}")
    commands = {}
    for name, line in raw.items():
        if line is None:
            continue
        commands[str(name)] = _check(("commands", name), line, _string, where)
    return commands


def _options(raw, commands: dict, where: _Where) -> Mapping[str, tuple[str, ...]]:
    if not isinstance(raw, dict):
        raise where.error(("options",), f"expected a mapping of command: file patterns, got {_kind(raw)}")
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


def _build_environments(raw: dict, where: _Where) -> tuple[Environment, ...]:
    if not raw:
        raise where.error(("environments",), "expected at least one environment")
    labels = list(raw)
    envs = []
    apps: dict[str, str] = {}
    for position, (label, env) in enumerate(raw.items()):
        base = ("environments", label)
        for key in env:
            if key not in ENVIRONMENT_KEY_NAMES:
                suggestion = did_you_mean(key, ENVIRONMENT_KEY_NAMES)
                raise where.error(base, f"unknown key {key!r}{suggestion}", at=base + (key,))
        for key in ("label", "app_name"):
            if env.get(key) is None:
                raise where.error(base, f"missing key {key!r}")
        values = {key: _check(base + (key,), env[key], ENVIRONMENT_KEYS[key], where) for key in env if key != "notify"}
        app = values["app_name"]
        if app in apps:
            # Protection belongs to the app: a second label for it would bypass the first one's rules.
            first = apps[app]
            raise where.error(base + ("app_name",), f"{app!r} is already the app of environment {first!r}: "
                              "each environment needs its own app (a second label would bypass its protection)")
        apps[app] = label
        if env.get("notify") is not None:
            values["notify"] = _notify_targets(base + ("notify",), env["notify"], where)
        if isinstance(values.get("settings"), Mapping):
            check_config_vars(base + ("settings",), values["settings"], where.error)
        if values.get("config_ignore") is None:
            values.pop("config_ignore", None)
        default_upstream = labels[position + 1] if position + 1 < len(labels) else None
        values.setdefault("upstream", default_upstream)
        upstream = values["upstream"]
        if upstream is not None:
            if upstream not in raw:
                raise where.error(
                    base + ("upstream",), f"unknown environment {upstream!r}{did_you_mean(upstream, labels)}"
                )
            if upstream == label:
                raise where.error(base + ("upstream",), "an environment cannot be its own upstream")
        if values.get("pipeline") and upstream is None:
            raise where.error(base + ("pipeline",), "a pipeline environment needs an upstream to promote from")
        if not values.get("pipeline") and values.get("branch") is None:
            raise where.error(base, "missing key 'branch' (the git branch deployed here)")
        if values.get("protected") is None:
            values["protected"] = label == "live"
        envs.append(Environment(**values))
    return tuple(envs)


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
    if not isinstance(value, str) or not _APP_NAME.match(value):
        raise _Expected("a Heroku app name (3-30 lowercase letters, digits and dashes, starting with a letter)")
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


def _patterns(value):
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(item, str) and item.strip() for item in value):
        raise _Expected("a list of config var name patterns such as ['SENTRY_RELEASE', 'NEW_RELIC_*']")
    return tuple(value)


def _data(value):
    if not isinstance(value, dict):
        raise _Expected("a mapping of data rules")
    return MappingProxyType(dict(value))


NOTIFY_KINDS = ("slack", "webhook")
NOTIFY_KEYS = (*NOTIFY_KINDS, "headers")
_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_VARIABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _notify_targets(path: KeyPath, raw, where: _Where) -> tuple[NotifyTarget, ...]:
    """``notify: [{slack: URL}, {webhook: URL, headers: {...}}]``, each checked where it was written."""
    if not isinstance(raw, list):
        example = "[{slack: '${SLACK_WEBHOOK_URL}'}]"
        raise where.error(path, f"expected a list of targets such as {example}, got {_kind(raw)}")
    targets = []
    for index, entry in enumerate(raw):
        at = path + (index,)
        if not isinstance(entry, dict):
            raise where.error(at, f"expected a mapping such as {{webhook: URL}}, got {_kind(entry)}")
        for key in entry:
            if key not in NOTIFY_KEYS:
                raise where.error(at, f"unknown key {key!r}{did_you_mean(key, NOTIFY_KEYS)}", at=at + (key,))
        kinds = [kind for kind in NOTIFY_KINDS if kind in entry]
        if len(kinds) != 1:
            raise where.error(at, "expected exactly one of 'slack' or 'webhook' (the URL to post to)")
        kind = kinds[0]
        url = _check_secret(at + (kind,), entry[kind], _notify_url, where)
        headers = entry.get("headers") or {}
        if headers and kind != "webhook":
            raise where.error(at + ("headers",), "headers are sent to a 'webhook' target only")
        if not isinstance(headers, dict) or not all(isinstance(v, str) for v in (*headers, *headers.values())):
            raise where.error(at + ("headers",), "expected a mapping of header names to strings")
        for name, value in headers.items():
            _check_secret(at + ("headers", name), value, _variables, where)
        targets.append(NotifyTarget(kind, url, MappingProxyType(dict(headers)), where.describe(at)))
    return tuple(targets)


def _check_secret(path: KeyPath, value, check: Callable, where: _Where):
    """:func:`_check` for a value that may be a secret (a webhook URL, a token): never echoed."""
    try:
        return check(value)
    except _Expected as exc:
        raise where.error(path, f"expected {exc} (the value is not shown: it may be a secret)") from None


def _variables(value):
    """A string whose ``${NAME}`` references are well formed (they are expanded when used)."""
    _string(value)
    for name in _VARIABLE.findall(value):
        if not _VARIABLE_NAME.match(name):
            raise _Expected(f"${{NAME}} references to environment variables, not ${{{name}}}")
    if "${" in _VARIABLE.sub("", value):
        raise _Expected("${NAME} references closed with '}'")
    return value


def _notify_url(value):
    _variables(value)
    if not _VARIABLE.match(value) and not value.startswith(("https://", "http://")):
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
}
#: Every key an environment takes: ``notify`` is a list checked target by target (:func:`_notify_targets`).
ENVIRONMENT_KEY_NAMES = (*ENVIRONMENT_KEYS, "notify")


def _check(path: KeyPath, value, check: Callable, where: _Where):
    try:
        return check(value)
    except _Expected as exc:
        raise where.error(path, f"expected {exc}, got {_shown(value)}") from None


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


def _dotted(path: Iterable) -> str:
    """``("environments", 2, "label")`` → ``environments[2].label``."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else str(part)
    return text


def _kind(value) -> str:
    kinds = {dict: "a mapping", list: "a list", type(None): "nothing"}
    return kinds[type(value)] if type(value) in kinds else _shown(value)


def _shown(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, (dict, list)):
        return _kind(value)
    return repr(value)


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)
