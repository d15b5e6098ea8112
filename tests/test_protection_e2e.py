"""Protection follows the app and its database, not the label: end to end through the sandbox and the real CLI.

Live is protected. ``scratch`` is an unprotected label whose app has live's
Postgres attached (``heroku addons:attach``): its ``DATABASE_URL`` *is* live's
database. Every operation that changes an environment — restore, deploy,
config set/unset/push, rollback — must refuse scratch with one message naming
live's database, before anything changes: no backup, no maintenance switch,
no push, no release, and live's rows as they were.
"""
from __future__ import annotations

import psycopg
import pytest

from _support.home import project_env
from _support.project import Project

pytestmark = pytest.mark.sandbox

PREFIX = "prot"

SETTINGS = """\
environments:
    - label:    live
      app_name: {prefix}-live
      branch:   master
    - label:    uat
      app_name: {prefix}-uat
      branch:   master
    - label:    scratch
      app_name: {scratch}
      branch:   dev
      settings:
          GREETING: hello
data:
    rules: {{tables: {{}}}}
    secret: not-a-real-secret-but-long-enough
# The sandbox of these tests runs no web dynos: nothing would answer a health check.
health: {{enabled: false}}
"""


@pytest.fixture(scope="module")
def project(sandbox, tmp_path_factory) -> Project:
    root = tmp_path_factory.mktemp("protection-e2e")
    project = Project(root, project_env(sandbox, root), PREFIX).create_repo()
    project.apps = {"live": f"{PREFIX}-live", "uat": f"{PREFIX}-uat", "scratch": f"{PREFIX}-scratch"}
    project.create_apps(pipeline=False, postgres=False, labels=("live", "uat", "scratch"))
    project.heroku("addons:create", "heroku-postgresql", "-a", project.apps["live"], "--name", f"{PREFIX}-live-db")
    project.heroku("addons:attach", f"{PREFIX}-live-db", "-a", project.apps["scratch"])
    (project.path / "heroku-tools.yml").write_text(SETTINGS.format(prefix=PREFIX, scratch=project.apps["scratch"]))
    project.commit("Settings with a scratch environment")
    project.git("push", "-q", "origin", "master")
    project.git("checkout", "-q", "dev")
    project.git("merge", "-q", "master")
    project.git("push", "-q", "origin", "dev")
    project.git("checkout", "-q", "master")
    url = sandbox.api("GET", f"/apps/{project.apps['live']}/config-vars")["DATABASE_URL"]
    with psycopg.connect(url) as conn:
        conn.execute("CREATE TABLE precious (id int PRIMARY KEY, name text)")
        conn.execute("INSERT INTO precious VALUES (1, 'Radia'), (2, 'Grace')")
    project.live_url = url
    return project


def rows(url: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT * FROM precious ORDER BY id").fetchall()


def changes(sandbox, start: int) -> list[dict]:
    return [e for e in sandbox.requests()[start:]
            if e["method"] not in ("GET", "HEAD") and not e["path"].startswith("/_sandbox/")]


def output(result) -> str:
    return f"exit {result.returncode}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"


def test_the_attachment_really_shares_lives_database(project, sandbox):
    scratch = sandbox.api("GET", f"/apps/{project.apps['scratch']}/config-vars")
    assert scratch["DATABASE_URL"] == project.live_url


@pytest.mark.parametrize("argv", [
    ["backups.restore", "uat", "scratch", "--confirm", "prot-scratch"],
    ["backups.restore", "uat", "scratch", "--dry-run"],
    ["deploy", "scratch", "--confirm", "prot-scratch"],
    ["deploy", "scratch", "--dry-run"],
    ["config.set", "scratch", "DEBUG=1", "--confirm", "prot-scratch"],
    ["config.unset", "scratch", "GREETING", "--confirm", "prot-scratch"],
    ["config.push", "scratch", "--confirm", "prot-scratch"],
    ["rollback", "scratch", "--confirm", "prot-scratch"],
], ids=lambda argv: " ".join(argv[:2]))
def test_every_change_to_an_app_on_lives_database_is_refused(project, sandbox, argv):
    if argv[0] == "config.unset":
        sandbox.api("PATCH", f"/apps/{project.apps['scratch']}/config-vars", {"GREETING": "hello"})
    start = len(sandbox.requests())
    result = project.tools(*argv)
    text = result.stdout + result.stderr
    assert result.returncode == 1, output(result)
    assert "Traceback" not in text, output(result)
    assert "scratch's DATABASE_URL" in text and "is live's database" in text, output(result)
    assert "live is protected; nothing was changed" in text, output(result)
    assert changes(sandbox, start) == [], "refused before anything changed"
    assert rows(project.live_url) == [(1, "Radia"), (2, "Grace")]
    assert sandbox.api("GET", f"/apps/{project.apps['live']}")["maintenance"] is False


def test_a_second_label_for_lives_app_is_a_settings_error(project, sandbox):
    (project.path / "alias.yml").write_text(SETTINGS.format(prefix=PREFIX, scratch=project.apps["live"]))
    start = len(sandbox.requests())
    for argv in (["backups.restore", "uat", "scratch", "--confirm", "prot-live"],
                 ["deploy", "scratch", "--confirm", "prot-live"]):
        result = project.tools("-f", "alias.yml", *argv)
        assert result.returncode == 1, output(result)
        assert result.stderr.startswith(
            "alias.yml, line 9: environments.scratch.app_name: 'prot-live' is already the app of environment 'live'"
        ), output(result)
    assert sandbox.requests()[start:] == []
    assert rows(project.live_url) == [(1, "Radia"), (2, "Grace")]


def test_uat_on_its_own_database_is_not_refused(project, sandbox):
    """The check looks at databases, not at labels: an unprotected app on its own database goes ahead."""
    result = project.tools("config.set", "uat", "DEBUG=1", "--confirm", project.apps["uat"])
    assert result.returncode == 0, output(result)
    assert sandbox.api("GET", f"/apps/{project.apps['uat']}/config-vars")["DEBUG"] == "1"
