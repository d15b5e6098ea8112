"""Build routes: the builds a ``git push`` made, as ``GET /apps/{app}/builds`` lists them.

Each push records a schema-shaped ``build`` (see :mod:`heroku_tools.sandbox.build`):
``pending`` while it runs, then ``succeeded`` with its slug and release, or
``failed``. Its ``output_stream_url`` serves the build's output, live while it
runs and whole afterwards (:mod:`heroku_tools.sandbox.api.streams`).
"""
from __future__ import annotations

from ..routing import paginate, route
from ..state import ApiError, public


def builds_of(state, app: dict) -> list[dict]:
    """The app's builds, oldest first."""
    with state.lock:
        found = [b for b in state.data.get("builds", {}).values() if b["app"]["id"] == app["id"]]
    return sorted(found, key=lambda b: b["created_at"])


@route("GET", "/apps/{app}/builds")
def list_builds(req):
    app = req.state.find_app(req.params["app"])
    return paginate(req, public(builds_of(req.state, app)))


@route("GET", "/apps/{app}/builds/{build}")
def show_build(req):
    app = req.state.find_app(req.params["app"])
    for build in builds_of(req.state, app):
        if build["id"] == req.params["build"]:
            return public(build)
    raise ApiError(404, "not_found", "Couldn't find that build.", "build")
