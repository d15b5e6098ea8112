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
    def from_settings(cls, settings: Settings) -> Session:
        git = Git.from_settings(settings, cwd=settings.root)
        heroku = Heroku.from_settings(settings, cwd=settings.root)
        return cls(settings, git, heroku, PlatformAPI(lambda: api_token(heroku)))

    @classmethod
    def from_context(cls, c) -> Session:
        return cls.from_settings(from_context(c))


def api_token(heroku: Heroku) -> str:
    """The token the heroku CLI uses, found the way the CLI finds it.

    ``HEROKU_API_KEY`` wins; then the ``~/.netrc`` entry for the CLI's API
    host (read directly: a ``heroku auth:token`` start-up costs as much as the
    rest of a deploy's pre-flight); then ``heroku auth:token`` itself, which
    also covers a keychain login.
    """
    environ = heroku.environment()
    return environ.get("HEROKU_API_KEY") or netrc_token(environ) or heroku.auth_token()


def netrc_token(environ: dict) -> str | None:
    """The password of ``machine <api host>`` in ``$HOME/.netrc``, if there is one."""
    import netrc
    import os
    import urllib.parse

    from .platform import api_base_url

    path = os.path.join(environ.get("HOME") or os.path.expanduser("~"), ".netrc")
    if not os.path.isfile(path):
        return None
    parts = urllib.parse.urlsplit(api_base_url(environ))
    host = parts.netloc if parts.port else parts.hostname
    try:
        entry = netrc.netrc(path).authenticators(host)
    except (netrc.NetrcParseError, OSError):
        return None
    return entry[2] if entry and entry[2] else None
