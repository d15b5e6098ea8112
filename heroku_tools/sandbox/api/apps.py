"""App routes: create, list, show, update (maintenance) and destroy.

Creating an app does what Heroku does: validates the name (or invents one),
answers 422 when it is taken, and records release v1 "Initial release" with no
slug. The app's ``git_url`` points at the sandbox itself so ``git push`` lands
here, and its ``web_url`` at the sandbox's router
(``https://<app>-<hex>.herokuapp.localhost:PORT/``, see :mod:`heroku_tools.sandbox.router`).
"""
from __future__ import annotations

import random
import re
import secrets
import uuid

from ..router import web_url
from ..routing import Response, paginate, route
from ..state import REGION, STACK, ApiError, new_id, now, public
from .addons import destroy_app_addons

NAME = re.compile(r"^[a-z][a-z0-9-]{1,28}[a-z0-9]$")

REGIONS = {
    "us": REGION,
    "eu": {"id": "ed30241c-ed8c-4bb6-9714-61953675d0b4", "name": "eu"},
}

# Stack ids are fixed UUIDs on Heroku; the sandbox derives stable ones.
STACKS = {
    name: {"id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"heroku-stack:{name}")), "name": name}
    for name in ("heroku-22", "container")
}
STACKS[STACK["name"]] = STACK

GENERATION = {"id": str(uuid.uuid5(uuid.NAMESPACE_URL, "heroku-generation:cedar")), "name": "cedar"}

_ADJECTIVES = ("floating", "shrouded", "calm", "frozen", "glacial", "quiet", "sleepy", "young")
_NOUNS = ("dragon", "castle", "river", "meadow", "harbor", "forest", "island", "summit")


def render_app(req, app: dict) -> dict:
    """The app as the API shows it: sizes and URLs follow the current state."""
    state = req.state
    shown = public(app)
    shown["git_url"] = f"{req.sandbox.base_url}/{app['name']}.git"
    release = state.current_release(app)
    slug = state.data["slugs"].get(release["slug"]["id"]) if release and release["slug"] else None
    shown["slug_size"] = slug.get("size") if slug else None
    return shown


def _generated_name(state) -> str:
    taken = {app["name"] for app in state.data["apps"].values()}
    while True:
        name = f"{random.choice(_ADJECTIVES)}-{random.choice(_NOUNS)}-{random.randint(10000, 99999)}"
        if name not in taken:
            return name


def validate_name(state, name) -> None:
    """Reject a name the way Heroku does: malformed or already taken → 422."""
    if not isinstance(name, str):
        raise ApiError(422, "invalid_params", "Name must be a string.")
    if not 3 <= len(name) <= 30:
        raise ApiError(422, "invalid_params", "Name must be between 3 and 30 characters long.")
    if not NAME.match(name):
        raise ApiError(
            422,
            "invalid_params",
            "Name must start with a letter, end with a letter or digit and can only contain lowercase letters, digits, and dashes.",
        )
    if any(app["name"] == name for app in state.data["apps"].values()):
        raise ApiError(422, "invalid_params", f"Name {name} is already taken")


def lookup(table: dict, key: str | None, default: dict, what: str) -> dict:
    if key is None:
        return default
    for item in table.values():
        if key in (item["id"], item["name"]):
            return item
    raise ApiError(422, "invalid_params", f"Couldn't find that {what}.")


@route("POST", "/apps")
def create_app(req):
    body = req.json()
    state = req.state
    with state.mutate() as data:
        name = body.get("name") or _generated_name(state)
        validate_name(state, name)
        region = lookup(REGIONS, body.get("region"), REGION, "region")
        stack = lookup(STACKS, body.get("stack"), STACK, "stack")
        created = now()
        app = {
            "acm": False,
            "archived_at": None,
            "buildpack_provided_description": None,
            "build_stack": dict(stack),
            "created_at": created,
            "generation": dict(GENERATION),
            "git_url": f"{req.sandbox.base_url}/{name}.git",
            "id": new_id(),
            "internal_routing": None,
            "maintenance": False,
            "name": name,
            "owner": state.owner(),
            "organization": None,
            "team": None,
            "region": dict(region),
            "released_at": None,
            "repo_size": None,
            "slug_size": None,
            "space": None,
            "stack": dict(stack),
            "updated_at": created,
            "web_url": web_url(f"{name}-{secrets.token_hex(6)}", req.sandbox.router.port),
        }
        data["apps"][app["id"]] = app
        data["config"][app["id"]] = {}
        data["formation"][app["id"]] = {}
        state.create_release(app, "Initial release", slug_id=None)
    return Response(201, render_app(req, app))


@route("GET", "/apps")
def list_apps(req):
    apps = sorted(req.state.data["apps"].values(), key=lambda app: app["name"])
    return paginate(req, [render_app(req, app) for app in apps], "name")


@route("GET", "/users/{user}/apps")
def list_user_apps(req):
    """``heroku apps``: the caller's apps (``~``); the sandbox's one user owns them all."""
    account = req.state.account
    if req.params["user"] not in ("~", account["id"], account["email"]):
        raise ApiError(404, "not_found", "Couldn't find that user.", "user")
    return list_apps(req)


@route("GET", "/apps/{app}")
def show_app(req):
    return render_app(req, req.state.find_app(req.params["app"]))


@route("PATCH", "/apps/{app}")
def update_app(req):
    """Maintenance mode and build stack; renames are refused (git repos are named by app)."""
    body = req.json()
    state = req.state
    app = state.find_app(req.params["app"])
    if "name" in body and body["name"] != app["name"]:
        raise ApiError(422, "invalid_params", "The sandbox cannot rename apps; create a new one instead.")
    if "maintenance" in body:
        if not isinstance(body["maintenance"], bool):
            raise ApiError(422, "invalid_params", "Maintenance must be true or false.")
        if state.take_fault(app["name"], "maintenance"):
            raise ApiError(503, "unavailable", "Maintenance mode could not be changed right now. Please try again later.")
    with state.mutate():
        if "maintenance" in body:
            app["maintenance"] = body["maintenance"]
        if "build_stack" in body:
            app["build_stack"] = dict(lookup(STACKS, body["build_stack"], STACK, "stack"))
        app["updated_at"] = now()
    return render_app(req, app)


@route("DELETE", "/apps/{app}")
def destroy_app(req):
    """Deprovision the app's add-ons, then forget the app and everything keyed by it."""
    state = req.state
    app = state.find_app(req.params["app"])
    shown = render_app(req, app)
    destroy_app_addons(req, app)
    req.sandbox.formation.forget(app)
    with state.mutate() as data:
        del data["apps"][app["id"]]
        for table in ("releases", "config", "features", "formation"):
            data[table].pop(app["id"], None)
        for table in ("couplings", "attachments"):
            data[table] = {k: v for k, v in data[table].items() if v["app"]["id"] != app["id"]}
    return shown
