"""Heroku Postgres transfers: backups (capture), restores and copies, with real tools.

A transfer is the data API's record of one ``pg_dump`` → storage (backup,
``b001``), storage → ``pg_restore`` (restore, ``r002``) or ``pg_dump`` →
``pg_restore`` (copy, ``c003``), numbered per app. Each runs in a background
thread with the cluster's own ``pg_dump``/``pg_restore``, connecting with the
add-on's credentials as Heroku's workers do; their ``--verbose`` lines become
the transfer's logs. The route that starts one waits briefly for it, so a small
database's transfer has finished by the CLI's first poll and
``pg:backups:capture`` returns at once, yet answers with the transfer as it was
created (``finished_at: null``), as Heroku does.

Backups are stored as custom-format dumps under
``<state>/backups/<app id>/b001.dump``. A backup's ``to_url`` is a path of this
server that answers 403 by itself, like a private S3 object; the public URL of
``pg:backups:url`` adds an expiry and an HMAC signature (keyed by the
sandbox's API key), so it works without credentials until it expires.

Armed faults: ``backup`` makes the next capture fail with ``pg_dump`` error
lines; ``restore`` cuts the next restore's download short so the real
``pg_restore`` fails on it before touching the target database; ``download``
cuts the next download through a signed public URL short (see
:func:`heroku_tools.sandbox.api.data.download`).
"""
from __future__ import annotations

import datetime
import hashlib
import hmac
import shutil
import ssl
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from .state import ApiError, new_id

PUBLIC_URL_TTL = 3600
DOWNLOAD_PREFIX = "/_sandbox/backups"
#: How long a route waits for its transfer before answering (the CLI polls every 3 s).
INLINE_WAIT = 2.5
_RESTORE_FLAGS = ["--clean", "--if-exists", "--no-owner", "--no-acl"]
_active: set[str] = set()
_active_lock = threading.Lock()


