"""Pipeline routes: pipelines, couplings (app + stage), the app filter, and promotions.

A promotion copies the source app's current slug to each target as a new slug
(same ``commit``, new id) and releases it there as
``Promote <source> v<N> <short sha>``, running the release phase. Target and
promotion statuses are derived from the target releases whenever they are
read, so a target stays ``pending`` (with its ``release`` set, which makes the
CLI stream the release output) until its release phase has finished and the
target has been listed as pending once.
"""
from __future__ import annotations

import re
import shutil

from ..routing import Response, paginate, route
from ..state import ApiError, new_id, now, public
from .apps import GENERATION, render_app
from .releases import release_slug, short_sha
from .slugs import new_slug

NAME = re.compile(r"^[a-z][a-z0-9-]{2,29}$")
STAGES = ("test", "review", "development", "staging", "production")
FAULT_MESSAGE = "Couldn't promote to this app: the release could not be created. Please try again."


# -- pipelines ---------------------------------------------------------------
def find_pipeline(state, identity: str) -> dict:
    for pipeline in state.data["pipelines"].values():
        if identity in (pipeline["id"], pipeline["name"]):
            return pipeline
    raise ApiError(404, "not_found", "Couldn't find that pipeline.", "pipeline")


def _validate_pipeline_name(name) -> str:
    if not isinstance(name, str) or not NAME.match(name):
        raise ApiError(
            422,
            "invalid_params",
            "Name must start with a letter, be 3 to 30 characters long and contain only lowercase letters, digits and dashes.",
        )
    return name


@route("POST", "/pipelines")
def create_pipeline(req):
    body = req.json()
    state = req.state
    name = _validate_pipeline_name(body.get("name"))
    owner = body.get("owner") or {"id": state.account["id"], "type": "user"}
    if owner.get("type") not in ("user", "team") or not owner.get("id"):
        raise ApiError(422, "invalid_params", "Owner must have an id and a type of user or team.")
    created = now()
    pipeline = {
        "created_at": created,
        "id": new_id(),
        "name": name,
        "owner": {"id": owner["id"], "type": owner["type"]},
        "updated_at": created,
        "generation": dict(GENERATION),
    }
    with state.mutate() as data:
        data["pipelines"][pipeline["id"]] = pipeline
    return Response(201, public(pipeline))


@route("GET", "/pipelines")
def list_pipelines(req):
    """All pipelines; ``?eq[name]=P`` keeps those named P (``pipelines:info P``)."""
    pipelines = sorted(req.state.data["pipelines"].values(), key=lambda p: p["created_at"])
    if "eq[name]" in req.query:
        pipelines = [p for p in pipelines if p["name"] == req.query["eq[name]"]]
    return paginate(req, public(pipelines))


@route("GET", "/pipelines/{pipeline}")
def show_pipeline(req):
    return public(find_pipeline(req.state, req.params["pipeline"]))


@route("PATCH", "/pipelines/{pipeline}")
def update_pipeline(req):
    body = req.json()
    pipeline = find_pipeline(req.state, req.params["pipeline"])
    with req.state.mutate():
        if "name" in body:
            pipeline["name"] = _validate_pipeline_name(body["name"])
        pipeline["updated_at"] = now()
    return public(pipeline)


@route("DELETE", "/pipelines/{pipeline}")
def destroy_pipeline(req):
    pipeline = find_pipeline(req.state, req.params["pipeline"])
    with req.state.mutate() as data:
        del data["pipelines"][pipeline["id"]]
        data["couplings"] = {k: c for k, c in data["couplings"].items() if c["pipeline"]["id"] != pipeline["id"]}
    return public(pipeline)


# -- couplings ---------------------------------------------------------------
def render_coupling(state, coupling: dict) -> dict:
    """A coupling, with ``pipeline.name`` added: the CLI reads it (the schema shows only ``id``)."""
    shown = public(coupling)
    shown["pipeline"]["name"] = state.data["pipelines"][coupling["pipeline"]["id"]]["name"]
    return shown


def app_coupling(state, app: dict) -> dict | None:
    for coupling in state.data["couplings"].values():
        if coupling["app"]["id"] == app["id"]:
            return coupling
    return None


def _find_coupling(state, identity: str) -> dict:
    coupling = state.data["couplings"].get(identity)
    if coupling is None:
        raise ApiError(404, "not_found", "Couldn't find that pipeline coupling.", "pipeline-coupling")
    return coupling


