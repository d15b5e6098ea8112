"""How a deploy fails: the errors every step of it raises, in a module that depends on no step."""
from __future__ import annotations

from ..errors import HerokuToolsError


class DeployFailed(HerokuToolsError):
    """A deployment step failed; the message says where things stand and how to recover."""


class NothingBuilt(DeployFailed):
    """The push sent nothing: the app's repository already holds the commit, so no release came."""
