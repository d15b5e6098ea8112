"""The deploy report: what is about to ship, and what will happen to it, before the code is asked for.

It is the one thing a person reads before typing the confirmation code, so
it says everything that changes — files and commits since what runs now, the
steps and why each was chosen, the maintenance window — in plain lines that
paste well into a chat. :func:`render_report` renders a
:class:`~heroku_tools.release.plan.DeployPlan`; colour comes from ``paint``.
"""
from __future__ import annotations

from collections.abc import Callable

from colorama import Fore, Style

from ..migrations import Classified, Verdict, describe, release_summary
from .deployed import Deployed
from .options import STEP_LABELS, DeployOptions
from .downtime import Decision
from .plan import DeployPlan
from .schema import SchemaPlan


def render_report(plan: DeployPlan, *, paint: Callable[..., str] | None = None) -> str:
    """The report shown before the confirmation code, as plain lines."""
    paint = paint or (lambda text, *styles: text)
    env = plan.env
    deployed = plan.deployed
    lines = _shipping_lines(plan, paint) if deployed.has_code else _first_deployment_lines(plan, paint)
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
        ("Pipeline", _shipping(plan)),
        ("Maintenance", _maintenance_line(plan)),
        *([("Backup", "captured once the page is up, just before the migrations")] if plan.backup else []),
        ("New release", f"v{plan.next_version} (tag {env.tag(plan.next_version)})"),
        ("Health check", _health_line(plan)),
    ]
    width = max(len(name) for name, _ in rows) + 1
    lines += [f"{name + ':':<{width}} {value}" for name, value in rows]
    lines.append("")
    lines.append(paint(f"Options: {int(plan.options)}", Style.BRIGHT))
    for flag, enabled in plan.options.describe():
        mark = "[x]" if enabled else "[ ]"
        label = STEP_LABELS[flag]
        if flag is DeployOptions.PUSH and plan.method != "push":
            label = f"git push (by {'pipeline promotion' if plan.method == 'promote' else 'releases:retry'})"
        reasons = plan.inference.reasons.get(flag)
        why = f"  <- {', '.join(reasons[:3])}{'…' if len(reasons) > 3 else ''}" if reasons and enabled else ""
        lines.append(f"    {mark} {int(flag):>2} {label}{why}")
    if plan.steps:
        lines.append("")
        lines.append(paint("Post-push commands (one dyno, stops at the first failure):", Style.BRIGHT))
        lines += [f"    {step.command}" for step in plan.steps]
    if plan.schema is not None and plan.decision is not None:
        lines += ["", *schema_lines(plan.schema, plan.decision, paint)]
        lines += _still_running(plan)
    for note in plan.notes:
        lines.append(paint(f"Note: {note}", Fore.YELLOW))
    return "\n".join(lines)


def _health_line(plan: DeployPlan) -> str:
    """What happens once the release is out: the check, and whether an unhealthy release is rolled back."""
    health = plan.env.health
    if not plan.health_check:
        return "skipped (--no-health-check)"
    if not health.enabled:
        return "off (health: {enabled: false})"
    check = (f"GET {', '.join(health.paths)} answering {health.expected}, {health.successes} in a row within "
             f"{health.timeout:g}s (if the app runs a web process)")
    if not (plan.auto_rollback and health.rollback):
        return f"{check}; no automatic rollback"
    return f"{check}; unhealthy: rolled back if the schema allows"


def _shipping_lines(plan: DeployPlan, paint: Callable[..., str]) -> list[str]:
    """The files and commits since the release the app runs."""
    since = f"v{plan.deployed.release.version}"
    if plan.changed_files is None:
        lines = [paint("Deployed commit unknown: treating every file as changed.", Fore.YELLOW)]
    else:
        lines = [paint(f"Files changed since {since} ({len(plan.changed_files)}):", Style.BRIGHT)]
        lines += [f"    {path}" for path in plan.changed_files] or ["    (none)"]
    lines += ["", paint(f"Commits since {since} ({len(plan.commits)}):", Style.BRIGHT)]
    return lines + ([f"    {c.short} {c.subject}" for c in plan.commits] or ["    (none)"])


