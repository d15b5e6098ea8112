"""The settings as typed objects: what every operation reads, whatever file or configuration they came from."""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from fnmatch import fnmatchcase
from pathlib import Path
from types import MappingProxyType
from typing import Any

from ..errors import NotAnApp, SettingsError, UnknownEnvironment, did_you_mean

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
#: matched by :func:`heroku_tools.release.options.infer_options`).
DEFAULT_OPTIONS = {
    "migrate": ["**/migrations/*.py"],
    "collectstatic": ["**/static/**"],
    "loaddata": ["**/fixtures/**"],
}

DEFAULT_TAG_FORMAT = "{label}/v{version}"
#: The label that names the personal environment of whoever runs heroku-tools (see :mod:`heroku_tools.personal`).
PERSONAL = "personal"
#: A Heroku app name: 3-30 lowercase letters, digits and dashes, starting with a letter.
APP_NAME = re.compile(r"^[a-z][a-z0-9-]{2,29}\Z")
#: A config var name Heroku and a dyno's environment take: no ``=``, white space, control character
#: (NUL included) or lone surrogate, not starting with ``-``.
CONFIG_VAR_NAME = re.compile(r"^[^-=\s\x00-\x1f\x7f\ud800-\udfff][^=\s\x00-\x1f\x7f\ud800-\udfff]*\Z")


def as_config_value(value: Any) -> str | None:
    """A declared value as the string Heroku stores: ``true``/``false``, ``1``, ``0.5``; ``None`` stays (removal)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    raise SettingsError(f"a config var value must be a string, number or true/false, not {type(value).__name__}")


# -- typed settings ------------------------------------------------------------


@dataclass(frozen=True)
class Health:
    """The ``health:`` block: how a release is judged once it serves, and what happens when it fails.

    Top level, overridden key by key per environment (see :mod:`heroku_tools.release.health`).
    """

    #: Check after every deploy, promotion and rollback whose release has a web process.
    enabled: bool = True
    #: The paths probed at the app's ``web_url``; more than one makes a smoke test, every one must pass.
    paths: tuple[str, ...] = ("/",)
    #: Whether ``path`` was set: with none, any answer below 500 proves the app serves (a 404 at ``/`` too).
    path_set: bool = False
    #: The statuses that count as healthy; ``()``: the default for ``path_set`` (2xx/3xx, else < 500).
    status: tuple[int, ...] = ()
    #: Seconds the release has to become healthy.
    timeout: float = 60.0
    #: Answers as expected in a row, on every path, that make it healthy.
    successes: int = 3
    #: Seconds between polls: each poll reads the dynos and the log (two Platform API requests).
    interval: float = 5.0
    #: A response header whose value carries the release version (``v43`` or ``43``): with preboot
    #: the old code answers for minutes, and only this tells the new code's answers apart.
    release_header: str | None = None
    #: Text the body carries with ``{version}`` in it (``release v{version}``), for the same reason.
    release_text: str | None = None
    #: Roll an unhealthy release back automatically, when the schema allows it.
    rollback: bool = True

    def expects(self, status: int) -> bool:
        """Whether an answer with ``status`` counts as healthy."""
        if self.status:
            return status in self.status
        return 200 <= status < 400 if self.path_set else status < 500

    @property
    def expected(self) -> str:
        """The statuses expected, in words: ``2xx or 3xx``."""
        if self.status:
            return " or ".join(map(str, self.status))
        return "2xx or 3xx" if self.path_set else "any status below 500"


@dataclass(frozen=True)
class NotifyTarget:
    """One ``notify`` entry of an environment, as written: ``${VAR}`` not yet expanded.

    Expansion waits until the environment is deployed to (:func:`heroku_tools.release.notify.resolve`),
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
    """One Heroku app in the dev → uat → live chain, or a database below it (:attr:`database_url`)."""

    label: str
    #: ``""`` for a database environment: it has no app (see :attr:`is_database`).
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
    #: Config vars declared for the app (the ``settings:`` key): a mapping (``null``
    #: declares a removal), or the path of a file holding them (see :mod:`heroku_tools.configvars`).
    config_vars: Mapping[str, Any] | str | None = None
    #: Config var name patterns (``fnmatch``) ``config.diff`` does not compare for this app.
    config_ignore: tuple[str, ...] = ()
    #: Data rules (anonymisation, restores), kept raw for the data tasks.
    data: Mapping[str, Any] | None = None
    #: The git remote code is fetched from and tags pushed to.
    remote: str = "origin"
    #: When a push deploy that needs downtime turns the maintenance page on: ``build`` (once the
    #: build has compiled, just before the release) or ``push`` (before the push: the build is downtime too).
    maintenance_from: str = "build"
    #: Process types scaled to 0 while the maintenance page is up (maintenance does not stop them),
    #: restored afterwards on every path.
    maintenance_scale_down: tuple[str, ...] = ()
    #: Where deployments, promotions and rollbacks are announced (see :mod:`heroku_tools.release.notify`).
    notify: tuple[NotifyTarget, ...] = ()
    #: The template (``dev-*``) a personal environment was made from; None for every other environment.
    template: str | None = None
    #: The health check after each release, and the automatic rollback (the top-level ``health:`` with this
    #: environment's keys over it).
    health: Health = field(default_factory=Health)
    #: A database environment's connection URL, as written (``${VAR}`` expanded only when a restore
    #: uses it, see :func:`heroku_tools.backups.database_target_url`); None for a Heroku app.
    database_url: str | None = None
    #: A database environment whose host is not this machine: refused unless the settings say so.
    remote_host: bool = False

    def tag(self, version: int) -> str:
        """The git tag recording release ``version`` of this environment."""
        return self.tag_format.format(label=self.label, version=version, app_name=self.app_name)

    @property
    def is_database(self) -> bool:
        """A database rather than a Heroku app (``database_url:``): the lowest, never protected, only ever the
        target of a restore — a developer's own database."""
        return self.database_url is not None

    @property
    def is_template(self) -> bool:
        """A template of personal environments (``label: dev-*``): never deployed itself, only made personal."""
        return "*" in self.label

    def personal(self, name: str, app_name: str | None = None) -> Environment:
        """This template made one person's: ``*`` in the label (and the app name) replaced by ``name``.

        A personal environment takes any branch, is never protected and
        never promotes: it is somebody's scratch app, deployed like any other.
        """
        return replace(self, label=self.label.replace("*", name), app_name=app_name or self.app_name.replace("*", name),
                       template=self.label, protected=False, pipeline=False, upstream=None)


