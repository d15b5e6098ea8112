"""Account routes: ``GET /account`` (also particleboard's), users and OAuth authorizations.

The sandbox has one account and one token, the API key; ``auth:token`` lists
the authorizations to warn about expiry, so the key's authorization never
expires.
"""
from __future__ import annotations

import uuid

from ..routing import route
from ..state import ApiError, public

CLI_CLIENT = {
    "id": "d3ae5ef4-6e12-4ed5-8ff8-6c4e1b5b4a61",
    "name": "Heroku CLI",
    "redirect_uri": "https://cli-auth.heroku.com/auth/cli/callback",
}


@route("GET", "/account")
def account(req):
    return public(req.state.account)


@route("GET", "/users/{user}")
def user(req):
    """``~`` is the caller; an email or id must name the sandbox's account."""
    account = req.state.account
    if req.params["user"] not in ("~", account["id"], account["email"]):
        raise ApiError(404, "not_found", "Couldn't find that user.", "user")
    return public(account)


def authorization(state) -> dict:
    account = state.account
    key = state.data["api_key"]
    return {
        "access_token": {"expires_in": None, "id": str(uuid.uuid5(uuid.NAMESPACE_OID, key)), "token": key},
        "client": dict(CLI_CLIENT),
        "created_at": account["created_at"],
        "description": "Sandbox API key",
        "grant": None,
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"heroku-authorization:{key}")),
        "refresh_token": None,
        "scope": ["global"],
        "session": None,
        "updated_at": account["updated_at"],
        "user": {"id": account["id"], "email": account["email"], "full_name": account["name"]},
    }


@route("GET", "/oauth/authorizations")
def list_authorizations(req):
    return [authorization(req.state)]


@route("GET", "/oauth/authorizations/{authorization}")
def show_authorization(req):
    found = authorization(req.state)
    if req.params["authorization"] != found["id"]:
        raise ApiError(404, "not_found", "Couldn't find that authorization.", "oauth-authorization")
    return found
