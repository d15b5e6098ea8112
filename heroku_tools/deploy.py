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
from dataclasses import dataclass, field
from collections.abc import Callable

from .errors import HerokuToolsError, RemoteCommandFailed
from .git import Git
from .heroku import Heroku
from .models import Release
from .options import DeployOptions
from .plan import DeployPlan, current_release
from .steps import SCHEMA_STEPS, StepProgress, script
from . import tags


class DeployFailed(HerokuToolsError):
    """A deployment step failed; the message says where things stand and how to recover."""


class NothingBuilt(DeployFailed):
    """The push sent nothing: the app's repository already holds the commit, so no release came."""


#: What git prints when the remote already has the commit (a push that builds nothing).
_UP_TO_DATE = "Everything up-to-date"


@dataclass
class Outcome:
    """What a deployment did."""

    plan: DeployPlan
    release: Release | None = None
    tag: str | None = None
    #: Seconds the maintenance page was up (0 when it never went on).
    maintenance_seconds: float = 0.0
    seconds: float = 0.0
    steps_run: tuple[str, ...] = ()


@dataclass
class Journal:
    """What has happened so far, to decide the failure policy and tell the user."""

    plan: DeployPlan
    step: str = "starting"
    maintenance_since: float | None = None
    #: Maintenance came off as soon as the schema steps were done, before the dyno ended.
    maintenance_off_early: bool = False
    maintenance_seconds: float = 0.0
    progress: StepProgress | None = None
    #: The post-push commands all ran and exited 0 (a later failure is not theirs).
    steps_finished: bool = False
    #: The push or promotion has begun: Heroku may release the new code whatever happens next.
    shipping: bool = False
    new_release: Release | None = None
    log: list[str] = field(default_factory=list)

    def begin(self, step: str, say: Callable[[str], None]) -> None:
        self.step = step
        self.log.append(step)
        say(f"==> {step}")

    @property
    def schema_at_risk(self) -> bool:
        """A schema step failed or was cut off: the database may be half-migrated."""
        return bool(self.progress and not self.steps_finished and self.progress.in_schema_step)

    @property
    def schema_steps_ran(self) -> bool:
        return bool(self.progress and any(name in SCHEMA_STEPS for name in self.progress.started))


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


