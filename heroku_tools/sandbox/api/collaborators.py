"""Collaborator routes: the sandbox has one user, who owns every app.

``apps:info`` lists collaborators (and drops the owner); the owner appears as a
collaborator with role ``owner``, as on Heroku for a personal app.
"""
from __future__ import annotations

import uuid

from ..routing import route
from ..state import ApiError


def owner_collaborator(state, app: dict) -> dict:
    account = state.account
    return {
        "app": {"id": app["id"], "name": app["name"]},
        "created_at": app["created_at"],
        "id": str(uuid.uuid5(uuid.UUID(app["id"]), account["id"])),
        "permissions": [],
        "role": "owner",
        "updated_at": app["created_at"],
        "user": {"email": account["email"], "federated": False, "id": account["id"]},
    }


@route("GET", "/apps/{app}/collaborators")
def list_collaborators(req):
    return [owner_collaborator(req.state, req.state.find_app(req.params["app"]))]


@route("GET", "/apps/{app}/collaborators/{collaborator}")
def show_collaborator(req):
    collaborator = owner_collaborator(req.state, req.state.find_app(req.params["app"]))
    if req.params["collaborator"] not in (collaborator["id"], collaborator["user"]["email"], collaborator["user"]["id"]):
        raise ApiError(404, "not_found", "Couldn't find that collaborator.", "collaborator")
    return collaborator
