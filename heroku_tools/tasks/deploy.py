"""``deploy ENV``: ship code to an environment, with everything a bare push leaves out.

::

    heroku-tools deploy live            # or: fab deploy:live, inv deploy live
    heroku-tools deploy dev --branch feature/x --dry-run
    heroku-tools deploy uat --options 21 --confirm my-app-uat --note-file NOTES.txt   # CI

The task is thin: :func:`heroku_tools.deploy.deploy` plans (pre-flight, what is
deployed and what will be, inferred options), reports, takes the release note
(your editor on a terminal, else ``--note``/``--note-file``; see
:mod:`heroku_tools.notes`), asks for the code, executes with a defined state
after any failure, and notifies the environment's ``notify`` targets.
"""
from __future__ import annotations

import json
import sys

from invoke import Collection

from ..deploy import deploy as run_deploy
from ..notes import from_options as note_from_options
from ..output import info, line_printer, warn
from ..session import Session
from . import task

HELP = {
    "env": "environment label from heroku-tools.yml (live, uat, dev, ...)",
    "branch": "branch to deploy (default: the environment's; a protected environment refuses others)",
    "force": "force-push (only when asked: it rewrites the app's history)",
    "options": "steps bitmask: 1 push, 2 syncdb, 4 migrations, 8 fixtures, 16 collectstatic (default: inferred)",
    "migrate": "run migrations even if no migration file changed",
    "no_migrate": "skip migrations even if migration files changed",
    "collectstatic": "run collectstatic",
    "no_collectstatic": "skip collectstatic",
    "loaddata": "load the changed fixtures",
    "no_loaddata": "skip loading fixtures",
    "maintenance": "turn the maintenance page on even if no downtime is inferred",
    "no_maintenance": "never turn the maintenance page on",
    "dry_run": "show the report and stop; nothing is changed",
    "confirm": "the app name, instead of typing the confirmation code (for CI)",
    "json": "print the outcome as JSON on stdout (the report goes to stderr)",
    "note": "the release note (its first line is the title); default: your editor opens on a terminal",
    "note_file": "read the release note from this file",
    "no_note": "no release note, and no editor",
}


def tristate(on: bool, off: bool, name: str) -> bool | None:
    """``--x`` / ``--no-x`` / neither, as True / False / None (keep what was inferred)."""
    if on and off:
        from ..errors import HerokuToolsError

        raise HerokuToolsError(f"--{name} and --no-{name} contradict each other")
    return True if on else False if off else None


def choices(branch, force, options, migrate, no_migrate, collectstatic, no_collectstatic,
            loaddata, no_loaddata, maintenance, no_maintenance) -> dict:
    return {
        "branch": branch,
        "force": force,
        "options": options,
        "migrate": tristate(migrate, no_migrate, "migrate"),
        "collectstatic": tristate(collectstatic, no_collectstatic, "collectstatic"),
        "loaddata": tristate(loaddata, no_loaddata, "loaddata"),
        "maintenance": tristate(maintenance, no_maintenance, "maintenance"),
    }


def outcome_json(outcome) -> str:
    if outcome is None:
        return json.dumps({"deployed": False})
    plan = outcome.plan
    return json.dumps({
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
    })


@task(default=True, help=HELP, auto_shortflags=False)
def deploy(c, env, branch=None, force=False, options=None, migrate=False, no_migrate=False,
           collectstatic=False, no_collectstatic=False, loaddata=False, no_loaddata=False,
           maintenance=False, no_maintenance=False, dry_run=False, confirm=None, json=False,
           note=None, note_file=None, no_note=False):
    """Deploy ENV: report what will ship, take a release note, confirm with a code, push or promote, run steps, tag."""
    session = Session.from_context(c)
    report = (lambda text: print(text, file=sys.stderr)) if json else print
    outcome = run_deploy(
        session, env, confirm_app=confirm, dry_run=dry_run, note=note_from_options(note, note_file, no_note),
        report=report, say=info, warn=warn, stream=line_printer("    "),
        **choices(branch, force, options, migrate, no_migrate, collectstatic, no_collectstatic,
                  loaddata, no_loaddata, maintenance, no_maintenance),
    )
    if json:
        print(outcome_json(outcome))


ns = Collection("deploy", deploy)
