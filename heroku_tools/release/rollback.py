"""Roll an environment back to an earlier release — code and config, never the database.

Heroku's rollback is instant, which makes it tempting and dangerous: the
database stays where the newer code's migrations left it. So the plan lists the
migrations between the two commits, the report warns in so many words, and
the code prompt guards it like any other change.
"""
from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Sequence

from .. import migrations
from ..errors import HerokuToolsError
from ..git import Git
from ..migrations import Classified, Plan, describe
from ..output import Console
from ..models import Release
from ..protection import check_target
from ..session import Session
from ..settings import Environment
from . import tags
from .deployed import ApiReleases, current_release, is_ancestor_or_same, slug_commit, wait_for_release
from .options import matching_files


class RollbackError(HerokuToolsError):
    """The rollback could not be planned or carried out."""


@dataclass(frozen=True)
class RollbackPlan:
    env: Environment
    current: Release
    target: Release
    current_commit: str | None
    target_commit: str | None
    #: Migration files that differ between the two commits (None: commits unknown locally).
    migrations: tuple[str, ...] | None
    deployer: str
    #: The target's code is newer than the current one's (after an earlier rollback):
    #: its migrations may never have run, rather than having run after it.
    forward: bool = False
    #: The migrations the rollback crosses (the current code's, not the target's), judged as the
    #: target's code will meet them: an incompatible one breaks it. None when the commits are unknown.
    crossed: Plan | None = None

    @property
    def breaks_old_code(self) -> list[Classified]:
        """The crossed migrations the older code cannot run on (incompatible or unknown)."""
        return [item for item in self.crossed.pending if item.verdict.needs_downtime] if self.crossed else []


def choose_target(releases: Sequence[Release], version: int | None) -> tuple[Release, Release]:
    """``(current, target)``: ``version``, or the newest eligible release with code before the current one."""
    current = current_release(releases)
    if current is None:
        raise RollbackError("there is no current release to roll back from")
    if version is not None:
        target = next((r for r in releases if r.version == version), None)
        if target is None:
            raise RollbackError(f"release v{version} was not found among the latest {len(releases)} releases")
        if target.version >= current.version:
            raise RollbackError(f"v{version} is not older than the current release v{current.version}")
        if target.status != "succeeded" or target.slug_id is None:
            why = "carries no code (a config or add-on release)" if target.slug_id is None else f"is {target.status}"
            raise RollbackError(f"v{version} cannot be rolled back to: it {why}")
        return current, target
    older = [
        r for r in releases
        if r.version < current.version and r.status == "succeeded" and r.slug_id
        and r.eligible_for_rollback is not False and r.slug_id != current.slug_id
    ]
    if not older:
        raise RollbackError("there is no earlier release with different code to roll back to")
    return current, max(older, key=lambda r: r.version)


def plan_rollback(session: Session, label: str, version: int | str | None = None) -> RollbackPlan:
    """What rolling ``label`` back to ``version`` (default: the code before the current one) means."""
    settings, git, api = session.settings, session.git, session.api
    env = settings.environment(label)
    check_target(settings, env, api.config_vars, action=f"roll {env.label} ({env.app_name}) back")
    if isinstance(version, str):
        text = version.lstrip("v")
        if not text.isdigit():
            raise RollbackError(f"expected a release such as v41, got {version!r}")
        version = int(text)
    releases = session.heroku.releases(env.app_name, 50)
    current, target = choose_target(releases, version)
    current_commit = slug_commit(git, api, env.app_name, current)
    target_commit = slug_commit(git, api, env.app_name, target)
    migrations, forward, crossed = None, False, None
    if current_commit and target_commit:
        changed = git.changed_files(target_commit, current_commit)
        migrations = tuple(matching_files(changed, settings.options.get("migrate", ())))
        forward = is_ancestor_or_same(git, current_commit, target_commit)
        if not forward:
            crossed = _crossed(git, current_commit, target_commit, settings.migrations)
    deployer = api.account().get("email", "unknown")
    return RollbackPlan(env, current, target, current_commit, target_commit, migrations, deployer, forward, crossed)


def _crossed(git: Git, current: str, target: str, overrides) -> Plan:
    """The current code's migrations the target's code does not have, judged as if shipped onto its schema."""
    known = migrations.read_commit(git, current)
    older = migrations.read_commit(git, target, known=known)
    return migrations.plan(known.migrations, [tuple(item.key) for item in older.migrations], overrides=overrides)


