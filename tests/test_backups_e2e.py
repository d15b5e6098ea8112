"""``heroku-tools backups.*`` end to end: the sandbox, the real heroku CLI, real PostgreSQL.

One project is shared by the module: three apps (live, uat, dev), each with a
``heroku-postgresql`` database migrated by the sample Django app, uat and dev
running its code (their post-restore commands need it). Live holds 200 seeded
customers and a **canary** — one value planted in several personal columns
(a customer's email, first name, address and notes; a user's first name, email
and username). The rules are what ``backups.propose`` wrote, with the few
reference-data columns it guessed wrong set to ``keep``, as a user would.

Outcomes are read where they land: every row of every table of the target
(checksummed before and after, and scanned whole for the canary), the
sandbox's request log (maintenance switches, dynos, backups captured), the
databases' own catalogs. Every failure must leave the target exactly as it was,
canary-free, with maintenance off and a message saying what happened and what
to do — never a traceback.

A restore runs in three places (docs/backups.rst, "Where the restore runs"):
in a one-off dyno of the target (the default; the sandbox's dynos are local
processes, and the rendezvous counts what it relays in ``dynos.jsonl``), here
(``--here``), or in a dyno that streams the anonymised script down into a
database on this machine (emit mode, ``restore_from_dyno``). The failure tests
run on the paths they concern.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import psycopg
import pytest
import yaml
from psycopg import sql

from heroku_tools.anonymise import Fakes, RestoreFailed, Rules
from heroku_tools.anonymise.remote import restore_from_dyno
from heroku_tools.heroku import Heroku
from heroku_tools.sandbox.dynos import descendants
from heroku_tools.sandbox.postgres import PostgresCluster, find_bin_dir
from _support.home import project_env
from _support.project import HEROKU_TOOLS, Project
from _support.schema import RequestLog

pytestmark = pytest.mark.sandbox

PREFIX = "bkp"
#: In the command of every dyno the restore's engine runs in (the bootstrap checks its header).
ENGINE = "heroku-tools-engine"
CANARY = "canary-7f3a9@example.org"
SECRET = "e2e-secret-4b1d0c9e8f7a6b5c4d3e2f1a0b9c8d7e"
LIVE_CUSTOMERS = 200

SETTINGS = """\
environments:
    - label:    live
      app_name: {prefix}-live
      branch:   master
    - label:    uat
      app_name: {prefix}-uat
      branch:   master{uat_extra}
    - label:    dev
      app_name: {dev_app}
      branch:   dev
      data:
          post_restore:
              - python manage.py createsuperuser --noinput --username dev-admin --email dev-admin@example.com
data:
    rules: {rules}
    secret: ${{HEROKU_TOOLS_DATA_SECRET}}
    canary: {canary}
    post_restore:
        - python manage.py createsuperuser --noinput --username qa-admin --email qa-admin@example.com
"""

#: Columns ``backups.propose`` guesses are personal ("name") that hold reference data here.
REFERENCE_COLUMNS = {
    "auth_group": "name", "auth_permission": "name", "customers_product": "name", "django_migrations": "name",
}


# -- the project ---------------------------------------------------------------------------


def settings_text(prefix: str = PREFIX, *, rules: str = "anonymise.yml", uat_protected: bool = False,
                  dev_app: str | None = None, local: bool = False) -> str:
    """The settings; ``local``: with a database environment ``local`` (``${LOCAL_DATABASE_URL}``) below dev."""
    text = SETTINGS.format(
        prefix=prefix, rules=rules, canary=CANARY, dev_app=dev_app or f"{prefix}-dev",
        uat_extra="\n      protected: true" if uat_protected else "",
    )
    return text.replace("\ndata:\n", "\n    - label:    local\n      database_url: ${LOCAL_DATABASE_URL}\ndata:\n", 1) \
        if local else text


def database_url(sandbox, app: str) -> str:
    return sandbox.api("GET", f"/apps/{app}/config-vars")["DATABASE_URL"]


def manage(project: Project, url: str, *args: str) -> subprocess.Popen:
    """``python manage.py ARGS`` of the sample app against a database, locally (as a dyno would run it)."""
    env = {**project.env, "DATABASE_URL": url}
    return subprocess.Popen([sys.executable, "manage.py", *args], cwd=project.path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def finish(proc: subprocess.Popen, what: str, timeout: float = 180) -> str:
    out, _ = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, f"{what} exited {proc.returncode}:\n{out}"
    return out


def plant_canary(url: str) -> None:
    """The canary in several personal columns of live: customers and users."""
    with psycopg.connect(url) as conn:
        first, second, third = [row[0] for row in conn.execute(
            "SELECT id FROM customers_customer ORDER BY id LIMIT 3")]
        conn.execute("UPDATE customers_customer SET email = %s WHERE id = %s", (CANARY, first))
        conn.execute("UPDATE customers_customer SET first_name = %s, notes = %s WHERE id = %s",
                     (CANARY, f"Call back on {CANARY} after six.", second))
        conn.execute("UPDATE customers_customer SET address = %s WHERE id = %s", (f"{CANARY}\n1 High Street", third))
        conn.execute(
            """INSERT INTO auth_user (password, is_superuser, username, first_name, last_name, email,
                                      is_staff, is_active, date_joined)
               VALUES ('pbkdf2_sha256$1$x$y', false, 'radia', %s, 'Perlman', %s, true, true, now()),
                      ('pbkdf2_sha256$1$x$z', false, %s, 'Grace', 'Hopper', 'grace@example.com', false, true, now())""",
            (CANARY, CANARY, CANARY))


@pytest.fixture(scope="module")
def project(sandbox, tmp_path_factory) -> Project:
    root = tmp_path_factory.mktemp("backups-e2e")
    # TMPDIR of its own: a restore must leave no file behind (the dump is streamed, never written)
    (root / "tmp").mkdir()
    env = project_env(sandbox, root, HEROKU_TOOLS_DATA_SECRET=SECRET, TMPDIR=str(root / "tmp"))
    project = Project(root, env, PREFIX).create_repo().create_apps(pipeline=False)
    project.tmp = root / "tmp"
    apps = project.apps
    project.urls = {label: database_url(sandbox, app) for label, app in apps.items()}

    # Code on uat and dev (their post-restore commands run it), tables on all three, seed data on live.
    pushes = [
        subprocess.Popen(["git", "push", "-q", sandbox.api("GET", f"/apps/{apps[label]}")["git_url"],
                          "HEAD:refs/heads/master"], cwd=project.path, env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for label in ("uat", "dev")
    ]
    migrations = {label: manage(project, url, "migrate", "--noinput") for label, url in project.urls.items()}
    for label, proc in migrations.items():
        finish(proc, f"migrate {label}")
    finish(manage(project, project.urls["live"], "seed_customers", "--count", str(LIVE_CUSTOMERS)), "seed live")
    plant_canary(project.urls["live"])
    for proc in pushes:
        finish(proc, "git push")

    # The rules: what backups.propose writes, reviewed. (The sample app's own reviewed rules are kept aside.)
    (project.path / "anonymise.yml").rename(project.path / "example-anonymise.yml")
    proposed = project.tools("backups.propose", "live", "-o", "proposed.yml")
    assert proposed.returncode == 0, output(proposed)
    rules = yaml.safe_load((project.path / "proposed.yml").read_text())
    for table, column in REFERENCE_COLUMNS.items():
        rules["tables"][table][column] = "keep"
    project.rules = rules
    write_rules(project, "anonymise.yml", rules)
    (project.path / "heroku-tools.yml").write_text(settings_text())

    captured = project.tools("backups.capture", "live", "--json")
    assert captured.returncode == 0, output(captured)
    assert json.loads(captured.stdout.strip().splitlines()[-1]) == {"app": apps["live"], "backup": "b001"}
    return project


def write_rules(project: Project, name: str, rules: dict) -> None:
    (project.path / name).write_text(yaml.safe_dump(rules, sort_keys=False))


def variant(project: Project, name: str, *, rules: dict | None = None, **settings) -> str:
    """A settings file NAME.yml (rules in NAME-rules.yml when given): pass it with ``-f``."""
    rules_file = "anonymise.yml"
    if rules is not None:
        rules_file = f"{name}-rules.yml"
        write_rules(project, rules_file, rules)
    (project.path / f"{name}.yml").write_text(settings_text(rules=rules_file, **settings))
    return f"{name}.yml"


def with_rules(project: Project, **changes) -> dict:
    """The project's rules with ``table={column: rule}`` changes merged in (None drops a column)."""
    rules = json.loads(json.dumps(project.rules))
    for table, columns in changes.items():
        if isinstance(columns, str):
            rules["tables"][table] = columns
            continue
        target = rules["tables"].setdefault(table, {})
        for column, rule in columns.items():
            if rule is None:
                target.pop(column, None)
            else:
                target[column] = rule
    return rules


