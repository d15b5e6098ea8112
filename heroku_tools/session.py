"""Everything an operation needs to act on a project: its settings and its runners.

Every library operation a fabfile calls takes a :class:`Session` first —
``deploy(session, "uat")``, ``configvars.push(session, "live")``,
``backups.restore(session, "live", "uat")`` — so a project builds one and
passes it around::

    from heroku_tools import Session, deploy

    session = Session.load()                 # ./heroku-tools.yml, or --config's file
    deploy(session, "uat", confirm_app="my-app-uat")

Tasks build theirs from the Invoke context (:meth:`Session.from_context`), so
``heroku_tools:`` overrides in ``invoke.yaml`` apply.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .git import Git
from .heroku import Heroku
from .heroku_api import PlatformAPI
from .personal import with_person
from .settings import Settings, from_context, load


@dataclass
class Session:
    settings: Settings
    git: Git
    heroku: Heroku
    #: Reads (and the few writes that must not pay a CLI start-up) straight to the Platform API,
    #: with the CLI's own host, token and CA bundle.
    api: PlatformAPI

    @classmethod
    def from_settings(cls, settings: Settings) -> Session:
        """A session over ``settings``, which learn whose ``personal`` environment is (see :mod:`~heroku_tools.personal`)."""
        heroku = Heroku.from_settings(settings, cwd=settings.root)
        git = Git.from_settings(settings, cwd=settings.root)
        return cls(with_person(settings, git), git, heroku, PlatformAPI.for_cli(heroku))

    @classmethod
    def from_context(cls, c) -> Session:
        return cls.from_settings(from_context(c))

    @classmethod
    def load(cls, path: str | os.PathLike | None = None, *, cwd: Path | None = None) -> Session:
        """A session for the settings file at ``path`` (default: the nearest ``heroku-tools.yml``)."""
        return cls.from_settings(load(path, cwd=cwd))
