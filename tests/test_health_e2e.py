"""The health check and the automatic rollback, end to end: the sandbox runs the web dynos and routes to them.

One project for the module: the sample app on dev, with Postgres, in a
sandbox whose formation is on (each release's web process really runs, and
the router serves the app's ``web_url`` over HTTPS) and whose platform delays
are scaled down. Each test ships a release that does not serve — a web
process that exits on boot, a health page answering 500, a ``RemoveField``
followed by a crash — through ``heroku-tools deploy`` and the real heroku
CLI, and reads what happened where it happened: the exit status and the
message, the ``--json`` outcome, what ``web_url`` serves afterwards, the
releases, ``history``, maintenance, and the database.
"""
from __future__ import annotations

import json
import re
import subprocess

import psycopg
import pytest

from _support import web
from _support.home import make_home
from _support.project import Project
from _support.sandboxed import current, database_url, maintenance
from heroku_tools.sandbox import Sandbox

pytestmark = pytest.mark.sandbox

PREFIX = "hlt"
HEALTH = "health:\n    path: /health/\n    timeout: 60\n    successes: 2\n    interval: 0.2\n"
GOOD_PROCFILE = ("web: python manage.py runserver 0.0.0.0:$PORT\n"
                 "release: python manage.py check --deploy --fail-level ERROR\n")
CRASHING_PROCFILE = ("web: python -c \"import sys; print('SECRET_KEY is missing'); sys.exit(3)\"\n"
                     "release: python manage.py check --deploy --fail-level ERROR\n")


@pytest.fixture(scope="module")
def serving(formation_sandbox) -> Sandbox:
    """The sandbox that runs the formation: the rest of the suite does not pay for web dynos."""
    return formation_sandbox


@pytest.fixture(scope="module")
def project(serving, tmp_path_factory) -> Project:
    root = tmp_path_factory.mktemp("health-e2e")
    home = make_home(root / "home", "[user]\n\tname = Test User\n\temail = test@example.com\n")
    project = Project(root, serving.cli_env(home, GIT_EDITOR="true"), PREFIX).create_repo()
    project.create_apps(labels=("dev",), pipeline=False)
    project.git("checkout", "-q", "dev")
    settings = (project.path / "heroku-tools.yml").read_text()
    assert "health:\n    enabled: false\n" in settings
    project.commit("Health-check dev", {"heroku-tools.yml": settings.replace("health:\n    enabled: false\n", HEALTH)})
    project.git("push", "-q", "origin", "dev")
    first = deploy(project)
    assert first.returncode == 0, output(first)
    assert outcome(first)["health"]["status"] == "healthy", output(first)
    return project


def deploy(project: Project, *args: str) -> subprocess.CompletedProcess:
    return project.tools("deploy", "dev", "--confirm", project.apps["dev"], "--no-note", "--json", *args)


def outcome(result: subprocess.CompletedProcess) -> dict:
    return json.loads(result.stdout.strip().splitlines()[-1])


def output(result) -> str:
    return f"exit {result.returncode}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"


def get(sandbox: Sandbox, app: str, path: str = "/") -> tuple[int, str]:
    """``GET`` at the app's ``web_url`` as curl would, trusting the sandbox's CA: ``(status, body)``."""
    answer = web.get(sandbox.api("GET", f"/apps/{app}")["web_url"], sandbox.ca_file, path)
    return answer.status, answer.body


def commit_on_dev(project: Project, message: str, files: dict[str, str]) -> str:
    project.git("checkout", "-q", "dev")
    sha = project.commit(message, files)
    project.git("push", "-q", "origin", "dev")
    return sha


def revert_on_dev(project: Project) -> None:
    """Take the last commit back on dev, without a deploy: the app was rolled back to the code before it already.

    The next deploy ships the reverted tree on top of the commit the app's git remote last received.
    """
    project.git("checkout", "-q", "dev")
    project.git("revert", "--no-edit", "HEAD")
    project.git("push", "-q", "origin", "dev")


