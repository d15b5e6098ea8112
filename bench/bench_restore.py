"""Benchmark: anonymised restore vs plain pg_restore (and ``-j 4``) vs restore + row-by-row anonymisation, at scale.

    .venv/bin/python bench/bench_restore.py [--sizes 1M,10M] [--sample 20000] [--runs 1] [--output FILE]

For each size (``auth_user`` rows; default 1M and 10M), builds in a throwaway
PostgreSQL cluster (run as ``nobody`` when root), on the server side
(``INSERT ... SELECT ... FROM generate_series``, keys and indexes added once the
rows are in):

* ``auth_user``: that many rows shaped exactly like Django's (identity PK,
  unique username + its ``_like`` index, 11 columns), realistic repeated first
  and last names and unique emails;
* ``customer``: rows/5, FK to auth_user, name, phone, address, city, postcode,
  date of birth, free-text notes, a jsonb of preferences;
* ``shop_order``: rows/2, FK to customer, unique reference, status, total
  (all columns kept: exercises the pass-through path);
* ``django_session``: rows/20 (truncated by the rules);

dumps it with ``pg_dump -Fc``, then measures into fresh, empty databases of the
same cluster:

(a) plain ``pg_restore`` of the dump (no anonymisation: the limit);
(a4) ``pg_restore -j 4`` of the same dump (four connections: a second
    reference, what parallelism buys a restore that need not be one
    transaction);
(b) this project's :func:`heroku_tools.anonymise.restore` (one transaction,
    anonymised stream, verification, canary check), run in a child process
    (this script, ``--child``) so that its memory can be measured: the child's
    own RSS high-water mark (``VmHWM``: the process that runs the anonymising
    stream), and pg_restore's and psql's, sampled every 0.1 s.  Its time is
    :func:`restore`'s own (the child's start-up, a fraction of a second of
    imports, is left out: the tool's process is already running);
(c) plain ``pg_restore`` followed by row-by-row anonymisation **the way
    ORM-based peers do it** (django-anonymise's ``obj.anonymise(); obj.save()``,
    django-anon's per-object fakes): Django's ORM, configured in-process
    (``settings.configure``) with unmanaged models declared here for the same
    tables, loads the rows, sets each personal field to a fake (the same keyed
    fakes as (b), computed in Python) and calls ``obj.save()`` — one full-row
    ``UPDATE`` per object, in autocommit as Django runs by default — plus one
    ``DELETE FROM django_session``.  The loop runs on a ``--sample`` of each
    anonymised table (default 20,000 rows) and is **extrapolated** linearly
    to the full row counts, unless ``--sample 0`` asks for the full run.
    (c) runs at the smallest size only, unless ``--row-by-row all``.

``--buffer-mb 64,16`` runs (b) again with each of these sizes of its queue to
psql (:func:`restore`'s ``buffer_bytes``; default 32 MB), for their time and
peak memory: the queue, which lets the stream rewrite on while the server is
busy (building the previous table's indexes), is most of the anonymising
process's memory once the dump's SQL text outgrows it.

For context only, an extra line (c') does the same updates with psycopg
directly, one ``UPDATE ... WHERE id = %s`` per row inside one transaction
(no ORM, no per-row commit): a faster row-by-row than the peers use, still
extrapolated from the same samples.

Prints seconds, MB/s (the SQL text pg_restore emits) and rows/s for each, then
the goals, each "met" or "MISSED": b/a ≤ 1.5 at every size; the anonymising
process's peak memory flat as rows grow (largest size / smallest ≤ 1.2); c/b ≥
20; and bytes through the operator's side per restore, in a one-off dyno of
the target against ``--here`` (``restore_paths.py``: through the sandbox and
the real heroku CLI, live seeded with ``--operator-customers`` customers and
their orders; ``0`` skips it) ≤ 1%.  ``--output FILE`` writes the figures as
JSON.  The cluster and the dumps live in a temporary
directory removed at the end unless ``--keep``; each database is dropped once
measured.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from probes import DescendantPeaks, client_cpu, peak_rss_kb, server_cpu  # noqa: E402  (bench/, beside this script)
from restore_paths import GOAL_SHARE  # noqa: E402
from restore_paths import measure as measure_paths  # noqa: E402
from restore_paths import report as report_paths  # noqa: E402

from heroku_tools.anonymise import Fakes, Rules, restore  # noqa: E402
from heroku_tools.sandbox.postgres import PostgresCluster  # noqa: E402

SECRET = "bench-secret"
CANARY = "canary-7f3a9@example.org"
RATIO_GOAL = 1.5    #: anonymised restore / plain pg_restore, at every size
MEMORY_GOAL = 1.2   #: the anonymising process's peak RSS, largest size / smallest

RULES = {
    "tables": {
        "auth_user": {
            "id": "keep", "password": {"value": "!"}, "last_login": "keep", "is_superuser": "keep",
            "username": {"fake": "username"}, "first_name": {"fake": "first_name"},
            "last_name": {"fake": "last_name"}, "email": {"fake": "email"}, "is_staff": "keep",
            "is_active": "keep", "date_joined": "keep",
        },
        "customer": {
            "id": "keep", "user_id": "keep", "full_name": {"fake": "name"}, "phone": {"fake": "phone"},
            "address_line1": {"fake": "address"}, "city": {"fake": "city"}, "postcode": {"fake": "postcode"},
            "date_of_birth": {"fake": "date_shift", "days": 180}, "notes": {"fake": "text"},
            "preferences": {"fake": "json", "keep_keys": ["theme", "language"]}, "created_at": "keep",
        },
        "shop_order": {
            "id": "keep", "customer_id": "keep", "reference": "keep", "status": "keep", "total": "keep",
            "created_at": "keep",
        },
        "django_session": "truncate",
    }
}

# columns the row-by-row variant rewrites, per table
ROW_BY_ROW = {
    "auth_user": [("password", None), ("username", "username"), ("first_name", "first_name"),
                  ("last_name", "last_name"), ("email", "email")],
    "customer": [("full_name", "name"), ("phone", "phone"), ("address_line1", "address"), ("city", "city"),
                 ("postcode", "postcode"), ("notes", "text")],
}

SCHEMA_SQL = """
CREATE TABLE auth_user (
    id integer GENERATED BY DEFAULT AS IDENTITY,
    password varchar(128) NOT NULL,
    last_login timestamptz,
    is_superuser boolean NOT NULL,
    username varchar(150) NOT NULL,
    first_name varchar(150) NOT NULL,
    last_name varchar(150) NOT NULL,
    email varchar(254) NOT NULL,
    is_staff boolean NOT NULL,
    is_active boolean NOT NULL,
    date_joined timestamptz NOT NULL
);
CREATE TABLE customer (
    id bigint GENERATED BY DEFAULT AS IDENTITY,
    user_id integer NOT NULL,
    full_name varchar(200) NOT NULL,
    phone varchar(32) NOT NULL,
    address_line1 varchar(255) NOT NULL,
    city varchar(100) NOT NULL,
    postcode varchar(16) NOT NULL,
    date_of_birth date,
    notes text NOT NULL,
    preferences jsonb NOT NULL,
    created_at timestamptz NOT NULL
);
CREATE TABLE shop_order (
    id bigint GENERATED BY DEFAULT AS IDENTITY,
    customer_id bigint NOT NULL,
    reference varchar(20) NOT NULL,
    status varchar(20) NOT NULL,
    total numeric(10, 2) NOT NULL,
    created_at timestamptz NOT NULL
);
CREATE TABLE django_session (
    session_key varchar(40) NOT NULL,
    session_data text NOT NULL,
    expire_date timestamptz NOT NULL
);
"""

# the keys and indexes, added once the rows are in (faster than maintaining them row by row); the dump
# is the same as if the tables had been created with them: pg_dump puts both in its post-data section
KEYS_SQL = """
SET maintenance_work_mem = '512MB';
ALTER TABLE auth_user ADD PRIMARY KEY (id), ADD UNIQUE (username);
CREATE INDEX auth_user_username_6821ab7c_like ON auth_user (username varchar_pattern_ops);
ALTER TABLE customer ADD PRIMARY KEY (id),
    ADD FOREIGN KEY (user_id) REFERENCES auth_user (id) DEFERRABLE INITIALLY DEFERRED;
