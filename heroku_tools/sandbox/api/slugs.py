"""Slug routes: show a slug (where a release's full commit sha lives) and create one.

Slugs live in ``state.data["slugs"]`` keyed by id, schema-shaped plus a private
``_app_id``; the git build and promotions create them, and so does
``POST /apps/{app}/slugs``. As on Heroku, a created slug's ``blob`` is a URL to
``PUT`` a ``tar.gz`` of ``./app/...`` to: the sandbox unpacks it into the slug
directory that builds would have filled.
"""
from __future__ import annotations

import io
import tarfile

from ..routing import Response, route
from ..state import STACK, ApiError, new_id, now, public
from .apps import STACKS, lookup


def new_slug(state, app: dict, **fields) -> dict:
    """Store a schema-shaped slug of ``app``; ``fields`` override the defaults."""
    created = now()
    slug = {
        "blob": {"method": "GET", "url": ""},  # filled in by the routes: the URL names the server
        "buildpack_provided_description": None,
        "checksum": None,
        "commit": None,
        "commit_description": None,
        "created_at": created,
        "id": new_id(),
        "process_types": {},
        "size": None,
        "stack": dict(app.get("build_stack") or STACK),
        "updated_at": created,
        "deleted_at": None,
        "_app_id": app["id"],
        **fields,
    }
    with state.mutate() as data:
        data["slugs"][slug["id"]] = slug
    return slug


def find_slug(state, app: dict, slug_id: str) -> dict:
    """A slug the app built or released (Heroku lets an app release another's slug)."""
    slug = state.data["slugs"].get(slug_id)
    if slug is not None:
        released = any(r["slug"] and r["slug"]["id"] == slug_id for r in state.releases(app))
        if slug.get("_app_id") == app["id"] or released:
            return slug
    raise ApiError(404, "not_found", "Couldn't find that slug.", "slug")


def blob_url(req, slug_id: str) -> str:
    return f"{req.sandbox.base_url}/_sandbox/blobs/slugs/{slug_id}.tgz"


@route("GET", "/apps/{app}/slugs/{slug}")
def show_slug(req):
    app = req.state.find_app(req.params["app"])
    with req.state.lock:
        slug = public(find_slug(req.state, app, req.params["slug"]))
    slug["blob"] = {"method": "GET", "url": blob_url(req, slug["id"])}
    return slug


@route("POST", "/apps/{app}/slugs")
def create_slug(req):
    body = req.json()
    app = req.state.find_app(req.params["app"])
    process_types = body.get("process_types")
    if not isinstance(process_types, dict) or not all(isinstance(v, str) for v in process_types.values()):
        raise ApiError(422, "invalid_params", "process_types must be an object of process type names to commands.")
    fields = {key: body[key] for key in ("buildpack_provided_description", "checksum", "commit", "commit_description") if key in body}
    if body.get("stack"):
        fields["stack"] = dict(lookup(STACKS, body["stack"], STACK, "stack"))
    slug = new_slug(req.state, app, process_types=process_types, **fields)
    shown = public(slug)
    shown["blob"] = {"method": "PUT", "url": blob_url(req, slug["id"])}
    return Response(201, shown)


def _slug_for_blob(req) -> dict:
    slug = req.state.data["slugs"].get(req.params["slug"].removesuffix(".tgz"))
    if slug is None:
        raise ApiError(404, "not_found", "Couldn't find that slug.", "slug")
    return slug


@route("PUT", "/_sandbox/blobs/slugs/{slug}", auth=False)
def upload_slug(req):
    """Unpack an uploaded slug archive (``./app/...``) into the slug's directory.

    Unauthenticated, like the presigned S3 URL it stands for.
    """
    slug = _slug_for_blob(req)
    target = req.state.slug_dir(slug["id"])
    target.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(fileobj=io.BytesIO(req.body), mode="r:*") as archive:
            archive.extractall(target, filter="data")
    except tarfile.TarError as error:
        raise ApiError(422, "invalid_params", f"The slug archive could not be read: {error}") from error
    with req.state.mutate():
        slug["size"] = len(req.body)
        slug["updated_at"] = now()
    return Response(200, raw=b"", content_type="text/plain")


@route("GET", "/_sandbox/blobs/slugs/{slug}", auth=False)
def download_slug(req):
    """The slug's files as a ``tar.gz`` of ``./app/...``, as Heroku's slug blob is."""
    slug = _slug_for_blob(req)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        app_dir = req.state.slug_dir(slug["id"]) / "app"
        if app_dir.exists():
            archive.add(app_dir, arcname="./app")
    return Response(200, raw=buffer.getvalue(), content_type="application/octet-stream")
