"""This side of a restore that runs in a one-off dyno: send the engine, follow its frames, turn them into a result.

:func:`restore_in_dyno` (load mode) runs the whole restore in a dyno of the
target app, into that app's own ``DATABASE_URL``: the backup goes from its
signed URL to the dyno, and only the engine (about 90 kB), the parameters,
progress and the verdict cross this machine. The verdict becomes what a local
:func:`~heroku_tools.anonymise.restore.restore` would have returned or raised
(:class:`RestoreResult`, or :class:`SchemaMismatch`, :class:`VerificationFailed`,
:class:`CanaryFound`, :class:`RestoreFailed`, ...).

:func:`restore_from_dyno` (emit mode) anonymises in a dyno and loads the
script it streams back into a database reachable from here (a developer's
own): raw data never reaches this machine, only the anonymised rows. The
script arrives without ``COMMIT``; it is added here only once the dyno's
``end`` frame has shown that every byte arrived (length and SHA-256) and its
verdict is a success, and the server must then confirm the commit
(``txid_status``), as in :meth:`Pipeline.commit`. A stream cut anywhere — the
dyno killed, the connection dropped, Ctrl-C — ends psql's input without
``COMMIT``: the transaction rolls back.

Ctrl-C stops the dyno (``heroku ps:stop``, see :meth:`Heroku.run`); the
KeyboardInterrupt is raised again once everything here has stopped. Both
functions count the bytes that crossed this machine (the engine and the
parameters sent, every line received) into the result.
"""
from __future__ import annotations

import json
from collections.abc import Callable

from ..database import identity, libpq_env
from ..errors import HerokuToolsError
from ..heroku import Heroku
from ..runner import first_error_line
from .errors import (
    AnonymiseError, CanaryFound, Problem, RestoreFailed, RulesError, SchemaMismatch, UnsafeDump, VerificationFailed,
)
from .frames import Decoder, parse
from .restore import QUEUE_BYTES, Pipeline, Progress, RestoreResult
from .rules import Rules
from .transaction import COMMIT_SQL
from .zipapp import BOOTSTRAP, build

#: The errors a verdict may name, each raised here as itself.
ERRORS = {cls.__name__: cls for cls in (AnonymiseError, CanaryFound, RestoreFailed, RulesError, SchemaMismatch,
                                        UnsafeDump, VerificationFailed)}
#: Lines of the dyno's output that are not frames, kept for the message when it fails without a verdict.
STRAY_KEPT = 20


class EngineNotStarted(RestoreFailed):
    """The engine never said hello: the dyno did not start, or its Python could not run the engine."""


class _Frames:
    """The consumer of the CLI's output lines: frames dispatched, everything else kept aside, bytes counted."""

    def __init__(self, progress: Callable[[Progress], None] | None, loader: _Loader | None = None):
        self.progress, self.loader = progress, loader
        self.received = 0
        self.hello: dict | None = None
        self.verdict: dict | None = None
        self.committing = False
        self.stray: list[str] = []
        self.failure: BaseException | None = None

    def __call__(self, line: str) -> bool | None:
        self.received += len(line.encode("utf-8", "replace")) + 1
        if self.failure is not None:
            return True
        try:
            self._take(line)
        except Exception as error:  # noqa: BLE001 - runs in the runner's reader thread: kept, raised by the caller
            self.failure = error
            return True  # hang up: the dyno is stopped with its connection
        return None

    def _take(self, line: str) -> None:
        parsed = parse(line)
        if parsed is None:
            if line.strip():
                self.stray = [*self.stray[-(STRAY_KEPT - 1):], line.strip()]
            return
        kind, payload = parsed
        if kind == "data":
            if self.loader is None:
                raise RestoreFailed("the dyno sent data where only progress was expected")
            self.loader.data(payload)
            return
        value = json.loads(payload)
        if kind == "hello":
            self.hello = value
        elif kind == "progress":
            self.committing = self.committing or value.get("phase") == "committing"
            if self.progress is not None:
                self.progress(Progress(**value))
        elif kind == "end":
            if self.loader is None:
                raise RestoreFailed("the dyno sent the end of a script where none was expected")
            self.loader.end = value
        elif kind == "verdict":
            self.verdict = value

    def unexplained(self) -> str:
        """What the dyno printed that was not a frame, for a message (the CLI's own progress line left out)."""
        lines = [line for line in self.stray if not line.startswith("Running ")]
        return first_error_line("\n".join(lines)) if lines else ""


class _Loader:
    """psql on this machine, fed with the script the dyno emits; it commits only a script that arrived whole."""

    def __init__(self, target_url: str, psql: str):
        self.pipeline = Pipeline(None, psql=psql, buffer_bytes=QUEUE_BYTES,
                                 target_env=libpq_env(target_url, application="heroku-tools-restore"))
        self.decoder = Decoder()
        self.end: dict | None = None

    def data(self, payload: str) -> None:
        if self.end is not None:
            raise RestoreFailed("the dyno sent data after the end of its script")
        self.pipeline.send([self.decoder.decode(payload)])

    def commit(self) -> None:
        if self.end is None or self.pipeline.consumer is None:
            raise RestoreFailed("the script from the dyno ended before its end: nothing was committed")
        if not self.decoder.matches(self.end):
            raise RestoreFailed(f"the script from the dyno arrived damaged ({self.decoder.length:,} bytes where it "
                                f"sent {self.end.get('bytes', 0):,}): nothing was committed")
        self.pipeline.send([COMMIT_SQL.encode()])
        self.pipeline.commit()

    def abort(self) -> None:
        self.pipeline.abort()


