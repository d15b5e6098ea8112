"""One-off dynos in the sandbox, driven by the real heroku CLI: ``run -x``, ``run``, ``run:detached``.

The module deploys one small Django project with a real ``git push`` and runs
commands against it, checking what each did: its output, the exit code the
CLI passed through, the environment and directory it saw, the files it wrote.
"""
from __future__ import annotations

import os
import re
import time
import urllib.error
from pathlib import Path

import pytest
from _support.gitrepo import django_project, pushed_app
from _support.schema import RequestLog

pytestmark = [pytest.mark.sandbox, pytest.mark.usefixtures("schema_conformance")]

SENTINEL_SUFFIX = ' ; echo "\uFFFF heroku-command-exit-status: $?"'

#: The Django project, plus an app with a management command that reports where it ran.
APP_FILES = {
    **django_project(release="echo released", settings_extra='INSTALLED_APPS += ["dynoapp"]'),
    "dynoapp/__init__.py": "",
    "dynoapp/management/__init__.py": "",
    "dynoapp/management/commands/__init__.py": "",
    "dynoapp/management/commands/whereami.py": """
        import os

        from django.core.management.base import BaseCommand


        class Command(BaseCommand):
            def handle(self, *args, **options):
                self.stdout.write(f"dyno={os.environ['DYNO']} greeting={os.environ.get('GREETING')} cwd={os.getcwd()}")
        """,
}


@pytest.fixture(scope="module")
def app(sandbox, tmp_path_factory) -> str:
    """One app for the module, deployed with ``git push`` (tests never change its code)."""
    name = f"run-x-{os.getpid()}"
    return pushed_app(sandbox, tmp_path_factory, name, APP_FILES)


def slug_dir(sandbox, app: str) -> Path:
    state = sandbox.state()
    app_id = next(a["id"] for a in state["apps"].values() if a["name"] == app)
    slug_id = next(r for r in reversed(state["releases"][app_id]) if r["status"] == "succeeded")["slug"]["id"]
    return sandbox.directory / "slugs" / slug_id / "app"


def assert_own_copy_of_the_slug(sandbox, app: str, cwd: Path) -> None:
    """A one-off dyno runs in a copy of the release's slug of its own (``dynos/<id>/app``), gone once it ended."""
    assert cwd.parent.parent == sandbox.directory / "dynos" and cwd.name == "app"
    assert cwd != slug_dir(sandbox, app)
    wait_for(lambda: not cwd.exists())


def run_x(heroku, app: str, command: str, **kwargs):
    return heroku("run", "-x", "--no-tty", "-a", app, "--", command, check=False, **kwargs)


def dyno_posts(log, app: str) -> list[dict]:
    """The ``POST /apps/APP/dynos`` requests (and answers) of this test."""
    return [e for e in log.entries() if e["method"] == "POST" and e["path"] == f"/apps/{app}/dynos"]


def release_version(sandbox, app: str) -> int:
    return sandbox.api("GET", f"/apps/{app}/releases", headers={"Range": "version ..; order=desc,max=1"})[0]["version"]


def dyno_names(sandbox, app: str) -> set[str]:
    return {d["name"] for d in sandbox.api("GET", f"/apps/{app}/dynos")}


