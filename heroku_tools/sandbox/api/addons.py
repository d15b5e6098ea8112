"""Add-on routes: Heroku Postgres add-ons, their attachments and the resolvers.

Only ``heroku-postgresql`` is offered. Creating one makes a real database in
the sandbox's PostgreSQL cluster and provisions it synchronously: the add-on
is answered ``provisioned``, with the message Heroku gave for instantly
available databases, so ``addons:create`` never waits.

As on Heroku, the app's first database is attached as ``DATABASE``
(``DATABASE_URL``), later ones as ``HEROKU_POSTGRESQL_<COLOR>`` unless
``--as`` names them, and the change shows in two releases: ``Attach DATABASE
(@ref:postgresql-curly-12345)`` when the attachment is made, then ``Update
DATABASE by heroku-postgresql`` when the provider sets the URL. Destroying the
add-on drops the database, unsets the config var and releases ``Detach …``.

Bodies follow ``platform-api-schema.json``. The CLI's ``Accept-Expansion:
addon_service,plan`` (add-ons) and ``Accept-Inclusion: addon:plan,config_vars``
(attachments) variants add exactly what it reads: plan price and service
names, ``addon.plan`` and ``config_vars``.
"""
from __future__ import annotations

import random
import re
import uuid

from ..routing import Response, route
from ..state import ApiError, new_id, now, public

SERVICE = {"id": str(uuid.uuid5(uuid.NAMESPACE_URL, "heroku-addon-service:heroku-postgresql")), "name": "heroku-postgresql"}
DEFAULT_PLAN = "essential-0"

#: plan -> (human name, monthly price in cents, connection limit, storage limit in GB, table limit)
PLANS = {
    "essential-0": ("Essential 0", 500, 20, 1, 4000),
    "essential-1": ("Essential 1", 900, 20, 10, 4000),
    "essential-2": ("Essential 2", 2000, 40, 32, 4000),
    "standard-0": ("Standard 0", 5000, 120, 64, None),
    "standard-2": ("Standard 2", 20000, 400, 256, None),
    "premium-0": ("Premium 0", 20000, 120, 64, None),
}

COLORS = (
    "AMBER", "AQUA", "BLACK", "BLUE", "BRONZE", "BROWN", "CHARCOAL", "COBALT", "COPPER", "CRIMSON",
    "CYAN", "GOLD", "GRAY", "GREEN", "IVORY", "JADE", "LIME", "MAGENTA", "MAROON", "NAVY", "OLIVE",
    "ONYX", "ORANGE", "PINK", "PURPLE", "RED", "ROSE", "SILVER", "TEAL", "WHITE", "YELLOW",
)
_ADJECTIVES = (
    "curly", "aerodynamic", "concave", "rigid", "spherical", "solid", "fluffy", "clean", "shallow",
    "tapered", "horizontal", "vertical", "triangular", "cubic", "symmetrical", "opaque", "transparent",
)
PROVISION_MESSAGE = (
    "Database has been created and is available\n"
    " ! This database is empty. If upgrading, you can transfer\n"
    " ! data from another database with pg:copy"
)
ATTACHMENT_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")
ADDON_NAME = re.compile(r"^[a-zA-Z][A-Za-z0-9_-]+$")


def plan_id(plan: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"heroku-plan:heroku-postgresql:{plan}"))


def parse_plan(identity: str | None) -> str:
    """``heroku-postgresql``, ``heroku-postgresql:essential-1`` or a plan id → the plan's short name."""
    identity = identity or ""
    for plan in PLANS:
        if identity == plan_id(plan):
            return plan
    service, _, plan = identity.partition(":")
    if service != SERVICE["name"]:
        raise ApiError(422, "invalid_params", f"Couldn't find either the add-on service or the add-on plan of \"{identity}\".")
    plan = plan or DEFAULT_PLAN
    if plan not in PLANS:
        raise ApiError(422, "invalid_params", f"Couldn't find either the add-on service or the add-on plan of \"{identity}\".")
    return plan


# -- lookups ---------------------------------------------------------------------
def find_addon(state, identity: str, app: dict | None = None) -> dict:
    """The add-on with this id or name (attached to ``app`` when given); 404 otherwise."""
    with state.lock:
        for addon in state.data["addons"].values():
            if identity in (addon["id"], addon["name"]):
                if app is None or addon["app"]["id"] == app["id"] or attachments_of(state, addon, app):
                    return addon
    raise ApiError(404, "not_found", "Couldn't find that add on.", "add_on")


