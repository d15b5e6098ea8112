"""What a deployment will do, found out before anything changes.

:func:`plan_deploy` runs the pre-flight checks and gathers what is deployed and
what will be: the checks that fail fast, each with one clear message; the
Heroku reads run concurrently (one CLI call for the token, then the Platform
API), alongside the git ones, so the time to the confirmation prompt does not
grow with their number. The result, a :class:`DeployPlan`, is plain data: the
report renders it (:mod:`~heroku_tools.release.report`),
:mod:`~heroku_tools.release.execute` carries it out, and a user's fabfile can
inspect or adjust it in between.
"""
from __future__ import annotations

import shlex
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from ..errors import AppNotFound, HerokuToolsError, NotLoggedIn
from ..git import Git
from ..heroku_api import PlatformAPI, PlatformAPIError
from ..models import Commit, Release
from ..protection import check_target
from ..session import Session
from ..settings import Environment, Settings
from .deployed import Deployed, is_ancestor_or_same, resolve_deployed, slug_commit
from .downtime import Decision, decide, without_migrate
from .options import DeployOptions, Inference, apply_overrides, infer_options, matching_files
from .schema import Applied, SchemaPlan, plan_schema, read_applied
from .steps import Step, select_steps
from .tags import check_tag


class PreflightError(HerokuToolsError):
    """A pre-flight check failed: nothing was changed."""


@dataclass(frozen=True)
class DeployPlan:
    env: Environment
    #: ``push``, ``promote`` (an environment with ``pipeline: true``), or ``retry``: the latest
    #: release, of this very commit, failed in its release phase, so deploying again re-runs it.
    method: str
    branch: str
    target_commit: str
    deployed: Deployed
    #: None when the deployed commit is unknown: every file counts as changed.
    changed_files: tuple[str, ...] | None
    commits: tuple[Commit, ...]
    inference: Inference
    options: DeployOptions
    steps: tuple[Step, ...]
    maintenance: bool
    preboot: bool
    force: bool
    git_url: str | None
    deployer: str
    next_version: int
    #: The app promoted from, for ``method == "promote"``.
    source_app: str | None = None
    #: The failed release a ``retry`` re-runs.
    retried: Release | None = None
    #: The schema steps' ``lock_timeout`` and how often a timeout is retried (see ``release/locks.py``).
    lock_timeout: str = "5s"
    lock_retries: int = 3
    #: A backup is captured once the page is up, just before the migrations (none in a dry run).
    backup: bool = False
    #: The apps a promotion reaches (the target and its stage siblings).
    target_apps: tuple[str, ...] = ()
    already_maintenance: bool = False
    notes: tuple[str, ...] = ()
    #: What the deploy does to the database schema, and the downtime decided from it.
    schema: SchemaPlan | None = None
    decision: Decision | None = None
    #: Process types running besides ``web`` (maintenance does not stop them), and those scaled to 0 for it.
    other_processes: tuple[str, ...] = ()
    scale_down: dict[str, int] | None = None
    #: How many commits ship: on a first deployment more than ``commits`` lists (it stops at 20).
    commit_count: int | None = None
    #: The health check after the release (``--no-health-check``: False), and the automatic rollback of an
    #: unhealthy release when the schema allows it (``--no-rollback``: False); see ``release/recovery.py``.
    health_check: bool = True
    auto_rollback: bool = True
    #: ``--maintenance`` (True) / ``--no-maintenance`` (False) as given, None when neither was.
    maintenance_choice: bool | None = None

    @property
    def up_to_date(self) -> bool:
        return self.deployed.commit is not None and self.deployed.commit == self.target_commit

    @property
    def migrations(self) -> tuple[str, ...]:
        return tuple(self.inference.reasons.get(DeployOptions.MIGRATE, ()))


