"""``migrations.check``: judge the migrations a branch adds, as a pull-request gate (no database).

::

    heroku-tools migrations.check                      # since the merge base with master
    heroku-tools migrations.check --branch main --json
    heroku-tools migrations.check --since v1.4.0       # fab migrations.check:since=v1.4.0

Each added migration is printed with its verdict (compatible, locking,
incompatible, unknown), the operation that decided it and, unless
compatible, the way to ship it without downtime. Exit status 1 when one is
incompatible or unknown and nobody marked it. A thin layer over
:func:`heroku_tools.migrations.check`, which a fabfile can call directly.
"""
from __future__ import annotations

import json as jsonlib
import os
import sys

from colorama import Fore
from invoke import Collection, Exit

from .. import migrations as migration_rules
from ..git import Git
from ..output import paint
from . import task

_COLOURS = {
    migration_rules.Verdict.COMPATIBLE: Fore.GREEN,
    migration_rules.Verdict.LOCKING: Fore.YELLOW,
    migration_rules.Verdict.UNKNOWN: Fore.MAGENTA,
    migration_rules.Verdict.INCOMPATIBLE: Fore.RED,
}


def _stdout_paint(text: str, verdict: migration_rules.Verdict) -> str:
    return paint(text, _COLOURS[verdict], stream=sys.stdout)


@task(name="check", auto_shortflags=False, help={
    "since": "the revision to compare with (default: the merge base of HEAD and --branch)",
    "branch": "the live branch, whose merge base with HEAD is the default --since (default master)",
    "json": "print the verdicts as JSON on stdout",
})
def check(c, since=None, branch="master", json=False):
    """Judge the migrations added since a revision: exit 1 if one would break the running code, unmarked."""
    result = migration_rules.check(Git(cwd=os.getcwd()), since, branch=branch)
    if json:
        print(jsonlib.dumps(result.as_json(), indent=2))
    else:
        print(migration_rules.render(result, _stdout_paint))
    if result.failed:
        raise Exit(code=1)


ns = Collection("migrations", check)
