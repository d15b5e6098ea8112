"""Small typed views of what the heroku CLI (``--json``) and git print.

Each Heroku object keeps the API body it came from in ``raw``, so a field this
module does not name is still at hand. Parsing is lenient about absent fields:
the real ``3.sdk`` variants add fields and sometimes omit nullable ones.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

_DEPLOY = re.compile(r"^Deploy ([0-9a-f]{7,40})$")
_PROMOTE = re.compile(r"^Promote (\S+) v(\d+) ([0-9a-f]{7,40})$")
_ROLLBACK = re.compile(r"^Rollback to v(\d+)$")


def _name(value: Any) -> str | None:
    """``{"name": x}`` → x; tolerates ``None`` and bare strings."""
    if isinstance(value, Mapping):
        return value.get("name")
    return value


@dataclass(frozen=True)
class Account:
    email: str


@dataclass(frozen=True)
class Release:
    version: int
    description: str
    status: str
    current: bool
    slug_id: str | None
    created_at: str | None
    user_email: str | None
    id: str | None = None
    eligible_for_rollback: bool | None = None
    output_stream_url: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Release:
        slug = data.get("slug") or {}
        user = data.get("user") or {}
        return cls(
            version=int(data["version"]),
            description=data.get("description") or "",
            status=data.get("status") or "",
            current=bool(data.get("current")),
            slug_id=slug.get("id") or (data.get("extended") or {}).get("slug_id"),
            created_at=data.get("created_at"),
            user_email=user.get("email"),
            id=data.get("id"),
            eligible_for_rollback=data.get("eligible_for_rollback"),
            output_stream_url=data.get("output_stream_url"),
            raw=data,
        )

    @property
    def deployed_sha(self) -> str | None:
        """The (usually short) commit sha a push or promotion says it released, if any."""
        match = _DEPLOY.match(self.description) or _PROMOTE.match(self.description)
        return match.groups()[-1] if match else None

    @property
    def promoted_from(self) -> tuple[str, int] | None:
        """``(source app, source version)`` of a pipeline promotion."""
        match = _PROMOTE.match(self.description)
        return (match.group(1), int(match.group(2))) if match else None

    @property
    def rollback_to(self) -> int | None:
        """The version a rollback release went back to."""
        match = _ROLLBACK.match(self.description)
        return int(match.group(1)) if match else None


@dataclass(frozen=True)
class Slug:
    """A slug (``GET /apps/{app}/slugs/{id}``): the only place the full commit sha lives."""

    id: str
    commit: str | None
    commit_description: str | None = None
    process_types: Mapping[str, str] = field(default_factory=dict)
    size: int | None = None
    stack: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Slug:
        return cls(
            id=data["id"],
            commit=data.get("commit"),
            commit_description=data.get("commit_description"),
            process_types=data.get("process_types") or {},
            size=data.get("size"),
            stack=_name(data.get("stack")),
            raw=data,
        )


@dataclass(frozen=True)
class Dyno:
    name: str
    type: str | None
    state: str | None
    size: str | None
    command: str | None
    release_version: int | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Dyno:
        release = data.get("release") or {}
        return cls(
            name=data.get("name") or "",
            type=data.get("type"),
            state=data.get("state"),
            size=data.get("size"),
            command=data.get("command"),
            release_version=release.get("version"),
            raw=data,
        )


@dataclass(frozen=True)
class Addon:
    name: str
    service: str | None
    plan: str | None
    state: str | None
    config_vars: tuple[str, ...] = ()
    app_name: str | None = None
    id: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Addon:
        return cls(
            name=data.get("name") or "",
            service=_name(data.get("addon_service")),
            plan=_name(data.get("plan")),
            state=data.get("state"),
            config_vars=tuple(data.get("config_vars") or ()),
            app_name=_name(data.get("app")),
            id=data.get("id"),
            raw=data,
        )

    @property
    def is_postgres(self) -> bool:
        return (self.service or self.plan or "").startswith("heroku-postgresql")


@dataclass(frozen=True)
class PipelineCoupling:
    pipeline_id: str | None
    pipeline_name: str | None
    stage: str
    app_id: str | None = None
    app_name: str | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any], app: Mapping[str, Any] | None = None) -> PipelineCoupling:
        pipeline = data.get("pipeline") or {}
        app = app or data.get("app") or {}
        return cls(
            pipeline_id=pipeline.get("id"),
            pipeline_name=pipeline.get("name"),
            stage=data.get("stage") or "",
            app_id=app.get("id"),
            app_name=app.get("name"),
        )


@dataclass(frozen=True)
class Pipeline:
    id: str
    name: str
    couplings: tuple[PipelineCoupling, ...] = ()

    @classmethod
    def from_info(cls, data: Mapping[str, Any]) -> Pipeline:
        """From ``pipelines:info --json``: ``{"pipeline": {...}, "apps": [app + "pipelineCoupling"]}``."""
        pipeline = data["pipeline"]
        couplings = []
        for app in data.get("apps") or ():
            coupling = dict(app.get("pipelineCoupling") or app.get("pipeline_coupling") or {})
            coupling.setdefault("pipeline", {"id": pipeline.get("id"), "name": pipeline.get("name")})
            couplings.append(PipelineCoupling.from_json(coupling, app))
        return cls(id=pipeline["id"], name=pipeline["name"], couplings=tuple(couplings))

    def apps(self, stage: str) -> list[str]:
        """Names of the apps coupled at ``stage`` (``development``, ``staging``, ``production``...)."""
        return [c.app_name for c in self.couplings if c.stage == stage and c.app_name]


@dataclass(frozen=True)
class App:
    """An app as ``apps:info --json`` describes it: the app plus its add-ons, dynos and coupling."""

    id: str
    name: str
    git_url: str | None = None
    web_url: str | None = None
    region: str | None = None
    stack: str | None = None
    maintenance: bool = False
    released_at: str | None = None
    addons: tuple[Addon, ...] = ()
    dynos: tuple[Dyno, ...] = ()
    pipeline_coupling: PipelineCoupling | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> App:
        """From an app body, or from ``apps:info --json``'s wrapper around one."""
        info = data if "app" in data and isinstance(data["app"], Mapping) else {"app": data}
        app = info["app"]
        coupling = info.get("pipeline_coupling")
        return cls(
            id=app.get("id") or "",
            name=app["name"],
            git_url=app.get("git_url"),
            web_url=app.get("web_url"),
            region=_name(app.get("region")),
            stack=_name(app.get("stack")),
            maintenance=bool(app.get("maintenance")),
            released_at=app.get("released_at"),
            addons=tuple(Addon.from_json(a) for a in info.get("addons") or ()),
            dynos=tuple(Dyno.from_json(d) for d in info.get("dynos") or ()),
            pipeline_coupling=PipelineCoupling.from_json(coupling, app) if coupling else None,
            raw=data,
        )


@dataclass(frozen=True)
class Feature:
    name: str
    enabled: bool
    description: str | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Feature:
        return cls(name=data["name"], enabled=bool(data.get("enabled")), description=data.get("description"))


@dataclass(frozen=True)
class PromotionTarget:
    """One target app of ``pipelines:promote`` and how it ended."""

    app: str
    status: str
    error: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.status == "succeeded"


@dataclass(frozen=True)
class Transfer:
    """A row of ``pg:backups``: a backup (``b001``), restore (``r002``) or copy (``c003``)."""

    name: str
    kind: str
    status: str
    created_at: str | None = None
    size: str | None = None
    database: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.status.startswith(("Completed", "Finished"))


Backup = Transfer


@dataclass(frozen=True)
class Commit:
    sha: str
    subject: str

    @property
    def short(self) -> str:
        return self.sha[:7]


@dataclass(frozen=True)
class WorkingTree:
    """What ``git status`` reports: paths staged, changed but not staged, and untracked."""

    staged: tuple[str, ...] = ()
    unstaged: tuple[str, ...] = ()
    untracked: tuple[str, ...] = ()

    @property
    def clean(self) -> bool:
        return not (self.staged or self.unstaged or self.untracked)
