"""Everything a task needs to act on a project: its settings and its runners.

Tasks build one from the Invoke context (:meth:`Session.from_context`); a
user's fabfile can build one from a settings file and call the same plain
functions the tasks call.
"""
from __future__ import annotations

from dataclasses import dataclass

from .git import Git
from .heroku import Heroku
from .platform import PlatformAPI
from .settings import Settings, from_context


@dataclass
class Session:
    settings: Settings
    git: Git
    heroku: Heroku
    api: PlatformAPI

    @classmethod
    def from_settings(cls, settings: Settings) -> "Session":
        git = Git.from_settings(settings, cwd=settings.root)
        heroku = Heroku.from_settings(settings, cwd=settings.root)
        return cls(settings, git, heroku, PlatformAPI(lambda: api_token(heroku)))

    @classmethod
    def from_context(cls, c) -> "Session":
        return cls.from_settings(from_context(c))


def api_token(heroku: Heroku) -> str:
    """The token the heroku CLI uses: ``HEROKU_API_KEY`` if set, else ``heroku auth:token``."""
    return heroku.environment().get("HEROKU_API_KEY") or heroku.auth_token()
