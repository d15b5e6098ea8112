"""Downtime decided from what the migrations do: every row of the table, by push and by promotion.

One project for the module: the sample app on uat (pushed from master) and
live (promoted from uat), each with Postgres. Each row sets the Procfile's
release phase and preboot as the table has them, ships one migration of the
kind the row is about to uat, then promotes it to live, and reads what
happened where it happened: the maintenance switches and one-off dynos in
the sandbox's request log, preboot afterwards, the release, the schema in
the database. Then drift (pending without a file change; changed but
applied), a database only a dyno can read, and a release phase that fails
half-way.
"""
from __future__ import annotations

import itertools
import json
import time
import os
import re
import stat
from datetime import datetime

import psycopg
import pytest

from _support.project import HEROKU_TOOLS, Project
from _support.sandboxed import Log, current, database_url, releases

pytestmark = pytest.mark.sandbox

PREFIX = "dwn"
MIGRATING = "web: python manage.py runserver 0.0.0.0:$PORT\nrelease: python manage.py migrate --noinput\n"
CHECKING = "web: python manage.py runserver 0.0.0.0:$PORT\nrelease: python manage.py check --deploy --fail-level ERROR\n"
#: Fields of the Widget model made in set-up, one for each test that removes one (an incompatible migration).
FIELDS = ("a", "b", "c", "d", "e", "f")
_numbers = itertools.count(2)


def migration(project: Project, name: str, body: str) -> tuple[str, dict[str, str]]:
    """The next migration of the ``customers`` app (``name`` and its operations), after the last committed one."""
    last = sorted(path.stem for path in (project.path / "customers" / "migrations").glob("0*.py"))[-1]
    full = f"{int(last[:4]) + 1:04d}_{name}"
    text = ("from django.db import migrations, models\n\n\n"
            "class Migration(migrations.Migration):\n"
            f"    dependencies = [(\"customers\", \"{last}\")]\n"
            f"    operations = [\n{body}    ]\n")
    return full, {f"customers/migrations/{full}.py": text}


def create_model(project: Project) -> tuple[str, dict[str, str]]:
    """A compatible migration: a new table nothing uses yet."""
    model = f"Part{next(_numbers)}"
    return migration(project, model.lower(), (
        f"        migrations.CreateModel(name=\"{model}\", fields=[\n"
        "            (\"id\", models.BigAutoField(auto_created=True, primary_key=True, serialize=False)),\n"
        "            (\"label\", models.CharField(max_length=40)),\n"
        "        ]),\n"))


def remove_field(project: Project, field: str) -> tuple[str, dict[str, str]]:
    """An incompatible migration: the running code still selects the column."""
    return migration(project, f"drop_widget_{field}",
                     f"        migrations.RemoveField(model_name=\"widget\", name=\"{field}\"),\n")


