"""Release routes: list (with ``Range``), show, create from a slug, and rollback.

Every new release of code goes through :func:`release_slug`, so a slug whose
Procfile has a ``release:`` command runs its release phase as on Heroku,
whatever made the release (deploy, rollback, promotion, config change).
"""
from __future__ import annotations

from ..releasing import start_release
from ..routing import Response, paginate, route
from ..state import ApiError, public


def release_slug(req, app: dict, slug_id: str | None, description: str) -> dict:
    """Create a release of ``slug_id`` on ``app``, running its release phase if it has one."""
    if slug_id is None:
        return req.state.create_release(app, description, slug_id=None)
    return start_release(req.sandbox, app, slug_id, description)


def render_release(release: dict) -> dict:
    """A release as the API shows it: only succeeded releases can be rolled back to."""
    shown = public(release)
    shown["eligible_for_rollback"] = bool(release.get("eligible_for_rollback", True)) and release["status"] == "succeeded"
    return shown


def short_sha(commit: str | None) -> str:
    return (commit or "")[:7]


@route("GET", "/apps/{app}/releases")
def list_releases(req):
    app = req.state.find_app(req.params["app"])
    with req.state.lock:
        releases = [render_release(r) for r in req.state.releases(app)]
    return paginate(req, releases, "version")


@route("GET", "/apps/{app}/releases/{release}")
def show_release(req):
    app = req.state.find_app(req.params["app"])
    with req.state.lock:
        req.state.releases(app)  # refreshes ``current``
        return render_release(req.state.find_release(app, req.params["release"]))


@route("POST", "/apps/{app}/releases")
def create_release(req):
    """``{"release": id}`` rolls back to that release; ``{"slug": id}`` releases a slug."""
    body = req.json()
    state = req.state
    app = state.find_app(req.params["app"])
    if body.get("release"):
        release = _rollback(req, app, str(body["release"]))
    elif body.get("slug"):
        slug = state.data["slugs"].get(str(body["slug"]))
        if slug is None:
            raise ApiError(404, "not_found", "Couldn't find that slug.", "slug")
        description = body.get("description") or f"Deploy {short_sha(slug.get('commit'))}".strip()
        release = release_slug(req, app, slug["id"], description)
    else:
        raise ApiError(422, "invalid_params", "Either release or slug is required.")
    with state.lock:
        state.releases(app)
        return Response(201, render_release(release))


def _rollback(req, app: dict, identity: str) -> dict:
    """Heroku's rollback: vN's slug and vN's config vars, as a new release."""
    state = req.state
    with state.lock:
        target = state.find_release(app, identity)
        if target["status"] != "succeeded" or not target.get("eligible_for_rollback", True):
            raise ApiError(422, "invalid_params", f"Release v{target['version']} is not eligible for rollback.")
        with state.mutate() as data:
            data["config"][app["id"]] = dict(target.get("_config") or {})
    slug_id = target["slug"]["id"] if target["slug"] else None
    return release_slug(req, app, slug_id, f"Rollback to v{target['version']}")