def output(result) -> str:
    return f"exit {result.returncode}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"


def restore(project: Project, source: str, target: str, *args: str, confirm: bool = True, config: str | None = None,
            timeout: float = 300):
    extra = ["--confirm", project.apps[target]] if confirm else []
    head = ["-f", config] if config else []
    return project.tools(*head, "backups.restore", source, target, *extra, *args, timeout=timeout)


# -- reading the databases -------------------------------------------------------------------


def user_tables(conn) -> list[tuple[str, str]]:
    return conn.execute(
        """SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
             AND n.nspname NOT LIKE 'pg\\_toast%%' AND n.nspname NOT LIKE 'pg\\_temp\\_%%'
           ORDER BY 1, 2""").fetchall()


def snapshot(url: str) -> dict:
    """Every table of the database: its columns, row count and a checksum of all its rows."""
    out = {}
    with psycopg.connect(url) as conn:
        for schema, table in user_tables(conn):
            ident = sql.Identifier(schema, table)
            count, digest = conn.execute(sql.SQL(
                "SELECT count(*), md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), '')) FROM {} t"
            ).format(ident)).fetchone()
            columns = [r[0] for r in conn.execute(
                "SELECT column_name || ' ' || data_type FROM information_schema.columns "
                "WHERE table_schema = %s AND table_name = %s ORDER BY ordinal_position", (schema, table))]
            out[f"{schema}.{table}"] = (count, digest, tuple(columns))
    return out


def canary_hits(url: str) -> dict[str, int]:
    """Rows holding the canary anywhere (the whole row as text: every column, JSON and numbers included)."""
    hits = {}
    with psycopg.connect(url) as conn:
        for schema, table in user_tables(conn):
            (count,) = conn.execute(sql.SQL("SELECT count(*) FROM {} t WHERE strpos(t::text, %s) > 0").format(
                sql.Identifier(schema, table)), (CANARY,)).fetchone()
            if count:
                hits[f"{schema}.{table}"] = count
    return hits


def query(url: str, text: str, params=()) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(text, params).fetchall()


def counts(url: str) -> dict[str, int]:
    return {table: count for table, (count, _, _) in snapshot(url).items()}


# -- reading the sandbox ---------------------------------------------------------------------


def maintenance(sandbox, app: str) -> bool:
    return sandbox.api("GET", f"/apps/{app}")["maintenance"]


def backups_of(sandbox, app: str) -> list[str]:
    return sorted(t["num"] for t in sandbox.api("GET", f"/client/v11/apps/{app}/transfers")
                  if t["to_type"] == "gof3r")


class Log(RequestLog):
    """The sandbox's request log from now on."""

    def switches(self, app: str) -> list[bool]:
        """The maintenance values asked for."""
        pattern = re.compile(self.app_path(app))
        return [e["body"]["maintenance"] for e in self.entries()
                if e["method"] == "PATCH" and pattern.fullmatch(e["path"])
                and isinstance(e["body"], dict) and "maintenance" in e["body"]]

    def all_dynos(self, app: str) -> list[dict]:
        pattern = re.compile(self.app_path(app) + "/dynos")
        return [e for e in self.entries() if e["method"] == "POST" and pattern.fullmatch(e["path"])]

    def dynos(self, app: str) -> list[dict]:
        """The dynos that ran commands (post-restore), not the restore's engine."""
        return [e for e in self.all_dynos(app) if ENGINE not in e["body"]["command"]]

    def engines(self, app: str) -> list[dict]:
        """The dynos the restore's engine ran in."""
        return [e for e in self.all_dynos(app) if ENGINE in e["body"]["command"]]

    def changes(self) -> list[dict]:
        """Every request that could change something."""
        return [e for e in self.entries()
                if e["method"] not in ("GET", "HEAD") and not e["path"].startswith("/_sandbox/")]


def assert_clean_failure(result, *, says: list[str], recover: bool = True) -> str:
    """Non-zero, one message (no traceback) saying what happened and, if asked, what to do."""
    text = result.stdout + result.stderr
    assert result.returncode != 0, output(result)
    assert "Traceback" not in text, output(result)
    for words in says:
        assert re.search(words, text), f"{words!r} not in the output:\n{output(result)}"
    if recover:
        assert "To recover:" in text, output(result)
    return text


def fingerprint(url: str) -> tuple[str, str]:
    """SHA-256 of ``pg_dump --schema-only`` and of ``pg_dump --data-only``: equal means byte-identical contents.

    (``\\restrict`` lines carry a random key per run: left out.)
    """
    digests = []
    for flag in ("--schema-only", "--data-only"):
        out = subprocess.run([str(find_bin_dir() / "pg_dump"), "--no-owner", flag, "-d", url],
                             capture_output=True, check=True).stdout
        kept = b"\n".join(line for line in out.splitlines() if not line.startswith((b"\\restrict", b"\\unrestrict")))
        digests.append(hashlib.sha256(kept).hexdigest())
    return digests[0], digests[1]


class Untouched:
    """uat before and after: byte-identical (pg_dump), same rows in every table, no canary, maintenance off,
    switched at most on→off, no post-restore command run, nothing left in the tool's temp directory."""

    def __init__(self, project: Project, sandbox, label: str = "uat"):
        self.project, self.sandbox, self.label = project, sandbox, label
        self.url = project.urls[label]
        self.app = project.apps[label]

    def __enter__(self):
        self.before = snapshot(self.url)
        self.print = fingerprint(self.url)
        self.log = Log(self.sandbox)
        return self

    def __exit__(self, *exc):
        if exc[0] is not None:
            return False
        assert gone(self.url), "nothing of the restore is left connected to the target"
        assert snapshot(self.url) == self.before, f"{self.label}'s database changed"
        assert fingerprint(self.url) == self.print, f"{self.label}'s database changed (pg_dump differs)"
        assert list(self.project.tmp.iterdir()) == [], "nothing left in the temp directory here"
        assert canary_hits(self.url) == {}
        assert maintenance(self.sandbox, self.app) is False
        assert self.log.switches(self.app) in ([], [True, False])
        assert self.log.dynos(self.app) == [], "no post-restore command may run after a failed load"
        return False


