"""Releases of a slug, with Heroku's release phase.

Every code release (a push, a promotion, a rollback, ``POST /apps/{app}/releases``,
``releases:retry``) goes through :func:`start_release`. When the slug's
Procfile declares a ``release:`` process the release starts ``pending``: the
command runs in a background thread in a release dyno of its own
(``release.2048``: its own copy of the slug, ``bash -c``, the slug's Python, the
app's config vars; see :class:`heroku_tools.sandbox.runtime.DynoWorld`), listed
by ``GET /apps/{app}/dynos`` while it runs, its output written both to the
stream ``output_stream_url`` serves and to the app's log. Success makes the
release current; failure marks it ``failed`` and the previous release stays
current, as on Heroku. Without a release command the release succeeds at once.
Files the release command writes vanish with its dyno, as on Heroku.
"""
from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path

from .runtime import DynoWorld, dyno_name
from .state import new_id, now

#: Heroku stops a release command after an hour.
RELEASE_PHASE_TIMEOUT = 3600

_running: set[subprocess.Popen] = set()
_running_lock = threading.Lock()


def stream_url(sandbox, stream_id: str) -> str:
    """Where ``GET`` follows the output of a build or a release phase."""
    return f"{sandbox.base_url}/streams/{stream_id}"


def start_release(sandbox, app: dict, slug_id: str, description: str) -> dict:
    """Create a release of ``slug_id`` on ``app``, running its release phase if any.

    With a ``release:`` command the release is created ``pending`` with
    ``output_stream_url`` set, and the command runs in a background thread;
    it becomes ``succeeded`` (and current) or ``failed`` (the previous release
    stays current). An armed ``release`` fault fails the release phase.
    Without one it is ``succeeded`` at once.
    """
    state = sandbox.state
    slug = state.data["slugs"].get(slug_id) or {}
    command = (slug.get("process_types") or {}).get("release")
    if not command:
        return state.create_release(app, description, slug_id=slug_id)
    with state.lock:
        release = state.create_release(app, description, slug_id=slug_id, status="pending")
        log = state.stream_path(release["id"])
        log.parent.mkdir(parents=True, exist_ok=True)
        log.touch()
        state.update_release(release, output_stream_url=stream_url(sandbox, release["id"]))
    fail = state.take_fault(app["name"], "release")
    threading.Thread(
        target=_release_phase,
        args=(state, app, release, slug, command, log, fail),
        name=f"release-phase-{app['name']}-v{release['version']}",
        daemon=True,
    ).start()
    return release


def _release_phase(state, app: dict, release: dict, slug: dict, command: str, log: Path, fail: bool) -> None:
    """Run the release command in a release dyno, then settle the release (a sandbox error fails it, never hangs it)."""
    record = _register_dyno(state, app, release, command)
    with log.open("ab", buffering=0) as out:
        if fail:
            out.write(b"Error: release command failed (a fault armed in the sandbox).\n")
            succeeded = False
        else:
            try:
                succeeded = _run_release_command(state, app, release, slug, record, out) == 0
            except Exception as error:  # noqa: BLE001 - the release must settle; the traceback goes to server.log
                traceback.print_exc()
                out.write(f"Error: the sandbox could not run the release command: {error}\n".encode())
                succeeded = False
    _forget_dyno(state, app, record)
    state.update_release(release, status="succeeded" if succeeded else "failed")
    state.releases(app)  # recompute ``current``
    email = state.account["email"]
    state.log_api(app, f"Release v{release['version']} {'created' if succeeded else 'command failed'} by user {email}")
    if succeeded:
        state.announce_release(app, release)  # the release phase ends before any new dyno starts


def _register_dyno(state, app: dict, release: dict, command: str) -> dict:
    """The release dyno as ``GET /apps/{app}/dynos`` lists it; the formation gains ``release``, as on Heroku."""
    created = now()
    with state.mutate() as data:
        dynos = data["dynos"].setdefault(app["id"], {})
        record = {
            "attach_url": None, "command": command, "created_at": created, "id": new_id(),
            "name": dyno_name("release", {d["name"] for d in dynos.values()}),
            "release": {"id": release["id"], "version": release["version"]},
            "app": {"id": app["id"], "name": app["name"]}, "size": "Basic", "state": "starting",
            "type": "release", "updated_at": created,
        }
        dynos[record["id"]] = record
        entry = data["formation"].setdefault(app["id"], {}).setdefault(
            "release", {"id": new_id(), "quantity": 0, "size": "Basic", "created_at": created, "updated_at": created}
        )
        entry["command"] = command
    return record


