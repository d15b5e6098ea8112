"""The operations a person (or CI) runs on an environment: deploy, promote and rollback.

Each is the same sequence, :func:`_carry_out`: plan (nothing changes), show
the report, stop there on ``--dry-run``, take what the person adds (a release
note), ask for the confirmation code (or check ``--confirm APP``), then do the
work inside an :class:`~heroku_tools.release.notify.Announcement`, so the
environment's ``notify`` targets hear that it started and then how it ended —
including Ctrl-C and unexpected errors. These are the functions the tasks
call; a project's fabfile calls them too::

    from heroku_tools import Session, deploy

    outcome = deploy(Session.load(), "uat", confirm_app="my-app-uat", note="Nightly build")
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from ..confirm import confirm_change
from ..errors import HerokuToolsError, before_any_change
from ..lock import hold
from ..output import Console, stdout_paint
from ..session import Session
from ..settings import Environment
from . import notes, notify
from .execute import execute
from .journal import Outcome
from .options import DeployOptions
from .plan import DeployPlan, PreflightError, plan_deploy
from .recovery import check_release, check_rollback
from .report import render_report
from .rollback import RollbackError, RollbackPlan, execute_rollback, plan_rollback, render_rollback

T = TypeVar("T")


@dataclass(frozen=True)
class Change:
    """One change to one environment, as the person making it sees it before it happens."""

    env: Environment
    #: The plan, rendered: what the person reads before typing the code.
    report: str
    #: What the confirmation prompt names: ``deploy to live (my-app-live)``.
    action: str
    #: The commit it ships, named by the environment's lock (see :mod:`heroku_tools.lock`).
    commit: str | None = None
    #: The newest release the plan was made against, checked once the lock is held: a plan made
    #: while another change was under way is stale when that change is done.
    planned_on: int | None = None


def _carry_out(
    session: Session,
    change: Change,
    targets: tuple[notify.Target, ...],
    *,
    dry_run: bool,
    confirm_app: str | None,
    console: Console,
    event: Callable[[], notify.Event],
    work: Callable[[notify.Announcement], T],
    prepare: Callable[[], None] = lambda: None,
) -> T | None:
    """Report, stop on dry run, ``prepare``, confirm, then ``work`` inside the environment's lock and the announcement of ``event``."""
    console.report(change.report)
    if targets:
        console.report(f"Notifications: {', '.join(map(str, targets))}")
    if dry_run:
        console.say("--dry-run: stopping here; nothing was changed.")
        return None
    prepare()
    confirm_change(change.env, change.action, confirm_app=confirm_app, console=console)
    with hold(session, change.env, change.action, commit=change.commit, console=console):
        _still_as_planned(session, change)
        with notify.Announcement(targets, event(), warn=console.warn) as announcement:
            return work(announcement)


def _still_as_planned(session: Session, change: Change) -> None:
    """The app's newest release is still the one the plan was made against: another change did not finish meanwhile."""
    if change.planned_on is None:
        return
    newest = max((int(release["version"]) for release in session.api.releases(change.env.app_name, 1)), default=0)
    if newest != change.planned_on:
        raise PreflightError(
            f"{change.env.label} ({change.env.app_name}) changed while this was being planned: it is at v{newest}, "
            f"the plan was made at v{change.planned_on}; nothing was changed",
            recover="run the same command again: it plans from what the app runs now",
        )


def deploy(
    session: Session,
    label: str,
    *,
    confirm_app: str | None = None,
    dry_run: bool = False,
    note: str | bool | None = None,
    console: Console = Console(),
    **choices,
) -> Outcome | None:
    """Plan, report, take the release note, confirm, execute and announce a deployment of ``label``.

    Returns None if nothing was done. ``note`` is the release note's text,
    ``False`` for none, or ``None`` to ask for one in the user's editor (on a
    terminal; see :mod:`~heroku_tools.release.notes`). ``choices`` are
    :func:`~heroku_tools.release.plan.plan_deploy`'s keyword arguments
    (``branch``, ``force``, ``options``, ``migrate``, ``collectstatic``,
    ``loaddata``, ``maintenance``, ``promote_from``, ``health_check``,
    ``auto_rollback``). The new release is health-checked (and rolled back
    when unhealthy, if that is safe: :mod:`~heroku_tools.release.recovery`);
    an unhealthy release raises :class:`~heroku_tools.release.recovery.Unhealthy`.
    """
    # Before anything else: an unset ${VAR} is a settings mistake, found before any network call.
    targets = notify.resolve(session.settings.environment(label))
    with before_any_change("during the pre-flight", f"heroku-tools deploy {label}"):
        plan = plan_deploy(session, label, say=console.say, **choices)
    if plan.up_to_date and choices.get("options") is None and not plan.steps:
        console.say(f"{plan.env.label} ({plan.env.app_name}) is up to date: "
                    f"v{plan.deployed.release.version} runs {plan.target_commit[:12]}.")
        return None
    release_note = _ReleaseNote(note, plan, session, console)
    verb = "promote to" if plan.method == "promote" else "deploy to"
    try:
        return _carry_out(
            session,
            Change(plan.env, render_report(plan, paint=stdout_paint), f"{verb} {plan.env.label} ({plan.env.app_name})",
                   commit=plan.target_commit, planned_on=plan.next_version - 1),
            targets, dry_run=dry_run, confirm_app=confirm_app, console=console, prepare=release_note.ask,
            event=lambda: notify.deploy_event(plan, release_note.text),
            work=lambda announcement: _deploy(plan, session, release_note.text, console, announcement),
        )
    except HerokuToolsError as error:
        if release_note.edited and release_note.text:
            error.recover.append(notes.reuse_hint(session.git, f"heroku-tools deploy {plan.env.label}"))
        raise


