"""Restore a dump into a target database, anonymised on the way, all or nothing.

::

    pg_restore --no-owner --no-privileges ... -f - DUMP      (DUMP: a file, or stdin fed from a URL)
      │  SQL text, real pipe
      ▼
    AnonymisingStream (this process)  — rules, fakes, canary scan, verification, COMMIT last
      │  real pipe
      ▼
    psql -X -q -v ON_ERROR_STOP=1 --no-password    (connection from PG* environment variables)

:func:`restore` first reads the dump's table of contents (``pg_restore
--schema-only``) and checks it against the rules (deny by default, unique
columns, types): on any gap it raises before a connection to the target is
opened.  The stream then checks again against the DDL and every COPY header it
actually meets.

The target is changed only by the one transaction the stream opens with
``BEGIN``: it drops and re-creates the ``public`` schema (and every schema the
dump creates), loads the anonymised dump, runs the verification queries and
sends ``COMMIT`` last.  Every way this can stop early — a truncated or failed
download, pg_restore failing or being killed, an unknown column, a failed
verification, the canary, psql or its connection dying, Ctrl-C
(KeyboardInterrupt), this process being killed — ends the stream before
``COMMIT``; psql is then terminated or sees end of input, and PostgreSQL rolls
the transaction back: the target is exactly as it was.  Success is reported
only when the server confirms (``txid_status``) that the transaction committed.

The raw dump is never written to disk by this module: a URL is streamed from
the HTTP response straight into pg_restore's stdin.  Passwords never appear on
a command line: the target URL is turned into ``PGHOST``/``PGPASSWORD``/...
environment variables for psql.

While the restore runs, the wipe holds ACCESS EXCLUSIVE locks on the target's
tables: the target's app waits (or should be in maintenance mode) until COMMIT.
"""
from __future__ import annotations

import collections
import fcntl
import os
import re
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from ..heroku_api import ssl_context

from .check import check
from .errors import AnonymiseError, CanaryFound, RestoreFailed, VerificationFailed
from .rules import Rules
from .schema import PG_RESTORE_SAFE_FLAGS, read_dump_schema
from .stream import CANARY_MARK, STATUS_MARK, VERIFY_MARK, AnonymisingStream

CHUNK = 1 << 20
_F_SETPIPE_SZ = 1031  # Linux


@dataclass
class RestoreResult:
    tables: int               #: COPY blocks (tables with data in the dump)
    rows_in: int              #: rows read from the dump
    rows_out: int             #: rows loaded (truncated tables excluded)
    sql_bytes: int            #: SQL text read from pg_restore
    dump_bytes: int           #: bytes of the dump archive read (file size, or bytes downloaded)
    seconds: float
    per_table: dict = field(default_factory=dict)   #: table -> rows loaded
    committed: bool = True

    @property
    def rows_per_second(self) -> float:
        return self.rows_in / self.seconds if self.seconds else 0.0

    @property
    def megabytes_per_second(self) -> float:
        return self.sql_bytes / 1e6 / self.seconds if self.seconds else 0.0


# -- connection ---------------------------------------------------------------------------
_QUERY_ENV = {
    "host": "PGHOST", "hostaddr": "PGHOSTADDR", "port": "PGPORT", "user": "PGUSER", "password": "PGPASSWORD",
    "dbname": "PGDATABASE", "sslmode": "PGSSLMODE", "sslrootcert": "PGSSLROOTCERT", "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY", "application_name": "PGAPPNAME", "connect_timeout": "PGCONNECT_TIMEOUT",
    "options": "PGOPTIONS", "target_session_attrs": "PGTARGETSESSIONATTRS", "channel_binding": "PGCHANNELBINDING",
    "gssencmode": "PGGSSENCMODE",
}


