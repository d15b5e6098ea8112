"""Formation dynos: the Procfile's process types running as local processes, as Heroku's dyno manager runs them.

With the ``formation`` setting on (``sandbox up``'s default), every release
that becomes current (a push, a promotion, a rollback, a config change, once
its release phase has succeeded) starts the formation's dynos — ``web.1``,
``worker.1``... — each ``bash -c COMMAND`` in a copy of the release's slug of
its own (:class:`~heroku_tools.sandbox.runtime.DynoWorld`), in its own process
group, with ``DYNO``, ``PORT`` (web dynos: a free port of 127.0.0.1), the dyno
metadata and the config vars. A web dyno is ``up`` once it binds ``PORT``;
one that does not within :data:`BOOT_TIMEOUT` is killed (``R10``). A dyno
whose process exits unasked has ``crashed`` and is restarted: at once the
first time, then after growing cool-offs (:func:`cool_off`), as Heroku does.

Without the ``preboot`` feature a release restarts each dyno: the old process
gets SIGTERM (SIGKILL after :data:`STOP_GRACE`), then the new one starts, so
for a while no web dyno is up (the router holds requests meanwhile, see
:mod:`heroku_tools.sandbox.router`). With preboot the new web dynos start
beside the old ones, which keep serving; :data:`PREBOOT_SWITCH` after the
release (once every new web dyno has booted or crashed) the router switches
to the new ones and the old get SIGTERM once their requests are answered.

The delays marked *scaled* are multiplied by the ``time_scale`` setting, so
tests can watch back-offs and preboot in seconds. Dynos live in this server
process only: a restarted sandbox starts the formation afresh.
"""
from __future__ import annotations

import itertools
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable

from .api.formation import formation
from .runtime import DynoWorld
from .state import State, new_id, now

#: Seconds a web dyno has to bind ``PORT`` (Heroku's default boot timeout; not scaled).
BOOT_TIMEOUT = 60.0
#: Seconds between SIGTERM and SIGKILL when a dyno is stopped (scaled).
STOP_GRACE = 30.0
#: Seconds from a release to the preboot switch (Heroku: "approximately 3 minutes"; scaled).
PREBOOT_SWITCH = 180.0
#: The first cool-off before restarting a dyno that crashed again, and the longest (scaled).
FIRST_COOL_OFF = 20.0
MAX_COOL_OFF = 1200.0
#: Seconds the dynos get to stop when the sandbox itself stops.
SHUTDOWN_GRACE = 5.0
#: How often a booting web dyno's port is tried.
BIND_POLL = 0.05


def cool_off(crashes: int) -> float:
    """Seconds before restarting a dyno after its ``crashes``-th crash in a row (unscaled).

    Heroku restarts a crashed dyno at once, then "with exponentially increasing
    cool-off periods" of up to 20 minutes; the steps between are the sandbox's choice.
    """
    return 0.0 if crashes <= 1 else min(FIRST_COOL_OFF * 2 ** (crashes - 2), MAX_COOL_OFF)


def free_port() -> int:
    """A port of 127.0.0.1 nothing listens on now, for a web dyno's ``PORT``."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


class FormationDyno:
    """One dyno of the formation (``web.1``): its record as the API lists it, and its current process."""

    def __init__(self, app: dict, process_type: str, number: int, release: dict, command: str, size: str):
        self.app = {"id": app["id"], "name": app["name"]}
        self.type, self.number = process_type, number
        self.name = f"{process_type}.{number}"
        self.release, self.command, self.size = release, command, size
        self.id = new_id()
        self.created_at = self.updated_at = now()
        self.state = "starting"
        self.port = free_port() if process_type == "web" else None
        #: False once the dyno is stopped or replaced: its exit is no crash, and it is never restarted.
        self.active = True
        self.process: subprocess.Popen | None = None
        self.exited = threading.Event()
        self.exited.set()
        self.crashes = 0
        self.up_since: float | None = None
        self.restart_timer: threading.Timer | None = None
        #: Requests the router is waiting on (preboot's old dynos are stopped once they are answered).
        self.in_flight = 0

    def record(self) -> dict:
        return {
            "attach_url": None,
            "command": self.command,
            "created_at": self.created_at,
            "id": self.id,
            "name": self.name,
            "release": {"id": self.release["id"], "version": self.release["version"]},
            "app": dict(self.app),
            "size": self.size,
            "state": self.state,
            "type": self.type,
            "updated_at": self.updated_at,
        }

    def signal(self, sig: int) -> None:
        """Signal the dyno's whole process group, unless its process has ended."""
        if self.process is not None and self.process.poll() is None:
            self.signal_group(sig)

    def signal_group(self, sig: int) -> None:
        """Signal the dyno's process group, even once its first process has ended (background jobs)."""
        if self.process is not None:
            try:
                os.killpg(self.process.pid, sig)
            except (ProcessLookupError, PermissionError):
                pass


