"""``promote ENV``: promote ENV's slug to the environment(s) downstream of it.

``heroku-tools promote uat`` ships exactly what uat runs to live, by Heroku
pipeline promotion, with the same report, code, maintenance window and
post-push steps as ``deploy`` — and the steps run on every downstream app.
The sequence is :func:`heroku_tools.release.promote`.
"""
from __future__ import annotations

from invoke import Collection

from ..release import promote as run_promote
from ..release.notes import from_options as note_from_options
from ..session import Session
from ._task import task
from .deploy import STEP_HELP, console, outcome_json, printing_outcome, step_choices


@task(default=True, help={**STEP_HELP, "env": "environment whose slug is promoted (e.g. uat)"})
def promote(c, env, options=None, migrate=False, no_migrate=False, collectstatic=False, no_collectstatic=False,
            loaddata=False, no_loaddata=False, maintenance=False, no_maintenance=False, dry_run=False,
            confirm=None, json=False, note=None, note_file=None, no_note=False, no_health_check=False,
            no_rollback=False):
    """Promote ENV's slug downstream (uat → live), with the deploy report, release note, code, steps and health check."""
    outcomes = printing_outcome(json, lambda: run_promote(
        Session.from_context(c), env, confirm_app=confirm, dry_run=dry_run,
        note=note_from_options(note, note_file, no_note), console=console(json),
        health_check=not no_health_check, auto_rollback=not no_rollback,
        **step_choices(options, migrate, no_migrate, collectstatic, no_collectstatic, loaddata, no_loaddata,
                       maintenance, no_maintenance),
    ))
    if json:
        for outcome in outcomes:
            print(outcome_json(outcome))


ns = Collection("promote", promote)