def render_rollback(plan: RollbackPlan) -> str:
    short = lambda sha: sha[:12] if sha else "unknown commit"  # noqa: E731
    lines = [
        f"Environment:  {plan.env.label} ({plan.env.app_name})",
        f"Current:      v{plan.current.version} {plan.current.description} ({short(plan.current_commit)})",
        f"Roll back to: v{plan.target.version} {plan.target.description} ({short(plan.target_commit)})",
        "",
        "WARNING: a rollback restores code and config vars, NOT the database.",
    ]
    if plan.migrations is None:
        lines.append("The commits are not in this repository, so migrations in between cannot be listed.")
    elif plan.migrations and plan.forward:
        lines.append(f"v{plan.target.version}'s code is newer than what runs now; it has {len(plan.migrations)} "
                     "migration(s) the database may not have:")
        lines += [f"    {path}" for path in plan.migrations]
        lines.append(f"Run them after the rollback: heroku run -x -a {plan.env.app_name} -- 'python manage.py migrate'")
    elif plan.crossed is not None and plan.crossed.pending:
        lines.append(f"These {len(plan.crossed.pending)} migration(s) ran after v{plan.target.version}; the database "
                     f"keeps them, and v{plan.target.version}'s code will run on what they made:")
        for item in plan.crossed.pending:
            lines += ["  " + line for line in describe(item)]
        if plan.breaks_old_code:
            lines.append(f"v{plan.target.version}'s code cannot run on that schema: roll forward with a fix instead, or "
                         "restore the backup taken before the migrations, then roll back.")
    elif plan.migrations:
        lines.append(f"These {len(plan.migrations)} migration(s) ran after v{plan.target.version}; the database keeps them:")
        lines += [f"    {path}" for path in plan.migrations]
        lines.append("Reverse them first (manage.py migrate APP PREVIOUS) if the older code cannot run on the newer schema.")
    else:
        lines.append("No migrations changed between the two releases.")
    return "\n".join(lines)


def execute_rollback(plan: RollbackPlan, session: Session, *, note: str | None = None,
                     console: Console = Console()) -> tuple[int, str | None]:
    """Roll back, wait for the release it makes, tag it on the target's commit (with ``note``). ``(new version, tag)``.

    A rollback is a new release, so the target's release phase runs again: if
    it fails, Heroku keeps the current release, and the rollback has failed.
    """
    app = plan.env.app_name
    console.say(f"==> rolling {app} back to v{plan.target.version}")
    try:
        session.heroku.rollback(app, plan.target.version)
        console.say(f"==> waiting for the release of {app}")
        release = wait_for_release(ApiReleases(session.api), app, plan.current.version)
    except (HerokuToolsError, KeyboardInterrupt) as error:
        raise _failed(plan, session, getattr(error, "message", "interrupted (Ctrl-C)")) from None
    if release.status != "succeeded":
        raise _failed(plan, session, f"release v{release.version} {release.status} (its release phase failed)")
    tag = None
    if plan.target_commit:
        text = tags.rollback_message(plan.env, release.version, plan.deployer, plan.target.version, note)
        remote = plan.env.remote if plan.env.push_tags and session.git.remote_url(plan.env.remote) else None
        tag = tags.record(session.git, plan.env, release.version, plan.target_commit, text, push_remote=remote)
    return release.version, tag


def _failed(plan: RollbackPlan, session: Session, reason: str) -> RollbackError:
    """The rollback's failure, with what the app runs now (read back) and how to go on."""
    app = plan.env.app_name
    try:
        running = current_release(session.heroku.releases(app, 10))
        state = [f"{app} runs v{running.version} ({running.description})" if running else f"{app} has no current release"]
    except (HerokuToolsError, KeyboardInterrupt):
        state = [f"the release state of {app} could not be read: check `heroku releases -a {app}`"]
    return RollbackError(
        f"rollback of {plan.env.label} to v{plan.target.version} failed: {reason}", state=state,
        recover=[f"heroku releases:output -a {app}   # what the release phase said",
                 f"heroku-tools rollback {plan.env.label} --to v{plan.target.version}   # once the cause is fixed"],
    )