def libpq_env(url: str, base: dict | None = None) -> dict:
    """Environment for psql/pg_restore connecting to ``url`` (postgres[ql]://...), password kept off argv."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("postgres", "postgresql"):
        raise AnonymiseError("the target must be a postgres:// or postgresql:// URL")
    env = {k: v for k, v in (os.environ if base is None else base).items()
           if not (k.startswith("PG") and k not in ("PGSSLROOTCERT",))}
    if parts.hostname:
        env["PGHOST"] = urllib.parse.unquote(parts.hostname)
    if parts.port:
        env["PGPORT"] = str(parts.port)
    if parts.username:
        env["PGUSER"] = urllib.parse.unquote(parts.username)
    if parts.password:
        env["PGPASSWORD"] = urllib.parse.unquote(parts.password)
    dbname = urllib.parse.unquote(parts.path.lstrip("/"))
    if dbname:
        env["PGDATABASE"] = dbname
    for key, values in urllib.parse.parse_qs(parts.query, keep_blank_values=True).items():
        if key not in _QUERY_ENV:
            raise AnonymiseError(f"the target URL has an unsupported parameter {key!r}")
        env[_QUERY_ENV[key]] = values[-1]
    env.setdefault("PGAPPNAME", "heroku-tools-restore")
    return env


# -- dump sources -------------------------------------------------------------------------
class _Pump(threading.Thread):
    """Copy an HTTP response into a process's stdin; note errors and whether it reached the end."""

    def __init__(self, response, sink, expected: int | None):
        super().__init__(daemon=True, name="dump-download")
        self.response, self.sink, self.expected = response, sink, expected
        self.bytes = 0
        self.error: BaseException | None = None
        self.complete = False
        self.stopping = False

    def run(self):
        try:
            while not self.stopping:
                data = self.response.read(CHUNK)
                if not data:
                    break
                self.bytes += len(data)
                self.sink.write(data)
            else:
                return
            if self.expected is not None and self.bytes != self.expected:
                raise RestoreFailed(f"the download ended after {self.bytes} of {self.expected} bytes")
            self.complete = True
        except BrokenPipeError:
            pass  # the reader stopped (pg_restore exited); its exit status tells why
        except BaseException as exc:  # noqa: BLE001 - reported by check()
            self.error = exc
        finally:
            try:
                self.sink.close()
            except OSError:
                pass


class _FileSource:
    def __init__(self, path: Path):
        if not path.is_file():
            raise RestoreFailed(f"the dump {path} does not exist")
        self.path = path
        self.size = path.stat().st_size
        self.stdin = subprocess.DEVNULL

    @property
    def args(self) -> list[str]:
        return [str(self.path)]

    def start(self, proc) -> None:
        pass

    def run_to_completion(self, argv, env=None) -> subprocess.CompletedProcess:
        return subprocess.run([*argv, str(self.path)], capture_output=True, stdin=subprocess.DEVNULL, env=env)

    def check(self) -> None:
        pass

    @property
    def bytes_read(self) -> int:
        return self.size

    def close(self) -> None:
        pass


class _UrlSource:
    def __init__(self, url: str):
        self.url = url
        self.stdin = subprocess.PIPE
        self.args: list[str] = []
        self.pump: _Pump | None = None
        self.response = None

    def _open(self):
        try:
            self.response = urllib.request.urlopen(self.url, timeout=60, context=ssl_context())
        except Exception as exc:  # noqa: BLE001
            raise RestoreFailed(f"cannot download the dump: {_redact(str(exc))}") from None
        length = self.response.headers.get("Content-Length")
        return int(length) if length and length.isdigit() else None

    def start(self, proc) -> None:
        expected = self._open()
        self.pump = _Pump(self.response, proc.stdin, expected)
        self.pump.start()

    def run_to_completion(self, argv, env=None) -> subprocess.CompletedProcess:
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        try:
            self.start(proc)
            out, err = _Collector(proc.stdout), _Collector(proc.stderr)
            rc = proc.wait()
            return subprocess.CompletedProcess(argv, rc, out.result(), err.result())
        finally:
            self.close()
            if proc.poll() is None:
                proc.kill()
                proc.wait()

    def check(self) -> None:
        if self.pump is None:
            return
        self.pump.join()
        if self.pump.error is not None:
            err = self.pump.error
            if isinstance(err, AnonymiseError):
                raise err
            raise RestoreFailed(f"the download of the dump failed: {_redact(str(err))}")
        if not self.pump.complete:
            raise RestoreFailed("the download of the dump did not complete")

    @property
    def bytes_read(self) -> int:
        return self.pump.bytes if self.pump else 0

    def close(self) -> None:
        if self.pump is not None:
            self.pump.stopping = True
        if self.response is not None:
            try:
                self.response.close()
            except Exception:  # noqa: BLE001
                pass
        if self.pump is not None:
            self.pump.join(5)


def _redact(text: str) -> str:
    """Drop query strings (presigned URL signatures) from messages."""
    return re.sub(r"\?[^\s'\"]*", "?…", text)


def _open_dump_source(dump):
    text = os.fspath(dump)
    if text.startswith(("http://", "https://")):
        return _UrlSource(text)
    return _FileSource(Path(text))