def plan_deploy(
    session: Session,
    label: str,
    *,
    branch: str | None = None,
    force: bool = False,
    options: int | str | None = None,
    migrate: bool | None = None,
    collectstatic: bool | None = None,
    loaddata: bool | None = None,
    maintenance: bool | None = None,
    promote_from: str | None = None,
    commit: str | None = None,
    health_check: bool = True,
    auto_rollback: bool = True,
    say: Callable[[str], None] = lambda message: None,
) -> DeployPlan:
    """Check that ``label`` can be deployed and work out what deploying it means.

    An environment with ``pipeline: true`` is deployed by promoting its
    upstream's slug; ``promote_from`` names the environment to promote from
    explicitly (what ``promote uat`` does for each environment downstream of uat).
    ``commit`` is deployed as ``branch`` instead of the branch's head: what a
    CI job checked out, often as a detached HEAD with no local branch.
    ``health_check`` and ``auto_rollback`` say what happens once the release
    is out (``--no-health-check``, ``--no-rollback``).
    """
    settings, git = session.settings, session.git
    env = settings.environment(label)
    branch = _branch(settings, env, branch)
    upstream = _upstream(settings, env, promote_from)
    say("pre-flight: checking the repository, Heroku and the database…")
    with ThreadPoolExecutor(2) as pool:
        remote_reads = pool.submit(_heroku_reads, session, env, upstream)
        local = pool.submit(_git_checks, git, env, branch, commit)
        branch_head = local.result()
        reads = remote_reads.result()

    releases = [Release.from_json(r) for r in reads["releases"]]
    deployed = resolve_deployed(git, session.api, env.app_name, releases)
    if upstream is not None:
        target_commit, method = _promoted_commit(git, session.api, env, upstream, reads, branch_head), "promote"
    else:
        target_commit, method = branch_head, "push"
    failed = _failed_release_of(git, session.api, env, releases, target_commit)
    if failed is not None and options is None:
        method = "retry"

    changed = tuple(git.changed_files(deployed.commit, target_commit)) if deployed.commit else None
    revisions = f"{deployed.commit}..{target_commit}" if deployed.commit else target_commit
    shipped = tuple(git.log(revisions))
    commits = shipped[: None if deployed.commit else 20]
    # Up to date with migrations pending (a failed migration, a restore from an older backup): no release,
    # just the migrations.
    releasing = deployed.commit != target_commit or options is not None
    schema, preboot, decision = _schema(session, env, reads, target_commit, deployed, changed, maintenance, releasing)
    inference, chosen, steps = _steps(settings, method, changed, options, schema, decision,
                                      migrate=migrate, collectstatic=collectstatic, loaddata=loaddata)
    if not releasing:
        chosen &= ~DeployOptions.PUSH
    if maintenance is None and not chosen & DeployOptions.MIGRATE:
        decision = without_migrate(decision, schema)

    app = reads["app"]
    others = _other_processes(reads["formation"])
    next_version = max((r.version for r in releases), default=0) + 1
    check_tag(git, env, next_version, target_commit)
    return DeployPlan(
        env=env,
        method=method,
        branch=branch,
        target_commit=target_commit,
        deployed=deployed,
        changed_files=changed,
        commits=commits,
        inference=inference,
        options=chosen,
        steps=steps,
        maintenance=decision.maintenance,
        preboot=preboot,
        force=force,
        git_url=app.get("git_url"),
        deployer=reads["account"].get("email") or "unknown",
        next_version=next_version,
        source_app=upstream.app_name if upstream else None,
        retried=failed if method == "retry" else None,
        lock_timeout=settings.lock_timeout,
        lock_retries=settings.lock_retries,
        backup=_backup_wanted(settings.backup_before, schema, chosen, reads["target"][0]),
        target_apps=(env.app_name,),
        already_maintenance=bool(app.get("maintenance")),
        notes=tuple(_notes(reads["target"][1], deployed, options, inference, chosen)),
        schema=schema,
        decision=decision,
        other_processes=tuple(others),
        scale_down={kind: others[kind] for kind in env.maintenance_scale_down if kind in others} or None,
        commit_count=len(shipped),
        health_check=health_check,
        auto_rollback=auto_rollback,
        maintenance_choice=maintenance,
    )


