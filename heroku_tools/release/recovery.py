"""After the release: the health check, and what to do with a release that does not serve.

Heroku never rolls back by itself. Rolling back is not always safe either:
it puts back code and config vars, never the schema. So an unhealthy release
is rolled back automatically only when the code that ran before works on the
schema this deploy left — no migration applied, or only compatible or
locking ones (the deploy's migration plan says which). Otherwise the code
stays, the maintenance page goes on (the old code must not serve a schema it
cannot read, and the new code does not serve), and the two ways out are
printed as commands: fix forward, or restore the backup taken just before
the migrations and then roll back.

Either way the command exits non-zero with one message that says what
happened: ``v43 was unhealthy (H10: web crashed, exit 3); rolled back to v42,
which is healthy``. The rollback goes through the heroku CLI
(``releases:rollback``), inside the deploy's own lock, and is tagged and
health-checked like any other.
"""
from __future__ import annotations

import shlex
from dataclasses import dataclass

from ..errors import HerokuToolsError
from ..output import Console
from ..session import Session
from .downtime import deciding
from .health import HealthReport, check, skip_reason, skipped
from .journal import Outcome
from .options import DeployOptions
from .plan import DeployPlan
from .rollback import RollbackPlan, execute_rollback


class Unhealthy(HerokuToolsError):
    """A release did not pass its health check; ``outcome`` is what the deploy did (``--json`` prints it)."""

    def __init__(self, message: str, outcome: Outcome | None = None, **kwargs):
        super().__init__(message, **kwargs)
        self.outcome = outcome


@dataclass(frozen=True)
class Safety:
    """Whether the code that ran before can serve the schema a deploy left, and the words that say why."""

    safe: bool
    why: str


def rollback_safety(plan: DeployPlan) -> Safety:
    """Safe when this deploy applied no migration, or only compatible or locking ones."""
    schema = plan.schema
    if schema is None or not schema.needs_migrate:
        return Safety(True, "this deploy applied no migration")
    migrating = bool(plan.options & DeployOptions.MIGRATE) or schema.procfile.release_migrates is not False
    if not migrating:
        return Safety(True, "this deploy applied no migration (migrate did not run)")
    if schema.verdict is None or schema.verdict.needs_downtime:
        return Safety(False, f"{deciding(schema)}, and the code before it cannot run on what it made")
    return Safety(True, f"every migration it applied is {schema.verdict}: the code before it works on the new schema")


def check_release(session: Session, plan: DeployPlan, outcome: Outcome, console: Console) -> None:
    """Health-check the deploy's new release; an unhealthy one is rolled back when safe. :class:`Unhealthy` if not healthy.

    Fills ``outcome.health`` and ``outcome.rolled_back_to``.
    """
    release, app, health = outcome.release, plan.env.app_name, plan.env.health
    if release is None or release.version < plan.next_version:
        outcome.health = skipped("no new release was made")
        return
    reason = skip_reason(health, session.api, app, asked=plan.health_check)
    if reason is not None:
        console.say(f"health check skipped: {reason}")
        outcome.health = skipped(reason, release.version)
        return
    if plan.preboot and not (health.release_header or health.release_text):
        console.warn("preboot is on: for about 3 minutes the old code answers the probes; name where the app shows "
                     "its release (health: release_header or release_text) and the check waits for the new code")
    outcome.health = check(session.api, app, release.version, health, since=release.created_at, console=console)
    if not outcome.health.healthy:
        raise _unhealthy(session, plan, outcome, console)


