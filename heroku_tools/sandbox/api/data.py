"""The Heroku Postgres data API (``HEROKU_DATA_HOST``): database info, reset, transfers.

These are the ``/client/v11`` and ``/postgres/v0`` routes that ``pg:info``,
``pg:wait``, ``pg:reset``, ``pg:copy`` and ``pg:backups*`` call, answered in the
shapes the CLI reads (the data API is not in the public Platform API schema).
``pg:info`` figures are real: size, tables and connections come from the
database itself. Transfers run in :mod:`heroku_tools.sandbox.backups`; the
signed public backup URL is served here too, without API credentials, since
the URL is the credential.
"""
from __future__ import annotations

import shutil
import time

from .. import backups
from ..routing import HANDLED, Response, route
from ..state import ApiError
from .addons import PLANS, attachments_of, find_addon

_GB = 1024 ** 3


def _human_size(size: float) -> str:
    """Sizes as Heroku's ``pg:info`` shows them: ``7.6 MB``, ``1 GB``."""
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if size < 1024 or unit == "TB":
            return f"{size:.1f} {unit}".replace(".0 ", " ")
        size /= 1024
    raise AssertionError("unreachable")


def _database(req, identity: str) -> tuple[dict, dict]:
    """The add-on named by the data API path and its private database record; 404 otherwise."""
    try:
        addon = find_addon(req.state, identity)
    except ApiError:
        raise ApiError(404, "not_found", "Couldn't find that database.") from None
    return addon, addon["_database"]


def _attachment_name(req, addon: dict) -> str:
    own = [a for a in attachments_of(req.state, addon) if a["app"]["id"] == addon["app"]["id"]]
    return own[0]["name"] if own else "DATABASE"


def _info(req, addon: dict, database: dict) -> list[dict]:
    plan = addon["_plan"]
    human, _, connection_limit, storage_gb, table_limit = PLANS[plan]
    stats = req.sandbox.postgres.statistics(database["dbname"], database["user"])
    created = addon["created_at"].replace("T", " ")[:16] + " UTC"
    essential = table_limit is not None
    if essential:
        used = stats["size"] / (storage_gb * _GB) * 100
        size = f"{_human_size(stats['size'])} / {storage_gb} GB ({used:.2f}%)"
        tables = f"{stats['tables']}/{table_limit} (In compliance)"
    else:
        size, tables = _human_size(stats["size"]), str(stats["tables"])
    rows = [
        ("Plan", human),
        ("Status", "Available"),
        ("Connections", f"{stats['connections']}/{connection_limit}"),
        ("PG Version", stats["version"]),
        ("Created", created),
        ("Data Size", size),
        ("Tables", tables),
    ]
    if essential:
        rows += [("Fork/Follow", "Unsupported"), ("Rollback", "Unsupported"), ("Continuous Protection", "Off")]
    else:
        rows += [
            ("Fork/Follow", "Available"), ("Rollback", f"earliest from {created}"),
            ("Region", "us"), ("Data Encryption", "In Use"), ("Continuous Protection", "On"),
            ("Maintenance", "not required"),
        ]
    return [{"name": name, "values": [value]} for name, value in rows]


@route("GET", "/client/v11/databases/{addon}")
def database_info(req):
    addon, database = _database(req, req.params["addon"])
    return {
        "addon_id": addon["id"],
        "name": addon["name"],
        "plan": addon["_plan"],
        "resource_url": database["url"],
        "following": None,
        "waiting?": False,
        "info": _info(req, addon, database),
    }


@route("GET", "/client/v11/databases/{addon}/wait_status")
def wait_status(req):
    _database(req, req.params["addon"])
    return {"waiting?": False, "message": "Available"}


@route("PUT", "/client/v11/databases/{addon}/reset")
def reset(req):
    addon, database = _database(req, req.params["addon"])
    extensions = req.json().get("extensions") or []
    req.sandbox.postgres.reset_database(database["dbname"], database["user"], extensions)
    return {"message": f"{addon['name']} has been reset"}


