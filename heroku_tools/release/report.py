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

from .deployed import Deployed
from .options import STEP_LABELS, DeployOptions
from .plan import DeployPlan


def render_report(plan: DeployPlan, *, paint: Callable[..., str] | None = None) -> str:
    """The report shown before the confirmation code, as plain lines."""
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