#: Where the engine runs: in a one-off dyno of the target (the default), or here (--here).
PATHS = {"dyno": (), "here": ("--here",)}


# -- the tests: success ----------------------------------------------------------------------


def test_proposed_rules_cover_live(project):
    """The reviewed proposal covers live's schema exactly: backups.check passes (what CI runs)."""
    result = project.tools("backups.check", "live")
    assert result.returncode == 0, output(result)
    assert "every column of live's schema has a rule" in result.stdout + result.stderr
    # the proposal itself anonymised the personal columns the canary sits in
    tables = project.rules["tables"]
    assert tables["customers_customer"]["email"] == {"fake": "email"}
    assert tables["customers_customer"]["notes"] != "keep"
    assert tables["auth_user"]["first_name"] == {"fake": "first_name"}
    # and the sample app's own reviewed rules (examples/sampleapp/anonymise.yml) are in step with its models
    example = variant(project, "example", rules=yaml.safe_load((project.path / "example-anonymise.yml").read_text()))
    result = project.tools("-f", example, "backups.check", "live")
    assert result.returncode == 0, output(result)


def worktree_files(project) -> set[Path]:
    """The project's files outside .git (where the environment's lock leaves a tag object, as a fetch leaves objects)."""
    return {path for path in project.path.rglob("*") if ".git" not in path.relative_to(project.path).parts}


def test_restore_live_into_uat(project, sandbox):
    live, uat = project.urls["live"], project.urls["uat"]
    assert canary_hits(live), "the canary must be in live for this test to mean anything"
    live_counts = counts(live)
    live_rows = dict((r[0], r[1:]) for r in query(
        live, "SELECT id, first_name, last_name, email, phone, address, notes FROM customers_customer"))
    backups_before = backups_of(sandbox, project.apps["live"])
    files_before = worktree_files(project)
    log = Log(sandbox)

    result = restore(project, "live", "uat")

    assert result.returncode == 0, output(result)
    # no dump (nor anything else) written locally, and the signed URL (a credential) never shown
    assert worktree_files(project) == files_before
    assert list(project.tmp.iterdir()) == []
    assert "/_sandbox/backups/" not in result.stdout + result.stderr
    text = result.stdout + result.stderr
    # the plan named a fresh backup, and the load ran as one transaction
    new = sorted(set(backups_of(sandbox, project.apps["live"])) - set(backups_before))
    assert len(new) == 1, "a fresh backup is captured for the run"
    name = f"b{new[0]:03d}"
    assert re.search(rf"Backup:\s+{name}, captured now, just now", text), text
    assert f"restored {name} of live into uat" in text
    # in a one-off dyno of uat (the target), never of live; only the engine, progress and the verdict crossed here
    assert "Runs:    in a one-off dyno of bkp-uat: only progress crosses this machine" in text
    assert len(log.engines(project.apps["uat"])) == 1 and log.all_dynos(project.apps["live"]) == []
    relayed = engine_traffic(sandbox, project.apps["uat"])[-1]
    assert relayed["exit_status"] == 0
    assert relayed["stdout_bytes"] < 20_000, "the dyno sent back progress and a verdict, not data"
    crossed = int(re.search(r"\(([\d,]+) bytes\) crossed this machine", text).group(1).replace(",", ""))
    # what the tool counts (the engine and parameters sent, every line the CLI printed) against what the
    # rendezvous relayed: the same, but for the CLI's own lines and the \x04
    relayed_total = relayed["stdin_bytes"] + relayed["stdout_bytes"]
    assert relayed_total - 10 <= crossed <= relayed_total + 10_000, (crossed, relayed)

    # uat's rows replaced: same counts as live (plus the post-restore user), personal fields differ
    uat_counts = counts(uat)
    assert {t: c for t, c in uat_counts.items() if t != "public.auth_user"} == \
        {t: c for t, c in live_counts.items() if t != "public.auth_user"}
    assert uat_counts["public.auth_user"] == live_counts["public.auth_user"] + 1
    uat_rows = dict((r[0], r[1:]) for r in query(
        uat, "SELECT id, first_name, last_name, email, phone, address, notes FROM customers_customer"))
    assert uat_rows.keys() == live_rows.keys()
    for ident, row in uat_rows.items():
        original = live_rows[ident]
        first_name, last_name, email, phone, address, notes = row
        assert first_name != original[0] and last_name != original[1] and email != original[2], (row, original)
        assert phone != original[3] and address != original[4], (row, original)
        assert notes != original[5] or notes == "", (row, original)
    # deterministic keyed fakes: uat's email is the fake of live's, computed independently here
    email = Fakes(SECRET).make("email", max_length=254)
    assert all(uat_rows[i][2] == email(live_rows[i][2]) for i in live_rows)
    assert len({row[2] for row in uat_rows.values()}) == len(uat_rows), "emails stay unique"

    # foreign keys intact: every order still points at its customer, the constraints are there
    assert query(uat, "SELECT count(*) FROM customers_order o LEFT JOIN customers_customer c "
                      "ON c.id = o.customer_id WHERE c.id IS NULL") == [(0,)]
    assert query(uat, "SELECT customer_id, count(*) FROM customers_order GROUP BY 1 ORDER BY 1") == \
        query(live, "SELECT customer_id, count(*) FROM customers_order GROUP BY 1 ORDER BY 1")
    assert query(uat, "SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND convalidated") == \
        query(live, "SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND convalidated")
    # no canary anywhere in uat; Django's bookkeeping kept (migrations applied, so uat's code runs)
    assert canary_hits(uat) == {}
    assert query(uat, "SELECT app, name FROM django_migrations ORDER BY id") == \
        query(live, "SELECT app, name FROM django_migrations ORDER BY id")

    # maintenance on for the load, off after; the post-restore command ran once, in one dyno, on uat
    assert log.switches(project.apps["uat"]) == [True, False]
    assert maintenance(sandbox, project.apps["uat"]) is False
    assert len(log.dynos(project.apps["uat"])) == 1
    assert query(uat, "SELECT email FROM auth_user WHERE username = 'qa-admin'") == [("qa-admin@example.com",)]
    # nothing touched live but the backup
    assert counts(live) == live_counts
    assert log.switches(project.apps["live"]) == []


def engine_traffic(sandbox, app: str) -> list[dict]:
    """What the rendezvous relayed for each engine dyno of ``app`` that has ended (the sandbox's dynos.jsonl)."""
    path = Path(sandbox.directory) / "dynos.jsonl"
    lines = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
    return [line for line in lines if line["app"] == app and ENGINE in line["command"]]


