"""Carry out a :class:`~heroku_tools.plan.DeployPlan`, leaving a defined state on any failure.

The sequence: maintenance on (only if the plan needs downtime, and no earlier
than the push or promotion), push or promote, wait for the release, every
post-push command in one dyno, maintenance off, tag. A :class:`Journal` records
each step as it happens, so a failure — Ctrl-C included — is answered with
what failed, the state the app is left in, and the exact commands to recover:

* maintenance comes off again when the failure came before any migration ran
  (the old code, or the new code on an untouched schema, still serves);
* after a failed (or interrupted) migration it stays on, loudly, because the
  schema may be half-migrated;
* a step whose exit status was not checked is never reported as a success.
"""
from __future__ import annotations

import threading
import time

from ..errors import HerokuToolsError, RemoteCommandFailed
from ..git import Git
from ..heroku import Heroku
from ..models import Release
from ..output import Console
from ..session import Session
from . import tags
from .journal import DeployFailed, Journal, NothingBuilt, Outcome
from .failure import failure
from .options import DeployOptions
from .plan import DeployPlan
from .steps import SCHEMA_STEPS, StepProgress, script

#: What git prints when the remote already has the commit (a push that builds nothing).
_UP_TO_DATE = "Everything up-to-date"


class ApiReleases:
    """``releases(app, n)`` read straight from the Platform API.

    Polling for the new release happens inside the maintenance window, where a
    heroku CLI start-up per poll (about a second) would be a second of downtime.
    """

    def __init__(self, api):
        self.api = api

    def releases(self, app: str, num: int = 15) -> list[Release]:
        return [Release.from_json(data) for data in self.api.releases(app, num)]


def wait_for_release(
    heroku,
    app: str,
    after_version: int,
    *,
    timeout: float = 3600.0,
    poll: float = 1.0,
    appear_timeout: float = 60.0,
) -> Release:
    """The first release newer than ``after_version``, once it is no longer pending.

    A push or promotion returns once Heroku has created the release, so if none
    has appeared within ``appear_timeout`` none is coming (the push built
    nothing): that fails at once rather than after ``timeout``.
    """
    started = time.monotonic()
    while True:
        newer = [r for r in heroku.releases(app, 5) if r.version > after_version]
        newest = max(newer, key=lambda r: r.version, default=None)
        if newest is not None and newest.status != "pending":
            return newest
        waited = time.monotonic() - started
        if newest is None and waited > appear_timeout:
            raise NothingBuilt(f"no new release of {app} appeared within {appear_timeout:.0f}s of the push")
        if waited > timeout:
            raise DeployFailed(f"no finished release appeared on {app} within {timeout:.0f}s")
        time.sleep(poll)


def execute(plan: DeployPlan, session: Session, *, note: str | None = None, console: Console = Console()) -> Outcome:
    """Run the plan; raise :class:`DeployFailed` (after cleaning up) on any failure.

    ``note``, the release note, becomes part of the release tag's message.
    The polls for the new release go to the Platform API (``session.api``)
    when there is one: a heroku CLI start-up per poll would be a second of
    downtime each inside the maintenance window.
    """
    started = time.monotonic()
    journal = Journal(plan)
    try:
        if plan.options & DeployOptions.PUSH:
            _ship(plan, journal, session, console)
        if plan.steps:
            _run_steps(plan, journal, session.heroku, console)
        _maintenance_off(journal, session.heroku, plan.env.app_name, console.say)
        tag = _tag(plan, journal, session.git, note, console.say) if journal.new_release is not None else None
    except KeyboardInterrupt:
        raise failure(journal, session.heroku, "interrupted (Ctrl-C)", interrupted=True) from None
    except HerokuToolsError as error:
        raise failure(journal, session.heroku, error.message, cause=error) from None
    return Outcome(
        plan=plan,
        release=journal.new_release,
        tag=tag,
        maintenance_seconds=journal.maintenance_seconds,
        seconds=time.monotonic() - started,
        steps_run=tuple(journal.progress.started) if journal.progress else (),
    )