def _default_credential(req, addon: dict, database: dict, with_password: bool) -> dict:
    """The sandbox makes one role per database: Heroku's ``default`` credential."""
    connections = req.sandbox.postgres.statistics(database["dbname"], database["user"])["connections"]
    role = {"user": database["user"], "state": "active", "connections": connections}
    if with_password:
        role["password"] = database["password"]
    return {
        "uuid": addon["id"],
        "name": "default",
        "state": "active",
        "database": database["dbname"],
        "host": "127.0.0.1",
        "port": req.sandbox.postgres.port,
        "credentials": [role],
    }


@route("GET", "/postgres/v0/databases/{addon}/credentials")
def credentials(req):
    addon, database = _database(req, req.params["addon"])
    return [_default_credential(req, addon, database, with_password=False)]


@route("GET", "/postgres/v0/databases/{addon}/credentials/{name}")
def credential(req):
    """``pg:credentials:url``: one credential, with its password."""
    addon, database = _database(req, req.params["addon"])
    if req.params["name"] != "default":
        raise ApiError(404, "not_found", f"Couldn't find credential {req.params['name']}.")
    return _default_credential(req, addon, database, with_password=True)


# -- transfers ---------------------------------------------------------------------
def _render(transfer: dict, verbose: bool = False) -> dict:
    shown = dict(transfer)
    if not verbose:
        shown.pop("logs")
    return shown


def _app_of(req, addon: dict) -> dict:
    return req.state.find_app(addon["app"]["id"])


@route("POST", "/client/v11/databases/{addon}/backups")
def capture(req):
    addon, database = _database(req, req.params["addon"])
    app = _app_of(req, addon)
    fail = req.state.take_fault(app["name"], "backup")
    transfer = backups.new_transfer(
        req.state, app, addon,
        from_name=_attachment_name(req, addon), from_type="pg_dump", from_url=database["url"],
        to_name="BACKUP", to_type="gof3r",
    )
    with req.state.mutate():
        transfer["to_url"] = f"{req.sandbox.base_url}{backups.download_path(transfer)}"
    created = _render(transfer)
    backups.run(req.state, transfer, lambda: backups.capture(
        req.sandbox, transfer, database["url"], database["dbname"], database["user"], fail))
    return Response(201, created)


@route("POST", "/client/v11/databases/{addon}/restores")
def restore(req):
    addon, database = _database(req, req.params["addon"])
    app = _app_of(req, addon)
    body = req.json()
    backup_url = body.get("backup_url")
    if not backup_url:
        raise ApiError(422, "invalid_params", "backup_url is required.")
    fail = req.state.take_fault(app["name"], "restore")
    transfer = backups.new_transfer(
        req.state, app, addon,
        from_name="BACKUP", from_type="gof3r" if backups.is_stored_backup_url(backup_url) else "htcat", from_url=backup_url,
        to_name=_attachment_name(req, addon), to_type="pg_restore", to_url=database["url"],
    )
    created = _render(transfer)
    backups.run(req.state, transfer, lambda: backups.restore(
        req.sandbox, transfer, backup_url, database["url"], body.get("extensions") or [], fail))
    return Response(201, created)


@route("POST", "/client/v11/databases/{addon}/transfers")
def copy(req):
    """``pg:copy``: the transfer belongs to the app of the add-on in the path."""
    addon, _ = _database(req, req.params["addon"])
    body = req.json()
    missing = [key for key in ("from_url", "to_url") if not body.get(key)]
    if missing:
        raise ApiError(422, "invalid_params", f"{', '.join(missing)} required.")
    transfer = backups.new_transfer(
        req.state, _app_of(req, addon), addon,
        from_name=body.get("from_name"), from_type="pg_dump", from_url=body["from_url"],
        to_name=body.get("to_name"), to_type="pg_restore", to_url=body["to_url"],
    )
    created = _render(transfer)
    backups.run(req.state, transfer, lambda: backups.copy(req.sandbox, transfer, body["from_url"], body["to_url"]))
    return Response(201, created)


