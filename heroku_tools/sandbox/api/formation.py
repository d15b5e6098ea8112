"""Formation routes (``ps:scale``): process types, quantities and dyno sizes.

The process types are the current slug's ``process_types``, as on Heroku:
scaling a type the slug lacks is a 404. Quantities and sizes are stored per
app in ``state.data["formation"][app_id][type]``; a type seen for the first
time starts at one dyno for ``web`` and none otherwise, as after a first
deploy. ``release`` joins the formation (at zero: it is no dyno formation)
once a release phase has run, as on Heroku, where ``releases:retry`` looks
for it there. A change is logged (``Scaled to web@2:Basic by user …``) and,
with the formation running, starts or stops dynos
(:mod:`heroku_tools.sandbox.formation`).
"""
from __future__ import annotations

import re
import uuid

from ..routing import route
from ..state import ApiError, new_id, now

SIZES = (
    "Eco", "Basic", "Standard-1X", "Standard-2X", "Performance-M", "Performance-L",
    "Performance-L-RAM", "Performance-XL", "Performance-2XL", "Private-S", "Private-M", "Private-L",
)
DEFAULT_SIZE = "Basic"
_QUANTITY = re.compile(r"^[+-]?\d+$")


def process_types(state, app: dict) -> dict:
    release = state.current_release(app)
    slug = state.data["slugs"].get(release["slug"]["id"]) if release and release["slug"] else None
    types = dict(slug.get("process_types") or {}) if slug else {}
    types.pop("release", None)
    return types


def formation(state, app: dict) -> dict[str, dict]:
    """The app's formation by type, adding entries for new process types."""
    types = process_types(state, app)
    with state.lock:
        stored = state.data["formation"].setdefault(app["id"], {})
        missing = [t for t in types if t not in stored]
        if missing:
            with state.mutate():
                for process_type in missing:
                    created = now()
                    stored[process_type] = {
                        "id": new_id(),
                        "quantity": 1 if process_type == "web" else 0,
                        "size": DEFAULT_SIZE,
                        "created_at": created,
                        "updated_at": created,
                    }
        shown = {t: render(app, t, types[t], stored[t]) for t in types}
        if "release" in stored:
            shown["release"] = render(app, "release", stored["release"].get("command", ""), stored["release"])
        return dict(sorted(shown.items()))


def render(app: dict, process_type: str, command: str, stored: dict) -> dict:
    return {
        "app": {"id": app["id"], "name": app["name"]},
        "command": command,
        "created_at": stored["created_at"],
        "dyno_size": {"id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"heroku-dyno-size:{stored['size']}")), "name": stored["size"]},
        "id": stored["id"],
        "quantity": stored["quantity"],
        "size": stored["size"],
        "type": process_type,
        "updated_at": stored["updated_at"],
    }


def _find(current: dict[str, dict], identity: str) -> dict:
    for entry in current.values():
        if identity in (entry["type"], entry["id"]):
            return entry
    raise ApiError(404, "not_found", f"Couldn't find that process type ({identity}).", "formation")


def _size(value) -> str:
    for size in SIZES:
        if str(value).lower() == size.lower():
            return size
    raise ApiError(422, "invalid_params", f"No such size as {value}. Use {', '.join(s.lower() for s in SIZES)}.")


def _quantity(value, current: int) -> int:
    """An absolute (``2``) or relative (``"+1"``, ``"-1"``) quantity, never below zero."""
    text = str(value).strip()
    if isinstance(value, bool) or not _QUANTITY.match(text):
        raise ApiError(422, "invalid_params", f"Invalid quantity: {value!r}.")
    number = int(text)
    return max(0, current + number if text[0] in "+-" else number)


def _apply(state, app: dict, updates: list[dict]) -> list[dict]:
    """Validate every update first, then apply them together."""
    with state.lock:
        current = formation(state, app)
        changes = []
        for update in updates:
            if not isinstance(update, dict) or not update.get("type"):
                raise ApiError(422, "invalid_params", "Each update needs a process type.")
            entry = _find(current, str(update["type"]))
            quantity = _quantity(update["quantity"], entry["quantity"]) if update.get("quantity") is not None else None
            size = _size(update["size"]) if update.get("size") else None
            changes.append((entry["type"], quantity, size))
        with state.mutate() as data:
            stored = data["formation"][app["id"]]
            for process_type, quantity, size in changes:
                if quantity is not None:
                    stored[process_type]["quantity"] = quantity
                if size is not None:
                    stored[process_type]["size"] = size
                stored[process_type]["updated_at"] = now()
        updated = formation(state, app)
        return [updated[process_type] for process_type, _, _ in changes]


@route("GET", "/apps/{app}/formation")
def list_formation(req):
    app = req.state.find_app(req.params["app"])
    return list(formation(req.state, app).values())


@route("GET", "/apps/{app}/formation/{type}")
def show_formation(req):
    app = req.state.find_app(req.params["app"])
    return _find(formation(req.state, app), req.params["type"])


def _scaled(req, app: dict, updated: list[dict]) -> list[dict]:
    """Log the new scale as Heroku's API does, and have the formation's dynos follow it."""
    scale = ", ".join(f"{e['type']}@{e['quantity']}:{e['size']}" for e in updated)
    req.state.log_api(app, f"Scaled to {scale} by user {req.state.account['email']}")
    req.sandbox.formation.scale(app)
    return updated


@route("PATCH", "/apps/{app}/formation")
def batch_update(req):
    updates = req.json().get("updates")
    if not isinstance(updates, list):
        raise ApiError(422, "invalid_params", "updates must be a list of formation changes.")
    app = req.state.find_app(req.params["app"])
    return _scaled(req, app, _apply(req.state, app, updates))


@route("PATCH", "/apps/{app}/formation/{type}")
def update_one(req):
    body = req.json()
    app = req.state.find_app(req.params["app"])
    return _scaled(req, app, _apply(req.state, app, [{**body, "type": req.params["type"]}]))[0]
