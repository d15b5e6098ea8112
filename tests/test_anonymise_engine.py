"""The engine that runs in a one-off dyno, run here exactly as a dyno runs it: ``bash -c BOOTSTRAP``.

The interpreter is this one started with ``-I -S`` (no site-packages, no
user site, no PYTHONPATH): the engine must need nothing but the standard
library, as the app's own Python in a dyno has none of heroku-tools'
requirements. Its stdin is what :mod:`heroku_tools.anonymise.remote` sends;
its stdout is read frame by frame. The databases are real (the fixtures of
``test_anonymise_restore``): load mode restores into ``DATABASE_URL``; emit
mode's script is loaded here, with and without the COMMIT this side adds.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from heroku_tools.anonymise import Rules
from heroku_tools.anonymise.frames import PREFIX, Decoder, parse
from heroku_tools.anonymise.remote import params
from heroku_tools.anonymise.transaction import COMMIT_SQL
from heroku_tools.anonymise.zipapp import BOOTSTRAP, build
import test_anonymise_restore as restore_tests
from test_anonymise_restore import CANARY, RULES, SECRET, canary_hits, snapshot

#: The real databases of the local restore's tests: a cluster, a source with its dump, a target.
cluster, workdir, source, target = restore_tests.cluster, restore_tests.workdir, restore_tests.source, restore_tests.target

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def bare_python(tmp_path_factory) -> Path:
    """A directory whose ``python`` is this interpreter without any site-packages (a dyno's view of ours)."""
    bindir = tmp_path_factory.mktemp("bare-python")
    wrapper = bindir / "python"
    wrapper.write_text(f"#!/bin/sh\nexec {sys.executable} -I -S \"$@\"\n")
    wrapper.chmod(0o755)
    return bindir


def run_engine(bare_python: Path, stdin: bytes, env: dict | None = None) -> tuple[int, list[tuple[str, str]], list[str]]:
    """The bootstrap with ``stdin``: its exit status, its frames, and any other line it printed."""
    path = os.pathsep.join((str(bare_python), *os.environ["PATH"].split(os.pathsep)))
    done = subprocess.run(["bash", "-c", BOOTSTRAP], input=stdin, capture_output=True, timeout=120,
                          env={"PATH": path, "HOME": os.environ.get("HOME", "/tmp"), **(env or {})})
    lines = done.stdout.decode().splitlines() + done.stderr.decode().splitlines()
    frames = [parsed for parsed in map(parse, lines) if parsed]
    return done.returncode, frames, [line for line in lines if not parse(line)]


def verdict(frames) -> dict:
    kinds = [kind for kind, _ in frames]
    assert kinds[-1] == "verdict" and kinds.count("verdict") == 1, kinds
    return json.loads(frames[-1][1])


def test_the_engine_is_the_anonymiser_and_nothing_that_needs_a_requirement():
    engine = build()
    assert engine is build() and engine.digest == build.__wrapped__().digest, "the same bytes every time"
    assert "heroku_tools.anonymise.restore" in engine.modules and "heroku_tools.anonymise.dyno" in engine.modules
    for unwanted in ("heroku_tools.anonymise.proposal", "heroku_tools.anonymise.remote", "heroku_tools.heroku",
                     "heroku_tools.runner", "heroku_tools.settings", "heroku_tools.output"):
        assert unwanted not in engine.modules
    assert len(engine.data) < 150_000
    # the command line carries no data and no secret: just the bootstrap
    assert "'" not in BOOTSTRAP.split("'", 1)[1].rsplit("'", 1)[0]
    assert SECRET not in BOOTSTRAP and "http" not in BOOTSTRAP


def test_load_mode_restores_into_the_dynos_database(bare_python, cluster, source, target):
    src, dump_path = source
    url = cluster.url(target, "app")
    stdin = build().payload(params("load", backup_url=str(dump_path), rules=Rules.from_mapping(RULES),
                                   secret=SECRET, canary=CANARY))

    status, frames, stray = run_engine(bare_python, stdin, {"DATABASE_URL": url})

    outcome = verdict(frames)
    assert status == 0 and outcome["ok"], (outcome, stray)
    assert stray == []
    hello = json.loads(frames[0][1])
    assert frames[0][0] == "hello" and hello["version"] == build().version and hello["mode"] == "load"
    rows = int(cluster.psql("SELECT count(*) FROM customer", dbname=target))
    assert rows == int(cluster.psql("SELECT count(*) FROM customer", dbname=src)) == outcome["result"]["per_table"]["customer"]
    assert canary_hits(cluster, target) == {}
    assert any(kind == "progress" and json.loads(body)["phase"] == "committing" for kind, body in frames)


def test_load_mode_refuses_a_database_other_than_the_one_the_plan_checked(bare_python, cluster, source, target):
    _, dump_path = source
    before = snapshot(cluster, target)
    stdin = build().payload(params("load", backup_url=str(dump_path), rules=Rules.from_mapping(RULES), secret=SECRET,
                                   canary=CANARY, database="elsewhere.example.com:5432/other"))

    status, frames, _ = run_engine(bare_python, stdin, {"DATABASE_URL": cluster.url(target, "app")})

    outcome = verdict(frames)
    assert status == 1 and outcome["error"] == "RestoreFailed" and "not the database the plan checked" in outcome["message"]
    assert snapshot(cluster, target) == before


def test_load_mode_reports_a_failed_verification_by_its_class(bare_python, cluster, source, target):
    _, dump_path = source
    before = snapshot(cluster, target)
    leaky = json.loads(json.dumps(RULES))
    leaky["tables"]["customer"]["notes"] = "keep"
    stdin = build().payload(params("load", backup_url=str(dump_path), rules=Rules.from_mapping(leaky), secret=SECRET,
                                   canary=CANARY))

    status, frames, _ = run_engine(bare_python, stdin, {"DATABASE_URL": cluster.url(target, "app")})

    outcome = verdict(frames)
    assert status == 1 and outcome["error"] == "CanaryFound" and "customer.notes" in outcome["message"]
    assert snapshot(cluster, target) == before


def test_emit_mode_streams_the_script_without_its_commit(bare_python, cluster, source, target):
    src, dump_path = source
    stdin = build().payload(params("emit", backup_url=str(dump_path), rules=Rules.from_mapping(RULES), secret=SECRET,
                                   canary=CANARY))

    status, frames, stray = run_engine(bare_python, stdin)

    outcome = verdict(frames)
    assert status == 0 and outcome["ok"] and stray == [], (outcome, stray)
    decoder = Decoder()
    script = b"".join(decoder.decode(body) for kind, body in frames if kind == "data")
    end = next(json.loads(body) for kind, body in frames if kind == "end")
    assert decoder.matches(end) and end["bytes"] == len(script)
    assert b"\nBEGIN;\n" in script and b"\nCOMMIT;\n" not in script
    # the canary only in the verification's search for it, never in data
    assert all(b"strpos(" in line or b"canary found" in line for line in script.splitlines() if CANARY.encode() in line)
    # the engine read the dump's table of contents too: a foreign key comes as soon as both its tables are in
    assert script.count(b"ADD CONSTRAINT customer_user_id_fkey") == 1
    assert script.index(b"ADD CONSTRAINT customer_user_id_fkey") < script.index(b"COPY public.shop_order")

    # the script as it came: no COMMIT, so loading it changes nothing
    before = snapshot(cluster, target)
    psql = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1"]
    loaded = subprocess.run(psql, input=script, env=cluster.env("app", target), capture_output=True)
    assert loaded.returncode == 0, loaded.stderr
    assert snapshot(cluster, target) == before
    # with the COMMIT the other side adds once the end frame matched: the anonymised data is there
    loaded = subprocess.run(psql, input=script + COMMIT_SQL.encode(), env=cluster.env("app", target),
                            capture_output=True)
    assert loaded.returncode == 0, loaded.stderr
    assert b"heroku-tools-commit-status:committed" in loaded.stdout
    assert int(cluster.psql("SELECT count(*) FROM customer", dbname=target)) == \
        int(cluster.psql("SELECT count(*) FROM customer", dbname=src))
    assert canary_hits(cluster, target) == {}


def test_an_engine_damaged_on_the_way_does_not_run(bare_python):
    payload = build().payload(params("emit", backup_url="/nonexistent", rules=Rules.from_mapping(RULES),
                                     secret=SECRET, canary=None))
    header, rest = payload.split(b"\n", 1)
    damaged = header + b"\n" + rest[:100] + (b"A" if rest[100:101] != b"A" else b"B") + rest[101:]

    status, frames, _ = run_engine(bare_python, damaged)

    assert status == 3 and verdict(frames)["message"] == "the engine arrived damaged (its digest differs)"
    status, frames, _ = run_engine(bare_python, b"hello\n")
    assert status == 3 and "did not arrive" in verdict(frames)["message"]


def test_every_line_the_engine_writes_is_a_frame(bare_python, source):
    _, dump_path = source
    stdin = build().payload(params("emit", backup_url=str(dump_path), rules=Rules.from_mapping(RULES), secret=SECRET,
                                   canary=CANARY))
    path = os.pathsep.join((str(bare_python), *os.environ["PATH"].split(os.pathsep)))
    out = subprocess.run(["bash", "-c", BOOTSTRAP], input=stdin, capture_output=True, timeout=120,
                         env={"PATH": path}).stdout
    assert all(line.startswith(PREFIX.encode()) for line in out.splitlines())
    assert b"\r" not in out and "\uffff".encode() not in out
