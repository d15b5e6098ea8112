"""Releases of a slug, with Heroku's release phase.

Every code release (a push, a promotion, a rollback, ``POST /apps/{app}/releases``)
goes through :func:`start_release`. When the slug's Procfile declares a
``release:`` process the release starts ``pending``: the command runs in the
background (with bash, in the slug's directory, with the app's config vars)
while its output is written to a stream file that ``output_stream_url``
serves. Success makes the release current; failure marks it ``failed`` and the
previous release stays current, as on Heroku. Without a release command the
release succeeds at once.
"""
from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from . import runtime

#: Heroku stops a release command after an hour.
RELEASE_PHASE_TIMEOUT = 3600


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
    """Run the release command like a one-off ``release`` dyno, then settle the release."""
    extra = {"HEROKU_RELEASE_VERSION": f"v{release['version']}"}
    if slug.get("commit"):
        extra["HEROKU_SLUG_COMMIT"] = slug["commit"]
        extra["HEROKU_SLUG_DESCRIPTION"] = slug.get("commit_description") or ""
    env = runtime.dyno_environment(state, app, "release.1", extra)
    with log.open("ab", buffering=0) as out:
        if fail:
            out.write(b"Error: release command failed (a fault armed in the sandbox).\n")
            succeeded = False
        else:
            try:
                status = subprocess.run(
                    ["bash", "-c", command],
                    check=False,
                    cwd=runtime.slug_path(state, slug["id"]),
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    timeout=RELEASE_PHASE_TIMEOUT,
                ).returncode
            except subprocess.TimeoutExpired:
                out.write(b"Error: release command timed out after 1 hour.\n")
                status = None
            except OSError as error:
                out.write(f"Error: release command could not start: {error}\n".encode())
                status = None
            succeeded = status == 0
    state.update_release(release, status="succeeded" if succeeded else "failed")
    state.releases(app)  # recompute ``current``


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