def test_a_deploy_checks_the_release_it_made_and_the_app_serves_it(project, serving):
    status, body = get(serving, project.apps["dev"], "/health/")
    assert status == 200 and json.loads(body)["ok"] is True and json.loads(body)["database"] == "postgresql", body
    status, body = get(serving, project.apps["dev"], "/")
    assert status == 200 and "<html" in body.lower(), body


def test_a_web_process_crashing_on_boot_is_rolled_back_and_a_later_rollback_onto_it_says_so(project, serving):
    """An unhealthy deploy is rolled back, a fix forward is healthy; ``rollback`` checks the release it makes
    too: one onto the crashing code stays, exits non-zero and says so, and one back onto the fix is healthy."""
    app = project.apps["dev"]
    before = current(serving, app)["version"]
    commit_on_dev(project, "Web process needs a secret it does not have", {"Procfile": CRASHING_PROCFILE})

    result = deploy(project)

    assert result.returncode != 0, output(result)
    bad = before + 1
    assert (f"v{bad} was unhealthy (H10: web crashed, exit 3); rolled back to v{before}, which is healthy"
            in result.stderr), output(result)
    assert "Traceback" not in result.stderr
    said = outcome(result)
    assert said["rolled_back_to"] == f"v{before}" and said["release"] == bad
    assert said["health"]["status"] == "unhealthy" and said["health"]["errors"][0] == "H10: web crashed, exit 3"
    now = current(serving, app)
    assert now["version"] == bad + 1 and now["description"] == f"Rollback to v{before}"
    assert get(serving, app, "/health/")[0] == 200
    history = project.tools("history", "dev")
    assert re.search(rf"v{bad + 1} .* rollback .* Automatic rollback: v{bad} was unhealthy", history.stdout), \
        output(history)
    # fixed forward: the next deploy ships the good Procfile again, healthy
    commit_on_dev(project, "Web process starts again", {"Procfile": GOOD_PROCFILE})
    fixed = deploy(project)
    assert fixed.returncode == 0 and outcome(fixed)["health"]["status"] == "healthy", output(fixed)
    good = bad + 2
    assert outcome(fixed)["release"] == good, output(fixed)

    onto_bad = project.tools("rollback", "dev", "--to", str(bad), "--confirm", app)

    assert onto_bad.returncode != 0 and "Traceback" not in onto_bad.stderr, output(onto_bad)
    assert f"v{good + 1} (the code of v{bad}) is unhealthy (H10: web crashed, exit 3)" in onto_bad.stderr, \
        output(onto_bad)
    assert current(serving, app)["version"] == good + 1 and get(serving, app, "/health/")[0] == 503

    back = project.tools("rollback", "dev", "--to", str(good), "--confirm", app)

    assert back.returncode == 0, output(back)
    assert f"v{good + 2} of {app} is healthy" in back.stderr, output(back)
    assert current(serving, app)["description"] == f"Rollback to v{good}"
    assert get(serving, app, "/health/")[0] == 200


def test_a_health_page_answering_500_is_rolled_back(project, serving):
    app = project.apps["dev"]
    before = current(serving, app)["version"]
    views = (project.path / "customers" / "views.py").read_text()
    broken = views.replace('def health(request):\n', 'def health(request):\n    raise RuntimeError("no health")\n')
    settings = (project.path / "heroku-tools.yml").read_text()
    assert "    timeout: 60\n" in settings
    # A short timeout: waiting out the default minute for an answer that stays 500 proves nothing more.
    commit_on_dev(project, "Health page breaks", {"customers/views.py": broken,
                                                  "heroku-tools.yml": settings.replace("    timeout: 60\n", "    timeout: 10\n")})

    result = deploy(project)

    assert result.returncode != 0, output(result)
    assert f"v{before + 1} was unhealthy (not healthy within 10s: /health/ answered 500" in result.stderr, output(result)
    assert f"rolled back to v{before}, which is healthy" in result.stderr, output(result)
    assert outcome(result)["rolled_back_to"] == f"v{before}"
    assert get(serving, app, "/health/")[0] == 200
    revert_on_dev(project)


