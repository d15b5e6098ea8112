"""A database environment (``local: {database_url: ...}``) through the real program, the real CLI and the sandbox.

Every task that needs an app refuses ``local`` with one message naming the
task, before any request changes anything; a restore into ``local`` whose URL
is live's database (spelled another way: ``localhost`` for ``127.0.0.1``,
another user) is refused naming live, before any backup is captured; an unset
``${VAR}`` and a wrong ``--confirm`` are refused the same way; a URL that is
nobody's database gets as far as the plan.
"""
from __future__ import annotations

import urllib.parse

import psycopg
import pytest

from _support.home import project_env
from _support.project import HEROKU_TOOLS, Project

pytestmark = pytest.mark.sandbox

PREFIX = "dbenv"

SETTINGS = """\
environments:
    - label:    live
      app_name: {prefix}-live
      branch:   master
    - label:    uat
      app_name: {prefix}-uat
      branch:   master
    - label:    dev
      app_name: {prefix}-dev
      branch:   dev
    - label:    local
      database_url: ${{LOCAL_DATABASE_URL}}
data:
    rules: {{tables: {{}}}}
    secret: not-a-real-secret-but-long-enough
health: {{enabled: false}}
"""


@pytest.fixture(scope="module")
def project(sandbox, tmp_path_factory) -> Project:
    root = tmp_path_factory.mktemp("dbenv-e2e")
    project = Project(root, project_env(sandbox, root), PREFIX).create_repo()
    project.create_apps(pipeline=False, labels=("live", "uat", "dev"))
    (project.path / "heroku-tools.yml").write_text(SETTINGS.format(prefix=PREFIX))
    project.commit("Settings with a local database environment")
    project.git("push", "-q", "origin", "master")
    url = sandbox.api("GET", f"/apps/{project.apps['live']}/config-vars")["DATABASE_URL"]
    with psycopg.connect(url) as conn:
        conn.execute("CREATE TABLE precious (id int PRIMARY KEY, name text)")
        conn.execute("INSERT INTO precious VALUES (1, 'Radia'), (2, 'Grace')")
    project.live_url = url
    return project


def run(project: Project, *argv: str, local_url: str | None = "postgres://127.0.0.1:1/nobodys_db"):
    env = dict(project.env)
    env.pop("LOCAL_DATABASE_URL", None)
    if local_url is not None:
        env["LOCAL_DATABASE_URL"] = local_url
    return project._run([str(HEROKU_TOOLS), *argv], check=False, env=env)


def changes(sandbox, start: int) -> list[dict]:
    return [e for e in sandbox.requests()[start:]
            if e["method"] not in ("GET", "HEAD") and not e["path"].startswith("/_sandbox/")]


def output(result) -> str:
    return f"exit {result.returncode}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"