@dataclass(frozen=True)
class Route:
    """One ``routes:`` entry: the branches ``branch`` matches (a name, or a pattern such as ``feature/*``)
    deploy to ``environment`` (a label, or ``personal``) when ``heroku-tools ci`` runs on them."""

    branch: str
    environment: str
    #: A route reaches a protected environment only when it says so (and CI names the app with ``--confirm``).
    allow_protected: bool = False

    def matches(self, branch: str) -> bool:
        return fnmatchcase(branch, self.branch)


@dataclass(frozen=True)
class Settings:
    environments: tuple[Environment, ...]
    #: Named post-push commands, in definition order.
    commands: Mapping[str, str]
    #: Which changed files call for which command: ``{"migrate": ("**/migrations/*.py",)}``
    #: (see :func:`heroku_tools.release.options.infer_options`); an empty tuple disables a default rule.
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
    #: ``migrations:``: verdicts the project decides itself, ``{"compatible": ("app.0007_x",), ...}``.
    migrations: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))
    #: ``lock_timeout`` for the migrate step's connections (``migrations: {lock_timeout: 5s}``): a migration
    #: never queues every query behind it for longer; a timeout is retried ``lock_retries`` times.
    lock_timeout: str = "5s"
    lock_retries: int = 3
    #: When a deploy captures a backup of the database just before its migrations run:
    #: ``incompatible`` (before incompatible or unknown ones), ``always`` or ``never``.
    backup_before: str = "incompatible"
    #: ``routes:``, in the order written: which branches ``heroku-tools ci`` deploys where.
    routes: tuple[Route, ...] = ()
    #: The app of the personal environment of whoever runs heroku-tools, when the settings have a
    #: template (filled in by :func:`heroku_tools.personal.with_person`); what ``personal`` names.
    personal_app: str | None = None

    @property
    def labels(self) -> list[str]:
        return [env.label for env in self.environments]

    @property
    def template(self) -> Environment | None:
        """The template of personal environments (``label: dev-*``), if the project has one."""
        return next((env for env in self.environments if env.is_template), None)

    def route(self, branch: str) -> Route | None:
        """The route ``branch`` takes: the one naming it exactly, else the first pattern (in the order written) it matches."""
        exact = next((route for route in self.routes if route.branch == branch), None)
        return exact or next((route for route in self.routes if route.matches(branch)), None)

    @property
    def root(self) -> Path:
        """The project root: relative paths in the settings are relative to it."""
        return self.source.parent if self.source else Path.cwd()

    def environment(self, label: str, *, database: bool = False) -> Environment:
        """The environment called ``label``; a clear error (with a suggestion) otherwise.

        Use it for every environment name taken from the command line: Invoke
        can hand a flag such as ``--help`` over as a positional value (invoke#982).
        Every operation reaches an app through here, so a database environment
        is refused here (:class:`~heroku_tools.errors.NotAnApp`) unless the
        caller takes one (``database=True``: a restore's target, and its source
        so that the direction check can say why it is refused).
        """
        for env in self.environments:
            if env.label == label and not env.is_template:
                if env.is_database and not database:
                    raise NotAnApp(label)
                return env
        personal = self._personal(str(label))
        if personal is not None:
            return personal
        known = ", ".join(self.labels)
        if str(label).startswith("-"):
            raise UnknownEnvironment(
                f"expected an environment ({known}), got the flag {label!r}: give the environment first"
            )
        raise UnknownEnvironment(f"unknown environment {label!r}{did_you_mean(label, self.labels)} (known: {known})")

    def knows(self, label: str) -> bool:
        """Whether ``label`` names an environment: one of the file's, or a personal one (``dev-alice``, ``personal``)."""
        template = self.template
        if template is not None and label != template.label and (label == PERSONAL or _wildcard(template.label, label)):
            return True
        return label in self.labels and "*" not in label

    def _personal(self, label: str) -> Environment | None:
        """The personal environment ``label`` names (``dev-alice``, or ``personal`` for yours), or None."""
        template = self.template
        if template is None:
            return None
        if label == PERSONAL:
            if not self.personal_app:
                raise UnknownEnvironment(
                    f"no personal environment for you: set HEROKU_TOOLS_PERSONAL_APP to your app, or git's user.email "
                    f"(its name before the @ takes the * of {template.app_name})")
            name = _wildcard(template.app_name, self.personal_app) or self.personal_app
            return self._own_app(template.personal(name, self.personal_app), "HEROKU_TOOLS_PERSONAL_APP or your git user")
        if label == template.label:
            raise UnknownEnvironment(f"{label} is the template of personal environments: name one "
                                     f"({template.label.replace('*', 'alice')}), or `{PERSONAL}` for yours")
        name = _wildcard(template.label, label)
        return None if name is None else self._own_app(template.personal(name), f"the label {label}")

    def _own_app(self, env: Environment, origin: str) -> Environment:
        """A personal environment with a real app of its own: never another environment's (it would bypass its rules)."""
        if not APP_NAME.match(env.app_name):
            raise UnknownEnvironment(f"{env.label}: {env.app_name!r} (from {origin}) is not a Heroku app name "
                                     "(3-30 lowercase letters, digits and dashes, starting with a letter)")
        for other in self.environments:
            if other.app_name == env.app_name:
                raise SettingsError(f"{env.label}: {env.app_name} (from {origin}) is the app of environment {other.label}: "
                                    "a personal environment needs an app of its own; nothing was changed")
        return env

    def upstream_of(self, env: Environment | str) -> Environment | None:
        """The environment ``env`` takes its code from, if any."""
        env = self.environment(env) if isinstance(env, str) else env
        return self.environment(env.upstream) if env.upstream else None

    def downstream_of(self, env: Environment | str) -> list[Environment]:
        """The environments that take their code from ``env`` (``promote env`` reaches them)."""
        label = env if isinstance(env, str) else env.label
        self.environment(label)
        return [other for other in self.environments if other.upstream == label]


def _wildcard(pattern: str, value: str) -> str | None:
    """What the one ``*`` of ``pattern`` stands for in ``value`` (``dev-*``, ``dev-alice`` → ``alice``), or None."""
    head, _, tail = pattern.partition("*")
    middle = value[len(head): len(value) - len(tail)] if len(value) > len(head) + len(tail) else ""
    if not (value.startswith(head) and value.endswith(tail) and re.fullmatch(r"[a-z0-9][a-z0-9-]*", middle)):
        return None
    return middle