def test_ci_json_carries_the_unhealthy_release_and_its_rollback(project, serving):
    """A CI job's ``--json`` reads what was deployed even when the release failed its check and was rolled back."""
    app = project.apps["dev"]
    before = current(serving, app)["version"]
    settings = (project.path / "heroku-tools.yml").read_text()
    commit_on_dev(project, "CI deploys dev; a web process that crashes", {
        "heroku-tools.yml": settings + "routes:\n    dev: dev\n", "Procfile": CRASHING_PROCFILE})

    result = project.tools("ci", "--json")

    assert result.returncode != 0 and "Traceback" not in result.stderr, output(result)
    said = outcome(result)
    assert (said["route"], said["environment"], said["app"], said["release"]) == ("dev", "dev", app, before + 1)
    assert said["health"]["status"] == "unhealthy" and said["rolled_back_to"] == f"v{before}", said
    assert get(serving, app, "/health/")[0] == 200
    revert_on_dev(project)


def test_with_preboot_the_check_waits_for_the_new_code_to_answer(project, serving):
    """The old dynos answer until the switch: only answers carrying the new release's version count."""
    app = project.apps["dev"]
    views = (project.path / "customers" / "views.py").read_text()
    settings = (project.path / "heroku-tools.yml").read_text()
    releasing = views.replace("import Decimal\n", "import Decimal\nimport os\n").replace(
        '    return JsonResponse({"ok": True, "database": connection.vendor, **stats()})',
        '    response = JsonResponse({"ok": True, "database": connection.vendor, **stats()})\n'
        '    response["X-Release"] = os.environ.get("HEROKU_RELEASE_VERSION", "")\n'
        '    return response')
    assert releasing != views
    coupon = ("from django.db import migrations, models\n\n\nclass Migration(migrations.Migration):\n"
              "    dependencies = [(\"customers\", \"0001_initial\")]\n"
              "    operations = [migrations.CreateModel(name=\"Coupon\", fields=[(\"id\", models.BigAutoField("
              "auto_created=True, primary_key=True, serialize=False))])]\n")
    commit_on_dev(project, "The health page names the release; coupons", {
        "customers/views.py": releasing, "customers/migrations/0002_coupon.py": coupon,
        "heroku-tools.yml": settings.replace("    interval: 0.2\n", "    interval: 0.2\n    release_header: X-Release\n")})
    project.heroku("features:enable", "preboot", "-a", app)
    try:
        with web.SteadyLoad(serving.api("GET", f"/apps/{app}")["web_url"], serving.ca_file, "/health/") as load:
            result = deploy(project)
    finally:
        project.heroku("features:disable", "preboot", "-a", app)

    assert result.returncode == 0, output(result)
    # a compatible migration with preboot: no maintenance, and not one request failed while it shipped
    assert outcome(result)["maintenance_seconds"] == 0 and "customers.0002_coupon" in result.stderr, output(result)
    assert len(load.answers) > 20 and [a.status for a in load.answers if a.status != 200] == [], \
        [(a.status, a.body[:80]) for a in load.answers if a.status != 200]
    with psycopg.connect(database_url(project, "dev")) as conn:
        assert conn.execute("SELECT 1 FROM django_migrations WHERE app = 'customers' AND name = '0002_coupon'").fetchone()
    version = outcome(result)["release"]
    assert outcome(result)["health"]["status"] == "healthy", output(result)
    assert f"X-Release: (none), not v{version}: the old code still answers" in result.stderr, output(result)
    assert result.stderr.index("the old code still answers") < result.stderr.index(f"v{version} of {app} is healthy")


