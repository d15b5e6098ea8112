"""``migrations ENV`` and ``migrations.check``: what a deploy's migrations do, before anyone deploys.

::

    heroku-tools migrations live                       # the plan against live's database: pending, verdicts, decision
    heroku-tools migrations live --json
    heroku-tools migrations.check                      # CI gate: the migrations this branch adds (no database)
    heroku-tools migrations.check --branch main --json
    heroku-tools migrations.check --since v1.4.0       # fab migrations.check:since=v1.4.0

``migrations ENV`` reads ENV's ``django_migrations`` and the migration files
at the commit a deploy would ship, and prints what ``deploy ENV`` would
report under "Migrations", changing nothing. ``migrations.check`` prints each
migration the branch adds with its verdict (compatible, locking,
incompatible, unknown), the operation that decided it and, unless
compatible, the way to ship it without downtime; it exits 1 when one is
incompatible or unknown and nobody marked it. Thin layers over
:func:`heroku_tools.release.plan.plan_migrations` and
:func:`heroku_tools.migrations.check`, which a fabfile can call directly.
"""
from __future__ import annotations

import json as jsonlib
import os
import sys

from colorama import Fore, Style
from invoke import Collection, Exit

from .. import migrations as migration_rules
from ..errors import SettingsError
from ..git import Git
from ..output import paint, stdout_paint
from ..release.plan import plan_migrations
from ..release.report import schema_lines
from ..session import Session
from ..settings import from_context
from ._task import task

_COLOURS = {
    migration_rules.Verdict.COMPATIBLE: Fore.GREEN,
    migration_rules.Verdict.LOCKING: Fore.YELLOW,
    migration_rules.Verdict.UNKNOWN: Fore.MAGENTA,
    migration_rules.Verdict.INCOMPATIBLE: Fore.RED,
}


def _verdict_paint(text: str, verdict: migration_rules.Verdict) -> str:
    return paint(text, _COLOURS[verdict], stream=sys.stdout)


@task(name="plan", default=True, help={"branch": "the branch a push would deploy (default: the environment's)"})
def plan_(c, env, branch=None, json=False):
    """Show what deploying ENV would do to its database: pending migrations, verdicts, the downtime decision."""
    session = Session.from_context(c)
    schema, decision, commit = plan_migrations(session, env, branch=branch)
    if json:
        print(jsonlib.dumps({"environment": env, "commit": commit, "migrations": schema.as_json(),
                             "downtime": decision.as_json()}, indent=2))
        return
    label = session.settings.environment(env)
    print(stdout_paint(f"Deploying {commit[:12]} to {label.label} ({label.app_name})", Style.BRIGHT))
    print("\n".join(schema_lines(schema, decision, stdout_paint)))


@task(help={
    "since": "the revision to compare with (default: the merge base of HEAD and --branch)",
    "branch": "the live branch, whose merge base with HEAD is the default --since "
              "(default: the protected environment's branch in heroku-tools.yml, else master)",
    "json": "print the verdicts as JSON on stdout",
})
def check(c, since=None, branch=None, json=False):
    """Judge the migrations added since a revision: exit 1 if one would break the running code, unmarked."""
    overrides, live_branch = _project(c)
    result = migration_rules.check(Git(cwd=os.getcwd()), since, branch=branch or live_branch, overrides=overrides)
    if json:
        print(jsonlib.dumps(result.as_json(), indent=2))
    else:
        print(migration_rules.render(result, _verdict_paint))
    if result.failed:
        raise Exit(code=1)


def _project(c) -> tuple[dict, str]:
    """The project's ``migrations:`` overrides and live branch, when it has a heroku-tools.yml (a CI gate may not)."""
    try:
        settings = from_context(c)
    except SettingsError as error:
        if "no heroku-tools.yml" not in error.message:
            raise
        return {}, "master"
    protected = [env.branch for env in settings.environments if env.protected and env.branch]
    return dict(settings.migrations), (protected[0] if protected else "master")


ns = Collection("migrations", plan_, check)