CREATE INDEX customer_user_id ON customer (user_id);
ALTER TABLE shop_order ADD PRIMARY KEY (id), ADD UNIQUE (reference),
    ADD FOREIGN KEY (customer_id) REFERENCES customer (id) DEFERRABLE INITIALLY DEFERRED;
CREATE INDEX shop_order_customer_id ON shop_order (customer_id);
ALTER TABLE django_session ADD PRIMARY KEY (session_key);
CREATE INDEX django_session_expire_date ON django_session (expire_date);
UPDATE customer SET notes = notes || ' ' || :'canary', full_name = :'canary' WHERE id = 1;
UPDATE auth_user SET email = :'canary' WHERE id = 3;
"""

FILL_SQL = """
CREATE TEMP TABLE fnames AS SELECT row_number() OVER () - 1 AS i, n FROM unnest(string_to_array(
 'James Mary John Patricia Robert Jennifer Michael Linda William Elizabeth David Barbara Richard Susan Joseph Jessica '
 'Thomas Sarah Charles Karen Christopher Nancy Daniel Lisa Matthew Betty Anthony Margaret Mark Sandra Donald Ashley '
 'Steven Kimberly Paul Emily Andrew Donna Joshua Michelle Kenneth Dorothy Kevin Carol Brian Amanda George Melissa '
 'Oliver Amelia Harry Isla Jack Ava Jacob Mia Noah Ivy Charlie Lily Muhammad Isabella Thomas Rosie Oscar '
 'Sophia', ' ')) n;
CREATE TEMP TABLE lnames AS SELECT row_number() OVER () - 1 AS i, n FROM unnest(string_to_array(
 'Smith Jones Williams Taylor Brown Davies Evans Wilson Thomas Johnson Roberts Robinson Thompson Wright Walker White '
 'Edwards Hughes Green Hall Lewis Harris Clarke Patel Jackson Wood Turner Martin Cooper Hill Ward Morris Moore Clark '
 'Lee King Baker Harrison Morgan Allen James Scott Phillips Watson Davis Parker Price Bennett Young Griffiths Mitchell '
 'Kelly Cook Carter Richardson Bailey Collins Bell Shaw Murphy Miller Cox Richards Khan Marshall Anderson Simpson '
 'Ellis',
 ' ')) n;
