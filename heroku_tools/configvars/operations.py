"""What the ``config`` tasks do, as functions a fabfile calls too.

Each takes the :class:`~heroku_tools.session.Session` first and a
:class:`~heroku_tools.output.Console` last: ``console.report`` gets the table
or plan (stdout), ``console.say`` the outcome, ``console.warn`` what should be
looked at. A change is planned and shown first; what Heroku cannot hold (a
NUL byte, a value or a total over its 32 kB limit, a name it refuses) stops it
there, ``dry_run`` included; then the confirmation code is asked for on every
environment (:func:`~heroku_tools.confirm.confirm_change`), and everything goes
in one Platform API request: one release, no value on a command line.
"""
from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..confirm import confirm_change
from ..lock import hold
from ..output import Console, stdout_paint
from ..private import would_track
from ..protection import check_target
from ..session import Session
from ..settings import Environment
from .apply import Applied, apply
from .declared import declared
from .diff import ConfigDiff, diff, render_diff
from .dotenv import render_dotenv, write_private
from .limits import check_change, config_values
from .errors import ConfigError
from .mask import Masker
from .names import check_key
from .plan import Plan, plan, plan_push, render_plan
from .snapshot import Snapshot, render_show, snapshots
from .table import plural


def show(session: Session, label: str, *, reveal: bool = False, console: Console = Console(),
         masker: Masker | None = None) -> Snapshot:
    """``config.show``: ``label``'s vars as a table, masked unless ``reveal``; add-on vars marked."""
    (snapshot,) = snapshots(session, [session.settings.environment(label).label])
    console.report(render_show(snapshot, masker or Masker(), reveal=reveal, paint=stdout_paint))
    return snapshot


def compare(session: Session, source: str, target: str, *, ignore: Iterable[str] = (), reveal: bool = False,
            console: Console = Console(), masker: Masker | None = None,
            environ: Mapping[str, str] | None = None) -> ConfigDiff:
    """``config.diff``: the two sides (environments, ``@ENV`` or settings files), compared and reported."""
    a, b = snapshots(session, [source, target], environ=environ)
    result = diff(a, b, ignore=(*session.settings.config_ignore, *ignore))
    console.report(render_diff(result, masker or Masker(), reveal=reveal, paint=stdout_paint))
    return result


def set_vars(session: Session, label: str, values: Mapping[str, Any], *, confirm_app: str | None = None,
             dry_run: bool = False, reveal: bool = False, console: Console = Console(),
             masker: Masker | None = None) -> Applied | None:
    """``config.set``: show what changes, ask for the code (or check ``confirm_app``), then set it in one release.

    Values are sent as Heroku stores them (``True`` as ``"true"``, ``2`` as ``"2"``).
    """
    env = session.settings.environment(label)
    for key in values:
        check_key(key)
    values = config_values(values)
    snapshot = _target(session, env, f"set config vars on {env.label} ({env.app_name})", console, values)
    result = plan(snapshot, values, report_remote_only=False)
    change = Change(
        env, snapshot, result, heading=f"Setting on {env.label} ({env.app_name})",
        nothing=f"nothing to change: {env.app_name} already has these values",
        action=f"set {', '.join(result.to_set)} on {env.label} ({env.app_name})",
        recover="run the same config.set again (it changes only what is still different)",
        done=lambda applied: f"{env.label} ({env.app_name}): set {', '.join(applied.set_keys)}",
    )
    return _carry_out(session, change, confirm_app=confirm_app, dry_run=dry_run, reveal=reveal, console=console,
                      masker=masker)