def attachments_of(state, addon: dict | None = None, app: dict | None = None) -> list[dict]:
    """Attachments, oldest first, narrowed to an add-on and/or an app."""
    with state.lock:
        found = [
            attachment for attachment in state.data["attachments"].values()
            if (addon is None or attachment["addon"]["id"] == addon["id"])
            and (app is None or attachment["app"]["id"] == app["id"])
        ]
    return sorted(found, key=lambda attachment: attachment["created_at"])


def addons_of(state, app: dict) -> list[dict]:
    """Add-ons owned by or attached to ``app``, oldest first."""
    with state.lock:
        attached = {attachment["addon"]["id"] for attachment in attachments_of(state, app=app)}
        found = [addon for addon in state.data["addons"].values() if addon["app"]["id"] == app["id"] or addon["id"] in attached]
    return sorted(found, key=lambda addon: addon["created_at"])


def config_var(attachment: dict) -> str:
    return f"{attachment['name']}_URL"


# -- rendering -------------------------------------------------------------------
def _requested(req, header: str) -> set[str]:
    return {part.strip() for part in req.headers.get(header, "").split(",") if part.strip()}


def render_addon(req, addon: dict) -> dict:
    """The add-on as the API shows it, expanded as ``Accept-Expansion`` asks."""
    shown = public(addon)
    expansions = _requested(req, "Accept-Expansion")
    if "addon_service" in expansions:
        shown["addon_service"] = {**shown["addon_service"], "human_name": "Heroku Postgres"}
    if "plan" in expansions:
        plan = addon["_plan"]
        human, cents = PLANS[plan][:2]
        shown["plan"] = {
            **shown["plan"],
            "human_name": human,
            "price": {"cents": cents, "contract": False, "metered": False, "unit": "month"},
        }
    return shown


def render_attachment(req, state, attachment: dict) -> dict:
    """The attachment as the API shows it, with ``Accept-Inclusion`` extras."""
    shown = public(attachment)
    inclusions = _requested(req, "Accept-Inclusion")
    addon = state.data["addons"].get(attachment["addon"]["id"])
    if "addon:plan" in inclusions and addon:
        shown["addon"]["plan"] = dict(addon["plan"])
    if "config_vars" in inclusions:
        shown["config_vars"] = [config_var(attachment)]
    return shown


# -- changes ---------------------------------------------------------------------
def _unique_addon_name(state) -> str:
    taken = {addon["name"] for addon in state.data["addons"].values()}
    while True:
        name = f"postgresql-{random.choice(_ADJECTIVES)}-{random.randint(10000, 99999)}"
        if name not in taken:
            return name


def _attachment_name(state, app: dict, requested: str | None) -> str:
    used = {attachment["name"] for attachment in attachments_of(state, app=app)}
    if requested:
        if not ATTACHMENT_NAME.match(requested):
            raise ApiError(
                422, "invalid_params",
                "Name must start with a letter and can only contain uppercase letters, numbers, and underscores.",
            )
        if requested in used:
            raise ApiError(422, "invalid_params", f"Name {requested} is already used by another add-on attachment on this app.")
        return requested
    config = state.config(app)
    if "DATABASE" not in used and "DATABASE_URL" not in config:
        return "DATABASE"
    free = [color for color in COLORS if f"HEROKU_POSTGRESQL_{color}" not in used]
    return f"HEROKU_POSTGRESQL_{random.choice(free)}"


def attach(state, addon: dict, app: dict, name: str) -> dict:
    """Record an attachment of ``addon`` to ``app`` (the caller sets config and releases)."""
    created = now()
    attachment = {
        "addon": {"id": addon["id"], "name": addon["name"], "app": dict(addon["app"])},
        "app": {"id": app["id"], "name": app["name"]},
        "created_at": created,
        "id": new_id(),
        "name": name,
        "namespace": None,
        "updated_at": created,
        "web_url": addon["web_url"],
        "log_input_url": None,
    }
    with state.mutate() as data:
        data["attachments"][attachment["id"]] = attachment
        if addon["app"]["id"] == app["id"]:
            addon["config_vars"] = [config_var(a) for a in attachments_of(state, addon, app)]
    return attachment


