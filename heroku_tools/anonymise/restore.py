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

import os
import re
import subprocess
import time
from dataclasses import dataclass, field

from .check import check
from .errors import AnonymiseError, CanaryFound, RestoreFailed, VerificationFailed
from .pipeio import CHUNK, Collector, Writer, set_pipe_size
from .rules import Rules
from .schema import PG_RESTORE_SAFE_FLAGS, Schema, read_dump_schema
from ..database import libpq_env
from .sources import NO_SOURCE, UrlSource, open_dump_source
from .stream import AnonymisingStream
from .transaction import CANARY_MARK, STATUS_MARK, VERIFY_MARK


#: The queue of rewritten SQL waiting for psql: it lets the stream rewrite on while the server is busy (building
#: the previous table's indexes). It is most of the restoring process's memory once the dump outgrows it, so it
#: is kept small enough for that memory to stay flat as the data grows (bench_restore.py: 16 MB gave 105 MB at
#: 1.75M rows and at 17.5M; 256 MB gave 110 MB and 360 MB); in time the runs so far show no clear difference.
QUEUE_BYTES = 32 << 20


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
    #: Where the work ran: ``here``, or ``dyno APP`` (see :mod:`.remote`).
    where: str = "here"
    #: Bytes that crossed this machine: the dump downloaded and the script uploaded (here), or what the
    #: heroku CLI sent to and received from the dyno.
    bytes_sent: int = 0
    bytes_received: int = 0

    @property
    def bytes_crossed(self) -> int:
        return self.bytes_sent + self.bytes_received


@dataclass(frozen=True)
class Progress:
    """Where a restore is: the table being read, its rows and SQL bytes so far, and the totals."""

    phase: str                #: ``loading``, then ``committing`` once the whole script is on its way
    table: str | None         #: the table being read (None between tables)
    table_rows: int
    table_bytes: int
    rows: int                 #: rows read from the dump so far, every table
    sql_bytes: int
    dump_bytes: int
    seconds: float


class Ticker:
    """Calls ``progress`` at most every ``interval`` seconds (and on each change of phase)."""

    def __init__(self, progress, started: float, interval: float = 1.0):
        self.progress, self.started, self.interval = progress, started, interval
        self.last = started
        self.table: str | None = None
        self.table_start = 0

    def __call__(self, stream, source, phase: str = "loading", force: bool = False) -> None:
        if self.progress is None:
            return
        now = time.monotonic()
        table, rows = stream.position
        if table != self.table:
            self.table, self.table_start = table, stream.stats.bytes_in
        if not force and now - self.last < self.interval:
            return
        self.last = now
        done = sum(plan.rows_in for plan in stream.plans.values())
        self.progress(Progress(phase=phase, table=table, table_rows=rows,
                               table_bytes=stream.stats.bytes_in - self.table_start if table else 0, rows=done,
                               sql_bytes=stream.stats.bytes_in, dump_bytes=source.bytes_read,
                               seconds=now - self.started))


