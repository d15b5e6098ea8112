"""Personal environments: whose ``personal`` is, for a team with an app per developer.

A project's settings may hold one template of personal environments::

    - label:    dev-*
      app_name: my-app-dev-*

``dev-alice`` then names the app ``my-app-dev-alice``, deployed, reported,
tagged (``dev-alice/v12``) and listed in ``history`` like any environment, from
any branch; it is never protected and never the source of a data restore.
``personal`` names the environment of whoever runs heroku-tools: the app in
``$HEROKU_TOOLS_PERSONAL_APP`` (what a CI job sets for the developer whose
branch it builds), else the template's app with the ``*`` replaced by the
person's git identity — the name before the ``@`` of ``user.email``, else
``user.name``, lowercased, with anything an app name cannot hold as ``-``.

The resolution itself is plain data (:meth:`heroku_tools.settings.Settings.environment`);
this module only finds the person, which needs git.
"""
from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import replace

from .git import Git
from .settings import Environment, Settings

ENV_VAR = "HEROKU_TOOLS_PERSONAL_APP"


def with_person(settings: Settings, git: Git, environ: Mapping[str, str] | None = None) -> Settings:
    """``settings`` knowing whose ``personal`` environment is — unchanged when they have no template.

    Git is asked (``git config``) only when the project has a template and
    ``$HEROKU_TOOLS_PERSONAL_APP`` is not set.
    """
    template = settings.template
    if template is None or settings.personal_app:
        return settings
    return replace(settings, personal_app=personal_app(template, git, environ))


def personal_app(template: Environment, git: Git, environ: Mapping[str, str] | None = None) -> str | None:
    """The app of this person's environment: ``$HEROKU_TOOLS_PERSONAL_APP``, else ``<prefix>-<git user>``."""
    environ = os.environ if environ is None else environ
    explicit = (environ.get(ENV_VAR) or "").strip()
    if explicit:
        return explicit
    person = git_user(git)
    return template.app_name.replace("*", person) if person else None


def git_user(git: Git) -> str | None:
    """The person as an app name can hold them: the name before the ``@`` of ``user.email``, else ``user.name``."""
    for key in ("user.email", "user.name"):
        value = git.execute(["config", "--get", key], ok=(0, 1)).stdout.strip()
        name = slug(value.partition("@")[0] if key == "user.email" else value)
        if name:
            return name
    return None


def slug(text: str) -> str:
    """``Alice.Smith`` → ``alice-smith``: lowercase letters and digits, anything else one ``-``."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