def params(mode: str, *, backup_url: str, rules: Rules, secret: str, canary: str | None,
           database: str | None = None) -> dict:
    """The parameters line: everything the engine needs, sent over the dyno's stdin only."""
    return {"mode": mode, "version": build().version, "rules": rules.to_mapping(), "secret": secret,
            "canary": canary, "url": backup_url, "database": database}


def _run(heroku: Heroku, app: str, parameters: dict, frames: _Frames) -> int:
    """Run the engine in a dyno of ``app``; the bytes sent. Frames land in ``frames``; a failure with no verdict
    raises :class:`RestoreFailed` (a consumer's failure first: it is why the dyno was hung up on)."""
    payload = build().payload(parameters)
    try:
        heroku.run(app, BOOTSTRAP, check=False, stream=frames, input=payload, keep_output=False)
    except HerokuToolsError as error:
        if frames.failure is not None:
            raise _as_error(frames.failure) from None
        if frames.verdict is None:
            raise _lost(app, frames, error.message) from None
    if frames.failure is not None:
        raise _as_error(frames.failure)
    if frames.verdict is None:
        raise _lost(app, frames, frames.unexplained() or "its output ended without one")
    if frames.hello is not None and frames.hello.get("version") != build().version:
        raise RestoreFailed(f"the dyno ran engine {frames.hello.get('version')}, not {build().version}")
    return len(payload)


def _lost(app: str, frames: _Frames, why: str) -> RestoreFailed:
    """The error for a dyno that ended without a verdict: when it stopped tells what became of the target."""
    if frames.hello is None:
        return EngineNotStarted(f"the engine did not start in a one-off dyno of {app} ({why}); nothing was changed")
    if frames.committing:
        return RestoreFailed(f"the one-off dyno on {app} stopped reporting while it was committing ({why}): the "
                             "target may or may not hold the new data; check it before running the restore again")
    return RestoreFailed(f"the one-off dyno on {app} ended before its verdict ({why}); nothing was committed")


def _as_error(error: BaseException) -> BaseException:
    if isinstance(error, AnonymiseError):
        return error
    return RestoreFailed(f"reading the dyno's output failed: {type(error).__name__}: {error}; nothing was committed")


def _raise_verdict(verdict: dict) -> None:
    """A failed verdict as the exception a local restore raises (a KeyboardInterrupt if the dyno was stopped)."""
    if verdict.get("ok"):
        return
    name, message = verdict.get("error", "RestoreFailed"), verdict.get("message", "the engine failed")
    if name == "Interrupted":
        raise RestoreFailed(f"{message}; nothing was committed")
    if name == "SchemaMismatch":
        error = SchemaMismatch([Problem(*problem) for problem in verdict.get("problems", [])])
        error.message, error.args = message, (message,)
        raise error
    raise ERRORS.get(name, RestoreFailed)(message)


def _result(verdict: dict, app: str, sent: int, received: int) -> RestoreResult:
    fields = dict(verdict["result"])
    fields.update(where=f"dyno {app}", bytes_sent=sent, bytes_received=received)
    return RestoreResult(**fields)


def restore_in_dyno(heroku: Heroku, app: str, *, backup_url: str, rules: Rules, secret: str,
                    canary: str | None = None, database_url: str | None = None,
                    progress: Callable[[Progress], None] | None = None) -> RestoreResult:
    """The anonymised restore of ``backup_url`` into ``app``'s database, run in a one-off dyno of ``app``.

    ``database_url`` (the URL the plan checked) must be the dyno's own ``DATABASE_URL``: the engine refuses
    another. Raises what :func:`~heroku_tools.anonymise.restore.restore` raises; nothing committed then.
    """
    frames = _Frames(progress)
    parameters = params("load", backup_url=backup_url, rules=rules, secret=secret, canary=canary,
                        database=identity(database_url) if database_url else None)
    sent = _run(heroku, app, parameters, frames)
    _raise_verdict(frames.verdict)
    return _result(frames.verdict, app, sent, frames.received)


def restore_from_dyno(heroku: Heroku, app: str, target_url: str, *, backup_url: str, rules: Rules, secret: str,
                      canary: str | None = None, progress: Callable[[Progress], None] | None = None,
                      psql: str = "psql") -> RestoreResult:
    """Anonymise ``backup_url`` in a one-off dyno of ``app`` and load the result into ``target_url`` from here.

    All or nothing, as a local restore: the COMMIT is sent only when the whole script arrived and the dyno's
    verdict is a success. Raises what :func:`~heroku_tools.anonymise.restore.restore` raises.
    """
    loader = _Loader(target_url, psql)
    frames = _Frames(progress, loader)
    parameters = params("emit", backup_url=backup_url, rules=rules, secret=secret, canary=canary)
    try:
        sent = _run(heroku, app, parameters, frames)
        _raise_verdict(frames.verdict)
        loader.commit()
    except BaseException:
        loader.abort()
        raise
    result = _result(frames.verdict, app, sent, frames.received)
    result.committed = True
    return result