def plan_migrations(session: Session, label: str, *, branch: str | None = None,
                    say: Callable[[str], None] = lambda message: None) -> tuple[SchemaPlan, Decision, str]:
    """What deploying ``label`` now would do to its database, without the deploy's other checks.

    ``(schema plan, downtime decision, the commit it was computed for)``: the
    branch head for a push environment, the upstream's running commit for a
    pipeline one. Nothing is changed; the working tree may be dirty.
    """
    settings, git = session.settings, session.git
    env = settings.environment(label)
    upstream = _upstream(settings, env, None)
    say(f"reading {env.label}'s database and the migrations at the commit to deploy…")
    reads = _heroku_reads(session, env, upstream)
    deployed = resolve_deployed(git, session.api, env.app_name, [Release.from_json(r) for r in reads["releases"]])
    if upstream is not None:
        commit = _promoted_commit(git, session.api, env, upstream, reads, git.rev_parse(env.branch or "HEAD"))
    else:
        commit = git.rev_parse(_branch(settings, env, branch))
    changed = tuple(git.changed_files(deployed.commit, commit)) if deployed.commit else None
    schema, _, decision = _schema(session, env, reads, commit, deployed, changed, None, deployed.commit != commit)
    return schema, decision, commit


def _schema(session: Session, env: Environment, reads: dict, commit: str, deployed: Deployed,
            changed: tuple[str, ...] | None, maintenance: bool | None,
            releasing: bool) -> tuple[SchemaPlan, bool, Decision]:
    """The schema plan for ``commit`` on ``env``'s database, preboot as it is, and the downtime decided from them."""
    settings = session.settings
    schema = plan_schema(session.git, commit, reads["target"][0], deployed_commit=deployed.commit,
                         changed_files=changed, migrate_globs=settings.options.get("migrate", ()),
                         upstream=reads.get("upstream_applied"), overrides=settings.migrations)
    preboot = env.preboot if env.preboot is not None else bool(reads.get("preboot", {}).get("enabled"))
    return schema, preboot, decide(schema, preboot=preboot, label=env.label, maintenance=maintenance,
                                   releasing=releasing)


def _branch(settings: Settings, env: Environment, branch: str | None) -> str:
    """The branch to deploy; a protected environment takes only its own."""
    branch = branch or env.branch
    if not branch:
        raise PreflightError(f"environment {env.label} has no branch in {settings.source or 'the settings'}; pass --branch")
    if env.protected and env.branch and branch != env.branch:
        raise PreflightError(
            f"{env.label} is protected: it deploys only from {env.branch}, not {branch}; nothing was changed",
            recover=f"merge {branch} into {env.branch} and deploy that",
        )
    return branch


def _upstream(settings: Settings, env: Environment, promote_from: str | None) -> Environment | None:
    """The environment whose slug is promoted, or None for a push."""
    if promote_from is not None:
        return settings.environment(promote_from)
    if not env.pipeline:
        return None
    upstream = settings.upstream_of(env)
    if upstream is None:
        raise PreflightError(f"{env.label} has pipeline: true but no upstream environment to promote from")
    return upstream


def _heroku_reads(session: Session, env: Environment, upstream: Environment | None) -> dict:
    """Everything the plan needs from Heroku and the databases, read at once (the Platform API, psql)."""
    api = session.api
    _ = api.token  # resolved once (at most one CLI call), before the parallel reads
    jobs = {
        "account": lambda: api.account(),
        "app": lambda: api.app(env.app_name),
        "releases": lambda: api.releases(env.app_name, 25),
        "formation": lambda: api.formation(env.app_name),
        "target": lambda: _target_reads(session, env),
    }
    if env.preboot is None:
        jobs["preboot"] = lambda: api.feature(env.app_name, "preboot")
    if upstream is not None:
        jobs["upstream_releases"] = lambda: api.releases(upstream.app_name, 10)
        jobs["upstream_app"] = lambda: api.app(upstream.app_name)
        jobs["upstream_applied"] = lambda: read_applied(session.heroku, upstream.app_name,
                                                        api.config_vars(upstream.app_name))
    with ThreadPoolExecutor(len(jobs)) as pool:
        futures = {name: pool.submit(job) for name, job in jobs.items()}
        results = {}
        for name, future in futures.items():
            try:
                results[name] = future.result()
            except PlatformAPIError as error:
                raise _api_error(error, upstream.app_name if name.startswith("upstream") else env.app_name) from None
        return results