def _validate_stage(stage) -> str:
    if stage not in STAGES:
        raise ApiError(422, "invalid_params", f"Stage must be one of {', '.join(STAGES)}.")
    return stage


@route("POST", "/pipeline-couplings")
def create_coupling(req):
    body = req.json()
    state = req.state
    app = state.find_app(str(body.get("app") or ""))
    pipeline = find_pipeline(state, str(body.get("pipeline") or ""))
    stage = _validate_stage(body.get("stage"))
    with state.mutate() as data:
        if app_coupling(state, app):
            raise ApiError(422, "invalid_params", f"{app['name']} is already a member of a pipeline.")
        created = now()
        coupling = {
            "app": {"id": app["id"]},
            "created_at": created,
            "id": new_id(),
            "pipeline": {"id": pipeline["id"]},
            "stage": stage,
            "updated_at": created,
        }
        data["couplings"][coupling["id"]] = coupling
    return Response(201, render_coupling(state, coupling))


@route("GET", "/pipeline-couplings")
def list_couplings(req):
    return paginate(req, [render_coupling(req.state, c) for c in req.state.data["couplings"].values()])


@route("GET", "/pipelines/{pipeline}/pipeline-couplings")
def list_pipeline_couplings(req):
    pipeline = find_pipeline(req.state, req.params["pipeline"])
    couplings = [c for c in req.state.data["couplings"].values() if c["pipeline"]["id"] == pipeline["id"]]
    return paginate(req, [render_coupling(req.state, c) for c in couplings])


@route("GET", "/apps/{app}/pipeline-couplings")
def show_app_coupling(req):
    """The app's coupling; 404 when the app is in no pipeline (``apps:info`` shows null)."""
    coupling = app_coupling(req.state, req.state.find_app(req.params["app"]))
    if coupling is None:
        raise ApiError(404, "not_found", "Couldn't find that pipeline coupling.", "pipeline-coupling")
    return render_coupling(req.state, coupling)


@route("GET", "/pipeline-couplings/{coupling}")
def show_coupling(req):
    return render_coupling(req.state, _find_coupling(req.state, req.params["coupling"]))


@route("PATCH", "/pipeline-couplings/{coupling}")
def update_coupling(req):
    stage = _validate_stage(req.json().get("stage"))
    coupling = _find_coupling(req.state, req.params["coupling"])
    with req.state.mutate():
        coupling["stage"] = stage
        coupling["updated_at"] = now()
    return render_coupling(req.state, coupling)


@route("DELETE", "/pipeline-couplings/{coupling}")
def destroy_coupling(req):
    coupling = _find_coupling(req.state, req.params["coupling"])
    shown = render_coupling(req.state, coupling)
    with req.state.mutate() as data:
        del data["couplings"][coupling["id"]]
    return shown


@route("POST", "/filters/apps")
def filter_apps(req):
    """Apps by id, in the team-app shape (``pipelines:info``, ``pipelines:promote``)."""
    wanted = set(((req.json().get("in") or {}).get("id")) or [])
    apps = [app for app in req.state.data["apps"].values() if app["id"] in wanted]
    return paginate(req, [{**render_app(req, app), "joined": False, "locked": False} for app in apps])


# -- promotions --------------------------------------------------------------
def _source_release(state, app: dict, release_ref: dict | None) -> dict:
    release = state.find_release(app, str(release_ref["id"])) if release_ref else state.current_release(app)
    if release is None or release["status"] != "succeeded" or not release["slug"]:
        raise ApiError(422, "invalid_params", f"{app['name']} has no released slug to promote.")
    return release


def _target_apps(state, pipeline: dict, source: dict, targets) -> list[dict]:
    if not isinstance(targets, list) or not targets:
        raise ApiError(422, "invalid_params", "A promotion needs at least one target app.")
    apps = []
    for target in targets:
        app = state.find_app(str(((target or {}).get("app") or {}).get("id") or ""))
        coupling = app_coupling(state, app)
        if coupling is None or coupling["pipeline"]["id"] != pipeline["id"]:
            raise ApiError(422, "invalid_params", f"{app['name']} is not in the {pipeline['name']} pipeline.")
        if app["id"] == source["id"]:
            raise ApiError(422, "invalid_params", "Cannot promote from an app to itself.")
        apps.append(app)
    return apps