def _ship(plan: DeployPlan, journal: Journal, session: Session, console: Console) -> None:
    """Push or promote, then wait for the release it makes; a failed release phase is a failure."""
    app, say = plan.env.app_name, console.say
    previous = plan.next_version - 1
    _maintenance_on(plan, journal, session.heroku, say)
    if plan.method == "promote":
        journal.begin(f"promoting {plan.source_app} to {app}", say)
        journal.shipping = True
        session.heroku.pipeline_promote(plan.source_app, to=list(plan.target_apps))
    else:
        journal.begin(f"pushing {plan.target_commit[:12]} to {app}", say)
        journal.shipping = True
        refspec = f"{plan.target_commit}:refs/heads/main"
        pushed = session.git.push(plan.git_url, refspec, force=plan.force, stream=console.stream)
        if _UP_TO_DATE in pushed:
            raise NothingBuilt(f"{app}'s git repository already holds {plan.target_commit[:12]}, so the push built nothing")
    journal.begin(f"waiting for the new release of {app}", say)
    journal.new_release = wait_for_release(ApiReleases(session.api) if session.api else session.heroku, app, previous)
    if journal.new_release.status != "succeeded":
        raise DeployFailed(
            f"release v{journal.new_release.version} of {app} {journal.new_release.status} (its release phase failed)"
        )


def _run_steps(plan: DeployPlan, journal: Journal, heroku: Heroku, console: Console) -> None:
    """Every post-push command in one dyno; maintenance comes off as soon as the schema steps are done."""
    app = plan.env.app_name
    if not plan.options & DeployOptions.PUSH:
        _maintenance_on(plan, journal, heroku, console.say)
    journal.progress = StepProgress(plan.steps, show=console.stream)
    early_off = _EarlyMaintenanceOff(plan, journal, heroku, app, console.say)
    journal.progress.on_start = early_off.step_started
    journal.begin(f"running {', '.join(step.name for step in plan.steps)} on {app} (one dyno)", console.say)
    try:
        heroku.run(app, script(plan.steps), stream=journal.progress)
    except RemoteCommandFailed as error:
        step = journal.progress.current
        what = f"`{journal.progress.command(step)}`" if step else "the dyno"
        raise DeployFailed(f"{what} exited with status {error.exit_code}") from None
    finally:
        early_off.join()
    journal.steps_finished = True


def _tag(plan: DeployPlan, journal: Journal, git: Git, note: str | None, say) -> str:
    """Tag the deployed commit with the new release (annotated: deployer, commits, release note)."""
    version = journal.new_release.version
    journal.begin(f"tagging {plan.target_commit[:12]} as {plan.env.tag(version)}", say)
    return tags.record(
        git,
        plan.env,
        version,
        plan.target_commit,
        tags.message(plan.env, version, plan.deployer, plan.commits, note),
        push_remote=plan.env.remote if plan.env.push_tags and git.remote_url(plan.env.remote) else None,
    )


class _EarlyMaintenanceOff:
    """Take the maintenance page down as soon as the schema steps are done.

    The steps share one dyno, so the page cannot wait for the dyno to end
    without keeping collectstatic or fixtures inside the downtime: when the
    first step after the last schema step starts, the migrations have
    succeeded, and maintenance goes off alongside it. If that fails, the
    failure surfaces after the dyno, with the page still (reported as) on.
    """

    def __init__(self, plan: DeployPlan, journal: Journal, heroku: Heroku, app: str, say):
        names = [step.name for step in plan.steps]
        schema = [i for i, name in enumerate(names) if name in SCHEMA_STEPS]
        self.after_schema = names[schema[-1] + 1] if schema and schema[-1] + 1 < len(names) else None
        self.journal, self.heroku, self.app, self.say = journal, heroku, app, say
        self.thread: threading.Thread | None = None
        self.error: BaseException | None = None

    def step_started(self, name: str) -> None:
        if name != self.after_schema or self.journal.maintenance_since is None or self.thread:
            return
        self.thread = threading.Thread(target=self._off, daemon=True)
        self.thread.start()

    def _off(self) -> None:
        try:
            _maintenance_off(self.journal, self.heroku, self.app, self.say)
            self.journal.maintenance_off_early = True
        except BaseException as error:  # noqa: BLE001 - re-raised in join()
            self.error = error

    def join(self) -> None:
        if self.thread is not None:
            self.thread.join()
        if self.error is not None:
            error, self.error = self.error, None
            raise error


def _maintenance_on(plan: DeployPlan, journal: Journal, heroku: Heroku, say) -> None:
    if not plan.maintenance or plan.already_maintenance or journal.maintenance_since is not None:
        return
    journal.begin(f"maintenance on for {plan.env.app_name}", say)
    heroku.maintenance_on(plan.env.app_name)
    journal.maintenance_since = time.monotonic()


def _maintenance_off(journal: Journal, heroku: Heroku, app: str, say) -> None:
    if journal.maintenance_since is None:
        return
    journal.begin(f"maintenance off for {app}", say)
    heroku.maintenance_off(app)
    journal.maintenance_seconds = time.monotonic() - journal.maintenance_since
    journal.maintenance_since = None