def _target_reads(session: Session, env: Environment) -> tuple[Applied, list[str]]:
    """The target's config, then at once: its applied migrations, and the protection check on its databases."""
    config = session.api.config_vars(env.app_name)
    with ThreadPoolExecutor(2) as pool:
        # Protection follows the app and its database: a label is only a name.
        protection = pool.submit(check_target, session.settings, env, session.api.config_vars, target_config=config,
                                 action=f"deploy to {env.label} ({env.app_name})")
        applied = pool.submit(read_applied, session.heroku, env.app_name, config)
        return applied.result(), protection.result()


def _failed_release_of(git: Git, api: PlatformAPI, env: Environment, releases: list[Release],
                       commit: str) -> Release | None:
    """The app's latest release, if its release phase failed on ``commit``: deploying it again means retrying that."""
    latest = max(releases, key=lambda release: release.version, default=None)
    if latest is None or latest.status != "failed" or latest.slug_id is None:
        return None
    return latest if slug_commit(git, api, env.app_name, latest) == commit else None


def _backup_wanted(when: str, schema: SchemaPlan, chosen: DeployOptions, applied: Applied) -> bool:
    """Whether the deploy captures a backup just before its migrations (apps without a database skip it)."""
    if when == "never" or not schema.needs_migrate or applied.read_from.endswith("has no DATABASE_URL"):
        return False
    migrating = chosen & DeployOptions.MIGRATE or schema.procfile.release_migrates
    return bool(migrating) and (when == "always" or bool(schema.verdict and schema.verdict.needs_downtime))


def _other_processes(formation: list[dict]) -> dict[str, int]:
    """Process types with dynos besides ``web``: the maintenance page does not stop them."""
    return {item["type"]: int(item.get("quantity") or 0) for item in formation
            if item.get("type") not in ("web", "release") and int(item.get("quantity") or 0) > 0}


def _api_error(error: PlatformAPIError, app: str) -> HerokuToolsError:
    if error.status == 404:
        return AppNotFound(
            f"Heroku app {app!r} not found, or this account cannot access it",
            argv=["GET", f"/apps/{app}"], exit_code=2,
        )
    if error.status == 401:
        return NotLoggedIn(
            "not logged in to Heroku (the API refused the token): run `heroku login`, or set HEROKU_API_KEY",
            argv=["GET", "/account"], exit_code=1,
        )
    return error


def _git_checks(git: Git, env: Environment, branch: str, commit: str | None = None) -> str:
    """The branch exists (or ``commit`` stands for it), the tree is clean, it is not behind its remote; the commit."""
    if commit is None and not git.branch_exists(branch):
        raise PreflightError(f"branch {branch!r} does not exist in this repository; nothing was changed")
    tree = git.status_porcelain()
    if not tree.clean:
        paths = [*tree.staged, *tree.unstaged, *tree.untracked]
        shown = ", ".join(paths[:5]) + (f" and {len(paths) - 5} more" if len(paths) > 5 else "")
        raise PreflightError(
            f"the working tree is not clean ({shown}); nothing was changed",
            recover="commit or stash your changes (`git stash --include-untracked`), then deploy again",
        )
    if git.remote_url(env.remote):
        git.fetch(env.remote, tags=True)
        upstream_ref = f"refs/remotes/{env.remote}/{branch}"
        if git.commit_exists(upstream_ref):
            _, behind = git.ahead_behind(commit or branch, upstream_ref)
            if behind:
                raise PreflightError(
                    f"{branch} is {behind} commit(s) behind {env.remote}/{branch}; nothing was changed",
                    recover=f"{shlex.join(['git', 'checkout', branch])} && "
                            f"{shlex.join(['git', 'pull', '--ff-only', env.remote, branch])}",
                )
    return git.rev_parse(commit or branch)


