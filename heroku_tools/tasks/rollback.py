"""``rollback ENV [--to vN]``: back to the previous good release (or vN), after the code prompt.

::

    heroku-tools rollback live             # fab rollback:live
    heroku-tools rollback live --to v41    # fab rollback:live,v41

The report lists the migrations between the two commits: a rollback restores
code and config vars, never the database.
"""
from __future__ import annotations

from invoke import Collection

from ..release import rollback as run_rollback
from ..release.notes import from_options as note_from_options
from ..session import Session
from ._task import task


@task(default=True, help={
    "to": "the release to go back to, e.g. v41 (default: the previous release with other code)",
    "note": "why: recorded in the release tag and sent with the notifications",
    "force": "roll back even across a migration the older code cannot run on (the report says which)",
    "no_health_check": "skip the health check of the release the rollback makes",
})
def rollback(c, env, to=None, dry_run=False, confirm=None, note=None, note_file=None, force=False,
             no_health_check=False):
    """Roll ENV back to an earlier release, then health-check it; refuses to cross a migration the old code cannot run on."""
    run_rollback(Session.from_context(c), env, to, confirm_app=confirm, dry_run=dry_run,
                 note=note_from_options(note, note_file) or None, force=force, health_check=not no_health_check)


ns = Collection("rollback", rollback)
