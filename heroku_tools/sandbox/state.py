"""The sandbox's persistent state: every app, release, slug, add-on and pipeline.

Objects are kept in the shape the Platform API returns them (per
``platform-api-schema.json``), so the API handlers mostly hand them back as they
are. Keys starting with ``_`` are the sandbox's own bookkeeping and are stripped
by :func:`public` before anything leaves the server.

All mutation happens under one re-entrant lock and is written through to
``state.json`` (atomically, by rename) so a restarted sandbox comes back with the
same apps, releases and credentials.
"""
from __future__ import annotations

import contextlib
import copy
import datetime
import json
import os
import secrets
import threading
import uuid
from pathlib import Path
from typing import Any
from collections.abc import Callable, Iterator

from .logs import LogStore

#: How builds and dynos run (``sandbox up --reuse-env``, ``--strict``, ``--no-formation``, ``--time-scale``);
#: see :meth:`State.configure`. ``formation`` runs the Procfile's process types after each release;
#: ``time_scale`` multiplies the platform's delays (crash cool-offs, preboot, router timeout) for tests.
DEFAULT_SETTINGS = {"reuse_env": False, "strict": False, "formation": False, "time_scale": 1.0}

REGION = {"id": "59accabd-516d-4f0e-83e6-6e3757701145", "name": "us"}
STACK = {"id": "ee582d3c-717d-4a57-ba5f-8b3a39f3a817", "name": "heroku-24"}


def checked_time_scale(value) -> float:
    """The ``time_scale`` setting: a factor above 0 and at most 10 on the platform's delays."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 10:
        raise ValueError(f"time_scale must be a number above 0 and at most 10, got {value!r}")
    return float(value)


class ApiError(Exception):
    """An error the API answers with a Heroku-style JSON error body."""

    def __init__(self, status: int, id: str, message: str, resource: str | None = None):
        super().__init__(message)
        self.status, self.id, self.message, self.resource = status, id, message, resource

    def body(self) -> dict:
        body = {"id": self.id, "message": self.message}
        if self.resource:
            body["resource"] = self.resource
        return body


def now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_id() -> str:
    return str(uuid.uuid4())


def public(obj: Any) -> Any:
    """A deep copy of ``obj`` without the sandbox's ``_private`` keys."""
    if isinstance(obj, dict):
        return {k: public(v) for k, v in obj.items() if not k.startswith("_")}
    if isinstance(obj, list):
        return [public(v) for v in obj]
    return obj


def _empty() -> dict:
    return {
        "api_key": secrets.token_hex(16),
        "account": None,
        "ports": {},
        "apps": {},
        "releases": {},
        "slugs": {},
        "builds": {},
        "config": {},
        "features": {},
        "formation": {},
        "dynos": {},
        "addons": {},
        "attachments": {},
        "pipelines": {},
        "couplings": {},
        "promotions": {},
        "promotion_targets": {},
        "transfers": {},
        "faults": {},
        "latency_ms": 0,
        "settings": dict(DEFAULT_SETTINGS),
    }