def _promoted_commit(git: Git, api: PlatformAPI, env: Environment, upstream: Environment, reads: dict,
                     branch_head: str) -> str:
    """The commit the upstream runs, which a promotion ships; a protected target takes it only from its branch."""
    source = resolve_deployed(git, api, upstream.app_name, [Release.from_json(r) for r in reads["upstream_releases"]])
    if not source.has_code:
        raise PreflightError(f"{upstream.label} ({upstream.app_name}) has no deployed code to promote")
    if source.commit is None:
        raise PreflightError(
            f"{upstream.label} runs {source.reported_sha or 'an unknown commit'}, which is not in this repository "
            f"even after `git fetch {env.remote}`; nothing was changed",
            recover=f"fetch the branch {upstream.label} was deployed from, then deploy again",
        )
    if env.protected and env.branch and not is_ancestor_or_same(git, source.commit, branch_head):
        raise PreflightError(
            f"{upstream.label} runs {source.commit[:12]}, which is not on {env.branch}: "
            f"{env.label} only takes code from {env.branch}; nothing was changed",
            recover=f"deploy {env.branch} to {upstream.label} first",
        )
    return source.commit


def _steps(settings: Settings, method: str, changed: tuple[str, ...] | None, options: int | str | None,
           schema: SchemaPlan, decision: Decision, **overrides: bool | None,
           ) -> tuple[Inference, DeployOptions, tuple[Step, ...]]:
    """The options inferred — migrate from the schema plan, the rest from the changed files — and the steps."""
    inference = _with_schema(infer_options(changed, settings.options), schema, decision)
    chosen = DeployOptions.parse(options) if options is not None else inference.options
    if method == "promote" and options is None:
        # A promotion copies the upstream's slug, static files already collected by its build.
        chosen &= ~DeployOptions.COLLECTSTATIC
    chosen = apply_overrides(chosen, **overrides)
    fixtures = matching_files(changed or (), settings.options.get("loaddata", ())) if changed else ()
    loaddata = settings.commands.get("loaddata") or ""
    if chosen & DeployOptions.LOADDATA and not fixtures and loaddata.split()[-1:] == ["loaddata"]:
        raise PreflightError(
            "loading fixtures was asked for, but no fixture file changed and commands.loaddata names none; "
            "nothing was changed",
            recover="name the fixtures in heroku-tools.yml (commands: {loaddata: python manage.py loaddata NAME}) "
            "or drop --loaddata / bit 8 from --options",
        )
    return inference, chosen, tuple(select_steps(chosen, settings.commands, fixtures=fixtures))


def _with_schema(inference: Inference, schema: SchemaPlan, decision: Decision) -> Inference:
    """The migrate bit as the schema plan has it: set when this tool must run migrate, and why."""
    options = inference.options & ~DeployOptions.MIGRATE
    reasons = {flag: why for flag, why in inference.reasons.items() if flag is not DeployOptions.MIGRATE}
    if decision.migrate_here:
        options |= DeployOptions.MIGRATE
        pending = schema.pending
        shown = ", ".join(pending[:3]) + ("…" if len(pending) > 3 else "")
        if schema.plan is None:
            reasons[DeployOptions.MIGRATE] = (f"migration files changed ({schema.read_from}): {shown}",)
        elif pending:
            reasons[DeployOptions.MIGRATE] = (f"{len(pending)} pending on the database: {shown}",)
        else:
            reasons[DeployOptions.MIGRATE] = (f"{', '.join(schema.dependencies_changed)} changed",)
    return Inference(options, reasons)


def _notes(protection: list[str], deployed: Deployed, options, inference: Inference, chosen: DeployOptions) -> list[str]:
    """The report's notes: what could not be verified, what was assumed, what was overridden."""
    notes = list(protection)
    if deployed.commit is None and deployed.reported_sha:
        notes.append(f"the deployed commit {deployed.reported_sha} is not in this repository: every file counts as changed")
    if options is not None and DeployOptions.parse(options) != inference.options:
        notes.append(f"--options {int(chosen)} overrides the inferred {int(inference.options)}")
    return notes