def columns(url: str, table: str) -> set[str]:
    with psycopg.connect(url) as conn:
        return {row[0] for row in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = %s", (table,))}


def applied(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        return [name for (name,) in conn.execute("SELECT name FROM django_migrations WHERE app = 'customers' ORDER BY id")]


def output(result) -> str:
    return f"exit {result.returncode}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"


@pytest.fixture(scope="module")
def project(sandbox, tmp_path_factory) -> Project:
    root = tmp_path_factory.mktemp("downtime-e2e")
    home = root / "home"
    home.mkdir()
    (home / ".gitconfig").write_text("[user]\n\tname = Test User\n\temail = test@example.com\n")
    project = Project(root, sandbox.cli_env(home, GIT_EDITOR="true"), PREFIX).create_repo().create_apps()
    name, files = migration(project, "widget", (
        "        migrations.CreateModel(name=\"Widget\", fields=[\n"
        "            (\"id\", models.BigAutoField(auto_created=True, primary_key=True, serialize=False)),\n"
        + "".join(f"            (\"{field}\", models.TextField(null=True)),\n" for field in FIELDS)
        + "        ]),\n"))
    project.commit("Widgets", files)
    project.git("push", "-q", "origin", "master")
    for label in ("uat", "live"):
        result = project.tools("deploy", label, "--confirm", project.apps[label], "--no-note")
        assert result.returncode == 0, output(result)
    return project


def ship(project: Project, label: str, *args: str):
    return project.tools("deploy", label, "--confirm", project.apps[label], "--no-note", *args)


def preboot(project: Project, on: bool) -> None:
    """Preboot as the row has it on uat and live (the CLI refuses to enable what is enabled)."""
    for label in ("uat", "live"):
        app = project.apps[label]
        if json.loads(project.heroku("features:info", "preboot", "-a", app, "--json").stdout)["enabled"] != on:
            project.heroku(f"features:{'enable' if on else 'disable'}", "preboot", "-a", app)


def preboot_switches(log: Log, app: str) -> list[bool]:
    """The preboot values asked for on ``app``, in order."""
    pattern = re.compile(log.app_path(app) + "/features/preboot$")
    return [e["body"]["enabled"] for e in log.entries()
            if e["method"] == "PATCH" and pattern.match(e["path"]) and isinstance(e["body"], dict)]


def created(release: dict) -> float:
    return datetime.fromisoformat(release["created_at"].replace("Z", "+00:00")).timestamp()


ROWS = {
    # id: (release phase, preboot, kind, maintenance?, the tool's own migrate dyno?, preboot turned off?)
    "release-phase-compatible": (MIGRATING, False, "compatible", False, False, False),
    "release-phase-incompatible": (MIGRATING, True, "incompatible", True, False, False),
    "preboot-compatible": (CHECKING, True, "compatible", False, True, False),
    "no-preboot-compatible": (CHECKING, False, "compatible", True, True, False),
    "preboot-incompatible": (CHECKING, True, "incompatible", True, True, True),
}
_fields = iter(FIELDS)


@pytest.mark.parametrize("row", ROWS, ids=list(ROWS))
def test_each_row_of_the_table_by_push_then_by_promotion(project, sandbox, row):
    release_phase, preboot_on, kind, expect_maintenance, expect_dyno, expect_preboot_off = ROWS[row]
    preboot(project, preboot_on)
    field = next(_fields) if kind == "incompatible" else None
    name, files = remove_field(project, field) if field else create_model(project)
    project.commit(f"{row}: {name}", {**files, "Procfile": release_phase})
    project.git("push", "-q", "origin", "master")
    for label in ("uat", "live"):  # uat by push, live by promoting uat's slug
        app = project.apps[label]
        before = current(sandbox, app)
        log = Log(sandbox)
        result = ship(project, label)
        assert result.returncode == 0, output(result)
        text = result.stdout
        assert f"{kind:<12}  customers.{name}" in text, text
        assert "Downtime: " in text

        switches = log.maintenance(app)
        dynos = log.dynos(app)
        new = current(sandbox, app)
        assert new["version"] > before["version"]
        if expect_maintenance:
            assert [e["body"]["maintenance"] for e in switches] == [True, False], text
            # created_at is whole seconds, and the switch follows the build's "Launching..." line by one API
            # round trip: on a loaded machine that is a second or two, still before any migration or restart.
            assert switches[0]["time"] <= created(new) + 3.0, "the page was up before the release existed"
        else:
            assert switches == [], text
            assert "Maintenance:        off (no downtime needed)" in text
        assert len(dynos) == (1 if expect_dyno else 0), text
        if expect_dyno:
            assert "migrate" in dynos[0]["body"]["command"]
        else:
            assert "[ ]  4 run migrations" in text  # the release phase migrates; the tool does not run it again
        captures = [e for e in log.entries() if e["method"] == "POST" and e["path"].endswith("/backups")]
        if kind == "incompatible":
            assert "Backup:             captured once the page is up, just before the migrations" in text
            assert len(captures) == 1 and switches[0]["time"] < captures[0]["time"], "the backup holds the last state"
            assert re.search(r"backup b\d+ holds .* data as it was before the migrations", result.stderr)
        else:
            assert captures == []
        if expect_preboot_off:
            assert preboot_switches(log, app) == [False, True]
            assert "preboot is off for this deploy" in text
        else:
            assert preboot_switches(log, app) == []
        if row == "preboot-compatible":
            assert "release: python manage.py migrate --noinput` in the Procfile migrates before they start" in text
        assert sandbox.api("GET", f"/apps/{app}/features/preboot")["enabled"] is preboot_on
        assert sandbox.api("GET", f"/apps/{app}")["maintenance"] is False

        url = database_url(project, label)
        assert name in applied(url)
        if field:
            assert field not in columns(url, "customers_widget")
        else:
            table = "customers_" + name.split("_", 1)[1]
            assert columns(url, table) == {"id", "label"}


def test_drift_pending_without_a_file_change_is_migrated_and_an_applied_change_is_not_rerun(project, sandbox):
    preboot(project, False)
    app, url = project.apps["uat"], database_url(project, "uat")
    name, files = create_model(project)
    project.commit(f"Drift: {name}", {**files, "Procfile": CHECKING})
    project.git("push", "-q", "origin", "master")
    skipped = ship(project, "uat", "--no-migrate")
    assert skipped.returncode == 0, output(skipped)
    assert name not in applied(url)

    # No migration file changes now, but the database has one pending: it is migrated.
    project.commit("Docs only", {"docs/drift.md": "No migration here.\n"})
    project.git("push", "-q", "origin", "master")
    log = Log(sandbox)
    result = ship(project, "uat")
    assert result.returncode == 0, output(result)
    assert f"<- 1 pending on the database: customers.{name}" in result.stdout
    assert name in applied(url) and len(log.dynos(app)) == 1

    # A migration file that changed but is applied already: nothing to run, no page.
    path = next(iter(files))
    project.commit("Comment an applied migration", {path: (project.path / path).read_text() + "# reviewed\n"})
    project.git("push", "-q", "origin", "master")
    log = Log(sandbox)
    result = ship(project, "uat")
    assert result.returncode == 0, output(result)
    assert "(none pending)" in result.stdout and "Maintenance:        off (no downtime needed)" in result.stdout
    assert log.dynos(app) == [] and log.maintenance(app) == []


def test_a_database_this_machine_cannot_reach_is_read_by_a_one_off_dyno(project, sandbox, tmp_path):
    """Where psql cannot reach the database from here (Shield, Private Spaces), a dyno reads the same table."""
    fake = tmp_path / "bin" / "psql"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\necho 'psql: error: could not connect to server: Connection timed out' >&2\nexit 2\n")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    env = {**project.env, "PATH": f"{fake.parent}{os.pathsep}{project.env['PATH']}"}
    name, files = create_model(project)
    project.commit(f"Read by a dyno: {name}", files)
    project.git("push", "-q", "origin", "master")
    app = project.apps["uat"]
    log = Log(sandbox)
    result = project._run([str(HEROKU_TOOLS), "deploy", "uat", "--confirm", app, "--no-note"], check=False, env=env)
    assert result.returncode == 0, output(result)
    assert "Migrations (a one-off dyno;" in result.stdout
    assert f"customers.{name}" in result.stdout
    reads = [e for e in log.dynos(app) if "django_migrations" in e["body"]["command"]]
    assert len(reads) == 1, "one dyno read the table"
    assert name in applied(database_url(project, "uat"))


def test_a_release_phase_failing_half_way_says_what_it_applied_and_keeps_the_page_up(project, sandbox):
    preboot(project, False)
    app = project.apps["uat"]
    dropped, files = remove_field(project, "f")
    project.commit(f"Drop widget.f: {dropped}", {**files, "Procfile": MIGRATING})
    failing, more = migration(project, "explode", (
        "        migrations.RunPython(lambda apps, schema_editor: 1 / 0, migrations.RunPython.noop),\n"))
    project.commit("A migration that fails", more)
    project.git("push", "-q", "origin", "master")
    before = current(sandbox, app)
    log = Log(sandbox)
    try:
        result = ship(project, "uat")
        assert result.returncode != 0, output(result)
        err = result.stderr
        assert "Traceback (most recent call last)" not in err.split("State now:")[-1]
        assert "its release phase failed" in err
        assert f"the release phase applied customers.{dropped} before it failed" in err
        assert f"MAINTENANCE IS STILL ON for {app}" in err
        assert sandbox.api("GET", f"/apps/{app}")["maintenance"] is True
        assert log.switches(app) == [True]
        assert current(sandbox, app)["version"] == before["version"]
        assert releases(sandbox, app)[-1]["status"] == "failed"
        url = database_url(project, "uat")
        assert dropped in applied(url) and failing not in applied(url)
    finally:
        project.heroku("maintenance:off", "-a", app)
        # The next tests build on master: the failing migration goes, the applied one stays.
        project.git("revert", "--no-edit", "HEAD")
        project.git("push", "-q", "origin", "master")


def test_migrations_env_shows_the_plan_without_deploying(project, sandbox):
    name, files = create_model(project)
    project.commit(f"Planned: {name}", {**files, "Procfile": CHECKING})
    project.git("push", "-q", "origin", "master")
    log = Log(sandbox)
    text = project.tools("migrations", "uat")
    assert text.returncode == 0, output(text)
    assert f"compatible    customers.{name}" in text.stdout
    assert "Downtime: without preboot or a migrating release phase" in text.stdout
    as_json = project.tools("migrations", "uat", "--json")
    assert as_json.returncode == 0, output(as_json)
    plan = json.loads(as_json.stdout)
    assert plan["commit"] == project.head("master")
    assert [(item["app"], item["name"], item["verdict"]) for item in plan["migrations"]["plan"]["pending"]] == [
        ("customers", name, "compatible")]
    assert plan["downtime"]["maintenance"] is True and plan["downtime"]["migrate_here"] is True
    assert log.changes() == [], "reading a plan changes nothing"
    assert name not in applied(database_url(project, "uat")), "nothing was migrated"


def test_process_types_the_page_does_not_stop_are_named_and_scaled_down_for_the_window(project, sandbox):
    preboot(project, False)
    app = project.apps["uat"]
    text = (project.path / "heroku-tools.yml").read_text()
    scaled = text.replace("      app_name: dwn-uat\n", "      app_name: dwn-uat\n      maintenance_scale_down: [worker]\n")
    name, files = create_model(project)
    project.commit(f"Workers: {name}", {**files, "heroku-tools.yml": scaled,
                                        "Procfile": CHECKING + "worker: python -c 'import time; time.sleep(3600)'\n"})
    project.git("push", "-q", "origin", "master")
    # The new Procfile's worker must exist in the formation before the deploy scales it: ship the Procfile first.
    first = ship(project, "uat", "--no-migrate")
    assert first.returncode == 0, output(first)
    project.heroku("ps:scale", "worker=1", "-a", app)
    log = Log(sandbox)
    result = ship(project, "uat")
    assert result.returncode == 0, output(result)
    assert "The maintenance page stops web traffic only: worker, one-off dynos and Scheduler jobs keep running " \
           "(worker scaled to 0 for the window)." in result.stdout
    updates = [e["body"]["updates"] for e in log.entries() if e["method"] == "PATCH" and e["path"].endswith("/formation")]
    assert updates == [[{"type": "worker", "quantity": 0}], [{"type": "worker", "quantity": 1}]]
    switches = log.maintenance(app)
    formation_changes = [e["time"] for e in log.entries() if e["method"] == "PATCH" and e["path"].endswith("/formation")]
    assert switches[0]["time"] < formation_changes[0] and formation_changes[1] > switches[1]["time"] - 0.001
    worker = next(item for item in sandbox.api("GET", f"/apps/{app}/formation") if item["type"] == "worker")
    assert worker["quantity"] == 1
    project.heroku("ps:scale", "worker=0", "-a", app)


def test_a_migration_never_waits_behind_another_sessions_lock(project, sandbox):
    """lock_timeout × retries bounds the wait; the blocker is named; nothing is half-applied; re-running finishes."""
    preboot(project, False)
    app = project.apps["uat"]
    text = (project.path / "heroku-tools.yml").read_text()
    quick = text.replace("commands:\n", "migrations:\n    lock_timeout: 1s\n    lock_retries: 1\ncommands:\n")
    name, files = migration(project, "widget_note",
                            "        migrations.AddField(model_name=\"widget\", name=\"note\", "
                            "field=models.TextField(null=True)),\n")
    project.commit(f"Locked out: {name}", {**files, "heroku-tools.yml": quick, "Procfile": CHECKING})
    project.git("push", "-q", "origin", "master")
    url = database_url(project, "uat")
    blocker = psycopg.connect(url, autocommit=False)
    try:
        blocker.execute("SET application_name = 'nightly-report'")
        blocker.execute("SELECT count(*) FROM customers_widget").fetchone()  # ACCESS SHARE, held until rollback
        pid = blocker.info.backend_pid
        started = time.monotonic()
        result = ship(project, "uat")
        took = time.monotonic() - started
        assert result.returncode != 0, output(result)
        err = result.stderr
        assert "could not get a lock within lock_timeout=1s, 2 time(s)" in err, err
        assert f"pid {pid} (nightly-report, idle in transaction since " in err and "customers_widget" in err, err
        assert "gave up waiting for a lock (lock_timeout=1s); trying again in 2s" in err
        assert not re.search(r'File "[^"]*/(heroku_tools|invoke|sh)/', err), "the dyno's traceback, never ours"
        assert "State now:" in err and "To recover:" in err
        assert took < 120, "bounded by lock_timeout × attempts, plus the release and two dynos"
        assert name not in applied(url) and "note" not in columns(url, "customers_widget"), "nothing half-applied"
        assert sandbox.api("GET", f"/apps/{app}")["maintenance"] is False, "a clean stop: the page comes down"
    finally:
        blocker.rollback()
        blocker.close()
    again = ship(project, "uat")
    assert again.returncode == 0, output(again)
    assert name in applied(url) and "note" in columns(url, "customers_widget")


def test_rollback_refuses_to_cross_a_migration_the_old_code_cannot_run_on(project, sandbox):
    preboot(project, False)
    app = project.apps["uat"]
    name, files = remove_field(project, "e")
    project.commit(f"Drop widget.e: {name}", {**files, "Procfile": CHECKING})
    project.git("push", "-q", "origin", "master")
    deployed = ship(project, "uat")
    assert deployed.returncode == 0, output(deployed)
    before = current(sandbox, app)
    log = Log(sandbox)
    refused = project.tools("rollback", "uat", "--confirm", app)
    assert refused.returncode == 1, output(refused)
    assert f"incompatible  customers.{name}" in refused.stdout  # the report says what the old code will meet
    assert "refusing to roll uat back to v" in refused.stderr and f"customers.{name} (incompatible)" in refused.stderr
    assert "--force" in refused.stderr and "Traceback" not in refused.stderr
    assert log.changes() == [] and current(sandbox, app) == before
    forced = project.tools("rollback", "uat", "--confirm", app, "--force")
    assert forced.returncode == 0, output(forced)
    assert current(sandbox, app)["version"] == before["version"] + 1
