"""Carry out a :class:`~heroku_tools.release.plan.DeployPlan`, leaving a defined state on any failure.

The sequence: preboot off if the plan says so (back on afterwards, on every
path); push or promote, with the maintenance page going up only once it is
needed — after the build, or just before a promotion; the release and its
release phase (its output shown; the page comes down as soon as it has
succeeded when it did the migrating); every post-push command in one dyno;
maintenance off; the tag. A :class:`~heroku_tools.release.journal.Journal`
records each step as it happens, so a failure — Ctrl-C included — is
answered by :mod:`~heroku_tools.release.failure` with what failed, the state
the app is left in, and the exact commands to recover.
"""
from __future__ import annotations

import contextlib
import itertools
import time
from collections.abc import Iterator

from .. import database
from ..errors import HerokuToolsError, RemoteCommandFailed
from ..git import Git
from ..models import Release
from ..output import Console
from ..session import Session
from . import locks, tags
from .deployed import ApiReleases, wait_for_release
from .errors import DeployFailed, NothingBuilt
from .journal import Journal, Outcome
from .failure import failure
from .options import DeployOptions
from .plan import DeployPlan
from .steps import SCHEMA_STEPS, StepProgress, script
from .window import Beside, BuildWatcher, Window, late_by

#: What git prints when the remote already has the commit (a push that builds nothing).
_UP_TO_DATE = "Everything up-to-date"


def execute(plan: DeployPlan, session: Session, *, note: str | None = None, console: Console = Console()) -> Outcome:
    """Run the plan; raise :class:`DeployFailed` (after cleaning up) on any failure.

    ``note``, the release note, becomes part of the release tag's message.
    The polls for the new release and the maintenance switches go to the
    Platform API: a heroku CLI start-up each would be a second of downtime.
    """
    started = time.monotonic()
    journal = Journal(plan)
    window = Window(plan, journal, session, console)
    try:
        with _preboot_off(plan, journal, session, console.say):
            if plan.options & DeployOptions.PUSH:
                _ship(plan, journal, session, window, console)
            if plan.steps:
                _run_steps(plan, journal, session, window, console)
            window.off()
        tag = _tag(plan, journal, session.git, note, console.say) if journal.new_release is not None else None
    except KeyboardInterrupt as interrupt:
        raise failure(journal, session, "interrupted (Ctrl-C)", interrupted=True,
                      dyno=getattr(interrupt, "note", None)) from None
    except HerokuToolsError as error:
        raise failure(journal, session, error.message, cause=error) from None
    late = late_by(journal)
    if late is not None:
        console.warn(f"The maintenance page came up {late:.1f}s after release v{journal.new_release.version} was "
                     "created: the new release may have served briefly before it (see maintenance_from in the docs).")
    return Outcome(
        plan=plan,
        release=journal.new_release,
        tag=tag,
        maintenance_seconds=journal.maintenance_seconds,
        seconds=time.monotonic() - started,
        steps_run=tuple(journal.progress.started) if journal.progress else (),
        backup=journal.backup,
    )


@contextlib.contextmanager
def _preboot_off(plan: DeployPlan, journal: Journal, session: Session, say) -> Iterator[None]:
    """Preboot off for an incompatible deploy (the old code must not keep serving), on again after, always."""
    if not (plan.decision and plan.decision.preboot_off):
        yield
        return
    app = plan.env.app_name
    journal.begin(f"preboot off for {app} during this deploy", say)
    session.api.set_feature(app, "preboot", False)
    journal.preboot_off = True
    try:
        yield
    except BaseException:
        with contextlib.suppress(HerokuToolsError):  # the failure policy says so if preboot stays off
            _preboot_on(journal, session, say)
        raise
    _preboot_on(journal, session, say)


def _preboot_on(journal: Journal, session: Session, say) -> None:
    journal.begin(f"preboot on again for {journal.plan.env.app_name}", say)
    session.api.set_feature(journal.plan.env.app_name, "preboot", True)
    journal.preboot_off = False