INSERT INTO auth_user (password, last_login, is_superuser, username, first_name, last_name, email, is_staff,
                       is_active, date_joined)
SELECT 'pbkdf2_sha256$600000$' || substr(md5(g::text), 1, 22) || '$' || encode(sha256(g::text::bytea), 'base64'),
       CASE WHEN g % 7 = 0 THEN NULL ELSE timestamptz '2024-01-01' + (g % 86400) * interval '1 minute' END,
       g % 1000 = 0,
       lower(f.n) || '.' || lower(l.n) || g,
       f.n || CASE WHEN g % 13 = 0 THEN '-' || (g % 97) ELSE '' END,
       l.n || CASE WHEN g % 5 = 0 THEN '-' || (g % 391) ELSE '' END,
       lower(f.n) || '.' || lower(l.n) || g || '@' ||
         (ARRAY['gmail.com', 'yahoo.co.uk', 'hotmail.com', 'example.org'])[1 + g % 4],
       g % 500 = 0, g % 50 <> 0,
       timestamptz '2015-01-01' + g * interval '3 minutes'
FROM generate_series(1, :rows) g
JOIN fnames f ON f.i = g % (SELECT count(*) FROM fnames)
JOIN lnames l ON l.i = (g / 7) % (SELECT count(*) FROM lnames)
ORDER BY g;
INSERT INTO customer (user_id, full_name, phone, address_line1, city, postcode, date_of_birth, notes, preferences,
                      created_at)
SELECT u.id, u.first_name || ' ' || u.last_name, '+44 7700 ' || lpad((u.id % 1000000)::text, 6, '0'),
       (u.id % 300) || ' ' || (ARRAY['High Street', 'Station Road', 'Church Lane', 'Mill Road'])[1 + u.id % 4],
       (ARRAY['London', 'Leeds', 'Bristol', 'Glasgow', 'Cardiff'])[1 + u.id % 5],
       'AB' || (u.id % 90) || ' ' || (u.id % 9) || 'XY',
       date '1950-01-01' + (u.id % 20000),
       'Customer ' || u.first_name || ' called about order ' || u.id || ', prefers email contact at ' || u.email
         || CASE WHEN u.id % 3 = 0 THEN '. Allergic to peanuts; deliver after 6pm.' ELSE '' END,
       jsonb_build_object('theme', (ARRAY['dark', 'light'])[1 + u.id % 2], 'language', 'en',
                          'contact', u.email, 'nickname', u.first_name, 'marketing', u.id % 2 = 0),
       u.date_joined
FROM auth_user u WHERE u.id % 5 = 0 ORDER BY u.id;
INSERT INTO shop_order (customer_id, reference, status, total, created_at)
SELECT c.id, 'ORD' || lpad(((c.id - 1) * 10 + k)::text, 12, '0'),
       (ARRAY['new', 'paid', 'shipped', 'delivered', 'refunded'])[1 + (c.id + k) % 5],
       ((c.id * 37 + k * 11) % 100000) / 100.0, c.created_at + k * interval '1 day'
FROM customer c CROSS JOIN generate_series(1, 2) k ORDER BY c.id, k;
INSERT INTO shop_order (customer_id, reference, status, total, created_at)
SELECT c.id, 'ORX' || lpad(c.id::text, 12, '0'), 'new', 9.99, c.created_at
FROM customer c WHERE c.id % 2 = 0 ORDER BY c.id;
INSERT INTO django_session
SELECT md5(g::text) || substr(md5((g + 1)::text), 1, 8), encode(sha512(g::text::bytea), 'base64'),
       timestamptz '2025-01-01' + g * interval '1 minute'
FROM generate_series(1, :rows / 20) g;
"""


def sh(argv, **kwargs):
    return subprocess.run(argv, check=True, **kwargs)


def timed(fn):
    start = time.monotonic()
    value = fn()
    return time.monotonic() - start, value


def measured(cluster: PostgresCluster, fn):
    """(wall seconds, server CPU seconds, client CPU seconds, value)."""
    s0, c0 = server_cpu(cluster.pid), client_cpu()
    wall, value = timed(fn)
    c1 = client_cpu()
    # a backend's CPU reaches the postmaster's account when it has exited and been reaped
    for _ in range(50):
        busy = cluster.psql("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' "
                            "AND pid <> pg_backend_pid()").strip()
        if busy == "0":
            break
        time.sleep(0.1)
    time.sleep(0.3)
    return wall, server_cpu(cluster.pid) - s0, c1 - c0, value


def fresh_db(cluster: PostgresCluster, name: str) -> str:
    cluster.dropdb(name)
    cluster.createdb(name, owner="app")
    cluster.psql("CHECKPOINT")
    return cluster.url(name, user="app")


def parse_size(text: str) -> int:
    """``1M``, ``10M``, ``250k`` or ``100000``: auth_user rows."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kKmM]?)\s*", text)
    if not match:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (say 1M, 250k or 100000)")
    return int(float(match.group(1)) * {"": 1, "k": 1_000, "m": 1_000_000}[match.group(2).lower()])


