"""``history ENV``: the environment's releases — deploys, promotions, rollbacks and everything else.

::

    heroku-tools history live              # fab history:live, inv history live
    heroku-tools history live --num 50
    heroku-tools history live --json | jq '.releases[] | select(.kind == "rollback")'

Each row joins a Heroku release with its release tag (see
:mod:`heroku_tools.release.history`): version, when, who, what kind of change, the
commit range, the outcome and the release note's first line. Releases made
outside heroku-tools (config and add-on changes, a bare push) are marked.
"""
from __future__ import annotations

import json as jsonlib

from invoke import Collection

from ..output import info
from ..release.history import history as read_history
from ..release.history import render
from ..session import Session
from ._task import task


@task(default=True, help={
    "num": "how many releases to show, newest first (default 20)",
    "json": "print the releases as JSON on stdout",
})
def history(c, env, num=20, json=False):
    """List ENV's releases: version, when, who, kind, commits, outcome and release note."""
    session = Session.from_context(c)
    environment, rows = read_history(session, env, int(num), say=info)
    if json:
        print(jsonlib.dumps({
            "environment": environment.label,
            "app": environment.app_name,
            "releases": [row.as_json() for row in rows],
        }, indent=2))
    else:
        print(render(environment, rows))


ns = Collection("history", history)
