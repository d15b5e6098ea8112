"""Log routes: ``heroku logs`` creates a log session, then reads its ``logplex_url``.

``POST /apps/{app}/log-sessions`` takes what the CLI sends (``lines``,
``dyno`` — a dyno or a process type —, ``source``, ``tail``; the schema's
``dyno_name`` and ``type`` too) and answers the session with a ``logplex_url``
on this server. That URL needs no credentials, as Logplex's does not, and
answers ``text/event-stream``: the last ``lines`` matching lines, then the
stream ends — or, with ``tail``, stays open with new lines as they are written
(and a keep-alive comment every second, which is how a client that went away
is noticed) until the client goes or the sandbox stops. The app's log itself
is :class:`heroku_tools.sandbox.logs.LogStore`.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Iterator

from ..logs import MAX_LINES, Filter, Session, event
from ..routing import Response, route
from ..state import ApiError, new_id, now

KEEPALIVE_COMMENT = b": keep-alive\n\n"
_streams_lock = threading.Lock()


def _lines(value) -> int:
    if value is None:
        return 100
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ApiError(422, "invalid_params", "lines must be a whole number.")
    return min(value, MAX_LINES)


@route("POST", "/apps/{app}/log-sessions")
def create_log_session(req):
    app = req.state.find_app(req.params["app"])
    body = req.json()
    dyno = body.get("dyno") or body.get("dyno_name") or body.get("type")
    session = Session(app["id"], Filter(dyno or None, body.get("source") or None), _lines(body.get("lines")),
                      bool(body.get("tail")), time.monotonic())
    sessions = req.sandbox.log_sessions
    for stale in [key for key, old in list(sessions.items()) if old.expired()]:
        sessions.pop(stale, None)
    session_id = new_id()
    sessions[session_id] = session
    created = now()
    return Response(201, {
        "created_at": created,
        "id": session_id,
        "logplex_url": f"{req.sandbox.base_url}/logs/sessions/{session_id}",
        "updated_at": created,
    })


@route("GET", "/logs/sessions/{session}", auth=False)
def read_log_session(req):
    session = req.sandbox.log_sessions.get(req.params["session"])
    if session is None or session.expired():
        req.sandbox.log_sessions.pop(req.params["session"], None)
        raise ApiError(404, "not_found", "Couldn't find that log session.")
    return Response(200, raw=_events(req.sandbox, session), content_type="text/event-stream; charset=utf-8",
                    headers={"Cache-Control": "no-cache"})


def _events(sandbox, session: Session) -> Iterator[bytes]:
    """The session's recent lines, then (tailing) new ones, as server-sent events."""
    store = sandbox.state.logs
    recent, offset = store.recent(session.app_id, session.wanted, session.lines)
    yield b"".join(event(entry) for entry in recent) or KEEPALIVE_COMMENT
    if not session.tail:
        return
    with _streams_lock:
        sandbox.log_streams += 1
    try:
        for entry in store.follow(session.app_id, session.wanted, offset, lambda: not sandbox.closing.is_set()):
            yield KEEPALIVE_COMMENT if entry is None else event(entry)
    finally:
        with _streams_lock:
            sandbox.log_streams -= 1