def size_label(rows: int) -> str:
    if rows % 1_000_000 == 0:
        return f"{rows // 1_000_000}M"
    if rows % 1_000 == 0:
        return f"{rows // 1_000}k"
    return str(rows)


@dataclass
class Source:
    """One size's source, built and dumped (the database itself is dropped once dumped)."""
    rows: int                #: auth_user rows
    counts: dict             #: table -> rows
    dump: Path
    build_seconds: float
    dump_seconds: float

    @property
    def label(self) -> str:
        return size_label(self.rows)

    @property
    def total_rows(self) -> int:
        return sum(self.counts.values())


def build_source(cluster: PostgresCluster, workdir: Path, rows: int) -> Source:
    """Fill a database on the server side (generate_series), add its keys, dump it (``pg_dump -Fc``), drop it."""
    label = size_label(rows)
    dbname = f"source_{label.lower()}"
    fresh_db(cluster, dbname)
    env = cluster.env("app", dbname)

    def build():
        sh(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-v", f"rows={rows}", "-v", f"canary={CANARY}"],
           input=SCHEMA_SQL + FILL_SQL + KEYS_SQL, text=True, env=env, stdout=subprocess.DEVNULL)
        cluster.psql("VACUUM ANALYZE", dbname=dbname)

    build_seconds, _ = timed(build)
    counts = {table: int(cluster.psql(f"SELECT count(*) FROM {table}", dbname=dbname).strip())
              for table in ("auth_user", "customer", "shop_order", "django_session")}
    dump = workdir / f"source-{label}.dump"
    dump_seconds, _ = timed(lambda: sh(["pg_dump", "-Fc", "-f", str(dump)], env=env))
    cluster.dropdb(dbname)
    return Source(rows, counts, dump, build_seconds, dump_seconds)


def plain_restore(cluster: PostgresCluster, dump: Path, dbname: str, jobs: int = 1) -> None:
    sh(["pg_restore", "--no-owner", "--no-privileges", *(["-j", str(jobs)] if jobs > 1 else []), "-d", dbname,
        str(dump)], env=cluster.env("app", dbname), stdout=subprocess.DEVNULL)