class State:
    """Thread-safe, persistent store of the sandbox's Heroku objects."""

    #: Fault points a test can arm for an app (see :meth:`take_fault`).
    FAULT_POINTS = (
        "build", "release", "run", "promotion", "maintenance", "backup", "restore", "config", "config-unset",
        "download",
    )

    def __init__(self, directory: Path):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.path = self.directory / "state.json"
        self.lock = threading.RLock()
        self.logs = LogStore(self.directory / "logs")
        #: Called with ``(app, release)`` whenever a release becomes current (the formation restarts on it).
        self.release_listeners: list[Callable[[dict, dict], None]] = []
        if self.path.exists():
            self.data = json.loads(self.path.read_text())
            for key, value in _empty().items():
                self.data.setdefault(key, value)
        else:
            self.data = _empty()
        if not self.data["account"]:
            self.data["account"] = {
                "id": new_id(),
                "email": "developer@example.com",
                "name": "Sandbox Developer",
                "allow_tracking": False,
                "beta": False,
                "created_at": now(),
                "updated_at": now(),
                "last_login": now(),
                "verified": True,
                "two_factor_authentication": False,
                "sms_number": None,
                "suspended_at": None,
                "delinquent_at": None,
                "default_organization": None,
                "default_team": None,
                "identity_provider": None,
                "federated": False,
                "country_of_residence": None,
            }
        self.save()

    # -- persistence ---------------------------------------------------------
    def save(self) -> None:
        with self.lock:
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps(self.data, indent=1, sort_keys=True))
            os.replace(tmp, self.path)

    @contextlib.contextmanager
    def mutate(self) -> Iterator[dict]:
        """Hold the lock, yield the data, and write it through afterwards."""
        with self.lock:
            yield self.data
            self.save()

    # -- paths ---------------------------------------------------------------
    def slug_dir(self, slug_id: str) -> Path:
        return self.directory / "slugs" / slug_id

    def repo_dir(self, app_name: str) -> Path:
        return self.directory / "repos" / f"{app_name}.git"

    def stream_path(self, stream_id: str) -> Path:
        return self.directory / "streams" / f"{stream_id}.log"

    # -- lookups -------------------------------------------------------------
    @property
    def account(self) -> dict:
        return self.data["account"]

    def owner(self) -> dict:
        return {"id": self.account["id"], "email": self.account["email"]}

    def find_app(self, identity: str) -> dict:
        """The app named or identified by ``identity``; a 404 like Heroku's otherwise."""
        with self.lock:
            apps = self.data["apps"]
            if identity in apps:
                return apps[identity]
            for app in apps.values():
                if app["name"] == identity:
                    return app
        raise ApiError(404, "not_found", "Couldn't find that app.", "app")

    def releases(self, app: dict) -> list[dict]:
        """The app's releases, oldest first, with ``current`` filled in."""
        with self.lock:
            releases = self.data["releases"].setdefault(app["id"], [])
            current = self.current_release(app)
            for release in releases:
                release["current"] = current is not None and release["id"] == current["id"]
            return releases

    def current_release(self, app: dict) -> dict | None:
        """The newest succeeded release: the one the app runs."""
        with self.lock:
            for release in reversed(self.data["releases"].get(app["id"], [])):
                if release["status"] == "succeeded":
                    return release
        return None

    def find_release(self, app: dict, identity: str) -> dict:
        identity = str(identity).lstrip("v") if str(identity).lstrip("v").isdigit() else str(identity)
        for release in self.releases(app):
            if release["id"] == identity or str(release["version"]) == identity:
                return release
        raise ApiError(404, "not_found", "Couldn't find that release.", "release")

    def config(self, app: dict) -> dict:
        with self.lock:
            return self.data["config"].setdefault(app["id"], {})

    # -- changes -------------------------------------------------------------
    def create_release(
        self,
        app: dict,
        description: str,
        *,
        slug_id: str | None = "inherit",
        status: str = "succeeded",
        output_stream_url: str | None = None,
    ) -> dict:
        """Append a release, as every code, config or add-on change does on Heroku.

        ``slug_id="inherit"`` keeps the current release's slug (config and add-on
        changes); pass a slug id for a deploy, promotion or rollback. The release
        snapshots the config vars so rollback and ``releases/N/config-vars`` work.
        """
        with self.mutate() as data:
            releases = data["releases"].setdefault(app["id"], [])
            if slug_id == "inherit":
                current = self.current_release(app)
                slug_id = current["slug"]["id"] if current and current["slug"] else None
            slug = data["slugs"].get(slug_id) if slug_id else None
            addon_plans = sorted(
                addon["plan"]["name"]
                for addon in data["addons"].values()
                if addon["app"]["id"] == app["id"]
            )
            release = {
                "addon_plan_names": addon_plans,
                "artifacts": [{"type": "slug", "id": slug_id}] if slug_id else [],
                "app": {"id": app["id"], "name": app["name"]},
                "created_at": now(),
                "description": description,
                "id": new_id(),
                "updated_at": now(),
                "slug": {"id": slug_id} if slug_id else None,
                "status": status,
                "user": self.owner(),
                "version": (releases[-1]["version"] + 1) if releases else 1,
                "current": False,
                "output_stream_url": output_stream_url,
                "eligible_for_rollback": True,
                "_config": dict(self.config(app)),
                "_commit": slug.get("commit") if slug else None,
            }
            releases.append(release)
            app["released_at"] = release["created_at"]
            app["updated_at"] = release["created_at"]
            self.releases(app)
        self.log_api(app, f"{description} by user {self.account['email']}")
        if status == "succeeded":
            self.log_api(app, f"Release v{release['version']} created by user {self.account['email']}")
            self.announce_release(app, release)
        return release

    def announce_release(self, app: dict, release: dict) -> None:
        """Tell the listeners that ``release`` is now what ``app`` runs."""
        for listener in list(self.release_listeners):
            listener(app, release)

    def log_api(self, app: dict, message: str) -> None:
        """A line from Heroku's API in the app's log (``app[api]``)."""
        self.logs.emit(app["id"], "app", "api", message)

    def update_release(self, release: dict, **changes: Any) -> dict:
        with self.mutate():
            release.update(changes)
            release["updated_at"] = now()
            return release

    def take_fault(self, app_name: str, point: str) -> bool:
        """Consume one armed fault of ``point`` for ``app_name``; True if one was armed."""
        with self.mutate() as data:
            armed = data["faults"].get(app_name, {})
            if armed.get(point, 0) > 0:
                armed[point] -= 1
                return True
        return False

    def arm_fault(self, app_name: str, point: str, times: int = 1) -> None:
        if point not in self.FAULT_POINTS:
            raise ValueError(f"unknown fault point {point!r}; expected one of {', '.join(self.FAULT_POINTS)}")
        with self.mutate() as data:
            armed = data["faults"].setdefault(app_name, {})
            armed[point] = armed.get(point, 0) + times

    def configure(self, **settings) -> dict:
        """Change how builds and dynos run: ``reuse_env`` (the sandbox's own Python), ``strict`` builds,
        ``formation`` (run the process types) and ``time_scale`` (a positive factor on the platform's delays)."""
        unknown = sorted(set(settings) - set(DEFAULT_SETTINGS))
        if unknown:
            raise ValueError(f"unknown sandbox setting(s) {', '.join(unknown)}; expected {', '.join(DEFAULT_SETTINGS)}")
        checked = {key: bool(value) for key, value in settings.items() if key != "time_scale"}
        if "time_scale" in settings:
            checked["time_scale"] = checked_time_scale(settings["time_scale"])
        with self.mutate() as data:
            data["settings"] = {**DEFAULT_SETTINGS, **data["settings"], **checked}
            return dict(data["settings"])

    def setting(self, name: str):
        """One setting's current value (its default for a state written before it existed)."""
        with self.lock:
            return self.data["settings"].get(name, DEFAULT_SETTINGS[name])

    def clear_faults(self) -> None:
        with self.mutate() as data:
            data["faults"] = {}
            data["latency_ms"] = 0

    def snapshot(self) -> dict:
        with self.lock:
            return copy.deepcopy(self.data)