def execute(
    plan: DeployPlan,
    *,
    git: Git,
    heroku: Heroku,
    say: Callable[[str], None] = print,
    stream: Callable[[str], None] | None = None,
    note: str | None = None,
    api=None,
) -> Outcome:
    """Run the plan; raise :class:`DeployFailed` (after cleaning up) on any failure.

    ``note``, the release note, becomes part of the release tag's message.
    ``api`` (a :class:`~heroku_tools.platform.PlatformAPI`) makes the polls
    for the new release cheap; without it the heroku CLI is polled.
    """
    started = time.monotonic()
    journal = Journal(plan)
    app = plan.env.app_name
    stream = stream or say
    try:
        if plan.options & DeployOptions.PUSH:
            previous = plan.next_version - 1
            _maintenance_on(plan, journal, heroku, say)
            if plan.method == "promote":
                journal.begin(f"promoting {plan.source_app} to {app}", say)
                journal.shipping = True
                heroku.pipeline_promote(plan.source_app, to=list(plan.target_apps))
            else:
                journal.begin(f"pushing {plan.target_commit[:12]} to {app}", say)
                journal.shipping = True
                refspec = f"{plan.target_commit}:refs/heads/main"
                pushed = git.push(plan.git_url, refspec, force=plan.force, stream=stream)
                if _UP_TO_DATE in pushed:
                    raise NothingBuilt(f"{app}'s git repository already holds {plan.target_commit[:12]}, so the push built nothing")
            journal.begin(f"waiting for the new release of {app}", say)
            journal.new_release = wait_for_release(ApiReleases(api) if api else heroku, app, previous)
            if journal.new_release.status != "succeeded":
                raise DeployFailed(
                    f"release v{journal.new_release.version} of {app} {journal.new_release.status} "
                    "(its release phase failed)"
                )
        if plan.steps:
            if not plan.options & DeployOptions.PUSH:
                _maintenance_on(plan, journal, heroku, say)
            journal.progress = StepProgress(plan.steps, show=stream)
            early_off = _EarlyMaintenanceOff(plan, journal, heroku, app, say)
            journal.progress.on_start = early_off.step_started
            names = ", ".join(step.name for step in plan.steps)
            journal.begin(f"running {names} on {app} (one dyno)", say)
            try:
                heroku.run(app, script(plan.steps), stream=journal.progress)
            except RemoteCommandFailed as error:
                step = journal.progress.current
                what = f"`{journal.progress.command(step)}`" if step else "the dyno"
                raise DeployFailed(f"{what} exited with status {error.exit_code}") from None
            finally:
                early_off.join()
            journal.steps_finished = True
        _maintenance_off(journal, heroku, app, say)
        tag = None
        if journal.new_release is not None:
            journal.begin(f"tagging {plan.target_commit[:12]} as {plan.env.tag(journal.new_release.version)}", say)
            tag = tags.record(
                git,
                plan.env,
                journal.new_release.version,
                plan.target_commit,
                tags.message(plan.env, journal.new_release.version, plan.deployer, plan.commits, note),
                push_remote=plan.env.remote if plan.env.push_tags and git.remote_url(plan.env.remote) else None,
            )
    except KeyboardInterrupt:
        raise _failure(journal, heroku, say, "interrupted (Ctrl-C)", interrupted=True) from None
    except HerokuToolsError as error:
        raise _failure(journal, heroku, say, error.message, cause=error) from None
    return Outcome(
        plan=plan,
        release=journal.new_release,
        tag=tag,
        maintenance_seconds=journal.maintenance_seconds,
        seconds=time.monotonic() - started,
        steps_run=tuple(journal.progress.started) if journal.progress else (),
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


def _failure(
    journal: Journal,
    heroku: Heroku,
    say,
    reason: str,
    *,
    interrupted: bool = False,
    cause: HerokuToolsError | None = None,
) -> DeployFailed:
    """Apply the failure policy and build the one message that explains it."""
    plan = journal.plan
    app = plan.env.app_name
    state: list[str] = []
    recover: list[str] = []
    failed_step = journal.step
    if journal.progress and journal.progress.current and not journal.steps_finished:
        failed_step = f"running step {journal.progress.current!r} on {app}"

    maintenance_note = None
    if journal.maintenance_since is not None:
        if journal.schema_at_risk:
            maintenance_note = (
                f"MAINTENANCE IS STILL ON for {app}: {journal.progress.current} failed or was interrupted, "
                "so the database schema may be half-migrated"
            )
            recover.append(f"heroku run -x -a {app} -- 'python manage.py showmigrations'   # inspect")
            recover.append(f"heroku maintenance:off -a {app}   # once the schema is sound")
        else:
            try:
                heroku.maintenance_off(app)
                why = "the migrations had completed" if journal.schema_steps_ran else "no migration had run"
                maintenance_note = f"maintenance is off again for {app} ({why})"
                journal.maintenance_since = None
            except (HerokuToolsError, KeyboardInterrupt):
                maintenance_note = f"MAINTENANCE IS STILL ON for {app}: turning it off failed too"
                recover.insert(0, f"heroku maintenance:off -a {app}")
    elif journal.maintenance_off_early:
        maintenance_note = f"maintenance is off again for {app} (the migrations had completed)"

    current, release_note, releases = _release_state(heroku, app)
    if release_note:
        state.append(release_note)
    if maintenance_note:
        state.append(maintenance_note)
    steps_only = f"heroku-tools deploy {plan.env.label} --options {int(plan.options & ~DeployOptions.PUSH)}"
    if interrupted and journal.shipping and journal.progress is None:
        # Heroku finishes a build or promotion whose client went away: the new code may still come up.
        what = "promotion" if plan.method == "promote" else "push"
        if current is not None and current.version >= plan.next_version:
            state.append(f"{app} already runs the new code (v{current.version}), but its post-push commands did not run")
            if plan.deployed.release is not None:
                recover.append(f"heroku releases:rollback v{plan.deployed.release.version} -a {app}"
                               "   # or: back to the code that ran before")
        else:
            state.append(
                f"the {what} was interrupted, but Heroku may still finish the build and release "
                f"{plan.target_commit[:12]}: check `heroku releases -a {app}`"
            )
        if plan.steps:
            recover.append(f"{steps_only}   # once {app} runs {plan.target_commit[:12]}: the post-push commands it missed")
    failed_release = journal.new_release is not None and journal.new_release.status != "succeeded"
    if isinstance(cause, NothingBuilt) or (failed_release and plan.method == "push"):
        # The app's repository holds the commit now: pushing it again builds nothing.
        recover += _rebuild_hints(plan, releases)
    if journal.new_release is not None and journal.new_release.status == "succeeded":
        previous = plan.deployed.release.version if plan.deployed.release else None
        if previous is not None:
            recover.append(f"heroku releases:rollback v{previous} -a {app}   # back to the code that ran before")
    if plan.steps and journal.progress is not None and not journal.steps_finished:
        recover.append(f"{steps_only}   # re-run just the post-push commands")
    recover.append(f"heroku-tools deploy {plan.env.label}   # try again once the cause is fixed")
    failed_step = failed_step[0].lower() + failed_step[1:]
    return DeployFailed(f"deploy to {plan.env.label} failed at {failed_step}: {reason}", state=state, recover=recover)


def _release_state(heroku: Heroku, app: str) -> tuple[Release | None, str, list[Release]]:
    """``(current release, the line saying so, the latest releases)``."""
    try:
        releases = heroku.releases(app, 25)
    except (HerokuToolsError, KeyboardInterrupt):
        return None, f"the release state of {app} could not be read: check `heroku releases -a {app}`", []
    current = current_release(releases)
    if current is None:
        return None, f"{app} has no current release", releases
    return current, f"{app} runs v{current.version} ({current.description})", releases


def _rebuild_hints(plan: DeployPlan, releases: list[Release]) -> list[str]:
    """How to run a commit the app's repository already holds: roll forward to its release, or build anew."""
    app, commit = plan.env.app_name, plan.target_commit
    hints = []
    ran = [
        r for r in releases
        if r.status == "succeeded" and r.slug_id and r.deployed_sha and commit.startswith(r.deployed_sha)
    ]
    if ran:
        version = max(ran, key=lambda r: r.version).version
        hints.append(f"heroku releases:rollback v{version} -a {app}   # back to the release that ran {commit[:12]}")
    if plan.method == "push":
        hints.append(
            f"git commit --allow-empty -m 'Rebuild {commit[:7]}' && git push {plan.env.remote} {plan.branch}"
            f"   # {app} has {commit[:7]} already: only a new commit builds; then deploy again"
        )
    return hints


def deploy(
    session,
    label: str,
    *,
    confirm_app: str | None = None,
    dry_run: bool = False,
    note: str | bool | None = None,
    report: Callable[[str], None] = print,
    say: Callable[[str], None] = print,
    warn: Callable[[str], None] | None = None,
    stream: Callable[[str], None] | None = None,
    **choices,
) -> Outcome | None:
    """Plan, report, take the release note, confirm, execute and announce a deployment of ``label``.

    Returns None if nothing was done. ``note`` is the release note's text,
    ``False`` for none, or ``None`` to ask for one in the user's editor (on a
    terminal; see :mod:`heroku_tools.notes`). The environment's ``notify``
    targets hear that the deployment started, then that it succeeded or
    failed, from background threads (see :mod:`heroku_tools.notify`); their
    failures come out through ``warn`` (default: ``say``).

    ``choices`` are :func:`~heroku_tools.plan.plan_deploy`'s keyword arguments
    (``branch``, ``force``, ``options``, ``migrate``, ``collectstatic``,
    ``loaddata``, ``maintenance``, ``promote_from``). This is the function the
    ``deploy`` and ``promote`` tasks call; a fabfile can call it too.
    """
    from . import notes, notify
    from .confirm import ConfirmationRefused, confirm
    from .plan import plan_deploy, render_report

    # Before anything else: an unset ${VAR} is a settings mistake, found before any network call.
    targets = notify.resolve(session.settings.environment(label))
    plan = plan_deploy(
        session.settings, label, git=session.git, heroku=session.heroku, api=session.api, progress=say, **choices
    )
    if plan.up_to_date and choices.get("options") is None:
        release = plan.deployed.release
        say(f"{plan.env.label} ({plan.env.app_name}) is up to date: v{release.version} runs {plan.target_commit[:12]}.")
        return None
    report(render_report(plan, paint=_painter()))
    if targets:
        report(f"Notifications: {', '.join(map(str, targets))}")
    if dry_run:
        say("--dry-run: stopping here; nothing was changed.")
        return None
    edited = note is None and bool(plan.options & DeployOptions.PUSH)
    if edited:
        note = notes.ask(plan, git=session.git, say=say)
    note = note or None
    if note:
        say(f"Release note: {notes.first_line(note)}")
    action = f"{'promote to' if plan.method == 'promote' else 'deploy to'} {plan.env.label} ({plan.env.app_name})"
    try:
        confirm(plan.env.app_name, action, confirm_app=confirm_app)
    except ConfirmationRefused as error:
        if edited and note:
            error.recover.append(notes.reuse_hint(session.git, f"heroku-tools deploy {plan.env.label}"))
        raise
    notifier = notify.Notifier(targets, warn=warn or say)
    event = notify.deploy_event(plan, note)
    started = time.monotonic()
    notifier.send(event)
    try:
        outcome = execute(plan, git=session.git, heroku=session.heroku, say=say, stream=stream, note=note, api=session.api)
    except DeployFailed as error:
        notifier.send(event.finished("failed", time.monotonic() - started, error=error.message))
        notifier.close()
        if edited and note:
            error.recover.append(notes.reuse_hint(session.git, f"heroku-tools deploy {plan.env.label}"))
        raise
    release = outcome.release.version if outcome.release else None
    notifier.send(event.finished("succeeded", outcome.seconds, release=release, tag=outcome.tag))
    version = f"v{release}" if release else "the current release"
    say(f"Deployed {plan.target_commit[:12]} to {plan.env.label} ({plan.env.app_name}) as {version}"
        + (f", tagged {outcome.tag}" if outcome.tag else "") + f" in {outcome.seconds:.1f}s.")
    notifier.close()
    return outcome


def _painter():
    from .output import paint

    return lambda text, *styles: paint(text, *styles, stream=__import__("sys").stdout)
