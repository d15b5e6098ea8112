"""``unlock ENV``: break an environment's lock, left by a change that stopped without releasing it.

::

    heroku-tools unlock uat                      # shows the holder, then asks for the code
    heroku-tools unlock uat --confirm my-app-uat

A deploy killed outright (``kill -9``, a CI job cancelled hard) cannot release
its lock; every later change is refused until it is broken. Break it only
when its holder is no longer running: see :mod:`heroku_tools.lock`.
"""
from __future__ import annotations

from invoke import Collection

from ..lock import unlock as run_unlock
from ..output import Console
from ..session import Session
from ._task import task


@task(default=True)
def unlock(c, env, confirm=None):
    """Break ENV's lock (after the confirmation code): only when the change holding it is no longer running."""
    run_unlock(Session.from_context(c), env, confirm_app=confirm, console=Console())


ns = Collection("unlock", unlock)
