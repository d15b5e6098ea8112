"""``rollback ENV [--to vN]``: back to the previous good release (or vN), after the code prompt.

::

    heroku-tools rollback live             # fab rollback:live
    heroku-tools rollback live --to v41    # fab rollback:live,v41

The report lists the migrations between the two commits: a rollback restores
code and config vars, never the database.
"""
from __future__ import annotations

from invoke import Collection

from ..confirm import confirm as ask_code
from ..output import info, success, warn
from ..rollback import execute_rollback, plan_rollback, render_rollback
from ..session import Session
from . import task


@task(default=True, auto_shortflags=False, help={
    "env": "environment label from heroku-tools.yml",
    "to": "the release to go back to, e.g. v41 (default: the previous release with other code)",
    "dry_run": "show the plan and stop; nothing is changed",
    "confirm": "the app name, instead of typing the confirmation code (for CI)",
})
def rollback(c, env, to=None, dry_run=False, confirm=None):
    """Roll ENV back to an earlier release; warns that the database is not rolled back."""
    session = Session.from_context(c)
    plan = plan_rollback(session.settings, env, to, git=session.git, heroku=session.heroku, api=session.api)
    print(render_rollback(plan))
    if dry_run:
        info("--dry-run: stopping here; nothing was changed.")
        return
    ask_code(plan.env.app_name, f"roll {plan.env.label} back to v{plan.target.version}", confirm_app=confirm)
    version, tag = execute_rollback(plan, git=session.git, heroku=session.heroku, say=info)
    success(f"{plan.env.label} ({plan.env.app_name}) now runs v{version}, the code of v{plan.target.version}"
            + (f"; tagged {tag}" if tag else ""))
    if plan.migrations:
        warn("The database still has the newer migrations listed above.")


ns = Collection("rollback", rollback)