def _ship(plan: DeployPlan, journal: Journal, session: Session, window: Window, console: Console) -> None:
    """Push or promote, then wait for the release it makes; a failed release phase is a failure."""
    app, say = plan.env.app_name, console.say
    previous = plan.next_version - 1
    switch_failed = None
    release_phase_migrates = plan.decision is not None and not plan.decision.migrate_here
    backup_first = plan.backup and release_phase_migrates
    if plan.method != "push" or plan.env.maintenance_from == "push" or backup_first:
        window.on()  # a backup before a migrating release phase needs the page up before the push
    if backup_first:
        _backup(plan, journal, session, console)
    if plan.method == "promote":
        journal.begin(f"promoting {plan.source_app} to {app}", say)
        journal.shipping = True
        session.heroku.pipeline_promote(plan.source_app, to=list(plan.target_apps))
    elif plan.method == "retry":
        journal.begin(f"retrying v{plan.retried.version} of {app} (its release phase runs again)", say)
        journal.shipping = True
        session.heroku.releases_retry(app)
    else:
        journal.begin(f"pushing {plan.target_commit[:12]} to {app}", say)
        journal.shipping = True
        watcher = BuildWatcher(window, console.stream)
        refspec = f"{plan.target_commit}:refs/heads/main"
        pushed = session.git.push(plan.git_url, refspec, force=plan.force, stream=watcher)
        if _UP_TO_DATE in pushed:
            raise NothingBuilt(f"{app}'s git repository already holds {plan.target_commit[:12]}, so the push built nothing")
        switch_failed = _open_after_build(watcher)
    journal.begin(f"waiting for the new release of {app}", say)
    journal.new_release = wait_for_release(ApiReleases(session.api), app, previous)
    if switch_failed is not None:
        # Heroku released the build anyway: say what is out, then the failure policy takes it from here.
        journal.step = f"maintenance on for {app} (after the build)"
        raise DeployFailed(f"{switch_failed.message}; {app} released v{journal.new_release.version} without the "
                           "maintenance page, and its post-push commands have not run")
    if plan.method != "push":  # a push streams the release phase's output itself
        _show_release_phase(journal.new_release, session, console)
    if journal.new_release.status != "succeeded":
        journal.applied_before_failure = _applied_since(plan, session)
        raise DeployFailed(
            f"release v{journal.new_release.version} of {app} {journal.new_release.status} (its release phase failed)"
        )
    if not any(step.name in SCHEMA_STEPS for step in plan.steps):
        window.off()  # the release phase did the migrating: nothing left that needs the page


def _open_after_build(watcher: BuildWatcher) -> HerokuToolsError | None:
    """Open the window once the build is done; a failed switch is returned, not raised, as the release comes anyway."""
    try:
        watcher.finish()
    except HerokuToolsError as error:
        return error
    return None


def _show_release_phase(release: Release, session: Session, console: Console) -> None:
    """The release phase's output, when it had one (Heroku keeps it behind ``output_stream_url``)."""
    if not release.output_stream_url:
        return
    try:
        text = session.api.text(release.output_stream_url)
    except HerokuToolsError as error:
        console.warn(f"the release phase's output could not be read: {error.message}")
        return
    console.say(f"release phase of v{release.version}:")
    for line in text.splitlines():
        console.stream(line)


def _applied_since(plan: DeployPlan, session: Session) -> tuple[str, ...]:
    """The migrations applied since the plan was made (what a failed release phase left), as ``app.name``."""
    if plan.schema is None or plan.schema.plan is None:
        return ()
    url = session.api.config_vars(plan.env.app_name).get("DATABASE_URL")
    if not url:
        return ()
    try:
        now = database.applied_migrations(url)
    except HerokuToolsError:
        return ()
    before = set(plan.schema.applied_before)
    return tuple(f"{app}.{name}" for app, name in now if (app, name) not in before)


