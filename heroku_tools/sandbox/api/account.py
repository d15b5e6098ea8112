"""Account routes: ``GET /account`` (also particleboard's) and OAuth authorizations."""
from __future__ import annotations

from ..routing import route
from ..state import public


@route("GET", "/account")
def account(req):
    return public(req.state.account)
