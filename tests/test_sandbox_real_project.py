"""A real open-source Django project, as its authors set it up for Heroku, deployed through the sandbox.

Wagtail's bakery demo (https://github.com/wagtail/bakerydemo) ships a ``Procfile`` whose release phase
is ``yes "yes" | python manage.py migrate``, a ``runtime.txt`` (``python-3.12.1``) and a
``requirements.txt`` that includes ``requirements/production.txt`` and ``requirements/base.txt``:
Wagtail, Django, uWSGI (compiled from source), psycopg, boto3, google-cloud-storage and a dozen more.
Nothing of it is in this repository: the test checks out a pinned commit from a local mirror (made by
fetching ``github:wagtail/bakerydemo``; ``$HEROKU_TOOLS_MIRRORS`` or ``/work/.mirror``) and is skipped,
saying why, where there is none (as in CI). The only additions are the project's ``heroku-tools.yml``
(ignored through ``.git/info/exclude``) and the config vars its former ``app.json`` set.

``heroku-tools deploy`` then has to: install its requirements in the build, run its release phase,
which migrates its database, and leave an app where ``heroku run -x -- python manage.py check`` passes.
"""
from __future__ import annotations

import os
import ssl
import subprocess
import sys
import urllib.request
from pathlib import Path

import psycopg
import pytest
from _support.schema import RequestLog

pytestmark = pytest.mark.sandbox

MIRROR = Path(os.environ.get("HEROKU_TOOLS_MIRRORS", "/work/.mirror")) / "wagtail+bakerydemo" / "repo"
COMMIT = "8e2b625755d8942412d5b7627b146a795933b8b2"  # 2026-08-19, "Add ingredients entries to demo data ..."
HEROKU_TOOLS = Path(sys.executable).parent / "heroku-tools"

SETTINGS = """\
environments:
    - label:    dev
      app_name: {app}
      branch:   main
# The sandbox of these tests runs no web dynos: nothing would answer a health check.
health: {{enabled: false}}
"""


def git(*args: str, cwd: Path, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=True, stdin=subprocess.DEVNULL)


@pytest.fixture
def project(tmp_path, cli_env) -> Path:
    """The pinned commit checked out as ``main``, with a bare ``origin`` of its own."""
    if not (MIRROR / "HEAD").exists():
        pytest.skip(f"no mirror of wagtail/bakerydemo at {MIRROR}: fetch github:wagtail/bakerydemo to run this test")
    work, origin = tmp_path / "bakerydemo", tmp_path / "origin.git"
    git("init", "-q", "--bare", "-b", "main", str(origin), cwd=tmp_path, env=cli_env)
    git("init", "-q", "-b", "main", str(work), cwd=tmp_path, env=cli_env)
    if subprocess.run(["git", "fetch", "-q", str(MIRROR), COMMIT], cwd=work, env=cli_env, capture_output=True).returncode:
        pytest.skip(f"the mirror at {MIRROR} lacks the pinned commit {COMMIT}")
    git("checkout", "-q", "-B", "main", "FETCH_HEAD", cwd=work, env=cli_env)
    git("remote", "add", "origin", str(origin), cwd=work, env=cli_env)
    git("push", "-q", "-u", "origin", "main", cwd=work, env=cli_env)
    return work


def read(url: str, ca_file: Path) -> str:
    with urllib.request.urlopen(url, context=ssl.create_default_context(cafile=str(ca_file)), timeout=60) as response:
        return response.read().decode()


def test_a_real_django_project_deploys_with_its_own_heroku_set_up(sandbox, heroku, project, app_name, cli_env):
    (project / "heroku-tools.yml").write_text(SETTINGS.format(app=app_name))
    with (project / ".git" / "info" / "exclude").open("a") as exclude:
        exclude.write("heroku-tools.yml\n")
    heroku("apps:create", app_name, "--no-remote")
    heroku("addons:create", "heroku-postgresql", "-a", app_name)
    # What the project's app.json set when it still had one (bakerydemo 1185e6d^).
    heroku("config:set", "DJANGO_SETTINGS_MODULE=bakerydemo.settings.production", "DJANGO_SECRET_KEY=sandbox-" + "x" * 50,
           "-a", app_name)
    log = RequestLog(sandbox)

    deployed = subprocess.run([str(HEROKU_TOOLS), "deploy", "dev", "--confirm", app_name], cwd=project, env=cli_env,
                              capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=1800)

    assert deployed.returncode == 0, f"{deployed.stdout}\n{deployed.stderr}"
    assert [e["status"] for e in log.entries() if e["path"] == f"/{app_name}.git/git-receive-pack"] != []
    (build,) = sandbox.api("GET", f"/apps/{app_name}/builds")
    output = read(build["output_stream_url"], sandbox.ca_file)
    assert build["status"] == "succeeded" and build["source_blob"]["version"] == COMMIT
    assert "-----> Using Python 3.12.1 specified in runtime.txt" in output
    assert "-----> Installing dependencies using 'pip install -r requirements.txt'" in output
    assert "Successfully installed" in output or "-----> Restoring cache" in output

    current = next(r for r in sandbox.api("GET", f"/apps/{app_name}/releases") if r["current"])
    assert current["description"] == f"Deploy {COMMIT[:7]}" and current["status"] == "succeeded"
    slug_dir = sandbox.directory / "slugs" / current["slug"]["id"] / "app"
    environment = (slug_dir / ".heroku" / "python").resolve()
    assert list(environment.glob("lib/python3.*/site-packages/wagtail/__init__.py"))
    assert list(environment.glob("bin/uwsgi"))

    release_output = read(current["output_stream_url"], sandbox.ca_file)
    assert "Applying wagtailcore.0001_squashed_0016_change_page_url_path_to_text_field... OK" in release_output, release_output
    database_url = sandbox.api("GET", f"/apps/{app_name}/config-vars")["DATABASE_URL"]
    with psycopg.connect(database_url) as connection:
        applied = connection.execute("SELECT count(*) FROM django_migrations WHERE app = 'wagtailcore'").fetchone()[0]
        pages = connection.execute("SELECT to_regclass('public.wagtailcore_page') IS NOT NULL").fetchone()[0]
    assert applied > 50 and pages

    check = heroku("run", "-x", "-a", app_name, "--", "python manage.py check", check=False, timeout=300)
    assert check.returncode == 0, f"{check.stdout}\n{check.stderr}"
    assert "System check identified" in check.stdout and "ERRORS:" not in check.stdout  # warnings only
