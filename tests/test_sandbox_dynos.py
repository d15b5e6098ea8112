"""Each dyno its own world: one-off and release dynos get their own copy of the slug, named and
configured as Heroku names and configures them, and a dyno whose ``heroku run`` hangs up stops.

The module deploys one small app with a real ``git push`` (its dependencies installed by the build)
and drives the real heroku CLI against it; outcomes are read from the processes, the files and the
dyno list.
"""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest
from _support.gitrepo import pushed_app

pytestmark = [pytest.mark.sandbox, pytest.mark.usefixtures("schema_conformance")]

APP_FILES = {
    "requirements.txt": "",
    ".python-version": "3.11\n",
    "app.py": "print('hello')\n",
    "Procfile": 'release: echo "release on $DYNO in $PWD as HOME=$HOME"; touch written-by-release.txt\n',
}


@pytest.fixture(scope="module")
def app(sandbox, tmp_path_factory) -> str:
    name = f"dynos-{os.getpid()}"
    return pushed_app(sandbox, tmp_path_factory, name, APP_FILES)


def slug_dir(sandbox, app: str) -> Path:
    current = next(r for r in sandbox.api("GET", f"/apps/{app}/releases") if r["current"])
    return sandbox.directory / "slugs" / current["slug"]["id"] / "app"