def provision(req, app: dict, body: dict) -> dict:
    """Create the database, the add-on and its first attachment; release twice as Heroku does."""
    state = req.state
    plan = parse_plan((body.get("plan") or {}).get("name") or (body.get("plan") or {}).get("id"))
    requested_name = body.get("name")
    with state.lock:
        if requested_name:
            if not ADDON_NAME.match(requested_name):
                raise ApiError(
                    422, "invalid_params",
                    "Name must start with a letter and can only contain letters, numbers, underscores, and dashes.",
                )
            if any(a["name"] == requested_name for a in state.data["addons"].values()):
                raise ApiError(422, "invalid_params", f"Name {requested_name} is already taken.")
        name = requested_name or _unique_addon_name(state)
        attachment_name = _attachment_name(state, app, (body.get("attachment") or {}).get("name"))
        if config_var({"name": attachment_name}) in state.config(app) and body.get("confirm") != app["name"]:
            raise ApiError(
                422, "confirmation_required",
                f"This action will overwrite the {config_var({'name': attachment_name})} config var on {app['name']}.",
            )
        database = req.sandbox.postgres.create_database()
        created = now()
        addon_id = new_id()
        addon = {
            "actions": [],
            "addon_service": dict(SERVICE),
            "billing_entity": {"id": app["id"], "name": app["name"], "type": "app"},
            "app": {"id": app["id"], "name": app["name"]},
            "billed_price": {"cents": PLANS[plan][1], "contract": False, "unit": "month"},
            "config_vars": [],
            "created_at": created,
            "id": addon_id,
            "name": name,
            "plan": {"id": plan_id(plan), "name": f"{SERVICE['name']}:{plan}"},
            "provider_id": f"resource{random.randint(10**8, 10**9 - 1)}@heroku.com",
            "provision_message": PROVISION_MESSAGE,
            "state": "provisioned",
            "updated_at": created,
            "web_url": f"https://data.heroku.com/datastores/{addon_id}",
            "_plan": plan,
            "_database": database,
        }
        with state.mutate() as data:
            data["addons"][addon_id] = addon
        attachment = attach(state, addon, app, attachment_name)
        state.create_release(app, f"Attach {attachment_name} (@ref:{name})")
        with state.mutate():
            state.config(app)[config_var(attachment)] = database["url"]
        state.create_release(app, f"Update {attachment_name} by {SERVICE['name']}")
    return addon


def deprovision(req, addon: dict) -> dict:
    """Drop the add-on's database, detach it everywhere (unsetting config vars, releasing)."""
    state = req.state
    with state.lock:
        database = addon["_database"]
        req.sandbox.postgres.drop_database(database["dbname"], database["user"])
        with state.mutate() as data:
            del data["addons"][addon["id"]]
            addon.update(state="deprovisioned", config_vars=[], updated_at=now())
        for attachment in attachments_of(state, addon):
            app = state.find_app(attachment["app"]["id"])
            with state.mutate() as data:
                del data["attachments"][attachment["id"]]
                state.config(app).pop(config_var(attachment), None)
            state.create_release(app, f"Detach {attachment['name']} (@ref:{addon['name']})")
    return addon


def destroy_app_addons(req, app: dict) -> None:
    """Deprovision every add-on ``app`` owns, as deleting an app does on Heroku."""
    for addon in [a for a in req.state.data["addons"].values() if a["app"]["id"] == app["id"]]:
        deprovision(req, addon)


# -- add-on routes ---------------------------------------------------------------
@route("POST", "/apps/{app}/addons")
def create_addon(req):
    app = req.state.find_app(req.params["app"])
    return Response(201, render_addon(req, provision(req, app, req.json())))


@route("GET", "/apps/{app}/addons")
def list_app_addons(req):
    app = req.state.find_app(req.params["app"])
    return [render_addon(req, addon) for addon in addons_of(req.state, app)]


@route("GET", "/addons")
def list_addons(req):
    addons = sorted(req.state.data["addons"].values(), key=lambda addon: addon["created_at"])
    return [render_addon(req, addon) for addon in addons]


@route("GET", "/addons/{addon}")
def show_addon(req):
    return render_addon(req, find_addon(req.state, req.params["addon"]))


@route("GET", "/apps/{app}/addons/{addon}")
def show_app_addon(req):
    app = req.state.find_app(req.params["app"])
    return render_addon(req, find_addon(req.state, req.params["addon"], app))


@route("DELETE", "/apps/{app}/addons/{addon}")
def destroy_addon(req):
    app = req.state.find_app(req.params["app"])
    addon = find_addon(req.state, req.params["addon"], app)
    if addon["app"]["id"] != app["id"]:
        raise ApiError(422, "invalid_params", f"{addon['name']} is billed to {addon['app']['name']}, not {app['name']}.")
    return render_addon(req, deprovision(req, addon))