def test_a_remove_field_then_a_crash_is_not_rolled_back_and_the_printed_restore_brings_the_data_back(project, serving):
    app = project.apps["dev"]
    before = current(serving, app)["version"]
    url = database_url(project, "dev")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("INSERT INTO customers_customer (first_name, last_name, email, phone, address, notes, created_at) "
                     "VALUES ('Ada', 'Lovelace', 'ada@example.com', '', '', 'keep me', now())")
    models = (project.path / "customers" / "models.py").read_text()
    migration = ("from django.db import migrations\n\n\nclass Migration(migrations.Migration):\n"
                 "    dependencies = [(\"customers\", \"0002_coupon\")]\n"
                 "    operations = [migrations.RemoveField(model_name=\"customer\", name=\"notes\")]\n")
    commit_on_dev(project, "Drop customer notes, and a web process that crashes", {
        "customers/models.py": models.replace("    notes = models.TextField(blank=True)\n", ""),
        "customers/migrations/0003_drop_notes.py": migration,
        "Procfile": CRASHING_PROCFILE,
    })

    result = deploy(project)

    assert result.returncode != 0, output(result)
    assert (f"v{before + 1} was unhealthy (H10: web crashed, exit 3); not rolled back: customers.0003_drop_notes is "
            "incompatible" in result.stderr), output(result)
    assert f"MAINTENANCE IS ON for {app}" in result.stderr
    said = outcome(result)
    assert said["rolled_back_to"] is None and said["backup"], output(result)
    assert current(serving, app)["version"] == before + 1 and maintenance(serving, app)
    restore = next(line.strip().removeprefix("$ ").split("   # ")[0] for line in result.stderr.splitlines()
                   if "pg:backups:restore" in line)
    assert restore.startswith(f"heroku pg:backups:restore {said['backup']} DATABASE_URL -a {app} --confirm {app} && "
                              f"heroku releases:rollback v{before} -a {app} && heroku maintenance:off -a {app}")

    ran = subprocess.run(["bash", "-c", restore], cwd=project.path, env=project.env, capture_output=True, text=True,
                         timeout=300)

    assert ran.returncode == 0, ran.stderr
    with psycopg.connect(database_url(project, "dev")) as conn:
        assert conn.execute("SELECT notes FROM customers_customer WHERE email = 'ada@example.com'").fetchone() == (
            "keep me",)
    assert not maintenance(serving, app)
    assert get(serving, app, "/health/")[0] == 200


# -- promotion ---------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pipeline(serving, tmp_path_factory) -> Project:
    """uat and live in a pipeline (live promoted from uat), health-checked; uat and live run the sample app."""
    root = tmp_path_factory.mktemp("health-pipeline")
    home = make_home(root / "home", "[user]\n\tname = Test User\n\temail = test@example.com\n")
    project = Project(root, serving.cli_env(home, GIT_EDITOR="true"), "hlp").create_repo()
    project.create_apps(labels=("uat", "live"))
    settings = (project.path / "heroku-tools.yml").read_text()
    project.commit("Health-check uat and live", {"heroku-tools.yml": settings.replace("health:\n    enabled: false\n",
                                                                                          HEALTH)})
    project.git("push", "-q", "origin", "master")
    for label in ("uat", "live"):
        first = project.tools("deploy", label, "--confirm", project.apps[label], "--no-note", "--json")
        assert first.returncode == 0 and outcome(first)["health"]["status"] == "healthy", output(first)
    return project


def test_a_promotion_that_does_not_serve_is_rolled_back_on_live_and_uat_keeps_its_release(pipeline, serving):
    uat, live = pipeline.apps["uat"], pipeline.apps["live"]
    pipeline.git("checkout", "-q", "master")
    pipeline.commit("Web process needs a secret it does not have", {"Procfile": CRASHING_PROCFILE})
    pipeline.git("push", "-q", "origin", "master")
    shipped = pipeline.tools("deploy", "uat", "--confirm", uat, "--no-note", "--no-health-check")
    assert shipped.returncode == 0, output(shipped)
    before = current(serving, live)["version"]

    result = pipeline.tools("promote", "uat", "--confirm", live, "--no-note", "--json")

    assert result.returncode != 0 and "Traceback" not in result.stderr, output(result)
    assert (f"v{before + 1} was unhealthy (H10: web crashed, exit 3); rolled back to v{before}, which is healthy"
            in result.stderr), output(result)
    said = outcome(result)
    assert (said["method"], said["release"], said["rolled_back_to"]) == ("promote", before + 1, f"v{before}"), said
    now = current(serving, live)
    assert now["version"] == before + 2 and now["description"] == f"Rollback to v{before}"
    assert get(serving, live, "/health/")[0] == 200
    assert get(serving, uat, "/health/")[0] == 503  # uat was shipped unchecked: still crashing, not touched
