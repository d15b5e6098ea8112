"""The failure policy: after any failure, a defined state and the one message that explains it.

:func:`failure` reads the :class:`~heroku_tools.release.journal.Journal` of a
deploy that stopped — Ctrl-C included — and decides, then says:

* maintenance comes off again when no migration had begun (the old code, or
  the new code on an untouched schema, still serves), and stays on, loudly,
  when a schema step failed or was cut off (the schema may be half-migrated);
* what the app runs now, read back from Heroku rather than assumed;
* the exact commands to recover: roll back, re-run only the post-push
  commands, rebuild a commit the app's repository already holds, or simply
  deploy again once the cause is fixed.
"""
from __future__ import annotations

import shlex

from ..errors import HerokuToolsError
from ..heroku import Heroku
from ..migrations import Verdict
from ..models import Release
from ..session import Session
from .deployed import current_release
from .errors import DeployFailed, NothingBuilt
from .journal import Journal
from .options import DeployOptions
from .window import restore_scale


def failure(
    journal: Journal,
    session: Session,
    reason: str,
    *,
    interrupted: bool = False,
    cause: HerokuToolsError | None = None,
    dyno: str | None = None,
) -> DeployFailed:
    """Apply the failure policy and build the one message that explains it (``dyno``: what became of the one-off dyno)."""
    plan = journal.plan
    app = plan.env.app_name
    recover: list[str] = []
    maintenance_note = _maintenance(journal, session, recover)
    current, release_note, releases = _release_state(session.heroku, app)
    state = [note for note in (release_note, dyno, *_applied(journal), maintenance_note,
                               *_restored(journal, session, recover)) if note]
    steps_only = f"heroku-tools deploy {plan.env.label} --options {int(plan.options & ~DeployOptions.PUSH)}"
    if interrupted and journal.shipping and journal.progress is None:
        _interrupted_shipping(journal, current, steps_only, state, recover)
    failed_release = journal.new_release is not None and journal.new_release.status != "succeeded"
    if isinstance(cause, NothingBuilt):
        # The app's repository holds the commit (after a rollback, say): pushing it again builds nothing.
        recover += _rebuild_hints(journal, releases)
    if failed_release:
        recover.append(f"heroku releases:output -a {app}   # what the release phase said")
    if journal.new_release is not None and journal.new_release.status == "succeeded" and plan.deployed.has_code:
        recover.append(f"heroku releases:rollback v{plan.deployed.release.version} -a {app}   # back to the code that ran before")
    released = journal.new_release is not None and journal.new_release.status == "succeeded"
    if plan.steps and (journal.progress is not None or released) and not journal.steps_finished:
        recover.append(f"{steps_only}   # re-run just the post-push commands")
    if journal.backup:
        recover.append(shlex.join(["heroku", "pg:backups:restore", journal.backup, "DATABASE_URL", "-a", app,
                                   "--confirm", app]) + "   # the data as it was just before the migrations")
    again = "retries the release phase (heroku releases:retry)" if failed_release else "try again"
    recover.append(f"heroku-tools deploy {plan.env.label}   # {again} once the cause is fixed")
    failed_step = _failed_step(journal)
    return DeployFailed(f"deploy to {plan.env.label} failed at {failed_step}: {reason}", state=state, recover=recover)


def _failed_step(journal: Journal) -> str:
    step = journal.step
    if journal.progress and journal.progress.current and not journal.steps_finished:
        step = f"running step {journal.progress.current!r} on {journal.plan.env.app_name}"
    return step[0].lower() + step[1:]


def _maintenance(journal: Journal, session: Session, recover: list[str]) -> str | None:
    """Leave maintenance on only when the schema may be half-migrated; the state line that says so."""
    app = journal.plan.env.app_name
    if journal.maintenance_since is None:
        if journal.maintenance_off_early:
            return f"maintenance is off again for {app} (the migrations had completed)"
        return None
    at_risk = _schema_at_risk(journal)
    if at_risk:
        recover.append(f"heroku run -x -a {app} -- 'python manage.py showmigrations'   # inspect")
        recover.append(f"heroku maintenance:off -a {app}   # once the schema is sound")
        return f"MAINTENANCE IS STILL ON for {app}: {at_risk}"
    try:
        session.api.maintenance_off(app)
    except (HerokuToolsError, KeyboardInterrupt):
        recover.insert(0, f"heroku maintenance:off -a {app}")
        return f"MAINTENANCE IS STILL ON for {app}: turning it off failed too"
    journal.maintenance_since = None
    why = "the migrations had completed" if journal.schema_steps_ran else "no migration had run"
    return f"maintenance is off again for {app} ({why})"


