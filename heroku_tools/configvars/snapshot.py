"""Snapshots: one side of a comparison — an app's config vars as Heroku has them, or declared settings.

An app's snapshot is read with two heroku CLI calls (``config --json`` and
``addons --json``, for the vars its add-ons set); all the apps a command needs
are read at once. A name on the command line is an environment label,
``@label`` (that environment's declared settings), or the path of a settings
file, and every name is checked, every file read, before Heroku is asked
anything.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from colorama import Fore, Style

from ..errors import UnknownEnvironment, did_you_mean
from ..heroku import Heroku
from ..session import Session
from ..settings import Environment, Settings
from .declared import declared, load_settings_file
from .errors import ConfigError
from .mask import Masker
from .table import Paint, no_paint, plural, table


@dataclass(frozen=True)
class Snapshot:
    """One side of a comparison: an app's config vars, or declared settings.

    ``managed`` maps vars set by the app's add-ons to the add-on (service) name;
    ``removed`` holds the vars declared ``null`` (settings only); ``ignore`` the
    name patterns not to compare for this side.
    """

    name: str
    kind: str  # "environment" or "settings"
    values: Mapping[str, str]
    app: str | None = None
    managed: Mapping[str, str] = field(default_factory=dict)
    removed: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    source: str | None = None

    @property
    def title(self) -> str:
        if self.kind == "environment":
            return f"{self.name} ({self.app})"
        return self.source or self.name


def fetch(heroku: Heroku, app: str) -> dict[str, str]:
    """The app's config vars (``heroku config --json``)."""
    values = heroku.config(app)
    if not isinstance(values, dict):
        raise ConfigError(f"`heroku config --json -a {app}` did not print a mapping of config vars")
    return {str(key): "" if value is None else str(value) for key, value in values.items()}


def addon_vars(heroku: Heroku, app: str) -> dict[str, str]:
    """Vars the app's add-ons set, with the add-on that sets each: ``{"DATABASE_URL": "heroku-postgresql"}``."""
    managed: dict[str, str] = {}
    for addon in heroku.addons(app):
        service = addon.service or addon.plan or addon.name or "an add-on"
        service = service.split(":")[0]
        for var in addon.config_vars:
            managed.setdefault(var, service)
        for attachment in addon.raw.get("attachments") or []:
            attached_to = (attachment.get("app") or {}).get("name")
            if attachment.get("name") and attached_to in (None, app):
                managed.setdefault(f"{attachment['name']}_URL", service)
    return managed


def parallel(calls: Sequence[Callable[[], Any]]) -> list[Any]:
    """Run ``calls`` at once (each is a heroku CLI call, ~1 s of mostly waiting); results in order."""
    if len(calls) <= 1:
        return [call() for call in calls]
    with ThreadPoolExecutor(max_workers=min(8, len(calls))) as pool:
        futures = [pool.submit(call) for call in calls]
        return [future.result() for future in futures]


def environment_snapshot(env: Environment, values: Mapping[str, str], managed: Mapping[str, str]) -> Snapshot:
    return Snapshot(
        name=env.label, kind="environment", values=dict(values), app=env.app_name,
        managed=dict(managed), ignore=tuple(env.config_ignore),
    )


def declared_snapshot(settings: Settings, env: Environment, *, environ: Mapping[str, str] | None = None) -> Snapshot:
    result = declared(settings, env, environ=environ)
    return Snapshot(
        name=f"@{env.label}", kind="settings", values=result.values, removed=result.removed,
        ignore=tuple(env.config_ignore), source=result.source,
    )


def snapshots(session: Session, names: Sequence[str], *, environ: Mapping[str, str] | None = None,
              cwd: Path | None = None) -> list[Snapshot]:
    """A :class:`Snapshot` for each name: an environment label, ``@label`` (that
    environment's declared settings) or the path of a settings file.

    Every name is checked, and every declared file read, before Heroku is asked
    anything; then all apps' config and add-ons are fetched at once.
    """
    heroku = session.heroku
    plans: list[tuple[str, Any]] = [resolve(session.settings, name, environ=environ, cwd=cwd) for name in names]
    calls: list[Callable[[], Any]] = []
    for kind, item in plans:
        if kind == "environment":
            calls += [lambda app=item.app_name: fetch(heroku, app), lambda app=item.app_name: addon_vars(heroku, app)]
    fetched = iter(parallel(calls))
    result = []
    for kind, item in plans:
        if kind == "environment":
            values, managed = next(fetched), next(fetched)
            result.append(environment_snapshot(item, values, managed))
        else:
            result.append(item)
    return result


def resolve(settings: Settings, name: str, *, environ: Mapping[str, str] | None = None,
            cwd: Path | None = None) -> tuple[str, Any]:
    """``("environment", Environment)`` or ``("settings", Snapshot)`` for a name on the command line."""
    name = str(name)
    if settings.knows(name):
        return "environment", settings.environment(name)
    if name.startswith("@"):
        env = settings.environment(name[1:])
        return "settings", declared_snapshot(settings, env, environ=environ)
    for base in (Path(cwd or Path.cwd()), settings.root):
        candidate = base / name
        if _is_file(candidate):
            found = load_settings_file(candidate, environ=environ, display=name)
            return "settings", Snapshot(
                name=name, kind="settings", values=found.values, removed=found.removed, source=found.source
            )
    if name.startswith("-"):
        settings.environment(name)  # the error for a flag given where an environment was expected
    if "/" in name or "." in name or os.sep in name:
        known = ", ".join(settings.labels)
        raise ConfigError(f"{name!r} is neither an environment ({known}) nor a settings file that exists")
    raise UnknownEnvironment(
        f"unknown environment {name!r}{did_you_mean(name, settings.labels)} "
        f"(known: {', '.join(settings.labels)}; or give a settings file, "
        "or @ENV for an environment's declared settings)"
    )


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except (OSError, ValueError):  # a name no file system can hold (a NUL byte, too long)
        return False


# -- showing one --------------------------------------------------------------------------


def render_show(snapshot: Snapshot, masker: Masker, *, reveal: bool = False, paint: Paint = no_paint) -> str:
    masked = "values shown" if reveal else "values masked; --show-values to reveal"
    lines = [f"Config vars of {snapshot.title}: {plural(len(snapshot.values), 'var')} ({masked})"]
    rows, styles = [], []
    for key in sorted(snapshot.values):
        managed = snapshot.managed.get(key)
        cells = [masker.show(snapshot.values[key], reveal)]
        if managed:
            cells.append(f"(set by {managed})")
        rows.append((" ", key, cells + [""] if len(cells) == 1 else cells))
        styles.append((Fore.CYAN, Style.DIM) if managed else ())
    lines += [line.rstrip() for line in table(rows, styles, paint)] if rows else []
    return "\n".join(lines)


def show_json(snapshot: Snapshot, masker: Masker, *, reveal: bool = False) -> dict:
    return {
        "environment": snapshot.name,
        "app": snapshot.app,
        "values_shown": reveal,
        "vars": {
            key: {**(masker.describe(snapshot.values[key], reveal) or {}), "managed_by": snapshot.managed.get(key)}
            for key in sorted(snapshot.values)
        },
    }