def test_restore_here_into_uat(project, sandbox):
    """``--here``: the same restore, the engine on this machine — no dyno for the load, the backup downloaded here."""
    live, uat = project.urls["live"], project.urls["uat"]
    live_counts = counts(live)
    log = Log(sandbox)

    result = restore(project, "live", "uat", "--backup", "b001", "--here")

    assert result.returncode == 0, output(result)
    text = result.stdout + result.stderr
    assert re.search(r"Runs:    here \(--here\): the whole backup \(~[\d.]+ ?[kKMG]?B, raw data\) is downloaded to this "
                     r"machine, anonymised here, and the rewritten data loaded from here", text), text
    assert log.engines(project.apps["uat"]) == [], "the load ran here"
    assert len(log.dynos(project.apps["uat"])) == 1, "the post-restore command still runs in a dyno"
    assert "restored b001 of live into uat" in text
    crossed = int(re.search(r"\(([\d,]+) bytes\) crossed this machine", text).group(1).replace(",", ""))
    assert crossed > 50_000, "the backup came down and the data went up through this machine"
    uat_counts = counts(uat)
    b001 = {t: c for t, c in uat_counts.items() if t != "public.auth_user"}
    assert b001["public.customers_customer"] == LIVE_CUSTOMERS
    assert b001.keys() == {t for t in live_counts if t != "public.auth_user"}
    assert canary_hits(uat) == {}
    email = Fakes(SECRET).make("email", max_length=254)
    live_emails = dict(query(live, "SELECT id, email FROM customers_customer WHERE id <= %s", (LIVE_CUSTOMERS,)))
    uat_emails = dict(query(uat, "SELECT id, email FROM customers_customer"))
    assert all(uat_emails[i] == email(live_emails[i]) for i in uat_emails if i in live_emails)
    assert list(project.tmp.iterdir()) == []
    assert maintenance(sandbox, project.apps["uat"]) is False


def test_restore_uat_into_dev_anonymises_again(project, sandbox):
    """uat → dev applies the rules once more (deterministically), with dev's own post-restore command."""
    uat, dev = project.urls["uat"], project.urls["dev"]
    uat_counts = counts(uat)
    assert uat_counts["public.customers_customer"] == LIVE_CUSTOMERS, "runs after the live → uat restore"
    uat_emails = dict(query(uat, "SELECT id, email FROM customers_customer"))
    log = Log(sandbox)

    result = restore(project, "uat", "dev")

    assert result.returncode == 0, output(result)
    dev_counts = counts(dev)
    assert dev_counts["public.auth_user"] == uat_counts["public.auth_user"] + 1
    assert {t: c for t, c in dev_counts.items() if t != "public.auth_user"} == \
        {t: c for t, c in uat_counts.items() if t != "public.auth_user"}
    dev_emails = dict(query(dev, "SELECT id, email FROM customers_customer"))
    email = Fakes(SECRET).make("email", max_length=254)
    assert dev_emails == {i: email(e) for i, e in uat_emails.items()}
    assert all(dev_emails[i] != uat_emails[i] for i in uat_emails)
    assert canary_hits(dev) == {}
    # dev's own post_restore replaced the shared one: dev-admin created, no qa-admin
    assert query(dev, "SELECT username FROM auth_user WHERE username IN ('qa-admin', 'dev-admin')") == [("dev-admin",)]
    assert log.switches(project.apps["dev"]) == [True, False]
    assert maintenance(sandbox, project.apps["dev"]) is False
    assert log.switches(project.apps["uat"]) == [], "the source is only read"


# -- direction ------------------------------------------------------------------------------


def test_data_never_flows_up_or_sideways(project, sandbox):
    live_backups = backups_of(sandbox, project.apps["live"])
    uat_backups = backups_of(sandbox, project.apps["uat"])
    before = {label: snapshot(project.urls[label]) for label in ("live", "uat", "dev")}
    log = Log(sandbox)
    protected = variant(project, "protected-uat", uat_protected=True)
    same_app = variant(project, "same-app", dev_app=project.apps["uat"])

    cases = [
        (restore(project, "uat", "live"), r"live is protected: data is never restored into it"),
        (restore(project, "dev", "live"), r"live is protected"),
        (restore(project, "dev", "uat"), r"data flows down only \(live → uat → dev\): dev → uat would move it up"),
        (restore(project, "uat", "uat"), r"uat cannot be restored onto itself"),
        (restore(project, "live", "uat", config=protected), r"uat is protected"),
        # --dry-run refuses just the same
        (restore(project, "uat", "live", "--dry-run", confirm=False), r"live is protected"),
    ]
    for result, message in cases:
        text = assert_clean_failure(result, says=[message, "nothing was changed"], recover=False)
        assert "Backup:" not in text, "refused before any plan"

    # a second label for uat's app: the settings refuse it (protection follows the app, not the label)
    aliased = restore(project, "uat", "dev", config=same_app)
    assert aliased.returncode == 1 and "Traceback" not in aliased.stderr, output(aliased)
    assert f"environments.dev.app_name: '{project.apps['uat']}' is already the app of environment 'uat'" in aliased.stderr

    # refused before anything at all: no backup, no maintenance switch, no dyno, no write of any kind
    assert log.changes() == []
    assert backups_of(sandbox, project.apps["live"]) == live_backups
    assert backups_of(sandbox, project.apps["uat"]) == uat_backups
    assert {label: snapshot(project.urls[label]) for label in ("live", "uat", "dev")} == before


# -- deny by default -------------------------------------------------------------------------


@pytest.mark.parametrize("path", PATHS)
def test_a_column_without_a_rule_stops_the_restore_before_any_data_loads(project, sandbox, path):
    live = project.urls["live"]
    with psycopg.connect(live) as conn:
        conn.execute("ALTER TABLE customers_customer ADD COLUMN secret_note text")
        conn.execute("UPDATE customers_customer SET secret_note = %s WHERE id IN "
                     "(SELECT id FROM customers_customer ORDER BY id LIMIT 5)", (f"PIN 1234 {CANARY}",))
    try:
        with Untouched(project, sandbox) as uat:
            result = restore(project, "live", "uat", *PATHS[path])
            assert uat.log.engines(project.apps["uat"]) == [], "refused before any dyno started"
            assert_clean_failure(result, says=[r"customers_customer\.secret_note", "nothing was changed",
                                               r"\$ heroku-tools backups\.check live", r"\$ \$EDITOR anonymise\.yml"])
            assert uat.log.switches(project.apps["uat"]) == [], "refused before maintenance mode"

        checked = project.tools("backups.check", "live")
        assert_clean_failure(checked, says=[r"customers_customer\.secret_note", r"gap\(s\)"], recover=False)
    finally:
        with psycopg.connect(live) as conn:
            conn.execute("ALTER TABLE customers_customer DROP COLUMN secret_note")
    assert project.tools("backups.check", "live").returncode == 0


def test_a_rule_for_a_column_that_no_longer_exists_is_an_error(project, sandbox):
    stale = variant(project, "stale", rules=with_rules(
        project, customers_customer={"fax": "null"}, customers_invoice="truncate"))
    with Untouched(project, sandbox) as uat:
        result = restore(project, "live", "uat", "--backup", "b001", config=stale)
        assert_clean_failure(result, says=[r"customers_customer\.fax", r"customers_invoice", "nothing was changed"])
        assert uat.log.switches(project.apps["uat"]) == []
    checked = project.tools("-f", stale, "backups.check", "live")
    assert_clean_failure(checked, says=[r"customers_customer\.fax", r"customers_invoice"], recover=False)


# -- plans, named backups --------------------------------------------------------------------