class _Collector(threading.Thread):
    """Read a pipe to the end in the background (bounded: keeps the last ``limit`` bytes)."""

    def __init__(self, pipe, limit: int = 1 << 20):
        super().__init__(daemon=True)
        self.pipe, self.limit = pipe, limit
        self.chunks: list[bytes] = []
        self.size = 0
        self.start()

    def run(self):
        try:
            while True:
                data = self.pipe.read1(65536) if hasattr(self.pipe, "read1") else self.pipe.read(65536)
                if not data:
                    break
                self.chunks.append(data)
                self.size += len(data)
                while self.size > self.limit and len(self.chunks) > 1:
                    self.size -= len(self.chunks.pop(0))
        except (OSError, ValueError):
            pass

    def result(self, timeout: float | None = 10) -> bytes:
        self.join(timeout)
        return b"".join(self.chunks)

    def text(self, timeout: float | None = 10) -> str:
        return self.result(timeout).decode("utf-8", "replace")


def _set_pipe_size(fileobj, size: int = CHUNK) -> None:
    try:
        fcntl.fcntl(fileobj.fileno(), _F_SETPIPE_SZ, size)
    except (OSError, ValueError, AttributeError):
        pass


# -- the restore ----------------------------------------------------------------------------
def restore(dump, target_url: str, rules, *, secret: bytes | str, canary: str | None = None,
            precheck: bool = True, wipe: bool = True, verify: bool = True,
            pg_restore: str = "pg_restore", psql: str = "psql", env: dict | None = None,
            chunk_size: int = CHUNK, early_indexes: bool = True, buffer_bytes: int = 256 << 20,
            stream_factory=None, schema=None) -> RestoreResult:
    """Load ``dump`` (a ``pg_dump -Fc`` file path or an http(s) URL) into ``target_url``, anonymised.

    ``rules`` is a :class:`Rules` or its mapping; ``secret`` keys the fakes;
    ``canary`` (optional) is a value planted in the source that must not reach
    the target.  Raises :class:`SchemaMismatch` (rules vs schema, before any
    data moves), :class:`UnsafeDump`, :class:`VerificationFailed` /
    :class:`CanaryFound`, :class:`RestoreFailed`, or re-raises
    KeyboardInterrupt; in every case nothing was committed.  ``schema``, the
    dump's schema when the caller has read it already, saves reading it again
    (for a URL, a second download of most of the dump).
    """
    started = time.monotonic()
    rules = rules if isinstance(rules, Rules) else Rules.from_mapping(rules)
    make_stream = stream_factory or AnonymisingStream
    AnonymisingStream.check_canary(canary)
    base_env = dict(os.environ if env is None else env)
    tool_env = {k: v for k, v in base_env.items() if not k.startswith("PG")}
    target_env = libpq_env(target_url, base_env)

    early = None
    if precheck:
        if schema is None:
            schema = read_dump_schema(dump, pg_restore=pg_restore, env=tool_env)
        check(rules, schema, context="the dump")
        if early_indexes:
            early = schema.index_statements
    stream = make_stream(rules, secret, canary=canary, wipe=wipe, verify=verify, early_indexes=early)

    source = _open_dump_source(dump)
    producer = consumer = writer = None
    consumer_out = consumer_err = None
    try:
        producer = subprocess.Popen(
            [pg_restore, *restore_flags(pg_restore, tool_env), "-f", "-", *source.args],
            stdin=source.stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=tool_env, process_group=0,
        )
        producer_err = _Collector(producer.stderr)
        _set_pipe_size(producer.stdout)
        source.start(producer)
        read_fd = producer.stdout.fileno()

        def start_consumer():
            nonlocal consumer, consumer_out, consumer_err, writer
            consumer = subprocess.Popen(
                [psql, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "--no-password"],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=target_env,
                process_group=0, bufsize=0,
            )
            _set_pipe_size(consumer.stdin)
            consumer_out, consumer_err = _Collector(consumer.stdout), _Collector(consumer.stderr)
            writer = _Writer(consumer.stdin, buffer_bytes)
            return consumer

        def send(pieces):
            if not pieces:
                return
            if consumer is None:
                start_consumer()
            if not writer.put(pieces):
                raise _consumer_failure(consumer, consumer_err)

        while True:
            data = os.read(read_fd, chunk_size)
            if not data:
                break
            send(stream.feed(data))
        rc = producer.wait()
        if rc != 0:
            raise RestoreFailed(f"pg_restore failed (exit {rc}): {producer_err.text().strip()[-2000:]}")
        source.check()
        send(stream.finish())
        proc = consumer
        if not writer.drain():
            raise _consumer_failure(proc, consumer_err)
        proc.stdin.close()
        prc = proc.wait()
        if prc != 0:
            raise _consumer_failure(proc, consumer_err)
        status = consumer_out.text()
        if f"{STATUS_MARK}committed" not in status:
            raise RestoreFailed("psql exited without an error, but the server did not confirm the commit "
                                f"({status.strip()[-200:]!r})")
        stats = stream.stats
        return RestoreResult(
            tables=stats.tables, rows_in=stats.rows_in, rows_out=stats.rows_out, sql_bytes=stats.bytes_in,
            dump_bytes=source.bytes_read, seconds=time.monotonic() - started, per_table=dict(stats.per_table),
        )
    except BaseException:
        if writer is not None:
            writer.abort()
        _abort(consumer, producer, source)
        raise