def copy_slug(state, slug: dict, app: dict) -> dict:
    """A new slug for ``app`` with the same code and ``commit`` (and its files, if built)."""
    copied = {k: v for k, v in slug.items() if k not in ("id", "created_at", "updated_at", "_app_id")}
    fresh = new_slug(state, app, **copied)
    if state.slug_dir(slug["id"]).exists():
        shutil.copytree(state.slug_dir(slug["id"]), state.slug_dir(fresh["id"]), symlinks=True)
    return fresh


@route("POST", "/pipeline-promotions")
def create_promotion(req):
    body = req.json()
    state = req.state
    pipeline = find_pipeline(state, str((body.get("pipeline") or {}).get("id") or ""))
    source_ref = body.get("source") or {}
    source = state.find_app(str((source_ref.get("app") or {}).get("id") or ""))
    coupling = app_coupling(state, source)
    if coupling is None or coupling["pipeline"]["id"] != pipeline["id"]:
        raise ApiError(422, "invalid_params", f"{source['name']} is not in the {pipeline['name']} pipeline.")
    release = _source_release(state, source, source_ref.get("release"))
    targets = _target_apps(state, pipeline, source, body.get("targets"))
    slug = state.data["slugs"][release["slug"]["id"]]
    description = f"Promote {source['name']} v{release['version']} {short_sha(slug.get('commit'))}".strip()

    created = now()
    promotion = {
        "created_at": created,
        "id": new_id(),
        "pipeline": {"id": pipeline["id"]},
        "source": {"app": {"id": source["id"]}, "release": {"id": release["id"]}},
        "status": "pending",
        "updated_at": created,
    }
    with state.mutate() as data:
        data["promotions"][promotion["id"]] = promotion
    for app in targets:
        target = {
            "app": {"id": app["id"]},
            "error_message": None,
            "id": new_id(),
            "pipeline_promotion": {"id": promotion["id"]},
            "release": None,
            "status": "pending",
            "_shown_pending": False,
        }
        if state.take_fault(app["name"], "promotion"):
            target.update(status="failed", error_message=FAULT_MESSAGE)
        else:
            released = release_slug(req, app, copy_slug(state, slug, app)["id"], description)
            target["release"] = {"id": released["id"]}
        with state.mutate() as data:
            data["promotion_targets"][target["id"]] = target
    return Response(201, public(_refresh(state, promotion)))


def _refresh(state, promotion: dict) -> dict:
    """Settle targets whose release has finished, then the promotion itself."""
    with state.lock:
        data = state.data
        targets = [t for t in data["promotion_targets"].values() if t["pipeline_promotion"]["id"] == promotion["id"]]
        changed = False
        for target in targets:
            if target["status"] != "pending" or not target["release"]:
                continue
            release = next(
                (r for r in data["releases"].get(target["app"]["id"], []) if r["id"] == target["release"]["id"]),
                None,
            )
            if release and release["output_stream_url"] and not target.get("_shown_pending"):
                continue  # the CLI streams the release phase only if it first sees the target pending
            if release is None or release["status"] in ("failed", "expired"):
                version = f" v{release['version']}" if release else ""
                target.update(status="failed", error_message=f"Release{version} failed: its release command did not succeed.")
                changed = True
            elif release["status"] == "succeeded":
                target["status"] = "succeeded"
                changed = True
        if promotion["status"] == "pending" and all(t["status"] != "pending" for t in targets):
            promotion.update(status="completed", updated_at=now())
            changed = True
        if changed:
            state.save()
    return promotion


def _find_promotion(state, identity: str) -> dict:
    promotion = state.data["promotions"].get(identity)
    if promotion is None:
        raise ApiError(404, "not_found", "Couldn't find that pipeline promotion.", "pipeline-promotion")
    return promotion


@route("GET", "/pipeline-promotions/{promotion}")
def show_promotion(req):
    return public(_refresh(req.state, _find_promotion(req.state, req.params["promotion"])))


@route("GET", "/pipeline-promotions/{promotion}/promotion-targets")
def list_promotion_targets(req):
    promotion = _refresh(req.state, _find_promotion(req.state, req.params["promotion"]))
    with req.state.mutate() as data:
        targets = [t for t in data["promotion_targets"].values() if t["pipeline_promotion"]["id"] == promotion["id"]]
        shown = public(targets)
        for target in targets:
            target["_shown_pending"] = target["_shown_pending"] or target["status"] == "pending"
    return paginate(req, shown)
