"""``deploy ENV``: ship code to an environment, with everything a bare push leaves out.

::

    heroku-tools deploy live            # or: fab deploy:live, inv deploy live
    heroku-tools deploy dev --branch feature/x --dry-run
    heroku-tools deploy uat --options 21 --confirm my-app-uat --note-file NOTES.txt   # CI

The task is thin: :func:`heroku_tools.release.deploy` plans (pre-flight, what is
deployed and what will be, inferred options), reports, takes the release note
(your editor on a terminal, else ``--note``/``--note-file``; see
:mod:`heroku_tools.release.notes`), asks for the code, executes with a defined
state after any failure, and notifies the environment's ``notify`` targets.
"""
from __future__ import annotations

import json as jsonlib

from invoke import Collection

from ..errors import HerokuToolsError
from ..output import Console
from ..release import Outcome, Unhealthy
from ..release import deploy as run_deploy
from ..release.notes import from_options as note_from_options
from ..session import Session
from ._task import task

#: Help for the flags ``deploy`` and ``promote`` share.
STEP_HELP = {
    "options": "steps bitmask: 1 push, 2 syncdb, 4 migrations, 8 fixtures, 16 collectstatic (default: inferred)",
    "migrate": "run migrations even if no migration file changed",
    "no_migrate": "skip migrations even if migration files changed",
    "collectstatic": "run collectstatic",
    "no_collectstatic": "skip collectstatic",
    "loaddata": "load the changed fixtures",
    "no_loaddata": "skip loading fixtures",
    "maintenance": "turn the maintenance page on even if no downtime is inferred",
    "no_maintenance": "never turn the maintenance page on",
    "no_health_check": "skip the health check after the release (and so the automatic rollback)",
    "no_rollback": "never roll an unhealthy release back automatically (the check still runs)",
}


def tristate(on: bool, off: bool, name: str) -> bool | None:
    """``--x`` / ``--no-x`` / neither, as True / False / None (keep what was inferred)."""
    if on and off:
        raise HerokuToolsError(f"--{name} and --no-{name} contradict each other")
    return True if on else False if off else None


def step_choices(options, migrate, no_migrate, collectstatic, no_collectstatic, loaddata, no_loaddata,
                 maintenance, no_maintenance) -> dict:
    """The step flags as :func:`~heroku_tools.release.plan.plan_deploy`'s keyword arguments."""
    return {
        "options": options,
        "migrate": tristate(migrate, no_migrate, "migrate"),
        "collectstatic": tristate(collectstatic, no_collectstatic, "collectstatic"),
        "loaddata": tristate(loaddata, no_loaddata, "loaddata"),
        "maintenance": tristate(maintenance, no_maintenance, "maintenance"),
    }


def console(json: bool) -> Console:
    return Console.for_json() if json else Console()


def outcome_json(outcome: Outcome | None) -> str:
    return jsonlib.dumps(outcome_fields(outcome))


def outcome_fields(outcome: Outcome | None) -> dict:
    """What ``--json`` prints of a deploy: ``{"deployed": false}`` when nothing was done."""
    if outcome is None:
        return {"deployed": False}
    plan = outcome.plan
    return {
        "deployed": True,
        "environment": plan.env.label,
        "app": plan.env.app_name,
        "method": plan.method,
        "commit": plan.target_commit,
        "release": outcome.release.version if outcome.release else None,
        "tag": outcome.tag,
        "options": int(plan.options),
        "steps": list(outcome.steps_run),
        "maintenance_seconds": round(outcome.maintenance_seconds, 3),
        "seconds": round(outcome.seconds, 3),
        "backup": outcome.backup,
        "migrations": plan.schema.as_json() if plan.schema else None,
        "downtime": plan.decision.as_json() if plan.decision else None,
        "health": outcome.health.as_json() if outcome.health else None,
        "rolled_back_to": f"v{outcome.rolled_back_to}" if outcome.rolled_back_to else None,
    }


def printing_outcome(json: bool, run):
    """``run()``; with ``--json`` the outcome of an unhealthy release is printed too before the error ends the task."""
    try:
        return run()
    except Unhealthy as error:
        if json and error.outcome is not None:
            print(outcome_json(error.outcome))
        raise


@task(default=True, help={
    **STEP_HELP,
    "branch": "branch to deploy (default: the environment's; a protected environment refuses others)",
    "force": "force-push (only when asked: it rewrites the app's history)",
})
def deploy(c, env, branch=None, force=False, options=None, migrate=False, no_migrate=False,
           collectstatic=False, no_collectstatic=False, loaddata=False, no_loaddata=False,
           maintenance=False, no_maintenance=False, dry_run=False, confirm=None, json=False,
           note=None, note_file=None, no_note=False, no_health_check=False, no_rollback=False):
    """Deploy ENV: report, take a release note, confirm with a code, push or promote, run steps, tag, health-check."""
    outcome = printing_outcome(json, lambda: run_deploy(
        Session.from_context(c), env, branch=branch, force=force, confirm_app=confirm, dry_run=dry_run,
        note=note_from_options(note, note_file, no_note), console=console(json),
        health_check=not no_health_check, auto_rollback=not no_rollback,
        **step_choices(options, migrate, no_migrate, collectstatic, no_collectstatic, loaddata, no_loaddata,
                       maintenance, no_maintenance),
    ))
    if json:
        print(outcome_json(outcome))


ns = Collection("deploy", deploy)