class _Writer(threading.Thread):
    """Feed psql's stdin from a bounded in-memory queue, so rewriting goes on while the server is busy
    (building the indexes of the previous table, say).  ``put`` blocks while ``limit`` bytes are queued."""

    def __init__(self, pipe, limit: int):
        super().__init__(daemon=True, name="psql-writer")
        self.fd = pipe.fileno()
        self.limit = limit
        self.queue: collections.deque = collections.deque()
        self.pending = 0
        self.cv = threading.Condition()
        self.closed = False
        self.aborted = False
        self.failed = False
        self.start()

    def put(self, pieces) -> bool:
        """Queue pieces; False if the pipe broke (psql is gone)."""
        with self.cv:
            while self.pending > self.limit and not self.failed and not self.aborted:
                self.cv.wait()
            if self.failed or self.aborted:
                return False
            for piece in pieces:
                if piece:
                    self.queue.append(piece)
                    self.pending += len(piece)
            self.cv.notify_all()
        return True

    def drain(self) -> bool:
        """Wait until everything queued is written; False if the pipe broke."""
        with self.cv:
            self.closed = True
            self.cv.notify_all()
        self.join()
        return not self.failed and not self.aborted

    def abort(self) -> None:
        with self.cv:
            self.aborted = True
            self.queue.clear()
            self.cv.notify_all()

    def run(self):
        while True:
            with self.cv:
                while not self.queue and not self.closed and not self.aborted:
                    self.cv.wait()
                if self.aborted or not self.queue:
                    return
                piece = self.queue.popleft()
            try:
                view = memoryview(piece)
                while view:
                    if self.aborted:
                        return
                    written = os.write(self.fd, view)
                    view = view[written:]
            except OSError:
                with self.cv:
                    self.failed = True
                    self.queue.clear()
                    self.cv.notify_all()
                return
            with self.cv:
                self.pending -= len(piece)
                self.cv.notify_all()


def restore_flags(pg_restore: str = "pg_restore", env: dict | None = None) -> list[str]:
    """pg_restore's flags: no owners, grants, tablespaces, publications, subscriptions, security labels;
    from PostgreSQL 18 on, no statistics either (their sample values are raw data)."""
    flags = list(PG_RESTORE_SAFE_FLAGS)
    try:
        out = subprocess.run([pg_restore, "--version"], capture_output=True, text=True, env=env, timeout=30).stdout
        major = int(re.search(r"(\d+)(?:\.\d+)?", out).group(1))
    except (OSError, AttributeError, ValueError, subprocess.SubprocessError):
        major = 0
    if major >= 18:
        flags.append("--no-statistics")
    return flags


def _abort(consumer, producer, source) -> None:
    """Stop everything without letting anything commit: psql first (its connection drops, the server rolls back)."""
    for proc in (consumer, producer):
        if proc is not None and proc.poll() is None:
            try:
                proc.terminate()
            except OSError:
                pass
    for proc in (consumer, producer):
        if proc is None:
            continue
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    for proc in (consumer, producer):
        if proc is not None:
            for pipe in (proc.stdin, proc.stdout):
                try:
                    if pipe is not None:
                        pipe.close()
                except OSError:
                    pass
    if source is not None:
        source.close()


def _consumer_failure(proc, err_collector) -> AnonymiseError:
    try:
        rc = proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        rc = proc.wait()
    err = err_collector.text() if err_collector else ""
    for line in err.splitlines():
        if CANARY_MARK in line:
            return CanaryFound(line.split("ERROR:", 1)[-1].strip() + " (nothing was committed)")
        if VERIFY_MARK in line:
            return VerificationFailed(line.split("ERROR:", 1)[-1].strip() + " (nothing was committed)")
    return RestoreFailed(f"psql failed (exit {rc}); nothing was committed: {err.strip()[-2000:]}")
