"""The maintenance window: the page up only as long as the schema needs it, and nothing else stopped for longer.

Each switch is one ``PATCH /apps/{app}`` through the Platform API (no CLI
start-up inside the window), confirmed by the app's ``maintenance`` field in
Heroku's answer. Process types the settings name in
``maintenance_scale_down`` (workers, clocks: the page does not stop them) go
to 0 when the page goes up and come back when it comes down.

A push deploy's page goes up when the build is done, not before the push
(``maintenance_from: build``, the default): :class:`BuildWatcher` reads the
push's streamed output and opens the window at Heroku's ``Launching...``
line — compilation and compression finished, the release being created, its
release phase or new dynos still to boot — so the build, minutes on a real
app, is no longer downtime. A build that fails never turns the page on; a
page that comes up after the release was created is said plainly.
"""
from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from datetime import datetime

from ..output import Console
from ..session import Session
from .journal import Journal
from .plan import DeployPlan

#: Heroku's build output as it creates the release (``remote: -----> Launching...``): compilation and
#: compression are done; the new code starts only after this (a release phase, or new dynos, still boot).
_BUILD_DONE = re.compile(r"^(?:remote:\s*)?-+>\s*Launching\.\.\.")


class Window:
    """Maintenance on and off for one deploy, recorded in its journal; safe to call from two threads."""

    def __init__(self, plan: DeployPlan, journal: Journal, session: Session, console: Console):
        self.plan, self.journal, self.session, self.console = plan, journal, session, console
        self.app = plan.env.app_name
        self._lock = threading.Lock()

    @property
    def wanted(self) -> bool:
        return self.plan.maintenance and not self.plan.already_maintenance

    def on(self) -> None:
        """The page up (once), and the named process types scaled to 0."""
        with self._lock:
            if not self.wanted or self.journal.maintenance_since is not None:
                return
            self.journal.begin(f"maintenance on for {self.app}", self.console.say)
            self.session.api.maintenance_on(self.app)
            self.journal.maintenance_since = time.monotonic()
            self.journal.maintenance_on_at = time.time()
            if self.plan.scale_down:
                self.journal.begin(f"scaling {', '.join(self.plan.scale_down)} to 0 for the window", self.console.say)
                self.session.api.scale(self.app, dict.fromkeys(self.plan.scale_down, 0))
                self.journal.scaled_down = dict(self.plan.scale_down)

    def off(self) -> None:
        """The page down, and the scaled process types back (both only if this deploy changed them)."""
        with self._lock:
            if self.journal.maintenance_since is not None:
                self.journal.begin(f"maintenance off for {self.app}", self.console.say)
                self.session.api.maintenance_off(self.app)
                self.journal.maintenance_seconds = time.monotonic() - self.journal.maintenance_since
                self.journal.maintenance_since = None
            restore_scale(self.journal, self.session, self.console.say)


def restore_scale(journal: Journal, session: Session, say: Callable[[str], None]) -> None:
    """Put back the process types the window scaled to 0."""
    if journal.scaled_down:
        app = journal.plan.env.app_name
        journal.begin(f"scaling {', '.join(journal.scaled_down)} back up", say)
        session.api.scale(app, journal.scaled_down)
        journal.scaled_down = None


class Beside:
    """One switch of the window, made on a thread beside the output that triggered it, at most once.

    The switch must not hold up the output it reacts to (a push's build log,
    a dyno's step markers); :meth:`join` waits for it and raises what it raised.
    """

    def __init__(self, switch: Callable[[], None], name: str):
        self.switch, self.name = switch, name
        self.thread: threading.Thread | None = None
        self.error: BaseException | None = None

    @property
    def started(self) -> bool:
        return self.thread is not None

    def start(self) -> None:
        if self.thread is None:
            self.thread = threading.Thread(target=self._run, name=self.name, daemon=True)
            self.thread.start()

    def _run(self) -> None:
        try:
            self.switch()
        except BaseException as error:  # noqa: BLE001 - re-raised in join()
            self.error = error

    def join(self) -> None:
        if self.thread is not None:
            self.thread.join()
        if self.error is not None:
            error, self.error = self.error, None
            raise error


class BuildWatcher:
    """Passes a push's output on, and opens the window as soon as the build says compilation is done."""

    def __init__(self, window: Window, show: Callable[[str], None]):
        self.window, self.show = window, show
        self.opening = Beside(window.on, "maintenance-on")

    def __call__(self, line: str) -> None:
        self.show(line)
        if not self.opening.started and _BUILD_DONE.match(line.strip()):
            self.opening.start()

    def finish(self) -> None:
        """After the push: the window is open (late, if the build never said so), or the error that kept it shut."""
        self.opening.join()
        if self.window.wanted and self.window.journal.maintenance_since is None:
            self.window.on()


def late_by(journal: Journal) -> float | None:
    """Seconds the page came up after the new release was created (None: in time, or not known).

    One second of slack: Heroku's ``created_at`` has whole seconds.
    """
    release = journal.new_release
    if release is None or journal.maintenance_on_at is None or not release.created_at:
        return None
    try:
        created = datetime.fromisoformat(release.created_at.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None
    late = journal.maintenance_on_at - created
    return late if late > 1.0 else None