def _unhealthy(session: Session, plan: DeployPlan, outcome: Outcome, console: Console) -> Unhealthy:
    """Roll back when it is safe and wanted; hold the app under maintenance when it is not. The error that says so."""
    app, label = plan.env.app_name, plan.env.label
    version, cause = outcome.release.version, outcome.health.cause
    fix = f"heroku-tools deploy {label}   # fix forward: deploy a fix"
    unhealthy = f"v{version} was unhealthy ({cause})"
    if not plan.deployed.has_code:
        return Unhealthy(f"{unhealthy}; there is no earlier release with code to roll back to", outcome,
                         state=f"{app} runs v{version}", recover=fix)
    previous = plan.deployed.release
    back = f"heroku releases:rollback v{previous.version} -a {app}"
    if not (plan.auto_rollback and plan.env.health.rollback):
        off = "--no-rollback" if not plan.auto_rollback else "health: {rollback: false}"
        return Unhealthy(f"{unhealthy}; not rolled back ({off})", outcome, state=f"{app} runs v{version}",
                         recover=[f"{back}   # back to the code that ran before", fix])
    safety = rollback_safety(plan)
    if not safety.safe:
        return _hold(session, plan, outcome, safety, console)
    console.say(f"==> v{version} is unhealthy and {safety.why}: rolling back to v{previous.version}")
    rollback = RollbackPlan(plan.env, outcome.release, previous, plan.target_commit, plan.deployed.commit, None,
                            plan.deployer)
    note = f"Automatic rollback: v{version} was unhealthy ({cause})"
    try:
        new_version, _ = execute_rollback(rollback, session, note=note, console=console)
    except HerokuToolsError as error:
        error.message = f"{unhealthy}; the automatic rollback to v{previous.version} failed: {error.message}"
        return Unhealthy(error.message, outcome, state=error.state, recover=error.recover)
    outcome.rolled_back_to = previous.version
    again = check(session.api, app, new_version, plan.env.health, since=_created(session, app, new_version),
                  console=console)
    if again.healthy:
        return Unhealthy(f"{unhealthy}; rolled back to v{previous.version}, which is healthy", outcome,
                         state=f"{app} runs v{new_version}, the code and config of v{previous.version}", recover=fix)
    return Unhealthy(f"{unhealthy}; rolled back to v{previous.version}, which is unhealthy too ({again.cause})", outcome,
                     state=f"{app} runs v{new_version}, the code and config of v{previous.version}: it does not serve "
                     "either, so the cause is likely outside the code (config vars, add-ons, the database)",
                     recover=[f"heroku logs -a {app} --num 200   # what the dynos and the router say", fix])


def _hold(session: Session, plan: DeployPlan, outcome: Outcome, safety: Safety, console: Console) -> Unhealthy:
    """No code rollback over a schema the old code cannot run on: maintenance on, and both ways out as commands."""
    app, label = plan.env.app_name, plan.env.label
    version, previous = outcome.release.version, plan.deployed.release.version
    state = [f"{app} runs v{version}; not rolled back: {safety.why}"]
    off = f"heroku maintenance:off -a {app}"
    if plan.maintenance_choice is False:
        state.append(f"maintenance is off (--no-maintenance): {app} is serving errors")
    else:
        console.say(f"==> maintenance on for {app}: v{version} does not serve, and v{previous}'s code cannot run on "
                    "the new schema")
        try:
            session.api.maintenance_on(app)
            state.append(f"MAINTENANCE IS ON for {app}")
        except HerokuToolsError as error:
            state.append(f"maintenance could not be turned on for {app}: {error.message}")
    fix = f"heroku-tools deploy {label} && {off}   # way out 1: fix forward (deploy a fix), then reopen"
    if outcome.backup:
        restore = shlex.join(["heroku", "pg:backups:restore", outcome.backup, "DATABASE_URL", "-a", app,
                              "--confirm", app])
        back = (f"{restore} && heroku releases:rollback v{previous} -a {app} && {off}   # way out 2: the data as it "
                f"was before the migrations (backup {outcome.backup}), then the code of v{previous}")
    else:
        back = (f"heroku pg:backups -a {app}   # way out 2: no backup was captured before the migrations; restore "
                f"one taken before them (heroku pg:backups:restore ...), then heroku releases:rollback v{previous}")
    return Unhealthy(f"v{version} was unhealthy ({outcome.health.cause}); not rolled back: {safety.why}", outcome,
                     state=state, recover=[fix, back])


def check_rollback(session: Session, plan: RollbackPlan, version: int, console: Console, *,
                   asked: bool = True) -> HealthReport:
    """Health-check release ``version`` a rollback made; :class:`Unhealthy` when it does not serve (never rolled back again)."""
    app, health = plan.env.app_name, plan.env.health
    reason = skip_reason(health, session.api, app, asked=asked)
    if reason is not None:
        console.say(f"health check skipped: {reason}")
        return skipped(reason, version)
    report = check(session.api, app, version, health, console=console, since=_created(session, app, version))
    if not report.healthy:
        raise Unhealthy(f"v{version} (the code of v{plan.target.version}) is unhealthy ({report.cause})",
                        state=f"{app} runs v{version}", recover=[
                            f"heroku logs -a {app} --num 200   # what the dynos and the router say",
                            f"heroku-tools deploy {plan.env.label}   # fix forward: deploy a fix"])
    return report


def _created(session: Session, app: str, version: int) -> str | None:
    """When release ``version`` was made: a check counts crashes from then, not from an earlier release's."""
    return next((release.get("created_at") for release in session.api.releases(app, 5)
                 if int(release.get("version") or 0) == version), None)