class FormationManager:
    """Runs, restarts, scales and lists every app's formation dynos; tells the router which web dyno serves."""

    def __init__(self, state: State):
        self.state = state
        self.lock = threading.RLock()
        #: Notified on every state change: the router waits on it for a web dyno to come up.
        self.changed = threading.Condition(self.lock)
        #: The dynos ``GET /apps/{app}/dynos`` lists, by app id.
        self.current: dict[str, list[FormationDyno]] = {}
        #: Preboot: the previous release's web dynos, serving until the switch, by app id.
        self.retiring: dict[str, list[FormationDyno]] = {}
        self._operations: dict[str, threading.Lock] = {}
        self._switches: dict[str, object] = {}
        self._turn = itertools.count()
        self.closed = False
        # The settings, copied here so that nothing holding this lock ever waits for the state's
        # (API threads announce releases holding the state's lock, then take this one).
        # The server applies them once it has configured the state (:meth:`apply_settings`).
        self._enabled, self._time_scale = False, 1.0
        state.release_listeners.append(self.released)

    # -- settings ------------------------------------------------------------------
    @property
    def enabled(self) -> bool:
        return self._enabled and not self.closed

    def scaled(self, seconds: float) -> float:
        return seconds * self._time_scale

    def apply_settings(self) -> None:
        """Take the state's ``formation`` and ``time_scale``; switching the formation on starts every app's
        dynos, off stops them all."""
        enabled, scale = bool(self.state.setting("formation")), float(self.state.setting("time_scale"))
        with self.changed:
            was, self._enabled, self._time_scale = self._enabled, enabled, scale
            self.changed.notify_all()
        if enabled and not was:
            self.start_all()
        elif was and not enabled:
            with self.lock:
                dynos = [d for group in (*self.current.values(), *self.retiring.values()) for d in group]
                self.current.clear()
                self.retiring.clear()
            threading.Thread(target=self._stop_all, args=(dynos,), daemon=True).start()

    def log(self, dyno: FormationDyno, message: str, source: str = "heroku") -> None:
        self.state.logs.emit(dyno.app["id"], source, dyno.name, message)

    def _set_state(self, dyno: FormationDyno, value: str) -> None:
        """A state change, in the log as Heroku writes it; the router and the preboot switch wait on these."""
        with self.changed:
            if value != dyno.state:
                self.log(dyno, f"State changed from {dyno.state} to {value}")
            dyno.state, dyno.updated_at = value, now()
            dyno.up_since = time.monotonic() if value == "up" else dyno.up_since
            self.changed.notify_all()

    # -- what happens to an app (API threads; the work runs in the background, one operation per app at a time)
    def _background(self, app: dict, work: Callable, *args) -> None:
        with self.lock:
            serial = self._operations.setdefault(app["id"], threading.Lock())

        def run():
            with serial:
                if not self.closed:
                    work(*args)

        threading.Thread(target=run, name=f"formation-{app['name']}", daemon=True).start()

    def released(self, app: dict, release: dict) -> None:
        """A release became current: restart the formation on it (with preboot, beside the old web dynos)."""
        if self.enabled and release.get("slug"):
            self._background(app, self._deploy, app, release)

    def scale(self, app: dict) -> None:
        """The formation changed (``ps:scale``): start and stop dynos to match it."""
        if self.enabled:
            self._background(app, self._scale, app)

    def restart(self, app: dict, process_type: str | None = None, name: str | None = None) -> None:
        """``ps:restart`` (all, one type, one dyno) and ``ps:stop`` of formation dynos (Heroku starts them again)."""
        if self.enabled:
            self._background(app, self._restart, app, process_type, name)

    def forget(self, app: dict) -> None:
        """The app is destroyed: its dynos stop."""
        with self.lock:
            dynos = self.current.pop(app["id"], []) + self.retiring.pop(app["id"], [])
        threading.Thread(target=self._stop_all, args=(dynos,), daemon=True).start()

    def start_all(self) -> None:
        """Start the formation of every app with code that runs none (a sandbox starting, the setting turned on)."""
        if not self.enabled:
            return
        for app in list(self.state.data["apps"].values()):
            release = self.state.current_release(app)
            if release and release.get("slug") and not self.current.get(app["id"]):
                self._background(app, self._deploy, app, release)

    # -- queries (API and router threads) ---------------------------------------------
    def list(self, app: dict) -> list[dict]:
        with self.lock:
            return [d.record() for d in sorted(self.current.get(app["id"], []), key=lambda d: (d.type, d.number))]

    def route(self, app_id: str, wait: float) -> tuple[FormationDyno | None, str | None]:
        """A web dyno that is ``up`` for the next request, or the router's error code.

        Requests wait (up to ``wait`` seconds, then ``H20``) while a web dyno is
        starting; none at all is ``H14``, only crashed ones ``H10``. The dyno
        counts the request in flight until :meth:`done`.
        """
        deadline = time.monotonic() + wait
        with self.changed:
            while True:
                if not self.enabled:
                    return None, "H14"
                serving = self.retiring.get(app_id) or [d for d in self.current.get(app_id, []) if d.type == "web"]
                up = [d for d in serving if d.state == "up"]
                if up:
                    dyno = up[next(self._turn) % len(up)]
                    dyno.in_flight += 1
                    return dyno, None
                if not serving:
                    return None, "H14"
                if not any(d.state == "starting" for d in serving):
                    return None, "H10"
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None, "H20"
                self.changed.wait(min(remaining, 1.0))

    def done(self, dyno: FormationDyno) -> None:
        with self.changed:
            dyno.in_flight -= 1
            self.changed.notify_all()

    # -- operations (background, serialised per app) ------------------------------------
    def _wanted(self, app: dict) -> list[tuple[str, int, str, str]]:
        """``(type, quantity, command, size)`` of each process type the formation runs."""
        return [(t, e["quantity"], e["command"], e["size"]) for t, e in formation(self.state, app).items()
                if t != "release" and e["quantity"] > 0]

    def _deploy(self, app: dict, release: dict) -> None:
        if self.state.current_release(app) is not release:
            return  # a newer release came first
        preboot = self.state.data["features"].get(app["id"], {}).get("preboot", {}).get("enabled", False)
        new = [FormationDyno(app, t, n, release, command, size)
               for t, quantity, command, size in self._wanted(app) for n in range(1, quantity + 1)]
        with self.changed:
            old = self.current.get(app["id"], [])
            if preboot and any(d.type == "web" for d in new):
                keep_serving = [d for d in old if d.type == "web"]
                old = [d for d in old if d.type != "web"]
                if self.retiring.get(app["id"]):
                    old += keep_serving  # new dynos of an earlier preboot never served: they simply stop
                elif keep_serving:
                    self.retiring[app["id"]] = keep_serving
            self.current[app["id"]] = new
            for dyno in old:
                dyno.active = False
            self.changed.notify_all()
        self._replace(old, new)
        if self.retiring.get(app["id"]):
            self._schedule_switch(app)

    def _scale(self, app: dict) -> None:
        release = self.state.current_release(app)
        if not release or not release.get("slug"):
            return
        wanted = {t: (quantity, command, size) for t, quantity, command, size in self._wanted(app)}
        with self.changed:
            current = self.current.get(app["id"], [])
            stopping = [d for d in current if d.number > wanted.get(d.type, (0,))[0]]
            kept = [d for d in current if d not in stopping]
            taken = {d.name for d in kept}
            starting = [FormationDyno(app, t, n, release, command, size) for t, (quantity, command, size) in wanted.items()
                        for n in range(1, quantity + 1) if f"{t}.{n}" not in taken]
            for dyno in kept:
                dyno.size = wanted[dyno.type][2]
            for dyno in stopping:
                dyno.active = False
            self.current[app["id"]] = kept + starting
            self.changed.notify_all()
        for dyno in stopping:
            self._set_state(dyno, "down")
        self._stop_all(stopping)
        for dyno in starting:
            self._spawn(dyno)

    def _restart(self, app: dict, process_type: str | None, name: str | None) -> None:
        with self.changed:
            current = self.current.get(app["id"], [])
            chosen = [d for d in current if (process_type in (None, d.type)) and (name in (None, d.name))]
            fresh = {d.name: FormationDyno(app, d.type, d.number, d.release, d.command, d.size) for d in chosen}
            self.current[app["id"]] = [fresh.get(d.name, d) for d in current]
            for dyno in chosen:
                dyno.active = False
            self.changed.notify_all()
        self._replace(chosen, list(fresh.values()))

    def _replace(self, old: list[FormationDyno], new: list[FormationDyno]) -> None:
        """Stop ``old`` (a restart of those named alike), then start ``new``: Heroku's restart gap."""
        names = {d.name for d in new}
        for dyno in old:
            if dyno.name in names:
                self.log(dyno, "Restarting")
                self._set_state(dyno, "starting")
        self._stop_all(old)
        for dyno in new:
            if dyno.active:
                self._spawn(dyno)

    def _stop_all(self, dynos: list[FormationDyno], grace: float | None = None) -> None:
        """SIGTERM to every dyno's processes, SIGKILL to what is left after the grace; back once all have exited."""
        for dyno in dynos:
            dyno.active = False
            if dyno.restart_timer is not None:
                dyno.restart_timer.cancel()
            if dyno.process is not None and dyno.process.poll() is None:
                self.log(dyno, "Stopping all processes with SIGTERM")
                dyno.signal(signal.SIGTERM)
        deadline = time.monotonic() + (self.scaled(STOP_GRACE) if grace is None else grace)
        for dyno in dynos:
            if not dyno.exited.wait(max(0.0, deadline - time.monotonic())):
                self.log(dyno, "Stopping all processes with SIGKILL")
                dyno.signal(signal.SIGKILL)
                dyno.exited.wait(5)

    # -- preboot --------------------------------------------------------------------------
    def _schedule_switch(self, app: dict) -> None:
        token = object()
        with self.lock:
            self._switches[app["id"]] = token
        switch_at = time.monotonic() + self.scaled(PREBOOT_SWITCH)
        threading.Thread(target=self._switch, args=(app, token, switch_at), daemon=True).start()

    def _switch(self, app: dict, token: object, switch_at: float) -> None:
        """At the switch, route to the new web dynos only; stop the old ones once their requests are answered."""
        with self.changed:
            while not self.closed and self._switches.get(app["id"]) is token:
                booting = any(d.type == "web" and d.state == "starting" for d in self.current.get(app["id"], []))
                remaining = switch_at - time.monotonic()
                if remaining <= 0 and not booting:
                    break
                self.changed.wait(max(min(remaining, 1.0), 0.05))
            else:
                return  # a newer release scheduled its own switch
            old = self.retiring.pop(app["id"], [])
            for dyno in old:
                dyno.active = False
            self.changed.notify_all()
            drain_until = time.monotonic() + self.scaled(STOP_GRACE)
            while any(d.in_flight for d in old) and time.monotonic() < drain_until:
                self.changed.wait(0.1)
        self._stop_all(old)

    # -- one dyno's process --------------------------------------------------------------
    def _spawn(self, dyno: FormationDyno) -> None:
        if self.closed:
            return
        dyno.exited.clear()
        threading.Thread(target=self._supervise, args=(dyno,), name=f"dyno-{dyno.app['name']}-{dyno.name}",
                         daemon=True).start()

    def _supervise(self, dyno: FormationDyno) -> None:
        """Run the dyno's process to its end: boot, output to the log, exit; a crash schedules the restart."""
        world = None
        try:
            app = self.state.find_app(dyno.app["id"])
            extra = {"PORT": str(dyno.port)} if dyno.port else {}
            world = DynoWorld.create(self.state, app, dyno.release["slug"]["id"], new_id(), dyno.name, dyno.command,
                                     dyno.release, extra)
            self.log(dyno, f"Starting process with command `{dyno.command}`")
            dyno.process = subprocess.Popen(world.argv, cwd=world.app_dir, env=world.env, stdin=subprocess.DEVNULL,
                                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
            if not dyno.active:
                dyno.signal(signal.SIGTERM)  # stopped while it was being started
        except Exception as error:  # noqa: BLE001 - the dyno crashes, the sandbox goes on
            self.log(dyno, f"Error R99 (Platform error) -> the dyno could not start: {error}")
            self._crashed(dyno)
            dyno.exited.set()
            if world is not None:
                world.remove()
            return
        relay = threading.Thread(target=self._relay, args=(dyno, dyno.process), daemon=True)
        relay.start()
        self._boot(dyno)
        status = dyno.process.wait()
        status = 128 - status if status < 0 else status  # killed by a signal: 143 for SIGTERM, as a shell says
        dyno.signal_group(signal.SIGKILL)  # what the command left running in the background ends with it
        relay.join(5)
        world.remove()
        self.log(dyno, f"Process exited with status {status}")
        self._crashed(dyno)
        dyno.exited.set()

    def _boot(self, dyno: FormationDyno) -> None:
        """``up`` once a web dyno binds ``PORT`` (other types at once); R10 and SIGKILL after the boot timeout."""
        process, deadline = dyno.process, time.monotonic() + BOOT_TIMEOUT
        while dyno.port and process.poll() is None and not listening(dyno.port):
            if time.monotonic() > deadline:
                self.log(dyno, f"Error R10 (Boot timeout) -> Web process failed to bind to $PORT within "
                               f"{BOOT_TIMEOUT:.0f} seconds of launch")
                self.log(dyno, "Stopping process with SIGKILL")
                dyno.signal(signal.SIGKILL)
                return
            time.sleep(BIND_POLL)
        if process.poll() is None and dyno.active:
            self._set_state(dyno, "up")

    def _relay(self, dyno: FormationDyno, process: subprocess.Popen) -> None:
        """The dyno's output, line by line, as ``app[web.1]`` lines of the app's log."""
        pending = b""
        while chunk := os.read(process.stdout.fileno(), 65536):
            *lines, pending = (pending + chunk).split(b"\n")
            for line in lines:
                self.log(dyno, line.decode(errors="replace"), "app")
        if pending:
            self.log(dyno, pending.decode(errors="replace"), "app")
        process.stdout.close()

    def _crashed(self, dyno: FormationDyno) -> None:
        """The process ended: a stopped dyno is done; an active one crashed and is restarted after its cool-off."""
        if not dyno.active or self.closed:
            return
        if dyno.up_since is not None and time.monotonic() - dyno.up_since > self.scaled(MAX_COOL_OFF):
            dyno.crashes = 0  # it ran long enough: this crash is a first one again
        dyno.crashes += 1
        dyno.up_since = None
        self._set_state(dyno, "crashed")
        timer = threading.Timer(self.scaled(cool_off(dyno.crashes)), self._restart_crashed, args=(dyno,))
        timer.daemon = True
        dyno.restart_timer = timer
        timer.start()

    def _restart_crashed(self, dyno: FormationDyno) -> None:
        with self.lock:
            if not dyno.active or self.closed:
                return
            self._set_state(dyno, "starting")
        self._spawn(dyno)

    # -- the end ------------------------------------------------------------------------------
    def shutdown(self) -> None:
        """The sandbox stops, and every formation dyno with it."""
        with self.changed:
            self.closed = True
            dynos = [d for group in (*self.current.values(), *self.retiring.values()) for d in group]
            self.changed.notify_all()
        self._stop_all(dynos, grace=SHUTDOWN_GRACE)
