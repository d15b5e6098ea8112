"""What a deployment will do, found out before anything changes.

:func:`plan_deploy` runs the pre-flight checks and gathers what is deployed and
what will be: the checks that fail fast, each with one clear message; the
Heroku reads run concurrently (one CLI call for the token, then the Platform
API), alongside the git ones, so the time to the confirmation prompt does not
grow with their number. The result, a :class:`DeployPlan`, is plain data: the
report renders it, :mod:`heroku_tools.deploy` executes it, and a user's fabfile
can inspect or adjust it in between.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from collections.abc import Callable, Sequence

from .errors import AppNotFound, HerokuToolsError, NotLoggedIn
from .git import Git
from .heroku import Heroku
from .models import Commit, Release
from .options import STEP_LABELS, DeployOptions, Inference, apply_overrides, infer_options, matching_files
from .platform import PlatformAPI, PlatformAPIError
from .protection import check_target
from .session import api_token
from .settings import Environment, Settings
from .steps import Step, select_steps
from .tags import check_tag


class PreflightError(HerokuToolsError):
    """A pre-flight check failed: nothing was changed."""


@dataclass(frozen=True)
class Deployed:
    """What an app runs now."""

    release: Release | None
    #: Full sha when known locally (resolved from the slug or the description).
    commit: str | None
    #: What Heroku said, when it could not be resolved locally.
    reported_sha: str | None = None


@dataclass(frozen=True)
class DeployPlan:
    env: Environment
    #: ``push`` or ``promote`` (an environment with ``pipeline: true``).
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
    #: The apps a promotion reaches (the target and its stage siblings).
    target_apps: tuple[str, ...] = ()
    already_maintenance: bool = False
    notes: tuple[str, ...] = ()

    @property
    def up_to_date(self) -> bool:
        return self.deployed.commit is not None and self.deployed.commit == self.target_commit

    @property
    def migrations(self) -> tuple[str, ...]:
        return tuple(self.inference.reasons.get(DeployOptions.MIGRATE, ()))


def current_release(releases: Sequence[Release]) -> Release | None:
    """The release the app runs: flagged current, else the newest succeeded one."""
    for release in releases:
        if release.current:
            return release
    return next((r for r in releases if r.status == "succeeded"), None)


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


def resolve_deployed(git: Git, api: PlatformAPI, app: str, releases: Sequence[Release]) -> Deployed:
    """The commit ``app`` runs: from its slug (full sha), else its description's short sha."""
    release = current_release(releases)
    if release is None or release.slug_id is None:
        return Deployed(release, None)
    sha = None
    try:
        sha = api.slug_commit(app, release.slug_id)
    except PlatformAPIError:
        sha = None
    sha = sha or release.deployed_sha
    if not sha:
        return Deployed(release, None)
    for attempt in range(2):
        if git.commit_exists(sha):
            return Deployed(release, git.rev_parse(sha), sha)
        if attempt == 0:
            try:
                git.fetch()
            except HerokuToolsError:
                break
    return Deployed(release, None, sha)


