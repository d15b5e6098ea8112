"""The engine's side in a one-off dyno: read the parameters from stdin, restore or emit, report in frames.

Started by :data:`heroku_tools.anonymise.zipapp.BOOTSTRAP` (which has read the
engine itself from stdin) with the rest of stdin: one JSON line of parameters
(``mode``, ``rules``, ``secret``, ``canary``, ``url``, ``database``,
``version``). Two modes:

``load``
    :func:`~heroku_tools.anonymise.restore.restore` from the backup's signed
    URL into this dyno's own ``DATABASE_URL`` — the target app's database —
    with the guarantees it has everywhere: one transaction, verification, the
    canary, a commit confirmed by the server. Only progress and the verdict
    leave the dyno.
``emit``
    pg_restore → :class:`~heroku_tools.anonymise.stream.AnonymisingStream` →
    ``data`` frames on stdout: the script (BEGIN, the wipe, the anonymised
    data, the verification) for the other side to load into a database there
    (:func:`heroku_tools.anonymise.remote.restore_from_dyno`). The stream
    leaves out ``COMMIT``: the other side adds it once the ``end`` frame has
    shown that every byte arrived, so a stream cut anywhere commits nothing.

Every line written is a frame (:mod:`.frames`); the verdict is always the last
one, and the exit status is 0 only with a successful verdict. SIGTERM (``heroku
ps:stop``) and SIGHUP (the CLI hung up) stop the pipeline as Ctrl-C does a
local restore: psql is terminated before anything could commit.
"""
from __future__ import annotations

import dataclasses
import json
import os
import signal
import sys
import threading
import time

from .._version import __version__
from ..database import identity
from ..errors import HerokuToolsError
from .errors import AnonymiseError, RestoreFailed, SchemaMismatch
from .frames import Encoder, frame
from .restore import Pipeline, RestoreResult, Ticker, check_dump, restore, restore_flags, run_pipeline
from .rules import Rules
from .sources import open_dump_source
from .stream import AnonymisingStream

MODES = ("load", "emit")


class Stopped(KeyboardInterrupt):
    """SIGTERM or SIGHUP: the dyno is being stopped, or its CLI went away."""


class Output:
    """Frames to stdout, whole lines, one writer at a time."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stdout.buffer
        self.lock = threading.Lock()

    def write(self, line: bytes) -> None:
        with self.lock:
            try:
                self.stream.write(line)
                self.stream.flush()
            except (BrokenPipeError, ValueError, OSError):
                raise Stopped("the connection to the dyno is gone") from None

    def send(self, kind: str, payload) -> None:
        self.write(frame(kind, payload))


def _stop(signum, _frame):
    raise Stopped(signal.Signals(signum).name)


def main(stdin=None, version: str | None = None) -> None:
    """Run one restore as the parameters on ``stdin`` say; exit 0 only on success."""
    stdin = stdin if stdin is not None else sys.stdin.buffer
    out = Output()
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _stop)
    try:
        verdict = {"ok": True, "result": dataclasses.asdict(_run(stdin, out, version))}
    except Stopped as stop:
        verdict = {"ok": False, "error": "Interrupted", "message": f"the engine was stopped ({stop})"}
    except KeyboardInterrupt:
        verdict = {"ok": False, "error": "Interrupted", "message": "the engine was interrupted"}
    except AnonymiseError as error:
        verdict = {"ok": False, "error": type(error).__name__, "message": error.message}
        if isinstance(error, SchemaMismatch):
            verdict["problems"] = [[p.table, p.column, p.message, p.kind] for p in error.problems]
    except HerokuToolsError as error:
        verdict = {"ok": False, "error": "RestoreFailed", "message": error.message}
    except Exception as error:  # noqa: BLE001 - reported as the verdict: the other side must learn why
        verdict = {"ok": False, "error": "RestoreFailed", "message": f"the engine failed: {type(error).__name__}: {error}"}
    try:
        out.send("verdict", verdict)
    except Stopped:
        pass
    sys.exit(0 if verdict["ok"] else 1)


def _run(stdin, out: Output, version: str | None) -> RestoreResult:
    """Read the parameters, check them, and carry out the mode."""
    params = json.loads(stdin.readline() or b"{}")
    mode = params.get("mode")
    if mode not in MODES:
        raise RestoreFailed(f"unknown mode {mode!r} (expected {' or '.join(MODES)})")
    if params.get("version") not in (None, __version__) or (version and version != __version__):
        raise RestoreFailed(f"the engine is version {__version__}, the tool that sent it {params.get('version')}")
    rules = Rules.from_mapping(params["rules"], source="the rules sent to the dyno")
    url = params["url"]
    database = os.environ.get("DATABASE_URL") if mode == "load" else None
    if mode == "load":
        if not database:
            raise RestoreFailed("this dyno has no DATABASE_URL: the app has no database to load into")
        if params.get("database") and identity(database) != params["database"]:
            raise RestoreFailed("this dyno's DATABASE_URL is not the database the plan checked: nothing was changed")
    out.send("hello", {"version": __version__, "mode": mode, "python": sys.version.split()[0],
                       "database": identity(database) if database else None})
    progress = _progress(out)
    if mode == "load":
        return restore(url, database, rules, secret=params["secret"], canary=params.get("canary"),
                       progress=progress)
    return _emit(url, rules, params, out, progress)


def _progress(out: Output):
    def send(progress) -> None:
        out.send("progress", dataclasses.asdict(progress))
    return send


class _Emitter(Pipeline):
    """The producer half of a restore, its script sent as ``data`` frames instead of into psql."""

    def __init__(self, source, out: Output):
        super().__init__(source, psql="", target_env={}, buffer_bytes=0)
        self.out = out
        self.encoder = Encoder()

    def send(self, pieces) -> None:
        data = b"".join(pieces)
        if data:
            self.out.write(self.encoder.encode(data))

    def commit(self) -> None:
        """The script is whole: say how long it is and its digest (the other side adds the COMMIT)."""
        self.out.write(self.encoder.end())


def _emit(url: str, rules: Rules, params: dict, out: Output, progress) -> RestoreResult:
    started = time.monotonic()
    canary = params.get("canary")
    AnonymisingStream.check_canary(canary)
    env = {key: value for key, value in os.environ.items() if not key.startswith("PG")}
    early = check_dump(url, rules, env=env).early_statements()
    stream = AnonymisingStream(rules, params["secret"], canary=canary, early=early, commit=False)
    pipeline = _Emitter(open_dump_source(url), out)
    run_pipeline(pipeline, stream, ["pg_restore", *restore_flags("pg_restore", env), "-f", "-"], env=env,
                 ticker=Ticker(progress, started))
    stats = stream.stats
    return RestoreResult(tables=stats.tables, rows_in=stats.rows_in, rows_out=stats.rows_out,
                         sql_bytes=stats.bytes_in, dump_bytes=pipeline.source.bytes_read,
                         seconds=time.monotonic() - started, per_table=dict(stats.per_table), committed=False,
                         where="dyno", bytes_sent=pipeline.encoder.length)
