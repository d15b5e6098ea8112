"""The settings as typed objects: what every operation reads, whatever file or configuration they came from."""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from ..errors import SettingsError, UnknownEnvironment, did_you_mean

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

    def tag(self, version: int) -> str:
        """The git tag recording release ``version`` of this environment."""
        return self.tag_format.format(label=self.label, version=version, app_name=self.app_name)


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