def _deploy(plan: DeployPlan, session: Session, note: str | None, console: Console,
            announcement: notify.Announcement) -> Outcome:
    outcome = execute(plan, session, note=note, console=console)
    check_release(session, plan, outcome, console)
    release = outcome.release.version if outcome.release else None
    announcement.succeeded(release=release, tag=outcome.tag)
    version = f"v{release}" if release else "the current release"
    console.say(f"Deployed {plan.target_commit[:12]} to {plan.env.label} ({plan.env.app_name}) as {version}"
                + (f", tagged {outcome.tag}" if outcome.tag else "") + f" in {outcome.seconds:.1f}s.")
    return outcome


class _ReleaseNote:
    """The release note: given, none, or written in the editor just before the code is asked for."""

    def __init__(self, note: str | bool | None, plan: DeployPlan, session: Session, console: Console):
        self.text = note or None
        self.to_ask = note is None and bool(plan.options & DeployOptions.PUSH)
        self.edited = False
        self.plan, self.session, self.console = plan, session, console

    def ask(self) -> None:
        if self.to_ask:
            self.text = notes.ask(self.plan, git=self.session.git, say=self.console.say)
            self.edited = True
        if self.text:
            self.console.say(f"Release note: {notes.first_line(self.text)}")


def promote(
    session: Session,
    label: str,
    *,
    confirm_app: str | None = None,
    dry_run: bool = False,
    note: str | bool | None = None,
    console: Console = Console(),
    **choices,
) -> list[Outcome | None]:
    """Promote ``label``'s slug to every environment downstream of it (uat → live), one deploy each."""
    source = session.settings.environment(label)
    downstream = session.settings.downstream_of(source)
    if not downstream:
        raise HerokuToolsError(f"no environment takes its code from {source.label}: nothing to promote to")
    return [
        deploy(session, target.label, promote_from=source.label, confirm_app=confirm_app, dry_run=dry_run,
               note=note, console=console, **choices)
        for target in downstream
    ]


def rollback(
    session: Session,
    label: str,
    version: int | str | None = None,
    *,
    confirm_app: str | None = None,
    dry_run: bool = False,
    note: str | None = None,
    force: bool = False,
    health_check: bool = True,
    console: Console = Console(),
) -> tuple[int, str | None] | None:
    """Plan, report, confirm, execute and announce a rollback of ``label``; ``(new version, tag)``.

    None after ``dry_run``. The announcement carries the commits the rollback
    takes away. A rollback across a migration the older code cannot run on
    (incompatible or unknown) is refused, after the report says which, unless
    ``force``. The release it makes is health-checked (unless not
    ``health_check``); an unhealthy one raises
    :class:`~heroku_tools.release.recovery.Unhealthy` and stays.
    """
    targets = notify.resolve(session.settings.environment(label))
    with before_any_change("while planning the rollback", f"heroku-tools rollback {label}"):
        plan = plan_rollback(session, label, version)
    return _carry_out(
        session,
        Change(plan.env, render_rollback(plan), f"roll {plan.env.label} back to v{plan.target.version}",
               commit=plan.target_commit),
        targets, dry_run=dry_run, confirm_app=confirm_app, console=console,
        prepare=lambda: _safe_to_roll_back(plan, force),
        event=lambda: notify.rollback_event(plan, _undone(session, plan), note),
        work=lambda announcement: _rollback(plan, session, note, console, announcement, health_check),
    )


def _safe_to_roll_back(plan: RollbackPlan, force: bool) -> None:
    """Refuse to put code back onto a schema it cannot run on, unless told to."""
    breaking = plan.breaks_old_code
    if breaking and not force:
        names = ", ".join(f"{item.key} ({item.verdict})" for item in breaking)
        raise RollbackError(
            f"refusing to roll {plan.env.label} back to v{plan.target.version}: the database keeps {names}, which "
            f"v{plan.target.version}'s code cannot run on (see above); nothing was changed",
            recover=[f"heroku-tools deploy {plan.env.label}   # roll forward with a fix",
                     f"heroku-tools rollback {plan.env.label} --to v{plan.target.version} --force   # knowing what "
                     "the old code will meet"],
        )


def _undone(session: Session, plan: RollbackPlan) -> tuple:
    """The commits a rollback takes away (empty when either commit is unknown here)."""
    if not (plan.target_commit and plan.current_commit):
        return ()
    return tuple(session.git.log(f"{plan.target_commit}..{plan.current_commit}"))


def _rollback(plan: RollbackPlan, session: Session, note: str | None, console: Console,
              announcement: notify.Announcement, health_check: bool) -> tuple[int, str | None]:
    new_version, tag = execute_rollback(plan, session, note=note, console=console)
    check_rollback(session, plan, new_version, console, asked=health_check)
    announcement.succeeded(release=new_version, tag=tag)
    console.say(f"{plan.env.label} ({plan.env.app_name}) now runs v{new_version}, the code of v{plan.target.version}"
                + (f"; tagged {tag}" if tag else ""))
    if plan.migrations:
        console.warn("The database still has the newer migrations listed above.")
    return new_version, tag
