"""App feature routes: list, show and enable/disable (``preboot`` and friends).

The catalogue is fixed, as Heroku's is; per app only the ``enabled`` flag and
when it changed are stored, in ``state.data["features"][app_id][name]``.
"""
from __future__ import annotations

import uuid

from ..routing import route
from ..state import ApiError, now

CATALOGUE = {
    "preboot": (
        "Preboot",
        "Provide seamless web dyno deploys by starting new dynos before stopping old ones.",
        "https://devcenter.heroku.com/articles/preboot",
        "general",
    ),
    "runtime-dyno-metadata": (
        "Runtime Dyno Metadata",
        "Expose dyno and release metadata (HEROKU_APP_ID, HEROKU_RELEASE_VERSION, ...) as config vars.",
        "https://devcenter.heroku.com/articles/dyno-metadata",
        "beta",
    ),
    "log-runtime-metrics": (
        "Log Runtime Metrics",
        "Emit dyno load and memory usage into the application's log stream.",
        "https://devcenter.heroku.com/articles/log-runtime-metrics",
        "beta",
    ),
    "http-session-affinity": (
        "HTTP Session Affinity",
        "Route requests from the same client to the same dyno.",
        "https://devcenter.heroku.com/articles/session-affinity",
        "general",
    ),
}


def feature_id(name: str) -> str:
    """Feature ids are global on Heroku; the sandbox derives stable ones from the name."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"heroku-app-feature:{name}"))


def render_feature(state, app: dict, name: str) -> dict:
    display_name, description, doc_url, stage = CATALOGUE[name]
    stored = state.data["features"].get(app["id"], {}).get(name, {})
    return {
        "created_at": app["created_at"],
        "description": description,
        "doc_url": doc_url,
        "enabled": stored.get("enabled", False),
        "id": feature_id(name),
        "name": name,
        "state": stage,
        "updated_at": stored.get("updated_at", app["created_at"]),
        "display_name": display_name,
        "feedback_email": "feedback@heroku.com",
    }


def feature_name(identity: str) -> str:
    """The catalogue name for a feature name or id; 404 as Heroku answers."""
    for name in CATALOGUE:
        if identity in (name, feature_id(name)):
            return name
    raise ApiError(404, "not_found", "Couldn't find that feature.", "app-feature")


@route("GET", "/apps/{app}/features")
def list_features(req):
    app = req.state.find_app(req.params["app"])
    return [render_feature(req.state, app, name) for name in sorted(CATALOGUE)]


@route("GET", "/apps/{app}/features/{feature}")
def show_feature(req):
    app = req.state.find_app(req.params["app"])
    return render_feature(req.state, app, feature_name(req.params["feature"]))


@route("PATCH", "/apps/{app}/features/{feature}")
def update_feature(req):
    enabled = req.json().get("enabled")
    if not isinstance(enabled, bool):
        raise ApiError(422, "invalid_params", "Enabled must be true or false.")
    app = req.state.find_app(req.params["app"])
    name = feature_name(req.params["feature"])
    with req.state.mutate() as data:
        data["features"].setdefault(app["id"], {})[name] = {"enabled": enabled, "updated_at": now()}
    return render_feature(req.state, app, name)
