"""``rollback ENV [--to vN]``: back to the previous good release (or vN), after the code prompt.

::

    heroku-tools rollback live             # fab rollback:live
    heroku-tools rollback live --to v41    # fab rollback:live,v41

The report lists the migrations between the two commits: a rollback restores
code and config vars, never the database.
"""
from __future__ import annotations

from invoke import Collection

from ..notes import from_options as note_from_options
from ..output import info, warn
from ..rollback import rollback as run_rollback
from ..session import Session
from . import task


@task(default=True, auto_shortflags=False, help={
    "env": "environment label from heroku-tools.yml",
    "to": "the release to go back to, e.g. v41 (default: the previous release with other code)",
    "dry_run": "show the plan and stop; nothing is changed",
    "confirm": "the app name, instead of typing the confirmation code (for CI)",
    "note": "why: recorded in the release tag and sent with the notifications",
    "note_file": "read the note from this file",
})
def rollback(c, env, to=None, dry_run=False, confirm=None, note=None, note_file=None):
    """Roll ENV back to an earlier release; warns that the database is not rolled back."""
    session = Session.from_context(c)
    run_rollback(
        session, env, to, confirm_app=confirm, dry_run=dry_run, note=note_from_options(note, note_file) or None,
        say=info, warn=warn,
    )


ns = Collection("rollback", rollback)
