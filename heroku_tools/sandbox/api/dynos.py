"""Dyno routes: start one-off dynos (``heroku run``, ``run:detached``), list, stop, restart.

One-off dynos really run (see :mod:`heroku_tools.sandbox.dynos`), and so does
the release phase's dyno, listed while it runs (``release.2048``, type
``release``; see :mod:`heroku_tools.sandbox.releasing`). With the formation
setting on, the formation's dynos (``web.1``...) are processes too, listed in
the state they are in and restarted by ``ps:restart``/``ps:stop``
(:mod:`heroku_tools.sandbox.formation`); with it off they are listed as ``up``
from the formation, so ``heroku ps`` shows what Heroku would, and restarting or
stopping them succeeds without effect.
"""
from __future__ import annotations

import uuid

from ..routing import Response, route
from ..state import ApiError
from .formation import formation


def _runtime(req):
    return req.sandbox.rendezvous.dynos


def formation_dynos(req, app: dict) -> list[dict]:
    """``type.N`` dynos: the running formation's, else one listed ``up`` per dyno the formation counts."""
    if req.sandbox.formation.enabled:
        return req.sandbox.formation.list(app)
    release = req.state.current_release(app)
    if release is None:
        return []
    dynos = []
    for process_type, entry in formation(req.state, app).items():
        for number in range(1, entry["quantity"] + 1):
            name = f"{process_type}.{number}"
            dynos.append(
                {
                    "attach_url": None,
                    "command": entry["command"],
                    "created_at": release["created_at"],
                    "id": str(uuid.uuid5(uuid.UUID(app["id"]), name)),
                    "name": name,
                    "release": {"id": release["id"], "version": release["version"]},
                    "app": {"id": app["id"], "name": app["name"]},
                    "size": entry["size"],
                    "state": "up",
                    "type": process_type,
                    "updated_at": release["created_at"],
                }
            )
    return dynos


def _all_dynos(req, app: dict) -> list[dict]:
    return formation_dynos(req, app) + _runtime(req).list(app)


def _find(req, app: dict, identity: str) -> dict:
    for dyno in _all_dynos(req, app):
        if identity in (dyno["id"], dyno["name"]):
            return dyno
    raise ApiError(404, "not_found", "Couldn't find that dyno.", "dyno")


@route("POST", "/apps/{app}/dynos")
def create_dyno(req):
    app = req.state.find_app(req.params["app"])
    return Response(201, _runtime(req).create(app, req.json()))


@route("GET", "/apps/{app}/dynos")
def list_dynos(req):
    app = req.state.find_app(req.params["app"])
    return _all_dynos(req, app)


@route("GET", "/apps/{app}/dynos/{dyno}")
def show_dyno(req):
    app = req.state.find_app(req.params["app"])
    return _find(req, app, req.params["dyno"])


@route("DELETE", "/apps/{app}/dynos")
def restart_all(req):
    """``heroku ps:restart``: formation dynos restart; running one-off dynos are left alone."""
    app = req.state.find_app(req.params["app"])
    req.sandbox.formation.restart(app)
    return Response(202, {})


@route("DELETE", "/apps/{app}/dynos/{dyno}")
def restart_dyno(req):
    """A formation dyno restarts; restarting a one-off dyno ends it: there is nothing to start it again with."""
    return _restart_or_stop(req)


@route("POST", "/apps/{app}/dynos/{dyno}/actions/stop")
def stop_dyno(req):
    """A formation dyno stops and, as on Heroku's Common Runtime, starts again; a one-off dyno ends."""
    return _restart_or_stop(req)


def _restart_or_stop(req):
    app = req.state.find_app(req.params["app"])
    dyno = _find(req, app, req.params["dyno"])
    if dyno["type"] in ("run", "release"):
        _runtime(req).stop(app, dyno["id"])
    else:
        req.sandbox.formation.restart(app, name=dyno["name"])
    return Response(202, {})


@route("DELETE", "/apps/{app}/formations/{type}")
def restart_type(req):
    """``ps:restart --process-type web``: every dyno of that type restarts."""
    app = req.state.find_app(req.params["app"])
    req.sandbox.formation.restart(app, process_type=req.params["type"])
    return Response(202, {})


@route("POST", "/apps/{app}/formations/{type}/actions/stop")
def stop_type(req):
    """``ps:stop --process-type web``: every dyno of that type stops and starts again (Common Runtime)."""
    return restart_type(req)