def rows(url: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT * FROM precious ORDER BY id").fetchall()


@pytest.mark.parametrize("argv, task", [
    (["deploy", "local", "--confirm", "local"], "deploy"),
    (["deploy", "local", "--dry-run"], "deploy"),
    (["promote", "local", "--confirm", "local"], "promote"),
    (["rollback", "local", "--confirm", "local"], "rollback"),
    (["history", "local"], "history"),
    (["config.show", "local"], "config.show"),
    (["config.set", "local", "DEBUG=1", "--confirm", "local"], "config.set"),
    (["config.push", "local", "--confirm", "local"], "config.push"),
    (["config.pull", "local"], "config.pull"),
    (["config.diff", "dev", "local"], "config.diff"),
    (["backups.capture", "local"], "backups.capture"),
    (["backups.list", "local"], "backups.list"),
    (["backups.download", "local"], "backups.download"),
    (["backups.check", "local"], "backups.check"),
    (["backups.propose", "local"], "backups.propose"),
    (["migrations.plan", "local"], "migrations"),
], ids=lambda value: " ".join(value[:2]) if isinstance(value, list) else None)
def test_every_task_that_needs_an_app_refuses_a_database(project, sandbox, argv, task):
    start = len(sandbox.requests())
    result = run(project, *argv)
    assert result.returncode != 0, output(result)
    assert "Traceback" not in result.stdout + result.stderr, output(result)
    assert result.stderr.startswith(f"local is a database, not a Heroku app: `{task}` needs an app; nothing was done."), \
        output(result)
    assert "heroku-tools backups.restore SOURCE local" in result.stderr, output(result)
    assert changes(sandbox, start) == [], "refused before anything changed"
    assert not (project.path / ".env").exists()


def test_a_database_is_never_the_source_of_a_restore(project, sandbox):
    start = len(sandbox.requests())
    result = run(project, "backups.restore", "local", "dev", "--confirm", project.apps["dev"])
    assert result.returncode == 1, output(result)
    assert result.stderr.startswith("local is a database, not a Heroku app: it is never the source of a restore; "
                                    "nothing was changed"), output(result)
    assert changes(sandbox, start) == []


def lives_database_spelled_otherwise(url: str) -> str:
    """Live's DATABASE_URL with ``localhost`` for ``127.0.0.1`` and another user: the same database."""
    parts = urllib.parse.urlsplit(url)
    assert parts.hostname == "127.0.0.1", "the sandbox serves apps' databases on 127.0.0.1"
    return parts._replace(netloc=f"someone-else@localhost:{parts.port}").geturl()


@pytest.mark.parametrize("flags", [["--confirm", "local"], ["--dry-run"]], ids=["confirm", "dry-run"])
def test_a_local_url_that_is_lives_database_is_refused_before_any_backup(project, sandbox, flags):
    start = len(sandbox.requests())
    result = run(project, "backups.restore", "uat", "local", *flags,
                 local_url=lives_database_spelled_otherwise(project.live_url))
    assert result.returncode == 1, output(result)
    assert "Traceback" not in result.stdout + result.stderr, output(result)
    assert "refusing to restore uat's data into local: environments.local.database_url (localhost:" in result.stderr
    assert f"is live's database ({project.apps['live']}'s DATABASE_URL), and live is protected; nothing was changed" \
        in result.stderr, output(result)
    assert changes(sandbox, start) == [], "no backup captured, no maintenance, nothing"
    assert rows(project.live_url) == [(1, "Radia"), (2, "Grace")]


def test_a_local_url_that_is_uats_database_is_refused(project, sandbox):
    uat_url = sandbox.api("GET", f"/apps/{project.apps['uat']}/config-vars")["DATABASE_URL"]
    start = len(sandbox.requests())
    result = run(project, "backups.restore", "live", "local", "--dry-run", local_url=uat_url)
    assert result.returncode == 1, output(result)
    assert f"is uat's database ({project.apps['uat']}'s DATABASE_URL): a database environment needs a database of " \
        "its own" in result.stderr, output(result)
    assert changes(sandbox, start) == []


def test_an_unset_variable_is_one_message(project, sandbox):
    start = len(sandbox.requests())
    result = run(project, "backups.restore", "uat", "local", "--dry-run", local_url=None)
    assert result.returncode == 1, output(result)
    assert result.stderr.startswith("environments.local.database_url refers to ${LOCAL_DATABASE_URL}, not set in this "
                                    "environment: local's database is unknown; nothing was changed"), output(result)
    assert "export LOCAL_DATABASE_URL=" in result.stderr
    assert changes(sandbox, start) == []


def test_a_remote_host_is_refused_unless_the_settings_say_so(project, sandbox):
    result = run(project, "backups.restore", "uat", "local", "--dry-run",
                 local_url="postgres://db.example.invalid/acme_dev")
    assert result.returncode == 1, output(result)
    assert "environments.local.database_url points at db.example.invalid, not this machine" in result.stderr
    assert "$EDITOR heroku-tools.yml   # remote_host: true on environments.local if db.example.invalid is really meant" \
        in result.stderr, output(result)


def test_a_wrong_confirm_is_refused_before_anything(project, sandbox):
    start = len(sandbox.requests())
    result = run(project, "backups.restore", "uat", "local", "--confirm", project.apps["dev"])
    assert result.returncode == 1, output(result)
    assert result.stderr.startswith(f"--confirm {project.apps['dev']} does not match the database environment being "
                                    "changed (local); nothing was changed."), output(result)
    assert sandbox.requests()[start:] == [], "not even a read"


def test_a_local_database_that_is_nobodys_gets_as_far_as_the_plan(project, sandbox):
    start = len(sandbox.requests())
    result = run(project, "backups.restore", "uat", "local", "--dry-run", local_url="postgres:///my_own_dev_db")
    assert result.returncode == 0, output(result)
    assert "Target:  local (its database_url) — its database is REPLACED" in result.stdout, output(result)
    assert "--dry-run: stopping here" in result.stderr + result.stdout, output(result)
    assert changes(sandbox, start) == []