def anonymised_restore(dump: Path, url: str, canary: str | None, buffer_mb: int | None = None) -> dict:
    """This project's restore, run by a child process (this script, ``--child``) whose peak memory is measured.

    Returns the child's figures (see :func:`child_restore`) and ``sampled_kb``: the peak of each command
    below it (pg_restore, psql), sampled."""
    child = subprocess.Popen([sys.executable, __file__, "--child"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             text=True)
    sampler = DescendantPeaks(child.pid)
    out, _ = child.communicate(json.dumps({"dump": str(dump), "url": url, "canary": canary, "buffer_mb": buffer_mb}))
    sampled = sampler.stop()
    if child.returncode != 0:
        raise RuntimeError(f"the anonymised restore failed (child exit {child.returncode}; its error is above)")
    figures = json.loads(out.splitlines()[-1])
    figures["sampled_kb"] = {name: kb for name, kb in sampled.items() if name in ("pg_restore", "psql")}
    return figures


def child_restore() -> int:
    """``--child``: one anonymised restore, as the JSON on stdin says; its figures as JSON on stdout, with
    this process's RSS high-water mark (kB) and CPU seconds, and its children's (pg_restore, psql) CPU
    seconds.  Not their peak memory from ``RUSAGE_CHILDREN``: a child spawned by vfork and exec is charged
    this process's RSS at the time, so it says nothing of pg_restore's or psql's own."""
    job = json.loads(sys.stdin.read())
    buffer = {"buffer_bytes": job["buffer_mb"] << 20} if job.get("buffer_mb") else {}
    result = restore(job["dump"], job["url"], Rules.from_mapping(RULES), secret=SECRET, canary=job["canary"],
                     **buffer)
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    print(json.dumps({
        "seconds": result.seconds, "rows_in": result.rows_in, "rows_out": result.rows_out,
        "sql_bytes": result.sql_bytes, "peak_kb": peak_rss_kb(),
        "cpu_self_s": own.ru_utime + own.ru_stime, "cpu_children_s": children.ru_utime + children.ru_stime,
    }))
    return 0


def measure_size(cluster: PostgresCluster, source: Source, runs: int, canary: str | None,
                 buffers: list[int] = ()) -> dict:
    """(a), (a4) and (b) of one size, ``runs`` times each: the best times, the largest memory peaks; and (b)
    again with each of ``buffers`` (MB) as its queue to psql (``buffer_bytes``)."""
    a_runs, a4_runs, b_runs = [], [], []
    variants = {mb: [] for mb in buffers}
    for run in range(runs):
        fresh_db(cluster, "plain")
        a_runs.append(measured(cluster, lambda: plain_restore(cluster, source.dump, "plain")))
        cluster.dropdb("plain")
        fresh_db(cluster, "plain_j4")
        a4_runs.append(measured(cluster, lambda: plain_restore(cluster, source.dump, "plain_j4", jobs=4)))
        cluster.dropdb("plain_j4")
        url = fresh_db(cluster, "anon")
        cluster.psql("CREATE TABLE previous (x int); INSERT INTO previous VALUES (1)", dbname="anon", user="app")
        # the canary is planted in the source: with it in the rules' scope the restore must still succeed
        b_runs.append(measured(cluster, lambda url=url: anonymised_restore(source.dump, url, canary)))
        cluster.dropdb("anon")
        a, a4, b = a_runs[-1], a4_runs[-1], b_runs[-1]
        print(f"  {source.label} run {run + 1}: (a) {a[0]:.2f}s [cpu: server {a[1]:.1f}s, clients {a[2]:.1f}s]   "
              f"(a4) {a4[0]:.2f}s   (b) {b[3]['seconds']:.2f}s [cpu: server {b[1]:.1f}s, clients {b[2]:.1f}s]   "
              f"({b[3]['rows_in']:,} rows read, {b[3]['rows_out']:,} loaded)   load {os.getloadavg()[0]:.1f}",
              flush=True)
        for mb, done in variants.items():
            url = fresh_db(cluster, "anon")
            done.append(measured(cluster, lambda url=url, mb=mb: anonymised_restore(source.dump, url, canary, mb)))
            cluster.dropdb("anon")
            print(f"  {source.label} run {run + 1}: (b) with a {mb} MB buffer {done[-1][3]['seconds']:.2f}s, "
                  f"peak {done[-1][3]['peak_kb'] / 1024:.0f} MB   load {os.getloadavg()[0]:.1f}", flush=True)
    children = [b[3]["sampled_kb"] for b in b_runs]
    return {
        "size": source.label, "auth_user_rows": source.rows, "rows": source.total_rows, "counts": source.counts,
        "build_s": source.build_seconds, "dump_s": source.dump_seconds, "dump_bytes": source.dump.stat().st_size,
        "sql_bytes": b_runs[0][3]["sql_bytes"],
        "plain_s": min(r[0] for r in a_runs),
        "plain_j4_s": min(r[0] for r in a4_runs),
        "anonymised_s": min(r[3]["seconds"] for r in b_runs),
        "anonymised_process_s": min(r[0] for r in b_runs),
        "cpu_s": {"plain": min(r[1] + r[2] for r in a_runs), "plain_j4": min(r[1] + r[2] for r in a4_runs),
                  "anonymised": min(r[1] + r[2] for r in b_runs),
                  # where (b)'s CPU goes (best run by wall time)
                  "plain_server": min(a_runs)[1], "plain_pg_restore": min(a_runs)[2],
                  "anonymised_server": min(b_runs, key=_b_seconds)[1],
                  "anonymised_stream_process": min(b_runs, key=_b_seconds)[3]["cpu_self_s"],
                  "anonymised_pg_restore_psql": min(b_runs, key=_b_seconds)[3]["cpu_children_s"]},
        "peak_rss_kb": {
            "anonymising_process": max(r[3]["peak_kb"] for r in b_runs),
            "pg_restore_sampled": max(c.get("pg_restore", 0) for c in children),
            "psql_sampled": max(c.get("psql", 0) for c in children),
        },
        "runs": runs,
        "buffer_variants": [{"buffer_mb": mb, "anonymised_s": min(r[3]["seconds"] for r in done),
                             "peak_rss_kb": max(r[3]["peak_kb"] for r in done)} for mb, done in variants.items()],
    }


def _b_seconds(run) -> float:
    return run[3]["seconds"]


def report_size(fig: dict, canary: bool) -> None:
    mb = fig["sql_bytes"] / 1e6
    print(f"\nresults, {fig['size']} auth_user rows ({fig['rows']:,} rows, {mb:.0f} MB of SQL text, "
          f"{fig['dump_bytes'] / 1e6:.0f} MB archive; built in {fig['build_s']:.0f}s, dumped in "
          f"{fig['dump_s']:.0f}s; best of {fig['runs']}):")

    def line(label, seconds, note=""):
        print(f"  {label:<60} {seconds:8.2f} s  {mb / seconds:7.1f} MB/s  {fig['rows'] / seconds:10,.0f} rows/s {note}")

    line("(a) plain pg_restore (the limit)", fig["plain_s"])
    line("(a4) pg_restore -j 4 (second reference)", fig["plain_j4_s"])
    line("(b) heroku-tools anonymised restore", fig["anonymised_s"],
         "(one transaction, verified" + (", canary checked)" if canary else ")"))
    peaks = fig["peak_rss_kb"]
    print(f"      (b) peak memory (RSS high-water mark): the anonymising process {peaks['anonymising_process'] / 1024:.0f} MB;"
          f" its children: pg_restore {peaks['pg_restore_sampled'] / 1024:.0f} MB, psql "
          f"{peaks['psql_sampled'] / 1024:.0f} MB (sampled every 0.1 s)")
    cpu = fig["cpu_s"]
    print(f"      b/a = {fig['anonymised_s'] / fig['plain_s']:.2f}x, b/a4 = {fig['anonymised_s'] / fig['plain_j4_s']:.2f}x;"
          f" CPU seconds, all processes: (a) {cpu['plain']:.1f}s, (a4) {cpu['plain_j4']:.1f}s, "
          f"(b) {cpu['anonymised']:.1f}s")
    print(f"      CPU seconds by process: (a) pg_restore {cpu['plain_pg_restore']:.1f}s + server "
          f"{cpu['plain_server']:.1f}s; (b) the anonymising process {cpu['anonymised_stream_process']:.1f}s + "
          f"pg_restore and psql {cpu['anonymised_pg_restore_psql']:.1f}s + server {cpu['anonymised_server']:.1f}s")
    for variant in fig["buffer_variants"]:
        line(f"(b) with buffer_bytes = {variant['buffer_mb']} MB", variant["anonymised_s"],
             f"peak memory {variant['peak_rss_kb'] / 1024:.0f} MB")


def row_by_row_figures(cluster: PostgresCluster, source: Source, sample: int) -> dict:
    """(c): plain restore, then row by row through the ORM; (c'): the same with psycopg in one transaction."""
    def restore_then_rows(dbname, update_rows):
        fresh_db(cluster, dbname)
        t_restore, _ = timed(lambda: plain_restore(cluster, source.dump, dbname))
        t_update, notes = 0.0, []
        for table, columns in ROW_BY_ROW.items():
            seconds, done = update_rows(cluster, dbname, table, columns, sample or None)
            full = source.counts[table]
            scaled = seconds * full / done if done else 0.0
            t_update += scaled
            if done < full:
                notes.append(f"{table}: {done:,} rows in {seconds:.1f}s ({done / seconds:,.0f} rows/s) "
                             f"-> {full:,} rows EXTRAPOLATED {scaled:.0f}s")
            else:
                notes.append(f"{table}: all {done:,} rows in {seconds:.1f}s ({done / seconds:,.0f} rows/s)")
        t_delete, _ = timed(lambda: cluster.psql("DELETE FROM django_session", dbname=dbname, user="app"))
        cluster.dropdb(dbname)
        return {"restore_s": t_restore, "update_s": t_update, "delete_s": t_delete,
                "total_s": t_restore + t_update + t_delete, "notes": notes}

    orm = restore_then_rows("rowbyrow", row_by_row_orm)
    psycopg_ = restore_then_rows("rowbyrow_psycopg", row_by_row)
    extrapolated = any("EXTRAPOLATED" in n for n in orm["notes"] + psycopg_["notes"])
    return {"size": source.label, "orm": orm, "psycopg": psycopg_, "extrapolated": extrapolated,
            "updated_rows": sum(source.counts[t] for t in ROW_BY_ROW)}


def report_row_by_row(rbr: dict, fig: dict) -> None:
    mb, best_b = fig["sql_bytes"] / 1e6, fig["anonymised_s"]
    tag = " [EXTRAPOLATED]" if rbr["extrapolated"] else ""

    def line(label, seconds, note=""):
        print(f"  {label:<60} {seconds:8.2f} s  {mb / seconds:7.1f} MB/s  {fig['rows'] / seconds:10,.0f} rows/s {note}")

    orm, psy = rbr["orm"], rbr["psycopg"]
    line("(c) pg_restore + Django obj.save() per row" + tag, orm["total_s"])
    for n in orm["notes"]:
        print(f"      {n}")
    print(f"      (c) = restore {orm['restore_s']:.1f}s + ORM saves {orm['update_s']:.1f}s + DELETE sessions "
          f"{orm['delete_s']:.1f}s")
    line("(c') pg_restore + psycopg UPDATE per row, 1 txn" + tag, psy["total_s"], "(context: not how ORM peers do it)")
    for n in psy["notes"]:
        print(f"      {n}")
    print(f"      (c') = restore {psy['restore_s']:.1f}s + updates {psy['update_s']:.1f}s + DELETE sessions "
          f"{psy['delete_s']:.1f}s")
    print(f"      c'/b = {psy['total_s'] / best_b:.1f}x  (context: psycopg row by row in one transaction)")
    latency = rbr["updated_rows"] * 0.001
    print(f"      (c) measured over a Unix socket (round trip ~0). With the 1 ms round trip of a dyno talking "
          f"to its database, each of the {rbr['updated_rows']:,} UPDATEs waits 1 ms more: (c) ~ "
          f"{orm['total_s'] + latency:.0f}s, c/b ~ {(orm['total_s'] + latency) / best_b:.0f}x [ESTIMATE, not measured]")


def goals(figures: list[dict], rbr: dict | None, operator: dict | None = None) -> list[dict]:
    """The issue's goals against the figures: name, value, met (None: not measured)."""
    out = [{"goal": f"anonymised / plain pg_restore <= {RATIO_GOAL}x at {fig['size']}",
            "value": round(fig["anonymised_s"] / fig["plain_s"], 3),
            "met": fig["anonymised_s"] / fig["plain_s"] <= RATIO_GOAL} for fig in figures]
    if len(figures) > 1:
        small, large = figures[0], figures[-1]
        growth = large["peak_rss_kb"]["anonymising_process"] / small["peak_rss_kb"]["anonymising_process"]
        out.append({"goal": f"peak memory of the anonymising process flat {small['size']} -> {large['size']} "
                            f"(<= {MEMORY_GOAL}x)", "value": round(growth, 3), "met": growth <= MEMORY_GOAL})
    if rbr is not None:
        fig = next(f for f in figures if f["size"] == rbr["size"])
        ratio = rbr["orm"]["total_s"] / fig["anonymised_s"]
        out.append({"goal": f"row by row (c) / anonymised (b) >= 20x at {rbr['size']}"
                            + (" [c extrapolated from samples]" if rbr["extrapolated"] else ""),
                    "value": round(ratio, 1), "met": ratio >= 20})
    if operator is not None:
        share = operator["dyno"]["counted_bytes"] / operator["here"]["counted_bytes"]
        out.append({"goal": f"bytes through the operator's side, dyno path / --here <= {GOAL_SHARE:.0%} "
                            f"({operator['customers']:,} customers)", "value": round(share, 5),
                    "met": share <= GOAL_SHARE})
    return out


def report_goals(figures: list[dict], items: list[dict]) -> None:
    print("\ngoals:")
    for item in items:
        print(f"  {item['goal']}: {item['value']}x — {'met' if item['met'] else 'MISSED'}")
    if len(figures) > 1:
        peaks = ", ".join(f"{f['size']} {f['peak_rss_kb']['anonymising_process'] / 1024:.0f} MB" for f in figures)
        print(f"      (peak RSS of the anonymising process: {peaks})")
        small, large = figures[0], figures[-1]
        for v_small, v_large in zip(small["buffer_variants"], large["buffer_variants"], strict=True):
            print(f"      (context, buffer_bytes = {v_small['buffer_mb']} MB: peak {v_small['peak_rss_kb'] / 1024:.0f} MB "
                  f"-> {v_large['peak_rss_kb'] / 1024:.0f} MB = {v_large['peak_rss_kb'] / v_small['peak_rss_kb']:.2f}x; "
                  f"b/a {v_small['anonymised_s'] / small['plain_s']:.2f}x, {v_large['anonymised_s'] / large['plain_s']:.2f}x)")


_MODELS: dict = {}


def django_models(cluster: PostgresCluster, dbname: str) -> dict:
    """Django configured in-process on ``dbname``, with unmanaged models of the anonymised tables."""
    if _MODELS:
        return _MODELS
    import django
    from django.conf import settings

    settings.configure(
        DATABASES={"default": {
            "ENGINE": "django.db.backends.postgresql", "NAME": dbname, "USER": "app",
            "HOST": str(cluster.socket_dir), "PORT": str(cluster.port),
        }},
        INSTALLED_APPS=[], USE_TZ=True, TIME_ZONE="UTC", DEFAULT_AUTO_FIELD="django.db.models.AutoField",
    )
    django.setup()
    from django.db import models

    class User(models.Model):  # django.contrib.auth's User, as its table is
        password = models.CharField(max_length=128)
        last_login = models.DateTimeField(null=True)
        is_superuser = models.BooleanField()
        username = models.CharField(max_length=150, unique=True)
        first_name = models.CharField(max_length=150)
        last_name = models.CharField(max_length=150)
        email = models.EmailField(max_length=254)
        is_staff = models.BooleanField()
        is_active = models.BooleanField()
        date_joined = models.DateTimeField()

        class Meta:
            app_label = "bench"
            db_table = "auth_user"
            managed = False

    class Customer(models.Model):
        id = models.BigAutoField(primary_key=True)
        user_id = models.IntegerField()
        full_name = models.CharField(max_length=200)
        phone = models.CharField(max_length=32)
        address_line1 = models.CharField(max_length=255)
        city = models.CharField(max_length=100)
        postcode = models.CharField(max_length=16)
        date_of_birth = models.DateField(null=True)
        notes = models.TextField()
        preferences = models.JSONField()
        created_at = models.DateTimeField()

        class Meta:
            app_label = "bench"
            db_table = "customer"
            managed = False

    _MODELS.update(auth_user=User, customer=Customer)
    return _MODELS


def row_by_row_orm(cluster: PostgresCluster, dbname: str, table: str, columns, limit: int | None) -> tuple[float, int]:
    """Django ORM: load the objects, set each personal field to its fake, ``obj.save()`` each (autocommit).

    Returns (seconds, rows)."""
    from django.db import connection

    model = django_models(cluster, dbname)[table]
    fakes = Fakes(SECRET)
    makers = {kind: fakes.make(kind) for _, kind in columns if kind}
    connection.close()
    start = time.monotonic()
    queryset = model.objects.order_by("pk")
    objects = list(queryset[:limit] if limit else queryset)
    for obj in objects:  # the `obj.anonymise(); obj.save()` pattern
        for column, kind in columns:
            setattr(obj, column, "!" if kind is None else makers[kind](getattr(obj, column)))
        obj.save()
    seconds = time.monotonic() - start
    connection.close()
    return seconds, len(objects)


def row_by_row(cluster: PostgresCluster, dbname: str, table: str, columns, limit: int | None) -> tuple[float, int]:
    """psycopg: fetch rows, then one UPDATE per row in one transaction.  Returns (seconds, rows)."""
    import psycopg

    fakes = Fakes(SECRET)
    makers = {kind: fakes.make(kind) for _, kind in columns if kind}
    names = [c for c, _ in columns]
    with psycopg.connect(cluster.url(dbname, "app")) as conn:
        start = time.monotonic()
        with conn.cursor() as cur:
            cur.execute(f"SELECT id, {', '.join(names)} FROM {table} ORDER BY id"
                        + (f" LIMIT {int(limit)}" if limit else ""))
            rows = cur.fetchall()
            setters = ", ".join(f"{c} = %s" for c in names)
            sql = f"UPDATE {table} SET {setters} WHERE id = %s"
            for row in rows:
                values = []
                for (_column, kind), value in zip(columns, row[1:], strict=True):
                    values.append("!" if kind is None else makers[kind](value))
                cur.execute(sql, (*values, row[0]))
        conn.commit()
        return time.monotonic() - start, len(rows)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1M,10M",
                        help="auth_user rows per case, comma-separated, smallest first (default 1M,10M)")
    parser.add_argument("--sample", type=int, default=20_000,
                        help="rows per table for the row-by-row variants, extrapolated (0: run them in full)")
    parser.add_argument("--row-by-row", choices=("smallest", "all", "none"), default="smallest",
                        help="sizes at which (c) and (c') run (default: the smallest)")
    parser.add_argument("--buffer-mb", default="",
                        help="also run (b) with these sizes (MB, comma-separated) of its queue to psql "
                             "(restore's buffer_bytes), to compare their time and peak memory")
    parser.add_argument("--runs", type=int, default=1, help="repeat (a), (a4) and (b) this many times, report the best")
    parser.add_argument("--keep", action="store_true", help="keep the working directory (cluster and dumps)")
    parser.add_argument("--no-canary", action="store_true", help="run (b) without a canary")
    parser.add_argument("--output", help="also write the figures as JSON to this file")
    parser.add_argument("--operator-customers", type=int, default=200_000,
                        help="customers on live for the bytes-through-this-machine case, dyno vs --here (0: skip)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child_restore()
    sizes = sorted(parse_size(size) for size in args.sizes.split(","))

    # durable, as a real server is: the cluster's defaults trade durability for speed
    settings = {"fsync": "on", "synchronous_commit": "on", "full_page_writes": "on",
                "shared_buffers": "1GB", "max_wal_size": "4GB", "checkpoint_timeout": "30min"}
    workdir = Path(tempfile.mkdtemp(prefix="ht-bench-"))
    workdir.chmod(0o755)  # the cluster runs as nobody when we are root
    cluster = PostgresCluster(workdir / "pg", settings=settings)
    load_start = os.getloadavg()
    print(f"cluster: PostgreSQL in {cluster.directory} (fsync on, shared_buffers 1GB); {os.cpu_count()} CPUs; "
          f"{shutil.disk_usage(workdir).free / 1e9:.0f} GB free; load average {_load(load_start)}", flush=True)
    canary = None if args.no_canary else CANARY
    figures, rbr = [], None
    cluster.start()
    try:
        cluster.psql("CREATE ROLE app LOGIN")
        for rows in sizes:
            source = build_source(cluster, workdir, rows)
            print(f"{source.label}: source built in {source.build_seconds:.1f}s, dumped in {source.dump_seconds:.1f}s: "
                  + ", ".join(f"{k} {v:,}" for k, v in source.counts.items()), flush=True)
            fig = measure_size(cluster, source, args.runs, canary,
                               [int(mb) for mb in args.buffer_mb.split(",") if mb.strip()])
            figures.append(fig)
            report_size(fig, canary is not None)
            if args.row_by_row == "all" or (args.row_by_row == "smallest" and rows == sizes[0]):
                rbr_here = row_by_row_figures(cluster, source, args.sample)
                fig["row_by_row"] = rbr_here
                rbr = rbr or rbr_here
                report_row_by_row(rbr_here, fig)
            if not args.keep:
                source.dump.unlink()
            print(flush=True)
    finally:
        cluster.stop()
        if args.keep:
            print(f"kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    operator = None
    if args.operator_customers:
        print("bytes through the operator's side: a restore in a dyno and one --here, through the sandbox…", flush=True)
        operator_dir = Path(tempfile.mkdtemp(prefix="ht-bench-paths-"))
        try:
            operator = measure_paths(operator_dir, args.operator_customers)
        finally:
            shutil.rmtree(operator_dir, ignore_errors=True)
        report_paths(operator)
    items = goals(figures, rbr, operator)
    report_goals(figures, items)
    load_end = os.getloadavg()
    print(f"\nload average: {_load(load_start)} at the start, {_load(load_end)} at the end ({os.cpu_count()} CPUs; "
          "other work on the machine slows wall times, the pipelined (b) more than (a))")
    results = {"sizes": figures, "goals": items, "operator_bytes": operator,
               "load": {"start": list(load_start), "end": list(load_end)}, "cpus": os.cpu_count()}
    if args.output:
        Path(args.output).write_text(json.dumps(results, indent=2))
    return 0


def _load(load: tuple) -> str:
    return " ".join(f"{x:.2f}" for x in load)


if __name__ == "__main__":
    sys.exit(main())