def restore(dump, target_url: str, rules, *, secret: bytes | str, canary: str | None = None,
            precheck: bool = True, wipe: bool = True, verify: bool = True,
            pg_restore: str = "pg_restore", psql: str = "psql", env: dict | None = None,
            chunk_size: int = CHUNK, early: bool = True, buffer_bytes: int = QUEUE_BYTES,
            stream_factory=None, schema=None, progress=None) -> RestoreResult:
    """Load ``dump`` (a ``pg_dump -Fc`` file path or an http(s) URL) into ``target_url``, anonymised.

    ``rules`` is a :class:`Rules` or its mapping; ``secret`` keys the fakes;
    ``canary`` (optional) is a value planted in the source that must not reach
    the target.  Raises :class:`SchemaMismatch` (rules vs schema, before any
    data moves), :class:`UnsafeDump`, :class:`VerificationFailed` /
    :class:`CanaryFound`, :class:`RestoreFailed`, or re-raises
    KeyboardInterrupt; in every case nothing was committed.  ``schema``, the
    dump's schema when the caller has read it already, saves reading it again
    (for a URL, a second download of its table of contents).  ``early``
    lets the stream send post-data statements as soon as the data they need
    is in (:mod:`.early`).  ``progress``, if given, is called with a
    :class:`Progress` at most once a second.
    """
    started = time.monotonic()
    rules = rules if isinstance(rules, Rules) else Rules.from_mapping(rules)
    AnonymisingStream.check_canary(canary)
    base_env = dict(os.environ if env is None else env)
    tool_env = {k: v for k, v in base_env.items() if not k.startswith("PG")}
    target_env = libpq_env(target_url, base_env, application="heroku-tools-restore")
    statements = None
    if precheck:
        checked = check_dump(dump, rules, schema, pg_restore=pg_restore, env=tool_env)
        statements = checked.early_statements() if early else None
    make_stream = stream_factory or AnonymisingStream
    stream = make_stream(rules, secret, canary=canary, wipe=wipe, verify=verify, early=statements)
    pipeline = Pipeline(open_dump_source(dump), psql=psql, target_env=target_env, buffer_bytes=buffer_bytes)
    run_pipeline(pipeline, stream, [pg_restore, *restore_flags(pg_restore, tool_env), "-f", "-"], env=tool_env,
                 chunk_size=chunk_size, ticker=Ticker(progress, started))
    stats = stream.stats
    return RestoreResult(
        tables=stats.tables, rows_in=stats.rows_in, rows_out=stats.rows_out, sql_bytes=stats.bytes_in,
        dump_bytes=pipeline.source.bytes_read, seconds=time.monotonic() - started, per_table=dict(stats.per_table),
        bytes_received=pipeline.source.bytes_read if isinstance(pipeline.source, UrlSource) else 0,
        bytes_sent=stats.bytes_out,
    )


def run_pipeline(pipeline: Pipeline, stream, argv: list[str], *, env: dict, chunk_size: int = CHUNK,
                 ticker: Ticker | None = None) -> None:
    """pg_restore → ``stream`` → the pipeline's consumer, to the end and the commit; on any failure
    (KeyboardInterrupt included) everything is stopped before anything could commit, and the error re-raised."""
    try:
        pipeline.start_producer(argv, env=env)
        pipeline.rewrite(stream, chunk_size, ticker)
        pipeline.wait_producer()
        if ticker is not None:
            ticker(stream, pipeline.source, "committing", force=True)
        pipeline.send(stream.finish())
        pipeline.commit()
    except BaseException:
        pipeline.abort()
        raise


def check_dump(dump, rules: Rules, schema: Schema | None = None, *, pg_restore: str = "pg_restore",
               env: dict | None = None) -> Schema:
    """The dump's schema (read from its table of contents unless given), checked against the rules before
    anything starts: raises :class:`SchemaMismatch` on any gap."""
    if schema is None:
        schema = read_dump_schema(dump, pg_restore=pg_restore, env=env)
    check(rules, schema, context="the dump")
    return schema