def _forget_dyno(state, app: dict, record: dict) -> None:
    with state.mutate() as data:
        data["dynos"].get(app["id"], {}).pop(record["id"], None)


def _run_release_command(state, app: dict, release: dict, slug: dict, record: dict, out) -> int | None:
    """The command's exit status (``None`` if it could not start or timed out); output to ``out`` and the log."""
    name, logs = record["name"], state.logs
    extra = {"HEROKU_RELEASE_VERSION": f"v{release['version']}"}
    if slug.get("commit"):
        extra.update(HEROKU_SLUG_COMMIT=slug["commit"], HEROKU_SLUG_DESCRIPTION=slug.get("commit_description") or "")
    world = DynoWorld.create(state, app, slug["id"], record["id"], name, record["command"], release, extra)
    logs.emit(app["id"], "heroku", name, f"Starting process with command `{record['command']}`")
    try:
        process = subprocess.Popen(world.argv, cwd=world.app_dir, env=world.env, stdin=subprocess.DEVNULL,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    except OSError as error:
        out.write(f"Error: release command could not start: {error}\n".encode())
        world.remove()
        return None
    with state.mutate():
        record.update(state="up", updated_at=now())
    logs.emit(app["id"], "heroku", name, "State changed from starting to up")
    status = _relay(process, out, lambda text: logs.emit(app["id"], "app", name, text))
    logs.emit(app["id"], "heroku", name, f"Process exited with status {process.returncode}")
    logs.emit(app["id"], "heroku", name, "State changed from up to complete")
    world.remove()
    return status


def _relay(process: subprocess.Popen, out, log_line: Callable[[str], None]) -> int | None:
    """Copy the process's output to ``out`` as it comes and, line by line, to ``log_line``.

    The exit status, or ``None`` when the hour Heroku allows ran out and the command was killed.
    """
    timed_out = threading.Event()
    timer = threading.Timer(RELEASE_PHASE_TIMEOUT, lambda: (timed_out.set(), stop_process(process)))
    timer.daemon = True
    timer.start()
    with _running_lock:
        _running.add(process)
    pending = b""
    try:
        while chunk := os.read(process.stdout.fileno(), 65536):
            out.write(chunk)
            *lines, pending = (pending + chunk).split(b"\n")
            for line in lines:
                log_line(line.decode(errors="replace"))
        if pending:
            log_line(pending.decode(errors="replace"))
        process.wait()
    finally:
        timer.cancel()
        with _running_lock:
            _running.discard(process)
        process.stdout.close()
    if timed_out.is_set():
        out.write(b"Error: release command timed out after 1 hour.\n")
        return None
    return process.returncode


def stop_process(process: subprocess.Popen) -> None:
    """Kill a release command and everything it started (its process group)."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def stop_release_phases() -> None:
    """Kill every running release command: the sandbox is stopping, and its dynos with it."""
    with _running_lock:
        for process in list(_running):
            stop_process(process)


def wait_release(sandbox, release: dict, timeout: float = 3600) -> dict:
    """Wait until ``release`` leaves ``pending`` (or ``timeout`` passes) and return it."""
    deadline = time.monotonic() + timeout
    while release["status"] == "pending" and time.monotonic() < deadline:
        time.sleep(0.05)
    return release


def follow(path: Path, running: Callable[[], bool], poll: float = 0.1) -> Iterator[bytes]:
    """Yield what is written to ``path`` until ``running()`` is false and all is read.

    ``tail -f`` for build and release-phase output: the check comes before the
    last read so nothing written just before the end is lost.
    """
    with path.open("rb") as fh:
        while True:
            still_running = running()
            data = fh.read(65536)
            if data:
                yield data
            elif not still_running:
                return
            else:
                time.sleep(poll)