@route("POST", "/actions/addons/resolve")
def resolve_addon(req):
    """Match an add-on name or id, ``app::name``, or on ``app`` an attachment, service or plan name."""
    body = req.json()
    identity, app_name = body.get("addon") or "", body.get("app")
    if "::" in identity:
        app_name, identity = identity.split("::", 1)
    state = req.state
    app = state.find_app(app_name) if app_name else None
    matches = [a for a in state.data["addons"].values() if identity in (a["id"], a["name"])]
    if not matches and app:
        names = {identity, identity[:-4] if identity.endswith("_URL") else identity}
        matches = [state.data["addons"][att["addon"]["id"]] for att in attachments_of(state, app=app) if att["name"] in names]
    if not matches and app:
        matches = [a for a in addons_of(state, app) if identity in (a["addon_service"]["name"], a["plan"]["name"])]
    if body.get("addon_service"):
        matches = [a for a in matches if a["addon_service"]["name"] == body["addon_service"]]
    if not matches:
        raise ApiError(404, "not_found", "Couldn't find that add on.", "add_on")
    return [render_addon(req, addon) for addon in matches]


# -- attachment routes -----------------------------------------------------------
@route("GET", "/addon-attachments")
def list_attachments(req):
    return [render_attachment(req, req.state, a) for a in attachments_of(req.state)]


@route("POST", "/addon-attachments")
def create_attachment(req):
    """``heroku addons:attach ADDON -a APP``: the add-on's database becomes one of APP's config vars too."""
    body = req.json()
    state = req.state
    addon = find_addon(state, (body.get("addon") or {}).get("name") or (body.get("addon") or {}).get("id") or "")
    app = state.find_app((body.get("app") or {}).get("name") or (body.get("app") or {}).get("id") or "")
    with state.lock:
        name = _attachment_name(state, app, body.get("name"))
        if config_var({"name": name}) in state.config(app) and body.get("confirm") != app["name"]:
            raise ApiError(422, "confirmation_required",
                           f"This action will overwrite the {config_var({'name': name})} config var on {app['name']}.")
        attachment = attach(state, addon, app, name)
        with state.mutate():
            state.config(app)[config_var(attachment)] = addon["_database"]["url"]
        state.create_release(app, f"Attach {name} (@ref:{addon['name']})")
    return Response(201, render_attachment(req, state, attachment))


@route("GET", "/apps/{app}/addon-attachments")
def list_app_attachments(req):
    app = req.state.find_app(req.params["app"])
    return [render_attachment(req, req.state, a) for a in attachments_of(req.state, app=app)]


@route("GET", "/addons/{addon}/addon-attachments")
def list_addon_attachments(req):
    addon = find_addon(req.state, req.params["addon"])
    return [render_attachment(req, req.state, a) for a in attachments_of(req.state, addon)]


@route("GET", "/addon-attachments/{attachment}")
def show_attachment(req):
    attachment = req.state.data["attachments"].get(req.params["attachment"])
    if attachment is None:
        raise ApiError(404, "not_found", "Couldn't find that add on attachment.", "add_on attachment")
    return render_attachment(req, req.state, attachment)


@route("GET", "/apps/{app}/addon-attachments/{attachment}")
def show_app_attachment(req):
    app = req.state.find_app(req.params["app"])
    for attachment in attachments_of(req.state, app=app):
        if req.params["attachment"] in (attachment["id"], attachment["name"]):
            return render_attachment(req, req.state, attachment)
    raise ApiError(404, "not_found", "Couldn't find that add on attachment.", "add_on attachment")


@route("POST", "/actions/addon-attachments/resolve")
def resolve_attachment(req):
    """Match an attachment by name, config var (``DATABASE_URL``), id, or its add-on's name.

    ``app::NAME`` names the app inline; without an app, only ids and add-on
    names can match (as on Heroku, attachment names are per app).
    """
    body = req.json()
    identity, app_name = body.get("addon_attachment") or "", body.get("app")
    if "::" in identity:
        app_name, identity = identity.split("::", 1)
    state = req.state
    app = state.find_app(app_name) if app_name else None
    names = {identity, identity[:-4] if identity.endswith("_URL") else identity}
    candidates = attachments_of(state, app=app)
    matches = [a for a in candidates if a["id"] == identity or (app and a["name"] in names)]
    if not matches:
        matches = [a for a in candidates if identity in (a["addon"]["id"], a["addon"]["name"])]
    if body.get("addon_service"):
        matches = [a for a in matches if state.data["addons"][a["addon"]["id"]]["addon_service"]["name"] == body["addon_service"]]
    if not matches:
        raise ApiError(404, "not_found", "Couldn't find that add on attachment.", "add_on attachment")
    return [render_attachment(req, state, attachment) for attachment in matches]