def _first_deployment_lines(plan: DeployPlan, paint: Callable[..., str]) -> list[str]:
    """An app without code yet: everything is new, and its releases so far (add-ons, config) are no reference."""
    count = plan.commit_count if plan.commit_count is not None else len(plan.commits)
    lines = [paint(f"First deployment of {plan.env.app_name}: {count} commit{'s' if count != 1 else ''}"
                   " (every file is new)", Style.BRIGHT)]
    lines += [f"    {c.short} {c.subject}" for c in plan.commits]
    if count > len(plan.commits):
        lines.append(f"    … and {count - len(plan.commits)} earlier")
    return lines


def _origin(plan: DeployPlan) -> str:
    if plan.method == "promote":
        return f"promotion of {plan.source_app}"
    if plan.method == "retry":
        return f"branch {plan.branch}; v{plan.retried.version} of it failed in its release phase: retried"
    return f"branch {plan.branch}"


def _shipping(plan: DeployPlan) -> str:
    if plan.method == "promote":
        return f"promote from {plan.source_app}"
    if plan.method == "retry":
        return f"no (heroku releases:retry of v{plan.retried.version}: the same slug, its release phase again)"
    return "no (git push)"


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
    if plan.method == "promote":
        start = "just before the promotion"
    elif plan.method == "retry":
        start = "just before the retry"
    elif not plan.options & DeployOptions.PUSH:
        start = "the start"
    else:
        start = "the push" if plan.env.maintenance_from == "push" else "the end of the build"
    if plan.options & (DeployOptions.MIGRATE | DeployOptions.SYNCDB):
        end = "the migrations are done"
    elif plan.schema is not None and plan.schema.procfile.release:
        end = "the release phase has succeeded"
    else:
        end = "the new release is out"
    return f"on from {start} until {end}"


def schema_lines(schema: SchemaPlan, decision: Decision, paint: Callable[..., str]) -> list[str]:
    """The Migrations section: each pending migration with its verdict, then the downtime decision and why."""
    lines = [paint(f"Migrations ({schema.read_from}; {release_summary(schema.procfile)}):", Style.BRIGHT)]
    colour = {Verdict.COMPATIBLE: Fore.GREEN, Verdict.LOCKING: Fore.YELLOW}
    if schema.plan is not None:
        for item in schema.plan.pending:
            lines += ["  " + line for line in describe(item, lambda text, verdict: paint(text, colour.get(verdict, Fore.RED)))]
            lines += _also_locking(item, paint)
    else:
        lines += [f"    {path}  (approximate: the database could not be read)" for path in schema.approximate]
    if schema.dependencies_changed:
        lines.append(f"    possibly pending: third-party migrations, operations unknown "
                     f"({', '.join(schema.dependencies_changed)} changed)")
    if not schema.needs_migrate:
        lines.append("    (none pending)")
    lines.append(f"Downtime: {decision.why}.")
    lines += [paint(f"Warning: {warning}.", Fore.YELLOW) for warning in decision.warnings]
    if schema.procfile.release_migrates and "lock_timeout" not in (schema.procfile.release or ""):
        lines.append(paint("Warning: the release phase migrates with no lock_timeout, so a migration can queue every "
                           "query behind a lock it waits for; `release: PGOPTIONS='-c lock_timeout=5s' "
                           f"{schema.procfile.release}` bounds the wait.", Fore.YELLOW))
    return lines


def _also_locking(item: Classified, paint: Callable[..., str]) -> list[str]:
    """Operations that block writes while they run, besides the one that decided the migration: each with its fix."""
    lines = []
    for operation in item.operations:
        if operation.verdict is Verdict.LOCKING and operation.operation is not item.operation:
            lines.append(paint(f"                  also locking, line {operation.operation.line}: "
                               f"{operation.judgement.reason}", Fore.YELLOW))
            if operation.judgement.advice:
                lines.append(f"                  → {operation.judgement.advice}")
    return lines


def _still_running(plan: DeployPlan) -> list[str]:
    """What the page does not stop: other process types, one-off dynos, Scheduler jobs."""
    if not (plan.maintenance and plan.other_processes):
        return []
    scaled = f" ({', '.join(plan.scale_down)} scaled to 0 for the window)" if plan.scale_down else ""
    return [f"The maintenance page stops web traffic only: {', '.join(plan.other_processes)}, one-off dynos and "
            f"Scheduler jobs keep running{scaled}."]