def wait_for(predicate, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(0.05)
    raise AssertionError("timed out waiting")


def test_run_x_streams_output_and_exits_zero(heroku, sandbox, app):
    log = RequestLog(sandbox)
    result = run_x(heroku, app, "echo hello; echo $DYNO; cat Procfile")

    assert result.returncode == 0, result.stderr
    name = re.search(r"up, (run\.\d{4})", result.stderr).group(1)
    assert result.stdout == f"hello\n{name}\n" + APP_FILES["Procfile"]
    [post] = dyno_posts(log, app)
    assert post["body"]["command"] == "echo hello; echo $DYNO; cat Procfile" + SENTINEL_SUFFIX
    assert post["body"]["attach"] is True and post["body"]["force_no_tty"] is True
    assert post["status"] == 201
    assert re.fullmatch(r"rendezvous://127\.0\.0\.1:\d+/\S+", post["response"]["attach_url"])
    assert post["response"]["name"] == name and post["response"]["state"] == "starting"
    # The dyno is gone once its command ended, as on Heroku.
    assert [d["name"] for d in heroku.json("ps", "-a", app, "--json")] == ["web.1"]


def test_run_x_passes_the_remote_exit_status_through(heroku, app):
    result = run_x(heroku, app, "echo before; python -c 'import sys; sys.exit(3)'")

    assert result.returncode == 3
    assert result.stdout == "before\n"
    assert "Error: Process exited with code 3" in result.stderr


def test_run_without_x_exits_zero_whatever_the_command_does(heroku, app):
    result = heroku("run", "--no-tty", "-a", app, "--", "echo ran; false", check=False)

    assert result.returncode == 0
    assert result.stdout == "ran\n"


def test_dyno_sees_config_vars_env_flag_and_slug_directory(heroku, sandbox, app):
    heroku("config:set", "GREETING=hello there", "-a", app)
    version = release_version(sandbox, app)

    result = heroku(
        "run", "-x", "--no-tty", "-e", "EXTRA=from-flag", "-a", app, "--",
        'echo "$GREETING|$EXTRA|$HEROKU_RELEASE_VERSION"; pwd', check=False,
    )

    assert result.returncode == 0, result.stderr
    values, cwd = result.stdout.splitlines()
    assert values == f"hello there|from-flag|v{version}"
    assert_own_copy_of_the_slug(sandbox, app, Path(cwd))


def test_django_management_command_runs_from_the_slug(heroku, sandbox, app):
    heroku("config:set", "GREETING=bonjour", "-a", app)

    result = run_x(heroku, app, "python manage.py whereami")

    assert result.returncode == 0, result.stderr
    found = re.fullmatch(r"dyno=run\.\d{4} greeting=bonjour cwd=(\S+)\n", result.stdout)
    assert found, result.stdout
    assert_own_copy_of_the_slug(sandbox, app, Path(found.group(1)))
    failing = run_x(heroku, app, "python manage.py no_such_command")
    assert failing.returncode == 1
    assert "Unknown command: 'no_such_command'" in failing.stdout


def test_stdin_is_piped_to_the_command(heroku, app):
    result = run_x(
        heroku, app, "python -c 'import sys; data = sys.stdin.read(); print(len(data), data.upper())'",
        input="first line\nsecond line\n",
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout == "23 FIRST LINE\nSECOND LINE\n\n"


def test_long_and_unterminated_output_arrives_complete(heroku, app):
    result = run_x(heroku, app, "seq 1 10000; printf 'no newline at the end'")

    assert result.returncode == 0, result.stderr
    lines = result.stdout.split("\n")
    assert lines[:10000] == [str(n) for n in range(1, 10001)]
    assert lines[10000:] == ["no newline at the end"]


def test_run_detached_runs_in_the_background(heroku, sandbox, app, tmp_path):
    go, out = tmp_path / "go", tmp_path / "out"
    log = RequestLog(sandbox)

    result = heroku(
        "run:detached", "-e", f"GO={go};OUT={out}", "-a", app, "--",
        'while [ ! -e "$GO" ]; do sleep 0.05; done; echo "finished on $DYNO" | tee "$OUT"',
    )

    name = re.search(r"--dyno (run\.\d{4})", result.stdout).group(1)
    assert f"Run heroku logs --app {app} --dyno {name} to view the output." in result.stdout
    [post] = dyno_posts(log, app)
    assert post["body"]["attach"] is False and post["response"]["attach_url"] is None
    running = {d["name"]: d for d in heroku.json("ps", "-a", app, "--json")}
    assert running[name]["state"] == "up" and running[name]["type"] == "run"
    assert running[name]["command"].endswith('| tee "$OUT"')

    go.touch()
    assert wait_for(lambda: out.exists() and out.read_text()) == f"finished on {name}\n"
    output = sandbox.directory / "dynos" / f"{post['response']['id']}.log"
    assert wait_for(lambda: output.exists() and output.read_text()) == f"finished on {name}\n"
    wait_for(lambda: name not in dyno_names(sandbox, app))


def test_ps_stop_ends_a_detached_dyno(heroku, sandbox, app, tmp_path):
    out = tmp_path / "out"
    result = heroku("run:detached", "-e", f"OUT={out}", "-a", app, "--", 'sleep 30; touch "$OUT"')
    name = re.search(r"--dyno (run\.\d{4})", result.stdout).group(1)

    assert name in dyno_names(sandbox, app)

    heroku("ps:stop", "--dyno-name", name, "-a", app)

    wait_for(lambda: name not in dyno_names(sandbox, app), timeout=5)
    with pytest.raises(urllib.error.HTTPError) as gone:
        sandbox.api("GET", f"/apps/{app}/dynos/{name}")
    assert gone.value.code == 404
    assert not out.exists()


def test_run_fault_fails_the_dyno_before_the_command_runs(heroku, sandbox, app, tmp_path):
    marker = tmp_path / "ran"
    sandbox.arm_fault(app, "run")

    result = run_x(heroku, app, f"touch {marker}")

    assert result.returncode == 1
    assert result.stdout.startswith("Error R99 (Platform error)")
    assert "No exit code returned" in result.stderr
    assert not marker.exists()
    assert run_x(heroku, app, f"touch {marker}").returncode == 0  # the fault is spent
    assert marker.exists()


def test_run_fault_leaves_a_detached_dyno_with_only_the_error_in_its_log(heroku, sandbox, app, tmp_path):
    marker = tmp_path / "ran"
    log = RequestLog(sandbox)
    sandbox.arm_fault(app, "run")

    heroku("run:detached", "-a", app, "--", f"touch {marker}")  # run:detached never reports a failure

    [post] = dyno_posts(log, app)
    output = sandbox.directory / "dynos" / f"{post['response']['id']}.log"
    assert wait_for(lambda: output.exists() and output.read_text()).startswith("Error R99 (Platform error)")
    assert not marker.exists()


def test_run_before_any_deploy_is_refused(heroku, sandbox, app_name):
    sandbox.api("POST", "/apps", {"name": app_name})
    log = RequestLog(sandbox)

    result = run_x(heroku, app_name, "echo never")

    assert result.returncode == 2
    assert "Deploy code first." in result.stderr and "Error ID: conflict" in result.stderr
    assert [e["status"] for e in dyno_posts(log, app_name)] == [409]