@route("GET", "/client/v11/apps/{app}/transfers")
def list_transfers(req):
    app = req.state.find_app(req.params["app"])
    return [_render(t) for t in backups.transfers_of(req.state, app) if t["deleted_at"] is None]


@route("GET", "/client/v11/apps/{app}/transfers/{transfer}")
def show_transfer(req):
    app = req.state.find_app(req.params["app"])
    transfer = backups.find_transfer(req.state, app, req.params["transfer"])
    return _render(transfer, verbose=req.query.get("verbose") == "true")


@route("DELETE", "/client/v11/apps/{app}/transfers/{transfer}")
def delete_transfer(req):
    app = req.state.find_app(req.params["app"])
    transfer = backups.find_transfer(req.state, app, req.params["transfer"])
    if transfer["to_type"] != "gof3r":
        raise ApiError(422, "invalid_params", "Only backups can be deleted.")
    if transfer["finished_at"] is None:
        raise ApiError(422, "invalid_params", "Cannot delete a backup that is still running.")
    backups.backup_file(req.state, transfer).unlink(missing_ok=True)
    with req.state.mutate():
        transfer["deleted_at"] = backups.timestamp()
    return _render(transfer)


@route("POST", "/client/v11/apps/{app}/transfers/{transfer}/actions/public-url")
def public_url(req):
    app = req.state.find_app(req.params["app"])
    transfer = backups.find_transfer(req.state, app, req.params["transfer"])
    if transfer["to_type"] != "gof3r" or not transfer["succeeded"]:
        raise ApiError(422, "invalid_params", "Only completed backups have a URL.")
    url, expires = backups.signed_url(req.sandbox.base_url, req.state.data["api_key"], transfer)
    return {"expires_at": backups.timestamp(expires), "url": url}


@route("GET", backups.DOWNLOAD_PREFIX + "/{app_id}/{transfer}", auth=False)
def download(req):
    """The backup's bytes for a valid signed URL; S3-like XML errors otherwise."""
    refused = backups.check_signature(req.state.data["api_key"], req.path, req.query)
    if refused:
        return _s3_error(403, "AccessDenied", refused)
    try:
        path = backups.local_backup(req.state, f"{req.sandbox.base_url}{req.path}")
    except ApiError as error:
        return _s3_error(error.status, "NoSuchKey", error.message)
    size = path.stat().st_size
    # The ``download`` fault: the connection drops DOWNLOAD_CUT bytes before the end, after the
    # headers announced the whole file (S3 sends Content-Length; the client sees a short read).
    cut = _download_cut(req, size)
    handler = req.handler
    handler.send_response(200)
    handler.send_header("Content-Type", "application/octet-stream")
    handler.send_header("Content-Length", str(size))
    handler.send_header("Last-Modified", time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(path.stat().st_mtime)))
    handler.end_headers()
    with path.open("rb") as fh:
        if cut:
            handler.wfile.write(fh.read(size - cut))
            handler.close_connection = True
        else:
            shutil.copyfileobj(fh, handler.wfile)
    handler.wfile.flush()
    return HANDLED


#: Bytes the ``download`` fault keeps back: the end of the dump's last data block, which a
#: schema-only read does not need, so the table of contents still reads and the data does not.
DOWNLOAD_CUT = 256


def _download_cut(req, size: int) -> int:
    try:
        app = req.state.find_app(req.params["app_id"])
    except ApiError:
        return 0
    if not req.state.take_fault(app["name"], "download"):
        return 0
    return min(DOWNLOAD_CUT, size // 2)


def _s3_error(status: int, code: str, message: str) -> Response:
    body = f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{message}</Message></Error>'
    return Response(status, None, raw=body.encode(), content_type="application/xml")
