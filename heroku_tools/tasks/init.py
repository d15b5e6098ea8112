"""``init``: write ``heroku-tools.yml`` for an existing project from its git remotes and its Heroku apps.

::

    heroku-tools init                 # fab init, inv init
    heroku-tools init --force         # replace the existing file (and the proposed anonymise.yml)
    heroku-tools init --no-rules      # propose no anonymisation rules (live's schema is not read)

Reads, never changes: see :func:`heroku_tools.adopt.adopt`. It needs no
settings file, so it runs in any project that composes the collection.
"""
from __future__ import annotations

from invoke import Collection

from ..adopt import adopt
from ..output import Console
from ._task import task


@task(default=True, help={
    "force": "replace an existing heroku-tools.yml (and anonymise.yml)",
    "output": "the settings file to write (default: heroku-tools.yml at the repository's root)",
    "no_rules": "propose no anonymisation rules (live's schema is not read)",
})
def init(c, force=False, output=None, no_rules=False):
    """Write a commented heroku-tools.yml from the git remotes, pipelines, branches, Procfile and live's schema."""
    adopt(output=output, force=force, rules=not no_rules, console=Console())


ns = Collection("init", init)