def test_dry_run_shows_the_plan_and_changes_nothing(project, sandbox):
    live_backups = backups_of(sandbox, project.apps["live"])
    with Untouched(project, sandbox) as uat:
        result = restore(project, "live", "uat", "--dry-run", confirm=False)
        assert uat.log.switches(project.apps["uat"]) == []
    assert result.returncode == 0, output(result)
    text = result.stdout + result.stderr
    assert "Source:  live (bkp-live)" in text
    assert "Backup:  a fresh one, captured once confirmed (--dry-run captures none" in text
    assert "Target:  uat (bkp-uat) — its database is REPLACED, in one transaction" in text
    assert re.search(r"public\.customers_customer\s+~\d+ rows\s+7 fake, 2 keep", text), text
    assert "python manage.py createsuperuser --noinput --username qa-admin" in text
    assert "--dry-run: stopping here; the target was not changed." in text
    assert backups_of(sandbox, project.apps["live"]) == live_backups, "a dry run captures no backup"


def test_a_wrong_confirm_is_refused_before_any_backup_is_captured(project, sandbox):
    live_backups = backups_of(sandbox, project.apps["live"])
    with Untouched(project, sandbox) as uat:
        result = project.tools("backups.restore", "live", "uat", "--confirm", project.apps["dev"])
        assert_clean_failure(result, says=[rf"--confirm {project.apps['dev']} does not match", "nothing was changed"])
        assert uat.log.changes() == []
    assert backups_of(sandbox, project.apps["live"]) == live_backups


def test_a_named_backup_is_restored_not_the_latest(project, sandbox):
    live, uat = project.urls["live"], project.urls["uat"]
    b001_customers = LIVE_CUSTOMERS
    # live moves on after b001: five more customers
    finish(manage(project, live, "seed_customers", "--count", "5", "--seed", "7"), "seed live")
    assert query(live, "SELECT count(*) FROM customers_customer") == [(b001_customers + 5,)]
    live_backups = backups_of(sandbox, project.apps["live"])

    planned = restore(project, "live", "uat", "--backup", "b001", "--dry-run", confirm=False)
    assert planned.returncode == 0, output(planned)
    assert re.search(r"Backup:\s+b001, named with --backup, (just now|\d+ minutes? ago)",
                     planned.stdout + planned.stderr), output(planned)

    result = restore(project, "live", "uat", "--backup", "b001", "--json")
    assert result.returncode == 0, output(result)
    assert "restored b001 of live into uat" in result.stderr
    # --json: stdout holds the outcome alone; the progress lines are quiet
    said = json.loads(result.stdout)
    assert (said["restored"], said["where"]) == (True, f"dyno {project.apps['uat']}") and said["rows"] > b001_customers
    assert "rows read" not in result.stderr and said["bytes_crossed"] > 0
    assert query(uat, "SELECT count(*) FROM customers_customer") == [(b001_customers,)]
    assert canary_hits(uat) == {}
    assert backups_of(sandbox, project.apps["live"]) == live_backups, "no backup captured for a named one"


def test_an_unknown_backup_is_a_clear_error(project, sandbox):
    with Untouched(project, sandbox) as uat:
        result = restore(project, "live", "uat", "--backup", "b999")
        assert_clean_failure(result, says=[r"backup b999 of bkp-live not found \(backups: b001"], recover=False)
        assert uat.log.switches(project.apps["uat"]) == []


# -- failures mid-way: the target is left exactly as it was ----------------------------------


def test_a_truncated_download_commits_nothing(project, sandbox):
    # every download of live's backups in this run stops short of the end (the schema reads survive it)
    sandbox.arm_fault(project.apps["live"], "download", times=5)
    with Untouched(project, sandbox) as uat:
        result = restore(project, "live", "uat", "--backup", "b001")
        assert_clean_failure(result, says=[
            r"restore of b001 into uat failed: the download was cut short at [\d,]+ of [\d,]+ bytes",
            r"bkp-uat's database is as it was before the restore: nothing was committed",
            r"maintenance is off again for bkp-uat",
            r"heroku-tools backups.restore live uat --backup b001",
        ])
        assert uat.log.switches(project.apps["uat"]) == [True, False], "the load had started"


@pytest.mark.parametrize("path", PATHS)
def test_a_failing_verification_commits_nothing(project, sandbox, path):
    """A rule that keeps a column the canary sits in: the canary check stops the load."""
    leaky = variant(project, "leaky", rules=with_rules(project, customers_customer={"notes": "keep"}))
    with Untouched(project, sandbox) as uat:
        result = restore(project, "live", "uat", "--backup", "b001", *PATHS[path], config=leaky)
        assert_clean_failure(result, says=[
            r"canary", r"customers_customer\.notes", r"nothing was committed",
            r"maintenance is off again for bkp-uat",
            r"\$ \$EDITOR leaky-rules\.yml",  # retrying with the same rules would only fail again
        ])
        assert uat.log.switches(project.apps["uat"]) == [True, False]


BULK_ROWS = 400_000


@pytest.fixture(scope="module")
def bulk(project, sandbox):
    """A backup of live with one big table (so a load takes seconds), and settings covering it.

    The table is dropped from live straight after the backup: the other tests never see it.
    """
    live = project.urls["live"]
    with psycopg.connect(live) as conn:
        conn.execute("CREATE TABLE bulk_event (id bigint PRIMARY KEY, email text NOT NULL, payload text)")
        conn.execute("INSERT INTO bulk_event SELECT i, 'person' || i || '@example.net', repeat(md5(i::text), 3) "
                     "FROM generate_series(1, %s) i", (BULK_ROWS,))
    try:
        captured = project.tools("backups.capture", "live", "--json")
        assert captured.returncode == 0, output(captured)
    finally:
        with psycopg.connect(live) as conn:
            conn.execute("DROP TABLE bulk_event")
    name = json.loads(captured.stdout.strip().splitlines()[-1])["backup"]
    config = variant(project, "bulk", rules=with_rules(
        project, bulk_event={"id": "keep", "email": {"fake": "email"}, "payload": {"fake": "text"}}))
    return name, config


def start_restore(project: Project, config: str, backup: str, *extra: str) -> subprocess.Popen:
    """``backups.restore live uat`` in its own process group, as a terminal runs a foreground job."""
    return subprocess.Popen(
        [str(HEROKU_TOOLS), "-f", config, "backups.restore", "live", "uat", "--backup", backup,
         "--confirm", project.apps["uat"], *extra],
        cwd=project.path, env=project.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        stdin=subprocess.DEVNULL, start_new_session=True,
    )


def wait_mid_load(url: str, proc: subprocess.Popen, *, rows: int = 20_000, timeout: float = 180) -> int:
    """The pid of the restore's backend on the target once its COPY has loaded ``rows`` rows of one table."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            found = conn.execute(
                "SELECT a.pid FROM pg_stat_activity a JOIN pg_stat_progress_copy p ON p.pid = a.pid "
                "WHERE a.application_name = 'heroku-tools-restore' AND p.tuples_processed >= %s", (rows,)
            ).fetchone()
            if found:
                return found[0]
            if proc.poll() is not None:
                out, err = proc.communicate()
                pytest.fail(f"the restore ended before its load was caught mid-way:\n{out}\n{err}")
            time.sleep(0.02)
    proc.kill()
    pytest.fail("the restore's load never started")


def interrupted(proc: subprocess.Popen, url: str, act, *, rows: int = 20_000) -> subprocess.CompletedProcess:
    """Once ``proc``'s load into ``url`` has ``rows`` rows in, ``act(pid of its backend there)``; then its end."""
    try:
        act(wait_mid_load(url, proc, rows=rows))
    finally:
        result = finished(proc, timeout=180)
    return result