class Pipeline:
    """``pg_restore | (the stream) | psql``: the processes and threads of one restore, and how to stop them.

    Its parts serve the dyno's engine too (:mod:`.dyno`): the producer half
    with another consumer (frames on stdout), and the consumer half fed by
    frames from a dyno (:mod:`.remote`), with ``source`` None.
    """

    def __init__(self, source, *, psql: str, target_env: dict, buffer_bytes: int):
        self.source = source if source is not None else NO_SOURCE
        self.psql, self.target_env, self.buffer_bytes = psql, target_env, buffer_bytes
        self.producer: subprocess.Popen | None = None
        self.producer_err: Collector | None = None
        self.consumer: subprocess.Popen | None = None
        self.consumer_out: Collector | None = None
        self.consumer_err: Collector | None = None
        self.writer: Writer | None = None

    def start_producer(self, argv: list[str], env: dict) -> None:
        """Start pg_restore on the dump source (a file argument, or stdin fed from a download)."""
        self.producer = subprocess.Popen(
            [*argv, *self.source.args],
            stdin=self.source.stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, start_new_session=True,
        )
        self.producer_err = Collector(self.producer.stderr)
        set_pipe_size(self.producer.stdout)
        self.source.start(self.producer)

    def rewrite(self, stream, chunk_size: int, ticker: Ticker | None = None) -> None:
        """Feed pg_restore's SQL through ``stream`` until pg_restore closes it, sending what comes out."""
        read_fd = self.producer.stdout.fileno()
        while True:
            data = os.read(read_fd, chunk_size)
            if not data:
                return
            self.send(stream.feed(data))
            if ticker is not None:
                ticker(stream, self.source)

    def wait_producer(self) -> None:
        """pg_restore must exit successfully, and the download (if any) must have completed."""
        rc = self.producer.wait()
        if rc != 0:
            self.source.check()  # a download cut short is the cause of pg_restore's "unexpected end of file"
            raise RestoreFailed(f"pg_restore failed (exit {rc}): {self.producer_err.text().strip()[-2000:]}")
        self.source.check()

    def send(self, pieces) -> None:
        """Queue script pieces for psql.  psql starts with the first piece: a stream that fails before it
        emits anything (a rule missing for the dump's schema, say) never connects to the target."""
        if not pieces:
            return
        if self.consumer is None:
            self._start_consumer()
        if not self.writer.put(pieces):
            raise self._consumer_failure()

    def _start_consumer(self) -> None:
        self.consumer = subprocess.Popen(
            [self.psql, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "--no-password"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=self.target_env,
            start_new_session=True, bufsize=0,
        )
        set_pipe_size(self.consumer.stdin)
        self.consumer_out, self.consumer_err = Collector(self.consumer.stdout), Collector(self.consumer.stderr)
        self.writer = Writer(self.consumer.stdin, self.buffer_bytes)

    def commit(self) -> None:
        """Let psql run everything sent, then exit; success only when the server confirms the COMMIT."""
        proc = self.consumer
        if not self.writer.drain():
            raise self._consumer_failure()
        proc.stdin.close()
        if proc.wait() != 0:
            raise self._consumer_failure()
        status = self.consumer_out.text()
        if f"{STATUS_MARK}committed" not in status:
            raise RestoreFailed("psql exited without an error, but the server did not confirm the commit "
                                f"({status.strip()[-200:]!r})")

    def abort(self) -> None:
        """Stop everything without letting anything commit: psql first (its connection drops, the server
        rolls back)."""
        if self.writer is not None:
            self.writer.abort()
        procs = [proc for proc in (self.consumer, self.producer) if proc is not None]
        for proc in procs:
            if proc.poll() is None:
                try:
                    proc.terminate()
                except OSError:
                    pass
        for proc in procs:
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for proc in procs:
            for pipe in (proc.stdin, proc.stdout):
                try:
                    if pipe is not None:
                        pipe.close()
                except OSError:
                    pass
        self.source.close()

    def _consumer_failure(self) -> AnonymiseError:
        """The error psql's exit stands for: the canary, a failed verification, or another failure."""
        proc = self.consumer
        try:
            rc = proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            rc = proc.wait()
        err = self.consumer_err.text() if self.consumer_err else ""
        for line in err.splitlines():
            if CANARY_MARK in line:
                return CanaryFound(line.split("ERROR:", 1)[-1].strip() + " (nothing was committed)")
            if VERIFY_MARK in line:
                return VerificationFailed(line.split("ERROR:", 1)[-1].strip() + " (nothing was committed)")
        return RestoreFailed(f"psql failed (exit {rc}); nothing was committed: {err.strip()[-2000:]}")


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
