"""Heroku Postgres in the sandbox, driven by the real heroku CLI against real PostgreSQL.

Outcomes are checked where they land: rows in the databases, dump files in
the sandbox's storage, transfer records of the data API, config vars and
releases. Platform API answers (add-ons, attachments) are validated against
the schema once the expansions the CLI asked for are folded back (see
:func:`schema_errors`).
"""
from __future__ import annotations

import json
import re
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import psycopg
import pytest

from heroku_tools.sandbox import Sandbox
from heroku_tools.sandbox.backups import signature
from _support.cli import HerokuCLI
from _support.schema import RequestLog, validate_logged_responses

pytestmark = pytest.mark.sandbox

TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} \+0000$")


# -- helpers -----------------------------------------------------------------------
def create_app_with_database(heroku, sandbox, name: str) -> str:
    """``apps:create`` + ``addons:create heroku-postgresql``; the app's DATABASE_URL."""
    heroku("apps:create", name, "--no-remote")
    heroku("addons:create", "heroku-postgresql", "-a", name)
    return sandbox.api("GET", f"/apps/{name}/config-vars")["DATABASE_URL"]


def rows(url: str, sql: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql).fetchall()


def execute(url: str, sql: str) -> None:
    with psycopg.connect(url) as conn:
        conn.execute(sql)