def finished(proc: subprocess.Popen, timeout: float = 300) -> subprocess.CompletedProcess:
    """What ``proc`` printed and its status, once it has ended (killed after ``timeout`` seconds)."""
    try:
        out, err = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def terminate(url: str, pid: int) -> None:
    """End a backend's connection, as a network drop or a restarted server would."""
    with psycopg.connect(url, autocommit=True) as conn:
        assert conn.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone() == (True,)


def test_a_lost_connection_mid_load_commits_nothing(project, sandbox, bulk):
    backup, config = bulk
    with Untouched(project, sandbox) as uat:
        result = interrupted(start_restore(project, config, backup), uat.url, lambda pid: terminate(uat.url, pid))
        assert_clean_failure(result, says=[
            rf"restore of {backup} into uat failed: psql failed",
            r"nothing was committed", r"maintenance is off again for bkp-uat",
            rf"heroku-tools backups.restore live uat --backup {backup}",
        ])
        assert uat.log.switches(project.apps["uat"]) == [True, False]
    assert "public.bulk_event" not in snapshot(project.urls["uat"])


@pytest.mark.parametrize("path", PATHS)
def test_the_process_killed_mid_load_commits_nothing(project, sandbox, bulk, path):
    """SIGKILL: nothing can clean up, yet the orphaned psql sees its input end without COMMIT (here), or the
    dyno loses its CLI and is stopped (in a dyno)."""
    backup, config = bulk
    uat_url, uat_app = project.urls["uat"], project.apps["uat"]
    before = snapshot(uat_url)
    proc = start_restore(project, config, backup, *PATHS[path])
    try:
        wait_mid_load(uat_url, proc)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=60)
        assert gone(uat_url), "the load's connection ends with the process that fed it"
        assert snapshot(uat_url) == before
        assert canary_hits(uat_url) == {}
        assert "public.bulk_event" not in snapshot(uat_url)
        # what is left behind, as nothing was alive to undo it: maintenance mode, and uat's lock
        assert maintenance(sandbox, uat_app) is True
        assert "refs/heroku-tools/locks/uat" in project.git("ls-remote", "origin", "refs/heroku-tools/*").stdout
    finally:
        if proc.poll() is None:
            proc.kill()
        project.heroku("maintenance:off", "-a", uat_app)
        unlocked = project.tools("unlock", "uat", "--confirm", uat_app)
        assert unlocked.returncode == 0, output(unlocked)


@pytest.mark.parametrize("path", PATHS)
def test_ctrl_c_mid_load_commits_nothing(project, sandbox, bulk, path):
    backup, config = bulk
    with Untouched(project, sandbox) as uat:
        proc = start_restore(project, config, backup, *PATHS[path])
        # what Ctrl-C does: SIGINT to the foreground process group
        result = interrupted(proc, uat.url, lambda _: os.killpg(proc.pid, signal.SIGINT))
        assert_clean_failure(result, says=[
            rf"restore of {backup} into uat failed: interrupted \(Ctrl-C\)",
            r"nothing was committed", r"maintenance is off again for bkp-uat",
        ])
        assert uat.log.switches(project.apps["uat"]) == [True, False]
        if path == "dyno":
            assert re.search(r"the one-off dyno run\.\d+ was stopped", result.stderr), output(result)
            assert wait_until(lambda: one_off_dynos(sandbox, uat.app) == []), "the dyno is gone"
    # nothing of the restore is left running against uat
    assert gone(uat.url), "the restore's connection to uat is closed"


def one_off_dynos(sandbox, app: str) -> list[str]:
    """The one-off dynos running on ``app`` (its web dyno aside)."""
    return [d["name"] for d in sandbox.api("GET", f"/apps/{app}/dynos") if d["type"] == "run"]


def engine_dyno(sandbox, app: str, timeout: float = 30) -> str:
    """The name of the one-off dyno the restore's engine runs in."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        running = [d["name"] for d in sandbox.api("GET", f"/apps/{app}/dynos") if ENGINE in d["command"]]
        if running:
            return running[0]
        time.sleep(0.1)
    pytest.fail("no engine dyno is running")


def test_a_dyno_stopped_mid_load_commits_nothing(project, sandbox, bulk):
    """``heroku ps:stop`` on the engine's dyno while it loads (someone else's, or the platform's restart)."""
    backup, config = bulk
    with Untouched(project, sandbox) as uat:
        # the request `heroku ps:stop` makes, without the CLI's second of start-up (a busy machine's load can be
        # over by then): the dyno is stopped while its rows are going in
        result = interrupted(start_restore(project, config, backup), uat.url, lambda _: sandbox.api(
            "POST", f"/apps/{uat.app}/dynos/{engine_dyno(sandbox, uat.app)}/actions/stop"))
        assert_clean_failure(result, says=[
            rf"restore of {backup} into uat failed: the engine was stopped \(SIGTERM\)",
            r"nothing was committed", r"maintenance is off again for bkp-uat",
            rf"heroku-tools backups.restore live uat --backup {backup}",
        ])
        assert uat.log.switches(project.apps["uat"]) == [True, False]


def heroku_cli_of(proc: subprocess.Popen) -> int:
    """The pid of the ``heroku run`` the restoring process started."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for pid in descendants(proc.pid):
            try:
                argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"run" in argv and any(b"heroku" in arg for arg in argv[:3]):
                return pid
        time.sleep(0.1)
    pytest.fail("no heroku run process")


def test_a_dropped_connection_to_the_dyno_commits_nothing(project, sandbox, bulk):
    """The heroku CLI dies mid-load (a network drop looks the same to both ends): the dyno is stopped with it."""
    backup, config = bulk
    with Untouched(project, sandbox) as uat:
        proc = start_restore(project, config, backup)
        result = interrupted(proc, uat.url, lambda _: os.kill(heroku_cli_of(proc), signal.SIGKILL))
        assert_clean_failure(result, says=[
            rf"restore of {backup} into uat failed: the one-off dyno on bkp-uat ended before its verdict",
            r"nothing was committed", r"maintenance is off again for bkp-uat",
            rf"heroku-tools backups.restore live uat --backup {backup}",
        ])
        assert uat.log.switches(project.apps["uat"]) == [True, False]
        assert wait_until(lambda: one_off_dynos(sandbox, uat.app) == []), "the dyno went with its CLI"


def test_a_dyno_that_cannot_start_the_engine_changes_nothing_and_offers_here(project, sandbox):
    """Heroku fails to start the dyno (R99): nothing began, and the message offers the same restore here."""
    sandbox.arm_fault(project.apps["uat"], "run")
    with Untouched(project, sandbox) as uat:
        result = restore(project, "live", "uat", "--backup", "b001")
        assert_clean_failure(result, says=[
            r"restore of b001 into uat failed: the engine did not start in a one-off dyno of bkp-uat",
            r"nothing was changed", r"maintenance is off again for bkp-uat",
            r"\$ heroku-tools backups.restore live uat --backup b001 --here   # the same restore on this machine",
        ])
        assert len(uat.log.engines(uat.app)) == 1


def wait_until(predicate, timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


# -- emit mode: anonymised in a dyno, loaded into a database on this machine ------------------


@pytest.fixture
def developer(sandbox, tmp_path):
    """A plain database on the test cluster standing in for a developer's own, with something in it already."""
    url = PostgresCluster(Path(sandbox.directory) / "postgres").create_database(f"developer_{os.getpid()}_"
                                                                                  f"{tmp_path.name[-8:].lower()}")["url"]
    with psycopg.connect(url) as conn:
        conn.execute("CREATE TABLE my_notes (id int PRIMARY KEY, body text)")
        conn.execute("INSERT INTO my_notes VALUES (1, 'work in progress')")
    return url


