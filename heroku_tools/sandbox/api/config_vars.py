"""Config var routes: the app's vars, a release's snapshot, and updates.

Values are stored exactly as sent (spaces, quotes, ``=``, ``$``, newlines,
unicode), and each effective change makes a release as on Heroku:
``Set A, B config vars`` / ``Remove A config vars``. Armed ``config`` and
``config-unset`` faults fail an update with a 503, changing nothing.
"""
from __future__ import annotations

from ..routing import route
from ..state import ApiError
from .releases import release_slug


@route("GET", "/apps/{app}/config-vars")
def show_config(req):
    app = req.state.find_app(req.params["app"])
    with req.state.lock:
        return dict(req.state.config(app))


@route("GET", "/apps/{app}/releases/{release}/config-vars")
def show_release_config(req):
    app = req.state.find_app(req.params["app"])
    with req.state.lock:
        return dict(req.state.find_release(app, req.params["release"]).get("_config") or {})


def describe_change(set_keys: list[str], removed_keys: list[str]) -> str:
    parts = []
    if set_keys:
        parts.append(f"Set {', '.join(set_keys)} config vars")
    if removed_keys:
        parts.append(f"{'remove' if parts else 'Remove'} {', '.join(removed_keys)} config vars")
    return " and ".join(parts)


@route("PATCH", "/apps/{app}/config-vars")
def update_config(req):
    body = req.json()
    if not isinstance(body, dict):
        raise ApiError(422, "invalid_params", "Config vars must be an object of names to strings or null.")
    for key, value in body.items():
        if not key or value is not None and not isinstance(value, str):
            raise ApiError(422, "invalid_params", f"Invalid value for config var {key!r}: values must be strings or null.")
    state = req.state
    app = state.find_app(req.params["app"])
    removes_only = bool(body) and all(value is None for value in body.values())
    # Armed faults: ``config`` fails the next update, ``config-unset`` the next one that only removes vars.
    if (removes_only and state.take_fault(app["name"], "config-unset")) or state.take_fault(app["name"], "config"):
        raise ApiError(503, "unavailable", "Config vars could not be updated right now. Please try again later.")
    with state.mutate():
        config = state.config(app)
        set_keys = [key for key, value in body.items() if value is not None]
        removed_keys = [key for key, value in body.items() if value is None and key in config]
        for key in set_keys:
            config[key] = body[key]
        for key in removed_keys:
            del config[key]
        current = state.current_release(app)
        slug_id = current["slug"]["id"] if current and current["slug"] else None
        result = dict(config)
    if set_keys or removed_keys:
        release_slug(req, app, slug_id, describe_change(set_keys, removed_keys))
    return result
