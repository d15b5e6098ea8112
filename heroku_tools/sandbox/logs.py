"""Each app's log, as Logplex keeps it, and the log sessions ``heroku logs`` reads it through.

Lines are what Heroku's log shows: ``2024-05-12T10:00:00.123456+00:00
app[run.1234]: text``. The sandbox writes

* ``app[api]``: releases (``Deploy 1a2b3c4 by user …``, ``Release v5 created
  by user …``, ``Release v5 command failed by user …``) and builds (``Build
  started by user …``, ``Build succeeded``, ``Build failed -- check your build
  output: …``), as Heroku's API does;
* ``heroku[release.1234]``/``heroku[run.1234]``: dyno life (``Starting process
  with command …``, ``State changed from starting to up``, ``Process exited
  with status 0``);
* ``app[release.1234]``, ``app[run.1234]``: what the release phase and
  detached dynos print (an attached ``heroku run`` sends its output to the
  terminal only, on Heroku as here);
* ``heroku[build]``: the build's output — a sandbox addition, since on Heroku
  that only goes to the build's ``output_stream_url``.

``heroku logs`` creates a session (``POST /apps/{app}/log-sessions`` with
``lines``, ``dyno``, ``source``, ``tail``) and reads its ``logplex_url`` as
server-sent events: the last ``lines`` matching lines, then, with ``tail``, new
ones as they are written until the client goes away.
"""
from __future__ import annotations

import datetime
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

#: Logplex keeps 1,500 lines per app; ``heroku logs`` asks for 100 unless told.
MAX_LINES = 1500
#: Seconds between keep-alive comments on a tailed stream: how soon a gone client is noticed.
KEEPALIVE = 1.0
#: How long a log session's URL stays valid (Heroku's expire too; the CLI then says "Log stream timed out").
SESSION_TTL = 3600.0


def timestamp() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="microseconds")


@dataclass(frozen=True)
class Entry:
    time: str
    source: str  # app or heroku
    dyno: str  # api, build, release.1234, run.1234, web.1, router
    message: str

    def render(self) -> str:
        return f"{self.time} {self.source}[{self.dyno}]: {self.message}"


@dataclass(frozen=True)
class Filter:
    """What a log session shows: ``dyno`` (``web.1``, or a type: ``web``) and ``source`` (``app``, ``heroku``)."""

    dyno: str | None = None
    source: str | None = None

    def __call__(self, entry: Entry) -> bool:
        if self.source and entry.source != self.source:
            return False
        return not self.dyno or entry.dyno == self.dyno or entry.dyno.split(".")[0] == self.dyno


class LogStore:
    """Append-only logs, one JSON-lines file per app, shared by every thread of the server."""

    def __init__(self, directory: Path):
        self.directory = Path(directory)
        self._lock = threading.Lock()
        self._written = threading.Condition(self._lock)

    def path(self, app_id: str) -> Path:
        return self.directory / f"{app_id}.jsonl"

    def emit(self, app_id: str, source: str, dyno: str, message: str) -> None:
        """Append one line per non-blank line of ``message`` to the app's log (Logplex drops empty messages)."""
        lines = [line.rstrip() for line in message.splitlines() if line.strip()]
        if not lines:
            return
        with self._written:
            self.directory.mkdir(parents=True, exist_ok=True)
            with self.path(app_id).open("a") as fh:
                for line in lines:
                    fh.write(json.dumps([timestamp(), source, dyno, line]) + "\n")
            self._written.notify_all()

    def entries(self, app_id: str, offset: int = 0) -> tuple[list[Entry], int]:
        """Entries written from byte ``offset`` on, and the offset after them."""
        path = self.path(app_id)
        if not path.exists():
            return [], offset
        with path.open("rb") as fh:
            fh.seek(offset)
            data = fh.read()
        complete = data[: data.rfind(b"\n") + 1]
        return [Entry(*json.loads(line)) for line in complete.splitlines() if line.strip()], offset + len(complete)

    def recent(self, app_id: str, wanted: Filter, lines: int) -> tuple[list[Entry], int]:
        """The last ``lines`` entries that ``wanted`` keeps, and the offset to follow from."""
        entries, offset = self.entries(app_id)
        kept = [e for e in entries if wanted(e)][-min(max(lines, 0), MAX_LINES):] if lines else []
        return kept, offset

    def follow(self, app_id: str, wanted: Filter, offset: int, alive: Callable[[], bool]) -> Iterator[Entry | None]:
        """New entries as they are written; ``None`` every :data:`KEEPALIVE` seconds of quiet, while ``alive()``."""
        while alive():
            with self._written:
                self._written.wait(KEEPALIVE)
            entries, offset = self.entries(app_id, offset)
            kept = [e for e in entries if wanted(e)]
            yield from kept
            if not kept:
                yield None


def event(entry: Entry) -> bytes:
    """One log line as a server-sent event, the way ``heroku logs`` reads Logplex."""
    return f"data: {entry.render()}\n\n".encode()


@dataclass
class Session:
    """A ``POST /apps/{app}/log-sessions`` request, valid for :data:`SESSION_TTL` seconds."""

    app_id: str
    wanted: Filter
    lines: int
    tail: bool
    created: float

    def expired(self) -> bool:
        return time.monotonic() - self.created > SESSION_TTL