def unset_vars(session: Session, label: str, keys: Sequence[str], *, confirm_app: str | None = None,
               dry_run: bool = False, reveal: bool = False, console: Console = Console(),
               masker: Masker | None = None) -> Applied | None:
    """``config.unset``: show what goes, ask for the code (or check ``confirm_app``), then remove it in one release."""
    env = session.settings.environment(label)
    if not keys:
        raise ConfigError("nothing to unset: give one or more KEY")
    for key in keys:
        check_key(key)
    snapshot = _target(session, env, f"remove config vars from {env.label} ({env.app_name})", console, keys)
    result = plan(snapshot, {}, list(dict.fromkeys(keys)), report_remote_only=False)
    change = Change(
        env, snapshot, result, heading=f"Removing from {env.label} ({env.app_name})",
        nothing=f"nothing to change: {env.app_name} has none of {', '.join(keys)}",
        action=f"remove {', '.join(result.to_unset)} from {env.label} ({env.app_name})",
        recover=f"heroku-tools config.unset {env.label} {' '.join(result.to_unset)}",
        done=lambda applied: f"{env.label} ({env.app_name}): removed {', '.join(applied.unset_keys)}",
    )
    return _carry_out(session, change, confirm_app=confirm_app, dry_run=dry_run, reveal=reveal, console=console,
                      masker=masker)


def push(session: Session, label: str, *, confirm_app: str | None = None, dry_run: bool = False,
         reveal: bool = False, console: Console = Console(), masker: Masker | None = None,
         environ: Mapping[str, str] | None = None) -> tuple[Plan, Applied | None]:
    """``config.push``: make the app match the settings declared for ``label``.

    Declared settings are read and interpolated first (a missing ``${NAME}``
    stops it before Heroku is asked anything); the plan is shown and checked
    against what Heroku can hold; the code is asked for (or ``confirm_app``
    checked); then every addition, change and removal in one release. Returns
    the plan and what was applied (``None``: nothing).
    """
    env = session.settings.environment(label)
    wanted = declared(session.settings, env, environ=environ)
    snapshot = _target(session, env, f"push config vars to {env.label} ({env.app_name})", console)
    result = plan_push(snapshot, wanted, ignore=session.settings.config_ignore)
    change = Change(
        env, snapshot, result, heading=None,
        nothing=f"{env.label} ({env.app_name}) already matches {wanted.source}: nothing to push",
        action=f"push {plural(result.change_count, 'config var change')} to {env.label} ({env.app_name})",
        recover=f"heroku-tools config.push {env.label}   # safe to repeat: it applies only what is left",
        done=lambda applied: f"{env.label} ({env.app_name}) now matches {wanted.source}: {result.describe(done=True)}",
    )
    applied = _carry_out(session, change, confirm_app=confirm_app, dry_run=dry_run, reveal=reveal, console=console,
                         masker=masker)
    return result, applied


def pull(session: Session, label: str, destination: str | Path = ".env", *, force: bool = False,
         include_addons: bool = False, console: Console = Console()) -> tuple[Path | None, Snapshot, str, list[str]]:
    """``config.pull``: the app's vars as a ``.env`` file, mode 0600 (``-``: the text is reported instead).

    Vars set by add-ons (the app's databases) are left out unless
    ``include_addons``: a local ``.env`` holding live's ``DATABASE_URL`` points
    development at the live database.
    """
    env = session.settings.environment(label)
    path = None if str(destination) == "-" else Path(destination)
    if path is not None and path.exists() and not force:
        raise ConfigError(f"{path} exists: pass --force to replace it, or -o to write elsewhere; nothing was fetched")
    (snapshot,) = snapshots(session, [env.label])
    text, left_out = pull_text(snapshot, include_addons=include_addons)
    if path is None:
        console.report(text.removesuffix("\n"))
    else:
        write_private(path, text, force=force)
        console.say(f"wrote {len(snapshot.values) - len(left_out)} vars of {snapshot.title} to {path} "
                    "(readable only by you)")
        if would_track(session.settings, path):
            console.warn(f"{path} is not ignored by git: add it to .gitignore, it holds secrets")
    if left_out:
        console.say(f"left out, set by add-ons: {', '.join(left_out)} (--include-addons to write them too)")
    return path, snapshot, text, left_out


