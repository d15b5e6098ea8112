"""One-off dynos: the processes behind ``heroku run`` and ``heroku run:detached``.

A one-off dyno is ``bash -c COMMAND`` in a copy of the current release's slug
of its own (see :class:`heroku_tools.sandbox.runtime.DynoWorld`), removed when
it ends, with the slug's Python and the app's config vars (plus the ``env`` of
the request) as its environment, in its own process group so stopping the dyno
stops everything it started. What one dyno writes, no other dyno sees. Its
life goes to the app's log (``heroku[run.1234]``), and a detached dyno's output
too (``app[run.1234]``). Stopping a dyno signals every process it started, in
whatever process group or session (as a container's end does on Heroku).

The rendezvous counts the bytes it relays for an attached dyno, each way
(``stdin_bytes`` from the CLI, ``stdout_bytes`` to it): live on the dyno's
record (``_relayed``, not shown by the API), and once it ends as one line of
``<sandbox>/dynos.jsonl`` — what a benchmark reads to know how much crossed the
machine the CLI runs on.

Dyno records live in ``state.data["dynos"][app_id][dyno_id]``, shaped as the
Platform API shows them, for as long as the process runs: Heroku forgets a
one-off dyno once it exits, so ``GET .../dynos/run.1234`` is then a 404. They are
only ever running in the server process that started them, so a restarted
sandbox starts with none.

Everything that waits on a process runs on the rendezvous server's asyncio loop;
the API threads hand work to it with :func:`asyncio.run_coroutine_threadsafe`.
"""
from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import sys
from pathlib import Path

from .runtime import DynoWorld, dyno_name, remove_leftover_dynos
from .state import ApiError, State, new_id, now, public

#: How long an attached dyno waits for ``heroku run`` to connect before it is dropped.
ATTACH_TIMEOUT = 120.0

#: What a one-off dyno writes instead of running its command when the ``run``
#: fault is armed: the command never starts, so ``heroku run -x`` gets no exit
#: status back (exit 1) and ``run:detached`` leaves only this line in its log.
PLATFORM_ERROR = b"Error R99 (Platform error) -> The dyno could not start the process. Try again in a minute.\n"

DEFAULT_SIZE = "Basic"

#: Seconds between SIGTERM and SIGKILL when a dyno is stopped (Heroku allows 30).
STOP_GRACE = 30.0
#: Seconds between SIGHUP and SIGKILL when ``heroku run`` hangs up (the sandbox's choice).
HANGUP_GRACE = 5.0