def tables(url: str) -> set[str]:
    return {name for (name,) in rows(url, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}


def transfers(sandbox, app: str) -> list[dict]:
    return sandbox.api("GET", f"/client/v11/apps/{app}/transfers")


def fetch(sandbox, url: str) -> tuple[int, bytes]:
    context = ssl.create_default_context(cafile=str(sandbox.ca_file))
    try:
        with urllib.request.urlopen(url, context=context, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def _fold_expansions(entry: dict) -> dict:
    """The entry's response as it would be without ``Accept-Expansion``/``Accept-Inclusion``.

    Heroku adds the expanded fields (plan price, ``addon.plan``, ``config_vars``)
    only when asked; the schema describes the plain shape.
    """
    headers = {key.lower(): value for key, value in entry["headers"].items()}
    if not ({"accept-expansion", "accept-inclusion"} & set(headers)) or not entry.get("response"):
        return entry
    body = json.loads(json.dumps(entry["response"]))
    for item in body if isinstance(body, list) else [body]:
        if not isinstance(item, dict):
            continue
        if "addon" in item:
            item.pop("config_vars", None)
        for key in ("plan", "addon_service"):
            if isinstance(item.get(key), dict):
                item[key] = {k: item[key][k] for k in ("id", "name") if k in item[key]}
        if isinstance(item.get("addon"), dict):
            item["addon"].pop("plan", None)
    return {**entry, "response": body}


def schema_errors(log: RequestLog) -> list[str]:
    return validate_logged_responses(_fold_expansions(entry) for entry in log.entries())


# -- add-ons -------------------------------------------------------------------------
def test_addons_create_provisions_a_real_database(sandbox, heroku, app_name):
    log = RequestLog(sandbox)
    heroku("apps:create", app_name, "--no-remote")
    created = heroku("addons:create", "heroku-postgresql", "-a", app_name)
    addon_name = re.search(r"Created (postgresql-[a-z]+-\d{5}) as DATABASE_URL", created.stdout).group(1)
    assert "~$0.007/hour (max $5/month)" in created.stderr

    url = heroku.json("config", "--json", "-a", app_name)["DATABASE_URL"]
    assert re.match(r"^postgres://u[a-z0-9]{13}:p[0-9a-f]{64}@127\.0\.0\.1:\d+/d[a-z0-9]{13}$", url)
    execute(url, "CREATE TABLE widgets (id serial PRIMARY KEY, name text); INSERT INTO widgets (name) VALUES ('a'), ('b')")
    assert rows(url, "SELECT count(*) FROM widgets") == [(2,)]
    assert rows(url, "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()") == [(True,)]
    with pytest.raises(psycopg.OperationalError, match="no encryption"):
        psycopg.connect(url, sslmode="disable")
    assert heroku("pg:psql", "-a", app_name, "-c", "SELECT count(*) FROM widgets").stdout.split()[2] == "2"

    releases = heroku.json("releases", "--json", "-a", app_name)
    assert [r["description"] for r in releases[:2]] == [
        "Update DATABASE by heroku-postgresql",
        f"Attach DATABASE (@ref:{addon_name})",
    ]
    assert releases[0]["addon_plan_names"] == ["heroku-postgresql:essential-0"]

    (addon,) = heroku.json("addons", "--json", "-a", app_name)
    assert addon["name"] == addon_name
    assert addon["plan"]["name"] == "heroku-postgresql:essential-0"
    assert (addon["state"], addon["config_vars"]) == ("provisioned", ["DATABASE_URL"])
    assert [(a["name"], a["app"]["name"]) for a in addon["attachments"]] == [("DATABASE", app_name)]

    info = heroku("pg:info", "-a", app_name).stdout
    assert "=== DATABASE_URL" in info
    assert re.search(r"Plan:\s+Essential 0", info)
    assert re.search(r"Tables:\s+1/4000", info)
    assert re.search(rf"Add-on:\s+{addon_name}", info)
    assert schema_errors(log) == []


def test_second_database_is_colored_and_destroy_drops_it(sandbox, heroku, app_name):
    log = RequestLog(sandbox)
    primary = create_app_with_database(heroku, sandbox, app_name)
    created = heroku("addons:create", "heroku-postgresql:essential-1", "-a", app_name)
    addon_name, var = re.search(r"Created (\S+) as (HEROKU_POSTGRESQL_[A-Z]+_URL)", created.stdout).groups()
    config = heroku.json("config", "--json", "-a", app_name)
    assert config["DATABASE_URL"] == primary and config[var] != primary
    second = config[var]
    assert rows(second, "SELECT 1") == [(1,)]

    heroku("addons:destroy", addon_name, "-a", app_name, "--confirm", app_name)
    assert var not in heroku.json("config", "--json", "-a", app_name)
    assert heroku.json("releases", "--json", "-a", app_name)[0]["description"] == f"Detach {var[:-4]} (@ref:{addon_name})"
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(second, connect_timeout=5)
    remaining = heroku.json("addons", "--json", "-a", app_name)
    assert len(remaining) == 1 and remaining[0]["name"] != addon_name
    assert schema_errors(log) == []


# -- backups -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def source(sandbox, tmp_path_factory):
    """An app whose database holds ``items`` (3 rows), captured as b001 by ``pg:backups:capture``."""
    home = tmp_path_factory.mktemp("home")
    heroku = HerokuCLI(sandbox.cli_env(home), home)
    name = f"pgsrc-{int(time.time()) % 100000}"
    url = create_app_with_database(heroku, sandbox, name)
    execute(url, "CREATE TABLE items (id serial PRIMARY KEY, name text); INSERT INTO items (name) VALUES ('a'), ('b'), ('c')")
    captured = heroku("pg:backups:capture", "-a", name)
    return {"name": name, "url": url, "capture": captured}


def stored_backup(sandbox, app: str, name: str) -> Path:
    app_id = sandbox.api("GET", f"/apps/{app}")["id"]
    return sandbox.directory / "backups" / app_id / f"{name}.dump"


def test_capture_makes_a_real_dump(sandbox, heroku, source):
    assert "Backing up DATABASE to b001... done" in source["capture"].stderr
    listing = heroku("pg:backups", "-a", source["name"]).stdout
    assert re.search(r"b001\s+\S+ \S+ \+0000\s+Completed \S+ \S+ \+0000\s+\S+\s+DATABASE", listing)

    (backup,) = [t for t in transfers(sandbox, source["name"]) if t["num"] == 1]
    assert (backup["from_type"], backup["to_type"], backup["succeeded"]) == ("pg_dump", "gof3r", True)
    assert all(TIMESTAMP.match(backup[k]) for k in ("created_at", "started_at", "finished_at"))
    dump = stored_backup(sandbox, source["name"], "b001")
    assert dump.read_bytes().startswith(b"PGDMP")
    assert backup["processed_bytes"] == dump.stat().st_size
    assert backup["source_bytes"] > 0 and "logs" not in backup

    info = heroku("pg:backups:info", "b001", "-a", source["name"]).stdout
    assert "=== Backup b001" in info and re.search(r"Status:\s+Completed", info)
    assert 'pg_dump: dumping contents of table "public.items"' in info
    assert "pg_dump finished successfully" in info


def test_backup_url_is_signed_and_expires(sandbox, heroku, source):
    url = heroku("pg:backups:url", "b001", "-a", source["name"]).stdout.strip()
    assert url.startswith(f"{sandbox.base_url}/")
    status, body = fetch(sandbox, url)
    assert status == 200
    assert body == stored_backup(sandbox, source["name"], "b001").read_bytes()

    parts = urllib.parse.urlsplit(url)
    query = dict(urllib.parse.parse_qsl(parts.query))
    tampered = url.replace(query["signature"], query["signature"][::-1])
    assert fetch(sandbox, tampered)[0] == 403
    expires = int(time.time()) - 1
    expired = f"{sandbox.base_url}{parts.path}?" + urllib.parse.urlencode(
        {"expires": expires, "signature": signature(sandbox.api_key, parts.path, expires)})
    status, body = fetch(sandbox, expired)
    assert status == 403 and b"Request has expired" in body
    assert fetch(sandbox, f"{sandbox.base_url}{parts.path}")[0] == 403


def test_download_writes_the_backup(sandbox, heroku, source, tmp_path):
    target = tmp_path / "out" / "b001.dump"
    done = heroku("pg:backups:download", "b001", "-o", str(target), "-a", source["name"])
    assert "done, #1" in done.stderr
    assert target.read_bytes() == stored_backup(sandbox, source["name"], "b001").read_bytes()


def test_restore_needs_confirm_then_copies_rows(sandbox, heroku, source, app_name):
    target = create_app_with_database(heroku, sandbox, app_name)
    unconfirmed = heroku("pg:backups:restore", f"{source['name']}::b001", "DATABASE_URL", "-a", app_name)
    assert unconfirmed.returncode == 0 and "--confirm" in unconfirmed.stdout
    assert transfers(sandbox, app_name) == [] and tables(target) == set()

    restored = heroku("pg:backups:restore", f"{source['name']}::b001", "DATABASE_URL", "-a", app_name, "--confirm", app_name)
    assert "Restoring... done" in restored.stderr
    assert rows(target, "SELECT name FROM items ORDER BY id") == [("a",), ("b",), ("c",)]
    (restore,) = transfers(sandbox, app_name)
    assert (restore["from_type"], restore["to_type"], restore["succeeded"]) == ("gof3r", "pg_restore", True)
    assert re.search(r"r001\s+.*Completed", heroku("pg:backups", "-a", app_name).stdout)


def test_restore_fault_leaves_target_unchanged(sandbox, heroku, source, app_name):
    target = create_app_with_database(heroku, sandbox, app_name)
    execute(target, "CREATE TABLE keep (x int); INSERT INTO keep VALUES (42)")
    sandbox.arm_fault(app_name, "restore")
    failed = heroku("pg:backups:restore", f"{source['name']}::b001", "DATABASE_URL", "-a", app_name,
                    "--confirm", app_name, check=False)
    assert failed.returncode != 0
    assert "pg_restore: error" in failed.stderr
    assert tables(target) == {"keep"} and rows(target, "SELECT x FROM keep") == [(42,)]
    (restore,) = transfers(sandbox, app_name)
    assert restore["finished_at"] and not restore["succeeded"]


def test_capture_fault_fails_with_logs(sandbox, heroku, app_name):
    create_app_with_database(heroku, sandbox, app_name)
    sandbox.arm_fault(app_name, "backup")
    failed = heroku("pg:backups:capture", "-a", app_name, check=False)
    assert failed.returncode == 2
    assert "An error occurred and the backup did not finish." in failed.stderr
    assert "pg_dump: error" in failed.stderr and "pg_dump finished with errors" in failed.stderr
    (backup,) = transfers(sandbox, app_name)
    assert backup["finished_at"] and not backup["succeeded"]
    assert not stored_backup(sandbox, app_name, "b001").exists()


def test_copy_delete_and_reset(sandbox, heroku, source, app_name):
    target = create_app_with_database(heroku, sandbox, app_name)
    heroku("pg:copy", f"{source['name']}::DATABASE_URL", "DATABASE_URL", "-a", app_name, "--confirm", "DATABASE")
    assert rows(target, "SELECT count(*) FROM items") == [(3,)]
    assert [t["from_type"] + ">" + t["to_type"] for t in transfers(sandbox, app_name)] == ["pg_dump>pg_restore"]

    heroku("pg:backups:capture", "-a", app_name)
    dump = stored_backup(sandbox, app_name, "b002")
    assert dump.exists()
    heroku("pg:backups:delete", "b002", "-a", app_name, "--confirm", app_name)
    assert not dump.exists() and [t["num"] for t in transfers(sandbox, app_name)] == [1]

    heroku("pg:reset", "DATABASE_URL", "-a", app_name, "--confirm", app_name)
    assert tables(target) == set()
    execute(target, "CREATE TABLE again (x int)")  # the app's credentials still own the new database


# -- restarts ----------------------------------------------------------------------
def test_databases_survive_a_sandbox_restart(tmp_path, heroku_bin):
    box = Sandbox(tmp_path / "sandbox", heroku_bin=heroku_bin)
    home = tmp_path / "home"
    home.mkdir()
    with box:
        url = create_app_with_database(HerokuCLI(box.cli_env(home), tmp_path), box, "survivor")
        execute(url, "CREATE TABLE notes (body text); INSERT INTO notes VALUES ('kept')")
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(url, connect_timeout=5)
    with box:
        assert box.state()["postgres"]["running"]
        assert rows(url, "SELECT body FROM notes") == [("kept",)]
        info = HerokuCLI(box.cli_env(home), tmp_path)("pg:info", "-a", "survivor").stdout
        assert re.search(r"Tables:\s+1/4000", info)