def timestamp(moment: float | None = None) -> str:
    """The data API's time format: ``2024-05-12 10:00:09 +0000``."""
    moment = time.time() if moment is None else moment
    return datetime.datetime.fromtimestamp(moment, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S +0000")


def transfer_name(transfer: dict) -> str:
    """``b001``/``a001`` (scheduled), ``r002``, ``c003`` — the CLI's naming rule."""
    if transfer["from_type"] == "pg_dump":
        prefix = "c" if transfer["to_type"] == "pg_restore" else ("a" if transfer.get("schedule") else "b")
    else:
        prefix = "r" if transfer["to_type"] == "pg_restore" else "b"
    return f"{prefix}{transfer['num']:03d}"


# -- storage and signed URLs ---------------------------------------------------
def backup_file(state, transfer: dict) -> Path:
    return state.directory / "backups" / transfer["app_uuid"] / f"{transfer_name(transfer)}.dump"


def download_path(transfer: dict) -> str:
    return f"{DOWNLOAD_PREFIX}/{transfer['app_uuid']}/{transfer['uuid']}"


def signature(api_key: str, path: str, expires: int) -> str:
    key = hashlib.sha256(f"heroku-tools-sandbox-backups:{api_key}".encode()).digest()
    return hmac.new(key, f"{path}\n{expires}".encode(), hashlib.sha256).hexdigest()


def signed_url(base_url: str, api_key: str, transfer: dict, ttl: int = PUBLIC_URL_TTL) -> tuple[str, int]:
    """A URL that downloads the backup without credentials until ``expires``; ``(url, expires)``."""
    path = download_path(transfer)
    expires = int(time.time()) + ttl
    query = urllib.parse.urlencode({"expires": expires, "signature": signature(api_key, path, expires)})
    return f"{base_url}{path}?{query}", expires


def check_signature(api_key: str, path: str, query: dict) -> str | None:
    """Why a public download must be refused (an S3-like reason), or None if it may go."""
    try:
        expires = int(query.get("expires", ""))
    except ValueError:
        return "Access Denied"
    if not hmac.compare_digest(signature(api_key, path, expires), query.get("signature", "")):
        return "The request signature we calculated does not match the signature you provided"
    if expires < time.time():
        return "Request has expired"
    return None


# -- transfer records ------------------------------------------------------------
def transfers_of(state, app: dict) -> list[dict]:
    """The app's transfers (deleted ones included), oldest first; orphans marked failed."""
    with state.lock:
        transfers = state.data["transfers"].setdefault(app["id"], [])
        for transfer in transfers:
            if transfer["finished_at"] is None and transfer["uuid"] not in _active:
                _finish(state, transfer, False, ["transfer interrupted: the sandbox stopped before it finished"])
        return transfers


def find_transfer(state, app: dict, identity: str) -> dict:
    for transfer in transfers_of(state, app):
        if transfer["deleted_at"] is None and identity in (transfer["uuid"], str(transfer["num"])):
            return transfer
    raise ApiError(404, "not_found", "Couldn't find that transfer.")


def new_transfer(state, app: dict, addon: dict, **fields) -> dict:
    """Record a pending transfer of ``app`` for ``addon``'s database; :func:`run` must follow."""
    created = timestamp()
    with state.mutate():
        transfers = transfers_of(state, app)
        transfer = {
            "uuid": new_id(),
            "num": max((t["num"] for t in transfers), default=0) + 1,
            "from_name": None, "from_type": None, "from_url": None,
            "to_name": None, "to_type": None, "to_url": None,
            "options": {}, "source_bytes": 0, "processed_bytes": 0,
            "succeeded": False, "warnings": 0,
            "created_at": created, "started_at": None, "finished_at": None, "updated_at": created,
            "deleted_at": None, "canceled_at": None, "schedule": None,
            "app_uuid": app["id"], "database_uuid": addon["id"],
            "logs": [],
            **fields,
        }
        transfers.append(transfer)
        with _active_lock:
            _active.add(transfer["uuid"])
        return transfer


def _log(state, transfer: dict, messages: list[str], level: str = "info") -> None:
    with state.mutate():
        for message in messages:
            transfer["logs"].append({"created_at": timestamp(), "level": level, "message": message})
        transfer["updated_at"] = timestamp()


def _update(state, transfer: dict, **changes) -> None:
    with state.mutate():
        transfer.update(changes, updated_at=timestamp())


def _finish(state, transfer: dict, succeeded: bool, messages: list[str], warnings: int = 0) -> None:
    _log(state, transfer, messages, "info" if succeeded else "error")
    _update(state, transfer, succeeded=succeeded, warnings=warnings, finished_at=timestamp())


def run(state, transfer: dict, work) -> None:
    """Run ``work()`` in the background; wait up to :data:`INLINE_WAIT` for it to end."""

    def worker():
        try:
            work()
        except Exception as error:  # noqa: BLE001 - a transfer records its failure, like Heroku's
            _finish(state, transfer, False, [f"transfer failed: {error}"])
        finally:
            with _active_lock:
                _active.discard(transfer["uuid"])

    thread = threading.Thread(target=worker, name=f"transfer-{transfer['uuid']}", daemon=True)
    thread.start()
    thread.join(INLINE_WAIT)


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


# -- capture -------------------------------------------------------------------------
def capture(sandbox, transfer: dict, database_url: str, dbname: str, user: str, fail: bool) -> None:
    """``pg_dump -Fc`` the database into the backup file; or fail as a broken dump does."""
    state, cluster = sandbox.state, sandbox.postgres
    source_bytes = cluster.statistics(dbname, user)["size"]
    _update(state, transfer, started_at=timestamp(), source_bytes=source_bytes)
    if fail:
        _finish(state, transfer, False, [
            "pg_dump: error: Dumping the contents of a table failed: PQgetResult() failed.",
            "pg_dump: error: Error message from server: server closed the connection unexpectedly",
            "pg_dump: error: The command was: COPY public.* TO stdout;",
            "waiting for pg_dump to complete",
            "pg_dump finished with errors",
        ])
        return
    target = backup_file(state, transfer)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    done = subprocess.run(
        [cluster.binary("pg_dump"), "--format=custom", "--verbose", f"--file={partial}", f"--dbname={database_url}"],
        capture_output=True, text=True,
    )
    _log(state, transfer, _lines(done.stderr))
    if done.returncode != 0:
        partial.unlink(missing_ok=True)
        _finish(state, transfer, False, ["waiting for pg_dump to complete", "pg_dump finished with errors"])
        return
    partial.replace(target)
    _update(state, transfer, processed_bytes=target.stat().st_size)
    _finish(state, transfer, True, [
        "waiting for pg_dump to complete", "pg_dump finished successfully",
        "waiting for upload to complete", "upload done",
    ])


# -- restore and copy ----------------------------------------------------------------
def is_stored_backup_url(url: str) -> bool:
    """Whether ``url`` names a backup kept by this sandbox (signed or not)."""
    parts = urllib.parse.urlsplit(url)
    return parts.hostname in ("127.0.0.1", "localhost") and parts.path.startswith(DOWNLOAD_PREFIX + "/")


def local_backup(state, url: str) -> Path | None:
    """The stored dump behind one of this server's backup URLs, or None for a foreign URL.

    Raises :class:`ApiError` (403/404) when the URL is ours but may not be read.
    """
    if not is_stored_backup_url(url):
        return None
    parts = urllib.parse.urlsplit(url)
    app_id, _, transfer_uuid = parts.path[len(DOWNLOAD_PREFIX) + 1:].partition("/")
    query = dict(urllib.parse.parse_qsl(parts.query))
    if query:
        refused = check_signature(state.data["api_key"], parts.path, query)
        if refused:
            raise ApiError(403, "forbidden", refused)
    with state.lock:
        for transfer in state.data["transfers"].get(app_id, []):
            if transfer["uuid"] == transfer_uuid and transfer["deleted_at"] is None and transfer["succeeded"]:
                path = backup_file(state, transfer)
                if path.exists():
                    return path
    raise ApiError(404, "not_found", "The specified key does not exist.")


def _fetch(sandbox, url: str, into: Path) -> None:
    """Download a foreign https URL, trusting the sandbox's CA besides the system's."""
    context = ssl.create_default_context()
    context.load_verify_locations(cafile=str(sandbox.ca_pem))
    with urllib.request.urlopen(url, context=context, timeout=60) as response, into.open("wb") as out:
        shutil.copyfileobj(response, out)


def restore(sandbox, transfer: dict, backup_url: str, database_url: str, extensions: list[str], fail: bool) -> None:
    """Fetch the dump at ``backup_url`` and ``pg_restore`` it over the target database."""
    state, cluster = sandbox.state, sandbox.postgres
    _update(state, transfer, started_at=timestamp())
    with tempfile.TemporaryDirectory(dir=state.directory) as scratch:
        dump = Path(scratch) / "backup.dump"
        try:
            stored = local_backup(state, backup_url)
            if stored:
                shutil.copyfile(stored, dump)
            else:
                _fetch(sandbox, backup_url, dump)
        except (ApiError, OSError, urllib.error.URLError) as error:
            reason = error.message if isinstance(error, ApiError) else str(error)
            _finish(state, transfer, False, [f"download failed: {reason}", "restore not started"])
            return
        size = dump.stat().st_size
        _update(state, transfer, source_bytes=size, processed_bytes=size)
        if fail:
            with dump.open("r+b") as fh:
                fh.truncate(min(size, 32))
            _log(state, transfer, ["download interrupted: connection reset by peer"], "error")
        _install_extensions(cluster, database_url, extensions)
        done = subprocess.run(
            [cluster.binary("pg_restore"), "--verbose", *_RESTORE_FLAGS, f"--dbname={database_url}", str(dump)],
            capture_output=True, text=True,
        )
    _log(state, transfer, _lines(done.stderr))
    ok = done.returncode == 0
    _finish(state, transfer, ok, ["waiting for restore to complete",
                                  "restore done" if ok else "restore finished with errors"])


def _install_extensions(cluster, database_url: str, extensions: list[str]) -> None:
    """``pg:backups:restore -e``: pre-create extensions (``schema.name`` allowed) as the database owner."""
    for extension in extensions:
        schema, _, name = extension.rpartition(".")
        statements = [f"CREATE SCHEMA IF NOT EXISTS \"{schema}\"" if schema else None,
                      f"CREATE EXTENSION IF NOT EXISTS \"{name}\"" + (f" SCHEMA \"{schema}\"" if schema else "")]
        for sql in filter(None, statements):
            subprocess.run([cluster.binary("psql"), "-X", "-q", "-d", database_url, "-c", sql], capture_output=True)


def copy(sandbox, transfer: dict, from_url: str, to_url: str) -> None:
    """``pg:copy``: dump the source database and restore it over the target."""
    state, cluster = sandbox.state, sandbox.postgres
    _update(state, transfer, started_at=timestamp())
    with tempfile.TemporaryDirectory(dir=state.directory) as scratch:
        dump = Path(scratch) / "copy.dump"
        dumped = subprocess.run(
            [cluster.binary("pg_dump"), "--format=custom", "--verbose", f"--file={dump}", f"--dbname={from_url}"],
            capture_output=True, text=True,
        )
        _log(state, transfer, _lines(dumped.stderr))
        if dumped.returncode != 0:
            _finish(state, transfer, False, ["pg_dump finished with errors"])
            return
        size = dump.stat().st_size
        _update(state, transfer, source_bytes=size, processed_bytes=size)
        restored = subprocess.run(
            [cluster.binary("pg_restore"), "--verbose", *_RESTORE_FLAGS, f"--dbname={to_url}", str(dump)],
            capture_output=True, text=True,
        )
    _log(state, transfer, _lines(restored.stderr))
    ok = restored.returncode == 0
    _finish(state, transfer, ok, ["restore done" if ok else "restore finished with errors"])