def emit(project: Project, sandbox, target_url: str, *, backup: str = "b001", rules: dict | None = None,
         app_label: str = "dev", progress=None):
    """``restore_from_dyno``: the library function, through the real CLI and a dyno of ``app_label``'s app."""
    heroku = Heroku(env=project.env, cwd=project.path)
    live_app = project.apps["live"]
    url = heroku.pg_backups_url(live_app, backup)
    return restore_from_dyno(heroku, project.apps[app_label], target_url, backup_url=url,
                             rules=Rules.from_mapping(rules or project.rules), secret=SECRET, canary=CANARY,
                             progress=progress)


def test_emit_mode_loads_anonymised_data_into_a_local_database(project, sandbox, developer):
    live = project.urls["live"]
    log = Log(sandbox)
    seen = []

    result = emit(project, sandbox, developer, progress=seen.append)

    assert result.committed and result.where == f"dyno {project.apps['dev']}"
    local = counts(developer)
    assert local["public.customers_customer"] == LIVE_CUSTOMERS
    assert "public.my_notes" not in local, "the database is replaced, as a target app's is"
    assert canary_hits(developer) == {}
    email = Fakes(SECRET).make("email", max_length=254)
    live_emails = dict(query(live, "SELECT id, email FROM customers_customer"))
    local_emails = dict(query(developer, "SELECT id, email FROM customers_customer"))
    assert local_emails and all(local_emails[i] == email(live_emails[i]) for i in local_emails)
    # the anonymisation ran in a dyno of dev (never of live), and what came down was only the anonymised script
    assert len(log.engines(project.apps["dev"])) == 1 and log.all_dynos(project.apps["live"]) == []
    relayed = engine_traffic(sandbox, project.apps["dev"])[-1]
    assert relayed["stdout_bytes"] - 10 <= result.bytes_received <= relayed["stdout_bytes"] + 10_000, (result, relayed)
    assert result.rows_out == sum(result.per_table.values())
    assert seen and seen[-1].phase == "committing"


def test_emit_mode_with_a_failing_verification_commits_nothing_locally(project, sandbox, developer):
    before = fingerprint(developer)
    with pytest.raises(Exception) as raised:
        emit(project, sandbox, developer, rules=with_rules(project, customers_customer={"notes": "keep"}))
    assert type(raised.value).__name__ == "CanaryFound" and "customers_customer.notes" in str(raised.value)
    assert fingerprint(developer) == before
    assert counts(developer) == {"public.my_notes": 1}


def emit_in_background(project, sandbox, bulk, developer) -> tuple[threading.Thread, list[BaseException]]:
    """``emit`` of the bulk backup in a thread; the list receives what it raised."""
    backup, _ = bulk
    rules = with_rules(project, bulk_event={"id": "keep", "email": {"fake": "email"}, "payload": {"fake": "text"}})
    failure: list[BaseException] = []

    def run():
        try:
            emit(project, sandbox, developer, backup=backup, rules=rules)
        except BaseException as error:  # noqa: BLE001 - examined by the caller
            failure.append(error)

    worker = threading.Thread(target=run)
    worker.start()
    return worker, failure


def local_load_mid_way(url: str, worker: threading.Thread, failure: list, rows: int = 20_000) -> int:
    """The pid of the local load's backend once its COPY has loaded ``rows`` rows of one table."""
    deadline = time.monotonic() + 180
    with psycopg.connect(url, autocommit=True) as conn:
        while time.monotonic() < deadline and worker.is_alive():
            found = conn.execute("SELECT a.pid FROM pg_stat_activity a JOIN pg_stat_progress_copy p ON p.pid = a.pid "
                                 "WHERE a.application_name = 'heroku-tools-restore' AND p.tuples_processed >= %s",
                                 (rows,)).fetchone()
            if found:
                return found[0]
            time.sleep(0.02)
    pytest.fail(f"the load was not caught mid-way: {failure}")


def test_emit_mode_cut_mid_stream_commits_nothing_locally(project, sandbox, bulk, developer):
    """The dyno stopped while the script streams down: the local load never gets its COMMIT."""
    before = fingerprint(developer)
    worker, failure = emit_in_background(project, sandbox, bulk, developer)
    try:
        local_load_mid_way(developer, worker, failure, rows=1)  # ps:stop takes a second to act
        project.heroku("ps:stop", engine_dyno(sandbox, project.apps["dev"]), "-a", project.apps["dev"])
    finally:
        worker.join(180)
    assert failure and isinstance(failure[0], RestoreFailed), failure
    assert "nothing was committed" in str(failure[0])
    assert gone(developer)
    assert fingerprint(developer) == before


def test_emit_mode_with_the_local_load_failing_hangs_up_on_the_dyno(project, sandbox, bulk, developer):
    """The local database's connection lost mid-way: nothing commits here, and the dyno is not left streaming."""
    before = fingerprint(developer)
    worker, failure = emit_in_background(project, sandbox, bulk, developer)
    try:
        pid = local_load_mid_way(developer, worker, failure)
        with psycopg.connect(developer, autocommit=True) as conn:
            conn.execute("SELECT pg_terminate_backend(%s)", (pid,))
    finally:
        worker.join(180)
    assert not worker.is_alive()
    assert failure and isinstance(failure[0], RestoreFailed) and "psql failed" in str(failure[0]), failure
    assert "nothing was committed" in str(failure[0])
    assert wait_until(lambda: one_off_dynos(sandbox, project.apps["dev"]) == []), "the dyno was hung up on"
    assert fingerprint(developer) == before


def gone(url: str, timeout: float = 15) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if query(url, "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'heroku-tools-restore'") \
                == [(0,)]:
            return True
        time.sleep(0.2)
    return False


# -- a database environment: the developer's own database, through the program ---------------------------


def into_local(project: Project, url: str, *args: str, config: str) -> subprocess.Popen:
    """``backups.restore live local`` with ``LOCAL_DATABASE_URL`` set, in its own process group."""
    return subprocess.Popen(
        [str(HEROKU_TOOLS), "-f", config, "backups.restore", "live", "local", "--confirm", "local", *args],
        cwd=project.path, env={**project.env, "LOCAL_DATABASE_URL": url}, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL, start_new_session=True)


