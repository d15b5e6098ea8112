"""``promote ENV``: promote ENV's slug to the environment(s) downstream of it.

``heroku-tools promote uat`` ships exactly what uat runs to live, by Heroku
pipeline promotion, with the same report, code, maintenance window and
post-push steps as ``deploy`` — and the steps run on every downstream app.
"""
from __future__ import annotations

import sys

from invoke import Collection

from ..deploy import deploy as run_deploy
from ..errors import HerokuToolsError
from ..notes import from_options as note_from_options
from ..output import info, line_printer, warn
from ..session import Session
from . import task
from .deploy import HELP, choices, outcome_json


@task(default=True, auto_shortflags=False, help={**{k: v for k, v in HELP.items() if k not in ("branch", "force")},
                                                 "env": "environment whose slug is promoted (e.g. uat)"})
def promote(c, env, options=None, migrate=False, no_migrate=False, collectstatic=False, no_collectstatic=False,
            loaddata=False, no_loaddata=False, maintenance=False, no_maintenance=False, dry_run=False,
            confirm=None, json=False, note=None, note_file=None, no_note=False):
    """Promote ENV's slug downstream (uat → live), with the deploy report, release note, code and steps."""
    release_note = note_from_options(note, note_file, no_note)
    session = Session.from_context(c)
    source = session.settings.environment(env)
    targets = session.settings.downstream_of(source)
    if not targets:
        raise HerokuToolsError(f"no environment takes its code from {source.label}: nothing to promote to")
    report = (lambda text: print(text, file=sys.stderr)) if json else print
    for target in targets:
        outcome = run_deploy(
            session, target.label, promote_from=source.label, confirm_app=confirm, dry_run=dry_run,
            note=release_note, report=report, say=info, warn=warn, stream=line_printer("    "),
            **choices(None, False, options, migrate, no_migrate, collectstatic, no_collectstatic,
                      loaddata, no_loaddata, maintenance, no_maintenance),
        )
        if json:
            print(outcome_json(outcome))


ns = Collection("promote", promote)