class Dyno:
    """A one-off dyno between its creation and the end of its process."""

    def __init__(self, state: State, app: dict, record: dict, release: dict, env: dict, faulty: bool):
        self.state, self.app, self.record = state, app, record
        self.release, self.env, self.faulty = release, env, faulty
        self.process: asyncio.subprocess.Process | None = None
        self.world: DynoWorld | None = None
        self.attached = False

    @property
    def name(self) -> str:
        return self.record["name"]

    def log(self, source: str, message: str) -> None:
        self.state.logs.emit(self.app["id"], source, self.name, message)

    async def spawn(self, **stdio) -> asyncio.subprocess.Process:
        """Copy the slug for this dyno and start the command in it; the dyno is ``up`` from here on."""
        loop = asyncio.get_running_loop()
        self.world = await loop.run_in_executor(None, lambda: DynoWorld.create(
            self.state, self.app, self.release["slug"]["id"], self.record["id"], self.name, self.record["command"],
            self.release, self.env,
        ))
        self.log("heroku", f"Starting process with command `{self.record['command']}`")
        self.process = await asyncio.create_subprocess_exec(
            *self.world.argv, cwd=str(self.world.app_dir), env=self.world.env, start_new_session=True, **stdio,
        )
        self.set_state("up")
        self.log("heroku", "State changed from starting to up")
        return self.process

    def ended(self) -> None:
        """Log the end of the process and throw the dyno's files away."""
        if self.process is not None and self.process.returncode is not None:
            self.log("heroku", f"Process exited with status {self.process.returncode}")
            self.log("heroku", "State changed from up to complete")
        if self.world is not None:
            self.world.remove()
            self.world = None

    def hang_up(self) -> None:
        """The CLI went away: SIGHUP to every process of the dyno, SIGKILL to what survives it, as on Heroku."""
        if self.process is not None and self.process.returncode is None:
            self.log("heroku", "Client connection closed. Sending SIGHUP to all processes")
            self.kill(signal.SIGHUP)
            asyncio.get_running_loop().call_later(HANGUP_GRACE, self.kill_if_running)

    def set_state(self, value: str) -> None:
        with self.state.mutate():
            self.record["state"] = value
            self.record["updated_at"] = now()

    def relayed(self, direction: str, count: int) -> None:
        """Count ``count`` bytes the rendezvous relayed (``stdin_bytes`` or ``stdout_bytes``)."""
        self.record["_relayed"][direction] += count

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Signal every process of the dyno: its process group, and every descendant in a group or session of its
        own (a program's children it shields from its terminal): a dyno stops as a unit, as a container does."""
        if self.process is not None:
            pids = descendants(self.process.pid)
            try:
                os.killpg(self.process.pid, sig)
            except (ProcessLookupError, PermissionError):
                pass
            for pid in pids:
                try:
                    os.kill(pid, sig)
                except (ProcessLookupError, PermissionError):
                    pass

    def kill_if_running(self, sig: int = signal.SIGKILL) -> None:
        """:meth:`kill`, unless the command has ended (a later signal must not reach a reused process id)."""
        if self.process is not None and self.process.returncode is None:
            self.kill(sig)


def descendants(pid: int) -> set[int]:
    """Every process below ``pid`` (Linux: from /proc; elsewhere none, and the process group is all there is)."""
    if not sys.platform.startswith("linux"):
        return set()
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), ()):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