def wait_for(predicate, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(0.05)
    raise AssertionError("timed out waiting")


def dyno_names(sandbox, app: str) -> set[str]:
    return {d["name"] for d in sandbox.api("GET", f"/apps/{app}/dynos")}


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def log_lines(sandbox, app: str) -> list[str]:
    app_id = sandbox.api("GET", f"/apps/{app}")["id"]
    path = sandbox.directory / "logs" / f"{app_id}.jsonl"
    return [line for line in path.read_text().splitlines()] if path.exists() else []


def test_the_release_phase_runs_in_a_release_dyno_whose_files_vanish(sandbox, app):
    release = next(r for r in sandbox.api("GET", f"/apps/{app}/releases") if r["current"])
    output = sandbox.api("GET", f"/apps/{app}/releases/{release['id']}")["output_stream_url"]
    assert output
    logged = "\n".join(log_lines(sandbox, app))
    found = re.search(r'"app", "(release\.\d{4})", "release on release\.\d{4} in (\S+) as HOME=(\S+)"', logged)
    assert found, logged
    name, cwd, home = found.groups()
    assert cwd == home and Path(cwd).parent.parent == sandbox.directory / "dynos"
    assert not Path(cwd).exists()  # the release dyno's files went with it
    assert not (slug_dir(sandbox, app) / "written-by-release.txt").exists()
    assert f'"heroku", "{name}", "Process exited with status 0"' in logged


def test_two_one_off_dynos_do_not_see_each_others_files(sandbox, heroku, app, tmp_path):
    go = tmp_path / "go"
    first = heroku("run:detached", "-e", f"GO={go}", "-a", app, "--",
                   'echo first > scratch.txt; while [ ! -e "$GO" ]; do sleep 0.05; done; cat scratch.txt')
    first_name = re.search(r"--dyno (run\.\d{4})", first.stdout).group(1)
    first_dir = wait_for(lambda: next((p / "app" for p in (sandbox.directory / "dynos").iterdir()
                                       if (p / "app" / "scratch.txt").exists()), None))

    second = heroku("run", "-x", "--no-tty", "-a", app, "--",
                    'ls; test -e scratch.txt && echo seen || echo unseen; echo second > scratch.txt; pwd', check=False)

    assert second.returncode == 0, second.stderr
    *listing, seen, second_cwd = second.stdout.splitlines()
    assert seen == "unseen" and "scratch.txt" not in listing and "app.py" in listing
    assert Path(second_cwd) != first_dir and not Path(second_cwd).exists()  # removed once it ended
    assert (first_dir / "scratch.txt").read_text() == "first\n"  # the first dyno's file is its own
    go.touch()
    wait_for(lambda: first_name not in dyno_names(sandbox, app))
    wait_for(lambda: not first_dir.exists())
    assert not (slug_dir(sandbox, app) / "scratch.txt").exists()
    logged = "\n".join(log_lines(sandbox, app))
    assert f'"app", "{first_name}", "first"' in logged  # a detached dyno's output is in the app's log


def test_a_one_off_dyno_is_stopped_when_its_cli_is_killed(sandbox, app, cli_env, tmp_path):
    pids = tmp_path / "pids"
    command = f'sleep 300 & echo $! > {pids}.bg; echo $$ > {pids}; wait'
    cli = subprocess.Popen(["heroku", "run", "--no-tty", "-a", app, "--", command], env=cli_env, cwd=tmp_path,
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        wait_for(lambda: pids.exists() and pids.read_text().strip() and Path(f"{pids}.bg").exists(), timeout=60)
        shell, background = int(pids.read_text()), int(Path(f"{pids}.bg").read_text())
        name = next(d["name"] for d in sandbox.api("GET", f"/apps/{app}/dynos") if d["type"] == "run")
        assert alive(shell) and alive(background)

        # The CLI has sent all its input (stdin is empty); now it dies without a word: only the connection closes.
        os.killpg(cli.pid, signal.SIGKILL)
        cli.wait(timeout=10)

        wait_for(lambda: not alive(shell) and not alive(background), timeout=15)
        wait_for(lambda: name not in dyno_names(sandbox, app))
        logged = "\n".join(log_lines(sandbox, app))
        assert f'"heroku", "{name}", "Client connection closed. Sending SIGHUP to all processes"' in logged
    finally:
        if cli.poll() is None:
            os.killpg(cli.pid, signal.SIGKILL)
            cli.wait()


def test_dynos_get_the_variables_heroku_sets(sandbox, heroku, app):
    heroku("config:set", "FROM_CONFIG=yes", "-a", app)
    result = heroku("run", "-x", "--no-tty", "-a", app, "--",
                    'echo "$DYNO|$PORT|$FROM_CONFIG|$HEROKU_RELEASE_VERSION|$PYTHONPATH|$(command -v python)"; pwd',
                    check=False)

    assert result.returncode == 0, result.stderr
    values, cwd = result.stdout.splitlines()
    dyno, port, config, version, pythonpath, python = values.split("|")
    assert re.fullmatch(r"run\.\d{4}", dyno) and port.isdigit() and config == "yes"
    current = next(r for r in sandbox.api("GET", f"/apps/{app}/releases") if r["current"])
    assert version == f"v{current['version']}"
    assert pythonpath == cwd and python == f"{cwd}/.heroku/python/bin/python"


def test_a_dyno_has_the_postgres_client_and_curl_and_trusts_the_platform(sandbox, heroku, app):
    """What the restore's engine needs of the stack image: pg_restore, psql, curl, HTTPS to the platform."""
    health = f"{sandbox.base_url}/_sandbox/health"
    result = heroku("run", "-x", "--no-tty", "-a", app, "--",
                    "for tool in pg_restore psql curl; do command -v $tool; done; pg_restore --version; "
                    f"curl -sS -o /dev/null -w '%{{http_code}}\\n' {health}; "
                    f"python -c 'import urllib.request; print(urllib.request.urlopen(\"{health}\").status)'",
                    check=False)

    assert result.returncode == 0, result.stderr
    pg_restore, psql, curl, version, curl_status, python_status = result.stdout.splitlines()
    assert Path(pg_restore).name == "pg_restore" and Path(psql).name == "psql" and Path(curl).name == "curl"
    assert Path(pg_restore).parent == Path(psql).parent
    assert version.startswith("pg_restore (PostgreSQL)")
    assert curl_status == "200" and python_status == "200"


def test_a_stopped_dyno_takes_the_processes_of_other_sessions_with_it(sandbox, app, cli_env, tmp_path):
    """A program in the dyno that puts its children in sessions of their own (as the restore's engine does with
    psql) does not leave them running when the dyno stops: the dyno ends as a unit, as a container does."""
    pids = tmp_path / "pids"
    command = f"setsid sleep 300 & echo $! > {pids}.bg; echo $$ > {pids}; wait"
    cli = subprocess.Popen(["heroku", "run", "--no-tty", "-a", app, "--", command], env=cli_env, cwd=tmp_path,
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           start_new_session=True)
    try:
        wait_for(lambda: pids.exists() and pids.read_text().strip() and Path(f"{pids}.bg").exists()
                 and Path(f"{pids}.bg").read_text().strip(), timeout=60)
        shell, detached = int(pids.read_text()), int(Path(f"{pids}.bg").read_text())
        wait_for(lambda: os.getsid(detached) == detached)  # setsid has made its session
        assert os.getsid(detached) != os.getsid(shell)
        os.killpg(cli.pid, signal.SIGKILL)
        cli.wait(timeout=10)
        wait_for(lambda: not alive(shell) and not alive(detached), timeout=15)
    finally:
        if cli.poll() is None:
            os.killpg(cli.pid, signal.SIGKILL)
            cli.wait()


def test_the_rendezvous_counts_the_bytes_it_relays_each_way(sandbox, heroku, app):
    """Per dyno, what crossed the CLI's side: its stdin (up to and with the ``\\x04``) and its output."""
    data = "x" * 100_000 + "\n"
    result = heroku("run", "-x", "--no-tty", "-a", app, "--", "wc -c; seq 1 1000", input=data, check=False)

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0].strip() == str(len(data))
    lines = [json.loads(line) for line in (sandbox.directory / "dynos.jsonl").read_text().splitlines()]
    mine = [line for line in lines if line["app"] == app and line["command"].startswith("wc -c; seq 1 1000")]
    assert len(mine) == 1 and mine[0]["attached"] and mine[0]["exit_status"] == 0
    assert mine[0]["stdin_bytes"] == len(data) + 1  # and the \x04
    output = len(f"{len(data)}\n".encode()) + len("".join(f"{n}\n" for n in range(1, 1001)))
    assert output < mine[0]["stdout_bytes"] < output + 100  # the output, and the exit-status line