def pull_text(
    snapshot: Snapshot, *, include_addons: bool = False, now: datetime.datetime | None = None
) -> tuple[str, list[str]]:
    """The ``.env`` text of ``snapshot``'s vars, and the add-on vars left out (unless ``include_addons``)."""
    left_out = [] if include_addons else sorted(k for k in snapshot.values if snapshot.managed.get(k))
    values = {k: v for k, v in snapshot.values.items() if k not in left_out}
    when = (now or datetime.datetime.now(datetime.timezone.utc)).strftime("%Y-%m-%d %H:%M:%S %Z").strip()
    header = (
        f"Config vars of {snapshot.app} ({snapshot.name}), pulled by heroku-tools at {when}.\n"
        "Secrets: keep this file out of git."
    )
    if left_out:
        header += f"\nLeft out, set by add-ons: {', '.join(left_out)}"
    return render_dotenv(values, header), left_out


# -- the steps they share ------------------------------------------------------------------


def guard(session: Session, env: Environment, snapshot: Snapshot, action: str, console: Console = Console()) -> None:
    """Refuse a change to an app whose database belongs to a protected environment (:mod:`~heroku_tools.protection`).

    The protected apps' config vars are read through the Platform API, all at once.
    """
    for note in check_target(session.settings, env, session.api.config_vars, action=action,
                             target_config=snapshot.values):
        console.warn(note)


def _target(session: Session, env: Environment, action: str, console: Console,
            keys: Iterable[str] = ()) -> Snapshot:
    """The app's snapshot, once protection allows ``action`` and none of ``keys`` is an add-on's."""
    (snapshot,) = snapshots(session, [env.label])
    guard(session, env, snapshot, action, console)
    managed = {key: snapshot.managed[key] for key in keys if key in snapshot.managed}
    if managed:
        detail = ", ".join(f"{key} (set by {addon})" for key, addon in managed.items())
        raise ConfigError(
            f"{detail} {'is' if len(managed) == 1 else 'are'} managed by an add-on on {snapshot.app}: "
            "change it through the add-on; nothing was changed"
        )
    return snapshot


@dataclass(frozen=True)
class Change:
    """One change to one app, as the person making it sees it: the plan and the words around it."""

    env: Environment
    #: The app as it is.
    current: Snapshot
    plan: Plan
    #: The plan's heading (None: "Plan for ENV (APP) from SOURCE").
    heading: str | None
    #: Said when the plan changes nothing.
    nothing: str
    #: What the confirmation prompt names: ``set A on uat (my-app-uat)``.
    action: str
    #: What to run to finish the job after a failure.
    recover: str
    #: What is said when it is done, from what was applied.
    done: Callable[[Applied], str]


def _carry_out(session: Session, change: Change, *, confirm_app: str | None, dry_run: bool, reveal: bool,
               console: Console, masker: Masker | None) -> Applied | None:
    """The skeleton of every change: report the plan, refuse what Heroku cannot hold (``dry_run``
    included), stop on ``dry_run``, ask for the code, apply it in one release, say what was done."""
    result = change.plan
    console.report(render_plan(result, masker or Masker(), reveal=reveal, paint=stdout_paint, heading=change.heading))
    if not result.changes:
        console.say(change.nothing)
        return None
    check_change(change.current.values, result.to_set, result.to_unset)
    if dry_run:
        console.say("dry run: nothing was changed")
        return None
    confirm_change(change.env, change.action, confirm_app=confirm_app, console=console)
    with hold(session, change.env, change.action, console=console):
        applied = apply(session.api, change.env.app_name, result.to_set, result.to_unset, recover=change.recover)
    console.say(change.done(applied) + _versions(applied))
    return applied


def _versions(applied: Applied) -> str:
    versions = [f"v{v}" for v in applied.versions if v is not None]
    if not versions:
        return ""
    return f" ({'release' if len(versions) == 1 else 'releases'} {', '.join(versions)})"