def _schema_at_risk(journal: Journal) -> str | None:
    """Why the old code must not serve now, if it must not: the sentence for the state line."""
    if journal.schema_at_risk and not journal.lock_timed_out:
        return (f"{journal.progress.current} failed or was interrupted, so the database schema may be "
                "half-migrated")
    schema = journal.plan.schema
    if not journal.applied_before_failure or schema is None or schema.plan is None:
        return None
    verdicts = {str(item.key): item.verdict for item in schema.plan.pending}
    risky = [name for name in journal.applied_before_failure
             if verdicts.get(name, Verdict.UNKNOWN).needs_downtime]
    if not risky:
        return None
    return (f"the release phase applied {', '.join(risky)} before it failed, which the old code that still "
            "serves may not work with")


def _applied(journal: Journal) -> list[str]:
    """What a failed release phase had applied: each migration is its own transaction (non-atomic ones may be half)."""
    if journal.new_release is None or journal.new_release.status == "succeeded":
        return []
    if not journal.applied_before_failure:
        return ["the release phase applied no migration before it failed"]
    return [f"the release phase applied {', '.join(journal.applied_before_failure)} before it failed"]


def _restored(journal: Journal, session: Session, recover: list[str]) -> list[str]:
    """Preboot and scaled-down process types back as they were, whatever happened; the lines saying so."""
    app = journal.plan.env.app_name
    lines = []
    if journal.preboot_off:
        lines.append(f"PREBOOT IS STILL OFF for {app}: turning it back on failed")
        recover.insert(0, f"heroku features:enable preboot -a {app}")
    if journal.scaled_down:
        kinds = shlex.join(f"{kind}={count}" for kind, count in journal.scaled_down.items())
        try:
            restore_scale(journal, session, lambda message: None)
            lines.append(f"{kinds.replace(' ', ', ')} scaled back up")
        except (HerokuToolsError, KeyboardInterrupt):
            lines.append(f"{kinds.replace(' ', ', ')} are still scaled to 0: scaling them back up failed")
            recover.insert(0, f"heroku ps:scale {kinds} -a {app}")
    return lines


def _interrupted_shipping(journal: Journal, current: Release | None, steps_only: str,
                          state: list[str], recover: list[str]) -> None:
    """Heroku finishes a build or promotion whose client went away: the new code may still come up."""
    plan = journal.plan
    app = plan.env.app_name
    what = "promotion" if plan.method == "promote" else "push"
    if current is not None and current.version >= plan.next_version:
        state.append(f"{app} already runs the new code (v{current.version}), but its post-push commands did not run")
        if plan.deployed.has_code:
            recover.append(f"heroku releases:rollback v{plan.deployed.release.version} -a {app}"
                           "   # or: back to the code that ran before")
    else:
        state.append(
            f"the {what} was interrupted, but Heroku may still finish the build and release "
            f"{plan.target_commit[:12]}: check `heroku releases -a {app}`"
        )
    if plan.steps:
        recover.append(f"{steps_only}   # once {app} runs {plan.target_commit[:12]}: the post-push commands it missed")


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


def _rebuild_hints(journal: Journal, releases: list[Release]) -> list[str]:
    """How to run a commit the app's repository already holds: roll forward to its release, or build anew."""
    plan = journal.plan
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
        rebuild = shlex.join(["git", "commit", "--allow-empty", "-m", f"Rebuild {commit[:7]}"])
        push = shlex.join(["git", "push", plan.env.remote, plan.branch])
        hints.append(f"{rebuild} && {push}   # {app} has {commit[:7]} already: only a new commit builds; then deploy again")
    return hints