def _run_steps(plan: DeployPlan, journal: Journal, session: Session, window: Window, console: Console) -> None:
    """Every post-push command in one dyno; maintenance comes off as soon as the schema steps are done."""
    app = plan.env.app_name
    if not plan.options & DeployOptions.PUSH:
        window.on()
    journal.progress = StepProgress(plan.steps, show=console.stream)
    early_off = _EarlyMaintenanceOff(plan, window)
    journal.progress.on_start = early_off.step_started
    if plan.backup and plan.decision is not None and plan.decision.migrate_here:
        _backup(plan, journal, session, console)
    journal.begin(f"running {', '.join(step.name for step in plan.steps)} on {app} (one dyno)", console.say)
    remaining = list(plan.steps)
    try:
        for attempt in itertools.count(1):
            try:
                session.heroku.run(app, script(remaining, lock_timeout=plan.lock_timeout), stream=journal.progress)
                break
            except RemoteCommandFailed as error:
                remaining = _after_lock_timeout(plan, journal, session, console, error, attempt, remaining)
    finally:
        early_off.join()
    journal.steps_finished = True


def _backup(plan: DeployPlan, journal: Journal, session: Session, console: Console) -> None:
    """The database as the old code left it, captured once the page is up and just before the migrations."""
    app = plan.env.app_name
    journal.begin(f"capturing a backup of {app} before the migrations", console.say)
    journal.backup = session.heroku.pg_backups_capture(app, stream=console.stream)
    if journal.backup:
        console.say(f"backup {journal.backup} holds {app}'s data as it was before the migrations")


def _after_lock_timeout(plan: DeployPlan, journal: Journal, session: Session, console: Console,
                        error: RemoteCommandFailed, attempt: int, remaining: list) -> list:
    """The steps to run again after a schema step gave up waiting for a lock; :class:`DeployFailed` otherwise."""
    step = journal.progress.current
    what = f"`{journal.progress.command(step)}`" if step else "the dyno"
    if step not in SCHEMA_STEPS or not locks.timed_out(error.stdout + error.stderr):
        raise DeployFailed(f"{what} exited with status {error.exit_code}")
    url = session.api.config_vars(plan.env.app_name).get("DATABASE_URL") or ""
    if attempt > plan.lock_retries:
        journal.lock_timed_out = True
        journal.applied_before_failure = _applied_since(plan, session)
        blockers = locks.holders(url) if url else []
        named = "; ".join(map(str, blockers)) if blockers else "the session holding it could not be read"
        raise DeployFailed(f"{what} could not get a lock within lock_timeout={plan.lock_timeout}, "
                           f"{attempt} time(s): {named}")
    try:
        dropped = locks.clear_invalid_indexes(url, locks.concurrent_index_names(plan.schema and plan.schema.plan))
    except HerokuToolsError as refused:
        journal.lock_timed_out = True
        raise DeployFailed(f"{what} could not get a lock within lock_timeout={plan.lock_timeout}, "
                           f"and {refused.message}") from None
    delay = 2 ** attempt
    console.warn(f"{step} gave up waiting for a lock (lock_timeout={plan.lock_timeout}); trying again in {delay}s, "
                 f"{plan.lock_retries - attempt + 1} attempt(s) left"
                 + (f" (dropped the invalid index(es) {', '.join(dropped)} the timed-out build left)" if dropped else ""))
    time.sleep(delay)
    return remaining[[s.name for s in remaining].index(step):]


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

    def __init__(self, plan: DeployPlan, window: Window):
        names = [step.name for step in plan.steps]
        schema = [i for i, name in enumerate(names) if name in SCHEMA_STEPS]
        self.after_schema = names[schema[-1] + 1] if schema and schema[-1] + 1 < len(names) else None
        self.window = window
        self.closing = Beside(self._off, "maintenance-off")

    def step_started(self, name: str) -> None:
        if name == self.after_schema and self.window.journal.maintenance_since is not None:
            self.closing.start()

    def _off(self) -> None:
        self.window.off()
        self.window.journal.maintenance_off_early = True

    def join(self) -> None:
        self.closing.join()
