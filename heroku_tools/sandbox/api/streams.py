"""Output streams of builds and release phases: what ``output_stream_url`` serves.

Like Heroku's, a stream is a plain unauthenticated ``GET`` answering
``text/plain``: while the build or release is ``pending`` it follows the output
as it is written (``tail -f``) and it ends once the work is over.
"""
from __future__ import annotations

from ..releasing import follow
from ..routing import Response, route
from ..state import ApiError


def _streamed(state, stream_id: str) -> dict | None:
    """The build or release whose output ``stream_id`` is."""
    with state.lock:
        build = state.data.get("builds", {}).get(stream_id)
        if build is not None:
            return build
        for releases in state.data["releases"].values():
            for release in releases:
                if release["id"] == stream_id:
                    return release
    return None


@route("GET", "/streams/{id}", auth=False)
def stream(req):
    source = _streamed(req.state, req.params["id"])
    path = req.state.stream_path(req.params["id"])
    if source is None or not path.exists():
        raise ApiError(404, "not_found", "Couldn't find that output stream.")
    return Response(
        200,
        raw=follow(path, lambda: source["status"] == "pending"),
        content_type="text/plain; charset=utf-8",
    )