class DynoRuntime:
    """Creates, runs, lists and stops the one-off dynos of every app."""

    def __init__(self, state: State, attach_address: tuple[str, int], loop: asyncio.AbstractEventLoop):
        self.state = state
        self.attach_address = attach_address
        self.loop = loop
        self.running: dict[str, Dyno] = {}
        self.awaiting_attach: dict[str, Dyno] = {}
        with state.mutate() as data:
            data["dynos"] = {}  # dynos never outlive the server that ran them
        remove_leftover_dynos(state)

    # -- creation (API threads) ------------------------------------------------
    def create(self, app: dict, body: dict) -> dict:
        """Record a new one-off dyno and, if it is detached, start it right away.

        Returns the API's view of the dyno, with the ``attach_url`` to connect to
        for an attached one.
        """
        command = body.get("command")
        if not isinstance(command, str) or not command.strip():
            raise ApiError(422, "invalid_params", "Command is required.")
        env = body.get("env") or {}
        if not isinstance(env, dict):
            raise ApiError(422, "invalid_params", "env must be an object of strings.")
        env = {str(key): str(value) for key, value in env.items() if value is not None}
        release = self.state.current_release(app)
        if release is None or release["slug"] is None:
            # Heroku's runtime answers 409 until the app has a release with code.
            raise ApiError(409, "conflict", f"No release with a slug was found for {app['name']}. Deploy code first.")
        faulty = self.state.take_fault(app["name"], "run")
        created = now()
        record = {
            "attach_url": None,
            "command": command,
            "created_at": created,
            "id": new_id(),
            "name": self._new_name(app),
            "release": {"id": release["id"], "version": release["version"]},
            "app": {"id": app["id"], "name": app["name"]},
            "size": body.get("size") or DEFAULT_SIZE,
            "state": "starting",
            "type": body.get("type") or "run",
            "updated_at": created,
            "_relayed": {"stdin_bytes": 0, "stdout_bytes": 0},
        }
        dyno = Dyno(self.state, app, record, release, env, faulty)
        self.state.log_api(app, f"Starting process with command `{command}` by user {self.state.account['email']}")
        with self.state.mutate() as data:
            data["dynos"].setdefault(app["id"], {})[record["id"]] = record
        self.running[record["id"]] = dyno
        shown = public(record)
        if body.get("attach"):
            secret = secrets.token_urlsafe(24)
            self.awaiting_attach[secret] = dyno
            self.loop.call_soon_threadsafe(self.loop.call_later, ATTACH_TIMEOUT, self._expire, secret)
            host, port = self.attach_address
            shown["attach_url"] = f"rendezvous://{host}:{port}/{secret}"
            dyno.attached = True
        else:
            asyncio.run_coroutine_threadsafe(self._run_detached(dyno), self.loop)
        return shown

    def _new_name(self, app: dict) -> str:
        """``run.NNNN``: Heroku numbers one-off dynos at random, unique per app."""
        return dyno_name("run", {d["name"] for d in self.state.data["dynos"].get(app["id"], {}).values()})

    # -- lifecycle (event loop) ------------------------------------------------
    def claim(self, secret: str) -> Dyno | None:
        """The attached dyno waiting for ``secret``; each secret works once."""
        return self.awaiting_attach.pop(secret, None)

    def _expire(self, secret: str) -> None:
        dyno = self.awaiting_attach.pop(secret, None)
        if dyno is not None:
            self.finish(dyno)

    def finish(self, dyno: Dyno) -> None:
        """Forget a dyno whose process ended (or never started), and its files; note what the rendezvous relayed."""
        if self.running.pop(dyno.record["id"], None) is None:
            return
        dyno.ended()
        with self.state.mutate() as data:
            data["dynos"].get(dyno.app["id"], {}).pop(dyno.record["id"], None)
        record = dyno.record
        line = {"app": dyno.app["name"], "dyno": record["name"], "id": record["id"], "command": record["command"],
                "attached": dyno.attached, "exit_status": dyno.process.returncode if dyno.process else None,
                "ended_at": now(), **record["_relayed"]}
        with (self.state.directory / "dynos.jsonl").open("a", encoding="utf-8") as log:
            log.write(json.dumps(line) + "\n")

    def log_path(self, dyno: Dyno) -> Path:
        return self.state.directory / "dynos" / f"{dyno.record['id']}.log"

    async def _run_detached(self, dyno: Dyno) -> None:
        """Run a ``run:detached`` dyno, its output going to its log file and the app's log."""
        path = self.log_path(dyno)
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with path.open("ab") as log:
                if dyno.faulty:
                    log.write(PLATFORM_ERROR)
                    dyno.log("heroku", PLATFORM_ERROR.decode().strip())
                    return
                process = await dyno.spawn(stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
                                           stderr=asyncio.subprocess.STDOUT)
                pending = b""
                while chunk := await process.stdout.read(65536):
                    log.write(chunk)
                    log.flush()
                    *lines, pending = (pending + chunk).split(b"\n")
                    for line in lines:
                        dyno.log("app", line.decode(errors="replace"))
                if pending:
                    dyno.log("app", pending.decode(errors="replace"))
                await process.wait()
                dyno.kill()  # what the command left running in the background ends with the dyno
        finally:
            self.finish(dyno)

    def shutdown(self) -> None:
        """Stop every dyno (the server is going away, and its dynos with it)."""
        for dyno in list(self.running.values()):
            dyno.kill()

    # -- queries and actions (API threads) ---------------------------------------
    def list(self, app: dict) -> list[dict]:
        with self.state.lock:
            return [public(d) for d in self.state.data["dynos"].get(app["id"], {}).values()]

    def stop(self, app: dict, identity: str) -> bool:
        """Stop the one-off dyno named or identified by ``identity``; False if none runs."""
        for dyno in list(self.running.values()):
            if dyno.app["id"] == app["id"] and identity in (dyno.record["id"], dyno.name):
                self.loop.call_soon_threadsafe(self._stop, dyno)
                return True
        return False

    def _stop(self, dyno: Dyno) -> None:
        if dyno.process is None:
            for secret, waiting in list(self.awaiting_attach.items()):
                if waiting is dyno:
                    self._expire(secret)
        else:
            dyno.kill(signal.SIGTERM)
            self.loop.call_later(STOP_GRACE, dyno.kill_if_running)
