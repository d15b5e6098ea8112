"""``ci``: deploy the branch CI is building along its route in ``heroku-tools.yml``.

::

    heroku-tools ci                          # the checked-out branch; no route: exit 0, nothing done
    heroku-tools ci --branch "$CI_BRANCH"    # a detached HEAD: name the branch it was built from
    heroku-tools ci --confirm my-app-live    # a route with allow_protected: true to a protected environment
    heroku-tools ci --json                   # the outcome as JSON on stdout

Never prompts and never opens an editor. The sequence is
:func:`heroku_tools.routes.ci`; see the CI page of the docs for a job.
"""
from __future__ import annotations

import json as jsonlib

from invoke import Collection

from ..routes import CiOutcome, UnhealthyAlongRoute
from ..routes import ci as run_ci
from ..session import Session
from ._task import task
from .deploy import console, outcome_fields


@task(default=True, help={
    "branch": "the branch HEAD was built from (default: the checked-out branch, else the CI provider's variable)",
    "confirm": "the app's name: needed, with allow_protected on the route, to deploy a protected environment",
})
def ci(c, branch=None, confirm=None, dry_run=False, json=False):
    """Deploy HEAD along its branch's route (routes: in heroku-tools.yml), without prompting; exit 0 when there is none."""
    try:
        result = run_ci(Session.from_context(c), branch=branch, confirm_app=confirm, dry_run=dry_run,
                        console=console(json))
    except UnhealthyAlongRoute as error:  # the job's log and its parsers see what was deployed, and the rollback
        if json:
            print(ci_json(error.ci_outcome))
        raise
    if json:
        print(ci_json(result))


def ci_json(result: CiOutcome) -> str:
    return jsonlib.dumps({**result.as_json(), **outcome_fields(result.outcome)})


ns = Collection("ci", ci)