def plan_deploy(
    settings: Settings,
    label: str,
    *,
    git: Git,
    heroku: Heroku,
    branch: str | None = None,
    force: bool = False,
    options: int | str | None = None,
    migrate: bool | None = None,
    collectstatic: bool | None = None,
    loaddata: bool | None = None,
    maintenance: bool | None = None,
    api: PlatformAPI | None = None,
    promote_from: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> DeployPlan:
    """Check that ``label`` can be deployed and work out what deploying it means.

    An environment with ``pipeline: true`` is deployed by promoting its
    upstream's slug; ``promote_from`` names the environment to promote from
    explicitly (what ``promote uat`` does for each environment downstream of uat).
    """
    env = settings.environment(label)
    say = progress or (lambda message: None)
    branch = branch or env.branch
    if not branch:
        raise PreflightError(f"environment {env.label} has no branch in {settings.source or 'the settings'}; pass --branch")
    if env.protected and env.branch and branch != env.branch:
        raise PreflightError(
            f"{env.label} is protected: it deploys only from {env.branch}, not {branch}; nothing was changed",
            recover=f"merge {branch} into {env.branch} and deploy that",
        )
    if promote_from is not None:
        upstream = settings.environment(promote_from)
    else:
        upstream = settings.upstream_of(env) if env.pipeline else None
    if env.pipeline and upstream is None:
        raise PreflightError(f"{env.label} has pipeline: true but no upstream environment to promote from")

    api = api or PlatformAPI(lambda: api_token(heroku))

    def heroku_reads():
        _ = api.token  # resolved once (at most one CLI call), before the parallel reads
        jobs = {
            "account": lambda: api.account(),
            "app": lambda: api.app(env.app_name),
            "releases": lambda: api.releases(env.app_name, 25),
        }
        if env.preboot is None:
            jobs["preboot"] = lambda: api.feature(env.app_name, "preboot")
        # Protection follows the app and its database: a label is only a name.
        jobs["protection"] = lambda: check_target(
            settings, env, api.config_vars, action=f"deploy to {env.label} ({env.app_name})")
        if upstream is not None:
            jobs["upstream_releases"] = lambda: api.releases(upstream.app_name, 10)
            jobs["upstream_app"] = lambda: api.app(upstream.app_name)
        with ThreadPoolExecutor(len(jobs)) as pool:
            futures = {name: pool.submit(job) for name, job in jobs.items()}
            results = {}
            for name, future in futures.items():
                app_for = upstream.app_name if name.startswith("upstream") else env.app_name
                try:
                    results[name] = future.result()
                except PlatformAPIError as error:
                    raise _api_error(error, app_for) from None
            return results

    def git_checks():
        if not git.branch_exists(branch):
            raise PreflightError(f"branch {branch!r} does not exist in this repository; nothing was changed")
        tree = git.status_porcelain()
        if not tree.clean:
            paths = [*tree.staged, *tree.unstaged, *tree.untracked]
            shown = ", ".join(paths[:5]) + (f" and {len(paths) - 5} more" if len(paths) > 5 else "")
            raise PreflightError(
                f"the working tree is not clean ({shown}); nothing was changed",
                recover="commit or stash your changes (`git stash --include-untracked`), then deploy again",
            )
        remote_url = git.remote_url(env.remote)
        if remote_url:
            git.fetch(env.remote, tags=True)
            upstream_ref = f"refs/remotes/{env.remote}/{branch}"
            if git.commit_exists(upstream_ref):
                _, behind = git.ahead_behind(branch, upstream_ref)
                if behind:
                    raise PreflightError(
                        f"{branch} is {behind} commit(s) behind {env.remote}/{branch}; nothing was changed",
                        recover=f"git checkout {branch} && git pull --ff-only {env.remote} {branch}",
                    )
        return git.rev_parse(branch), remote_url

    say("pre-flight: checking the repository and Heroku…")
    with ThreadPoolExecutor(2) as pool:
        remote_reads = pool.submit(heroku_reads)
        local = pool.submit(git_checks)
        branch_head, _ = local.result()
        reads = remote_reads.result()

    releases = [Release.from_json(r) for r in reads["releases"]]
    deployed = resolve_deployed(git, api, env.app_name, releases)
    if upstream is not None:
        upstream_releases = [Release.from_json(r) for r in reads["upstream_releases"]]
        source = resolve_deployed(git, api, upstream.app_name, upstream_releases)
        if source.release is None or source.release.slug_id is None:
            raise PreflightError(f"{upstream.label} ({upstream.app_name}) has no deployed code to promote")
        if source.commit is None:
            raise PreflightError(
                f"{upstream.label} runs {source.reported_sha or 'an unknown commit'}, which is not in this repository "
                f"even after `git fetch {env.remote}`; nothing was changed",
                recover=f"fetch the branch {upstream.label} was deployed from, then deploy again",
            )
        target_commit, method = source.commit, "promote"
        if env.protected and env.branch and not _is_ancestor_or_same(git, target_commit, branch_head):
            raise PreflightError(
                f"{upstream.label} runs {target_commit[:12]}, which is not on {env.branch}: "
                f"{env.label} only takes code from {env.branch}; nothing was changed",
                recover=f"deploy {env.branch} to {upstream.label} first",
            )
    else:
        target_commit, method = branch_head, "push"

    changed = tuple(git.changed_files(deployed.commit, target_commit)) if deployed.commit else None
    revisions = f"{deployed.commit}..{target_commit}" if deployed.commit else target_commit
    commits = tuple(git.log(revisions))[: None if deployed.commit else 20]

    inference = infer_options(changed, settings.options)
    chosen = DeployOptions.parse(options) if options is not None else inference.options
    if method == "promote" and options is None:
        # A promotion copies the upstream's slug, static files already collected by its build.
        chosen &= ~DeployOptions.COLLECTSTATIC
    chosen = apply_overrides(chosen, migrate=migrate, collectstatic=collectstatic, loaddata=loaddata)
    fixtures = matching_files(changed or (), settings.options.get("loaddata", ())) if changed else ()
    loaddata = settings.commands.get("loaddata") or ""
    if chosen & DeployOptions.LOADDATA and not fixtures and loaddata.split()[-1:] == ["loaddata"]:
        raise PreflightError(
            "loading fixtures was asked for, but no fixture file changed and commands.loaddata names none; "
            "nothing was changed",
            recover="name the fixtures in heroku-tools.yml (commands: {loaddata: python manage.py loaddata NAME}) "
            "or drop --loaddata / bit 8 from --options",
        )
    steps = tuple(select_steps(chosen, settings.commands, fixtures=fixtures))

    app = reads["app"]
    preboot = env.preboot if env.preboot is not None else bool(reads.get("preboot", {}).get("enabled"))
    needs_downtime = any(step.name in ("migrate", "syncdb") for step in steps) and not preboot
    use_maintenance = needs_downtime if maintenance is None else maintenance
    next_version = max((r.version for r in releases), default=0) + 1
    check_tag(git, env, next_version, target_commit)

    notes = list(reads["protection"])
    if deployed.commit is None and deployed.reported_sha:
        notes.append(f"the deployed commit {deployed.reported_sha} is not in this repository: every file counts as changed")
    if options is not None and DeployOptions.parse(options) != inference.options:
        notes.append(f"--options {int(chosen)} overrides the inferred {int(inference.options)}")

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
        maintenance=use_maintenance,
        preboot=preboot,
        force=force,
        git_url=app.get("git_url"),
        deployer=reads["account"].get("email") or "unknown",
        next_version=next_version,
        source_app=upstream.app_name if upstream else None,
        target_apps=(env.app_name,),
        already_maintenance=bool(app.get("maintenance")),
        notes=tuple(notes),
    )