@pytest.mark.parametrize("path", PATHS)
def test_restore_live_into_a_local_database(project, sandbox, developer, path):
    """Anonymised in a dyno of dev (the lowest app), only anonymised rows come down (or all here with --here)."""
    live, dev = project.urls["live"], project.apps["dev"]
    config = variant(project, "local", local=True)
    log = Log(sandbox)

    result = finished(into_local(project, developer, "--backup", "b001", *PATHS[path], config=config))

    assert result.returncode == 0 and "Traceback" not in result.stderr, output(result)
    text = result.stdout + result.stderr
    assert "Target:  local (its database_url)" in text, text
    if path == "dyno":
        assert (f"Runs:    in a one-off dyno of {dev} (dev): only the anonymised rows, compressed, come down to this "
                "machine into local's database; raw data never does") in text, text
        assert len(log.engines(dev)) == 1
    else:
        assert "Runs:    here (--here): the whole backup" in text and log.all_dynos(dev) == [], text
    assert all(log.all_dynos(project.apps[label]) == [] for label in ("live", "uat"))
    assert all(log.switches(app) == [] for app in project.apps.values()), "a database has no maintenance page"
    assert "post-restore commands run in a dyno of the target app, and local is a database: none was run" in text
    assert "restored b001 of live into local" in text
    local = counts(developer)
    assert local["public.customers_customer"] == LIVE_CUSTOMERS and "public.my_notes" not in local
    assert canary_hits(developer) == {}
    email = Fakes(SECRET).make("email", max_length=254)
    live_emails = dict(query(live, "SELECT id, email FROM customers_customer"))
    local_emails = dict(query(developer, "SELECT id, email FROM customers_customer"))
    assert local_emails and all(local_emails[i] == email(live_emails[i]) for i in local_emails)
    assert list(project.tmp.iterdir()) == []


def test_into_a_local_database_a_column_without_a_rule_stops_before_any_dyno(project, sandbox, developer):
    live = project.urls["live"]
    config = variant(project, "local", local=True)
    before = fingerprint(developer)
    with psycopg.connect(live) as conn:
        conn.execute("ALTER TABLE customers_customer ADD COLUMN secret_note text")
    log = Log(sandbox)
    try:
        result = finished(into_local(project, developer, config=config))
    finally:
        with psycopg.connect(live) as conn:
            conn.execute("ALTER TABLE customers_customer DROP COLUMN secret_note")
    assert_clean_failure(result, says=[r"customers_customer\.secret_note", "nothing was changed"])
    assert log.engines(project.apps["dev"]) == []
    assert fingerprint(developer) == before


@pytest.mark.parametrize("path", PATHS)
def test_ctrl_c_while_a_local_database_loads_commits_nothing(project, sandbox, bulk, developer, path):
    backup, _ = bulk
    config = variant(project, "bulk-local", local=True, rules=with_rules(
        project, bulk_event={"id": "keep", "email": {"fake": "email"}, "payload": {"fake": "text"}}))
    before = fingerprint(developer)
    proc = into_local(project, developer, "--backup", backup, *PATHS[path], config=config)
    result = interrupted(proc, developer, lambda _: os.killpg(proc.pid, signal.SIGINT))
    assert_clean_failure(result, says=[rf"restore of {backup} into local failed: interrupted \(Ctrl-C\)",
                                       r"local's database is as it was before the restore: nothing was committed"])
    if path == "dyno":
        assert re.search(r"the one-off dyno run\.\d+ was stopped", result.stderr), output(result)
        assert wait_until(lambda: one_off_dynos(sandbox, project.apps["dev"]) == []), "the dyno is gone"
    assert gone(developer)
    assert fingerprint(developer) == before
    assert list(project.tmp.iterdir()) == []


# -- from a project's own fabfile -------------------------------------------------------------

FABFILE = """\
from invoke import Collection

from heroku_tools import Session, restore, task


@task
def refresh_dev(c):
    \"\"\"Live's data into dev, anonymised: the library's own restore(), from this project's fabfile.\"\"\"
    result = restore(Session.from_context(c), "live", "dev", confirm_app="{dev}")
    print(f"restored {{result.rows_out}} rows")


ns = Collection(refresh_dev)
"""


def test_a_projects_own_fabfile_restores_with_the_library_function(project, sandbox, tmp_path):
    """``restore()`` is a plain function a fabfile calls: run with stock ``fab``, dev gets live's data, anonymised."""
    (tmp_path / "fabfile.py").write_text(FABFILE.format(dev=project.apps["dev"]))
    result = project._run([str(HEROKU_TOOLS.parent / "fab"), "-r", str(tmp_path), "refresh-dev"], check=False,
                          timeout=300)
    assert result.returncode == 0, output(result)
    assert re.search(r"restored [\d,]+ rows", result.stdout), output(result)
    dev = project.urls["dev"]
    assert counts(dev)["public.customers_customer"] == counts(project.urls["live"])["public.customers_customer"]
    assert canary_hits(dev) == {}
    assert maintenance(sandbox, project.apps["dev"]) is False


# -- downloads: private, outside the project ------------------------------------------------------


def test_a_download_is_private_outside_the_project_and_whole_or_absent(project, sandbox):
    home = Path(project.env["HOME"])
    tree = project.git("status", "--porcelain").stdout
    result = project.tools("backups.download", "live", "--backup", "b001")
    assert result.returncode == 0, output(result)
    path = home / ".cache" / "heroku-tools" / "backups" / project.apps["live"] / "b001.dump"
    assert path.is_file() and f"wrote {path} (readable only by you)" in result.stderr
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert subprocess.run(["pg_restore", "-l", str(path)], capture_output=True).returncode == 0
    assert project.git("status", "--porcelain").stdout == tree, "nothing written into the project"

    again = project.tools("backups.download", "live", "--backup", "b001")
    assert again.returncode == 1 and "exists: pass --force" in again.stderr

    inside = project.tools("backups.download", "live", "--backup", "b001", "-o", "live.dump")
    assert inside.returncode == 0, output(inside)
    assert "is inside a git work tree and not ignored" in inside.stderr
    assert stat.S_IMODE((project.path / "live.dump").stat().st_mode) == 0o600
    (project.path / "live.dump").unlink()

    sandbox.arm_fault(project.apps["live"], "download")
    cut = project.tools("backups.download", "live", "--backup", "b001", "-o", str(home / "cut.dump"))
    assert_clean_failure(cut, says=[r"the download was cut short at [\d,]+ of [\d,]+ bytes; nothing was kept"])
    assert not (home / "cut.dump").exists() and not (home / "cut.dump.part").exists()


def test_check_names_views_and_functions_that_hold_literals_for_review(project, sandbox):
    live = project.urls["live"]
    with psycopg.connect(live) as conn:
        conn.execute(f"CREATE VIEW vip_customers AS SELECT id FROM customers_customer WHERE email = '{CANARY}'")
        conn.execute("CREATE FUNCTION shout() RETURNS text LANGUAGE sql AS $$ SELECT 'hello'::text $$")
        conn.execute("CREATE VIEW plain_view AS SELECT id FROM customers_customer")
    try:
        result = project.tools("backups.check", "live")
        assert result.returncode == 0, output(result)
        text = result.stdout + result.stderr
        assert "review: the view public.vip_customers holds string literals" in text
        assert "review: the function public.shout holds string literals" in text
        assert "plain_view" not in text
    finally:
        with psycopg.connect(live) as conn:
            conn.execute("DROP VIEW vip_customers; DROP VIEW plain_view; DROP FUNCTION shout()")
