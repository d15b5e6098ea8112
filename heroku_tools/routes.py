"""Branch routes: CI deploys each green branch where the team said it goes.

``routes:`` in ``heroku-tools.yml`` maps branches (names, or patterns such as
``feature/*``) to environments::

    routes:
        master: uat
        dev: dev
        "feature/*": personal
        production: {env: live, allow_protected: true}     # live's own branch only

:func:`ci` deploys the commit CI checked out along its branch's route, and
never waits for anyone: no release note, no editor, no prompt. On an
unprotected environment the route is the confirmation — the library's one
confirmation rule (:func:`~heroku_tools.confirm.confirm_change`) is met by
naming the app, as ``--confirm APP`` does. A protected environment is
reached only by a route that says ``allow_protected: true`` *and* a job that
names the app (``--confirm APP``): promoting to live stays a person's
decision unless the team wrote otherwise, twice. A branch with no route is
not an error: there is nothing to deploy.

CI providers check a commit out as a detached HEAD, often in a shallow clone:
the commit deployed is HEAD, under the name of the branch given with
``--branch`` or known from the provider's variables; a shallow clone's
history is fetched first (``git fetch --unshallow``), as a push to Heroku
needs it: without it the app's commit is not an ancestor of HEAD, and the
push is rejected as non-fast-forward.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from .errors import HerokuToolsError
from .git import Git
from .output import Console
from .release import Outcome, Unhealthy, deploy
from .session import Session
from .settings import Environment
from .settings.model import Route

#: Variables CI providers set to the branch they build, for a checkout with a detached HEAD.
CI_BRANCH_VARS = ("CI_COMMIT_BRANCH", "CIRCLE_BRANCH", "BITBUCKET_BRANCH", "BUILDKITE_BRANCH")


class RouteRefused(HerokuToolsError):
    """The route leads to a protected environment without both permissions it needs."""


class UnhealthyAlongRoute(Unhealthy):
    """``ci`` made a release that failed its health check: ``ci_outcome`` is what ``--json`` prints for it."""

    def __init__(self, error: Unhealthy, ci_outcome: CiOutcome):
        super().__init__(error.message, error.outcome, code=error.code, state=error.state, recover=error.recover)
        self.ci_outcome = ci_outcome


@dataclass(frozen=True)
class CiOutcome:
    """What ``ci`` did: the branch, its route and environment (None: no route), and the deploy's outcome."""

    branch: str
    commit: str
    route: Route | None
    env: Environment | None
    #: None when nothing was deployed: no route, up to date, or a dry run.
    outcome: Outcome | None

    @property
    def reason(self) -> str:
        if self.route is None:
            return f"no route for branch {self.branch}"
        if self.outcome is None:
            return "nothing deployed (up to date, or a dry run)"
        return f"deployed by route {self.route.branch}"

    def as_json(self) -> dict:
        return {
            "branch": self.branch,
            "commit": self.commit,
            "route": self.route.branch if self.route else None,
            "environment": self.env.label if self.env else None,
            "app": self.env.app_name if self.env else None,
            "reason": self.reason,
        }


def ci(
    session: Session,
    *,
    branch: str | None = None,
    confirm_app: str | None = None,
    dry_run: bool = False,
    console: Console = Console(),
    environ: Mapping[str, str] | None = None,
) -> CiOutcome:
    """Deploy HEAD along the route of ``branch`` (default: the current branch), without asking anyone anything.

    ``confirm_app`` is ``--confirm``: needed, with ``allow_protected: true`` on
    the route, to reach a protected environment; checked against the app on
    any other.
    """
    git = session.git
    branch = current_branch(git, branch, environ)
    commit = git.rev_parse("HEAD")
    route = session.settings.route(branch)
    if route is None:
        console.say(f"no route for branch {branch}: nothing to deploy (routes: "
                    f"{', '.join(f'{r.branch} → {r.environment}' for r in session.settings.routes) or 'none'})")
        return CiOutcome(branch, commit, None, None, None)
    env = session.settings.environment(route.environment)
    confirmed = _confirmation(route, env, confirm_app)
    console.say(f"branch {branch} ({commit[:12]}) → {env.label} ({env.app_name}), by the route {route.branch!r}")
    _unshallow(git, env, console)
    try:
        outcome = deploy(session, env.label, branch=branch, commit=commit, confirm_app=confirmed, dry_run=dry_run,
                         note=False, console=console)
    except Unhealthy as error:
        raise UnhealthyAlongRoute(error, CiOutcome(branch, commit, route, env, error.outcome)) from None
    return CiOutcome(branch, commit, route, env, outcome)


def current_branch(git: Git, branch: str | None = None, environ: Mapping[str, str] | None = None) -> str:
    """The branch HEAD stands for: ``branch`` if given, else the checked-out one, else the CI provider's variable."""
    checked_out = git.current_branch()
    if branch and checked_out and checked_out != branch:
        raise HerokuToolsError(f"HEAD is on {checked_out}, not {branch}: check out {branch} (CI: its commit), "
                               "or leave --branch out; nothing was changed")
    found = branch or checked_out or _ci_branch(os.environ if environ is None else environ)
    if not found:
        raise HerokuToolsError(
            "HEAD is detached and no branch was given: pass --branch NAME, the branch this commit was built from "
            f"(or set one of {', '.join(CI_BRANCH_VARS)}, or GITHUB_REF); nothing was changed")
    return found


def _unshallow(git: Git, env: Environment, console: Console) -> None:
    """A shallow clone's whole history, from the environment's remote: pushing to Heroku needs it."""
    shallow = git.execute(["rev-parse", "--is-shallow-repository"]).stdout.strip() == "true"
    if shallow and git.remote_url(env.remote):
        console.say(f"a shallow clone: fetching its history from {env.remote} (git fetch --unshallow), which a push needs")
        git.execute(["fetch", "--quiet", "--unshallow", "--tags", env.remote])


def _ci_branch(environ: Mapping[str, str]) -> str | None:
    """The branch a CI provider says it builds; GitHub's ``GITHUB_REF`` only when it names a branch."""
    ref = environ.get("GITHUB_REF") or ""
    found = next((environ[name] for name in CI_BRANCH_VARS if environ.get(name)), None)
    return found or (ref.removeprefix("refs/heads/") if ref.startswith("refs/heads/") else None)


def _confirmation(route: Route, env: Environment, confirm_app: str | None) -> str:
    """The ``confirm_app`` the deploy is given: the route's word on an unprotected environment, the job's on a protected one."""
    if not env.protected:
        # The route is the confirmation: the deploy's confirm_change is met by naming the app, as --confirm does.
        return confirm_app or env.app_name
    if not route.allow_protected:
        raise RouteRefused(
            f"the route {route.branch!r} leads to {env.label}, which is protected: a route reaches a protected "
            "environment only with allow_protected: true, and CI must name the app with --confirm; nothing was changed",
            recover=f"heroku-tools promote {env.upstream}   # a person's decision" if env.upstream else (),
        )
    if confirm_app is None:
        raise RouteRefused(
            f"the route {route.branch!r} allows {env.label}, which is protected, but this job did not name its app; "
            "nothing was changed",
            recover=f"heroku-tools ci --confirm {env.app_name}",
        )
    return confirm_app
