"""The sandbox's own control routes, under ``/_sandbox``: health, state, settings, faults."""
from __future__ import annotations

from ..routing import route
from ..state import ApiError, public


@route("GET", "/_sandbox/health", auth=False)
def health(req):
    return {"ok": True}


@route("GET", "/_sandbox/state")
def state(req):
    snapshot = req.state.snapshot()
    snapshot.pop("api_key", None)
    snapshot["postgres"] = req.sandbox.postgres.describe()
    snapshot["log_streams"] = req.sandbox.log_streams
    return snapshot


@route("PUT", "/_sandbox/settings")
def settings(req):
    """``{"reuse_env": bool, "strict": bool, "formation": bool, "time_scale": number}``: how builds and dynos run.

    Switching the formation on starts every app's dynos, off stops them.
    """
    body = req.json()
    if not isinstance(body, dict):
        raise ApiError(422, "invalid_params", "Settings must be an object.")
    try:
        applied = req.state.configure(**body)
    except (TypeError, ValueError) as error:
        raise ApiError(422, "invalid_params", str(error)) from None
    req.sandbox.formation.apply_settings()
    return applied


@route("POST", "/_sandbox/faults")
def arm_fault(req):
    body = req.json()
    try:
        req.state.arm_fault(body["app"], body["point"], int(body.get("times", 1)))
    except (KeyError, ValueError) as error:
        raise ApiError(422, "invalid_params", str(error)) from None
    return public(req.state.data["faults"])


@route("DELETE", "/_sandbox/faults")
def clear_faults(req):
    req.state.clear_faults()
    return {}


@route("POST", "/_sandbox/latency")
def latency(req):
    with req.state.mutate() as data:
        data["latency_ms"] = int(req.json().get("ms", 0))
    return {"latency_ms": req.state.data["latency_ms"]}