def _is_ancestor_or_same(git: Git, commit: str, head: str) -> bool:
    result = git.execute(["merge-base", "--is-ancestor", commit, head], ok=(0, 1))
    return result.exit_code == 0


# -- the report ------------------------------------------------------------------


def render_report(plan: DeployPlan, *, paint: Callable[..., str] | None = None) -> str:
    """The report shown before the confirmation code, as plain lines."""
    from colorama import Fore, Style

    paint = paint or (lambda text, *styles: text)
    env = plan.env
    deployed = plan.deployed
    since = f"v{deployed.release.version}" if deployed.release else "the first release"
    lines = []
    if plan.changed_files is None and (deployed.release is None or deployed.release.slug_id is None):
        lines.append(paint("First deployment: every file is new.", Fore.YELLOW))
    elif plan.changed_files is None:
        lines.append(paint("Deployed commit unknown: treating every file as changed.", Fore.YELLOW))
    else:
        lines.append(paint(f"Files changed since {since} ({len(plan.changed_files)}):", Style.BRIGHT))
        lines += [f"    {path}" for path in plan.changed_files] or ["    (none)"]
    lines.append("")
    lines.append(paint(f"Commits since {since} ({len(plan.commits)}):", Style.BRIGHT))
    lines += [f"    {c.short} {c.subject}" for c in plan.commits] or ["    (none)"]
    lines.append("")
    rows = [
        ("Target environment", f"{env.label}" + (" (protected)" if env.protected else "")),
        ("Heroku app", env.app_name),
        ("Deployed", _deployed_line(deployed)),
        ("Deploying", f"{plan.target_commit[:12]} ({_origin(plan)})"),
        ("Branch", plan.branch),
        ("Git remote", plan.git_url or "?"),
        ("Force push", "yes" if plan.force else "no"),
        ("Preboot", "on" if plan.preboot else "off"),
        ("Pipeline", f"promote from {plan.source_app}" if plan.method == "promote" else "no (git push)"),
        ("Maintenance", _maintenance_line(plan)),
        ("New release", f"v{plan.next_version} (tag {env.tag(plan.next_version)})"),
    ]
    width = max(len(name) for name, _ in rows) + 1
    lines += [f"{name + ':':<{width}} {value}" for name, value in rows]
    lines.append("")
    lines.append(paint(f"Options: {int(plan.options)}", Style.BRIGHT))
    for flag, enabled in plan.options.describe():
        mark = "[x]" if enabled else "[ ]"
        label = STEP_LABELS[flag]
        if flag is DeployOptions.PUSH and plan.method == "promote":
            label = "git push (by pipeline promotion)"
        reasons = plan.inference.reasons.get(flag)
        why = f"  <- {', '.join(reasons[:3])}{'…' if len(reasons) > 3 else ''}" if reasons and enabled else ""
        lines.append(f"    {mark} {int(flag):>2} {label}{why}")
    if plan.steps:
        lines.append("")
        lines.append(paint("Post-push commands (one dyno, stops at the first failure):", Style.BRIGHT))
        lines += [f"    {step.command}" for step in plan.steps]
    for note in plan.notes:
        lines.append(paint(f"Note: {note}", Fore.YELLOW))
    return "\n".join(lines)


def _origin(plan: DeployPlan) -> str:
    return f"promotion of {plan.source_app}" if plan.method == "promote" else f"branch {plan.branch}"


def _deployed_line(deployed: Deployed) -> str:
    if deployed.release is None or deployed.release.slug_id is None:
        return "no code yet"
    sha = deployed.commit or deployed.reported_sha
    return f"v{deployed.release.version} ({sha[:12] if sha else 'commit unknown'})"


def _maintenance_line(plan: DeployPlan) -> str:
    if plan.already_maintenance:
        return "already on (left as it is)"
    if not plan.maintenance:
        return "off (no downtime needed)"
    around = "promotion and migrations" if plan.method == "promote" else "push and migrations"
    return f"on around the {around}"


