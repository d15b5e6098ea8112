"""``heroku-tools sandbox ...`` and the repository's example fabfile, through the real binaries."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from heroku_tools.sandbox import Sandbox

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

pytestmark = pytest.mark.sandbox


def clean_env(home: Path) -> dict:
    """A user's shell: the venv on PATH, an isolated HOME, no Heroku credentials or app of its own."""
    env = {k: v for k, v in os.environ.items() if k not in ("HEROKU_API_KEY", "HEROKU_APP", "HEROKU_TOOLS_SANDBOX")}
    return {**env, "HOME": str(home), "PATH": f"{BIN}{os.pathsep}{env['PATH']}"}


def cli(*args: str, env: dict, cwd: Path = ROOT, binary: str = "heroku-tools") -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / binary), *args], capture_output=True, text=True, env=env, cwd=cwd, stdin=subprocess.DEVNULL, timeout=120, check=False
    )


@pytest.fixture(scope="module")
def directory(tmp_path_factory):
    """A sandbox of this module's own (``down`` must not stop the session's); stopped at the end."""
    path = tmp_path_factory.mktemp("own-sandbox")
    yield path
    Sandbox(path).stop()


@pytest.fixture
def env(home) -> dict:
    return clean_env(home)


def test_eval_up_then_the_real_cli_works(directory, env, tmp_path):
    script = f"""
        set -e
        eval "$(heroku-tools sandbox up --directory {directory})"
        heroku auth:whoami
        heroku apps:create eval-demo-app --no-remote >/dev/null 2>&1
        heroku apps
    """
    result = subprocess.run(["bash", "-c", script], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=180, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("developer@example.com\n")
    assert "eval-demo-app" in result.stdout


def test_up_prints_only_exports_on_stdout_and_is_idempotent(directory, env):
    first = cli("sandbox", "up", "--directory", str(directory), env=env)
    second = cli("sandbox.up", "--directory", str(directory), env=env)
    assert first.returncode == second.returncode == 0
    lines = first.stdout.splitlines()
    assert lines and all(line.startswith("export ") for line in lines)
    assert any(line.startswith("export HEROKU_API_KEY=") for line in lines)
    assert first.stdout == second.stdout
    assert "sandbox running at https://127.0.0.1:" in first.stderr


def test_status_text_and_json(directory, env):
    cli("sandbox", "up", "--directory", str(directory), env=env)
    text = cli("sandbox", "status", "--directory", str(directory), env=env)
    assert text.returncode == 0 and text.stdout.startswith("running at https://127.0.0.1:")
    described = json.loads(cli("sandbox", "status", "--directory", str(directory), "--json", env=env).stdout)
    assert described["running"] is True and described["directory"] == str(directory)
    assert isinstance(described["apps"], list)


def test_fault_latency_and_clear(directory, env):
    cli("sandbox", "up", "--directory", str(directory), env=env)
    armed = cli("sandbox", "fault", "some-app", "release", "--times", "2", "--directory", str(directory), env=env)
    assert armed.returncode == 0, armed.stderr
    assert Sandbox(directory).state()["faults"] == {"some-app": {"release": 2}}
    assert cli("sandbox.fault:some-app,build", "--directory", str(directory), env=env).returncode == 0
    assert Sandbox(directory).state()["faults"]["some-app"] == {"release": 2, "build": 1}
    assert cli("sandbox", "latency", "0", "--directory", str(directory), env=env).returncode == 0
    assert cli("sandbox", "clear", "--directory", str(directory), env=env).returncode == 0
    assert not Sandbox(directory).state()["faults"]


def test_bad_fault_point_and_latency_are_one_message(directory, env):
    cli("sandbox", "up", "--directory", str(directory), env=env)
    refused = cli("sandbox", "fault", "some-app", "relase", "--directory", str(directory), env=env)
    assert refused.returncode == 1
    assert refused.stderr.startswith("the sandbox refused: unknown fault point 'relase'") and "Traceback" not in refused.stderr
    bad = cli("sandbox", "latency", "soon", "--directory", str(directory), env=env)
    assert (bad.returncode, bad.stderr) == (1, "latency must be a whole number of milliseconds, got 'soon'\n")


def test_down_stops_it_and_status_says_so(directory, env):
    cli("sandbox", "up", "--directory", str(directory), env=env)
    down = cli("sandbox", "down", "--directory", str(directory), env=env)
    assert down.returncode == 0 and "sandbox stopped" in down.stderr
    assert not Sandbox(directory).is_running()
    status = cli("sandbox", "status", "--directory", str(directory), env=env)
    assert (status.returncode, status.stdout) == (0, f"not running (directory {directory})\n")
    assert json.loads(cli("sandbox", "status", "--json", "--directory", str(directory), env=env).stdout)["running"] is False
    again = cli("sandbox", "down", "--directory", str(directory), env=env)
    assert again.returncode == 0 and "no sandbox was running" in again.stderr
    stopped = cli("sandbox", "clear", "--directory", str(directory), env=env)
    assert stopped.returncode == 1 and stopped.stderr.startswith(f"no sandbox is running in {directory}")


def test_directory_from_the_environment(tmp_path, env):
    env = {**env, "HEROKU_TOOLS_SANDBOX": str(tmp_path / "from-env")}
    status = cli("sandbox", "status", env=env, cwd=tmp_path)
    assert status.stdout == f"not running (directory {tmp_path / 'from-env'})\n"


# -- the example fabfile, with stock fab from the repository root -------------------------------------


def test_fabfile_lists_library_and_own_tasks(env):
    listed = cli("--list", env=env, binary="fab")
    assert listed.returncode == 0, listed.stderr
    for name in ("hello", "whoami", "sandbox.up", "sandbox.status", "sandbox.down"):
        assert name in listed.stdout


def test_fabfile_colon_syntax_and_library_tasks(env, tmp_path):
    greeted = cli("hello:bob", "hello", "--who", "al", env=env, binary="fab")
    assert (greeted.returncode, greeted.stderr) == (0, "hello, bob!\nhello, al!\n")
    status = cli("sandbox.status", "--directory", str(tmp_path / "none"), env=env, binary="fab")
    assert (status.returncode, status.stdout) == (0, f"not running (directory {tmp_path / 'none'})\n")
    colon = cli(f"sandbox.status:{tmp_path / 'none'},json=yes", env=env, binary="fab")
    assert json.loads(colon.stdout)["running"] is False


def test_fabfile_task_calls_the_library_against_the_sandbox(sandbox, home):
    env = {**clean_env(home), **sandbox.env}
    env.pop("GIT_SSL_CAINFO", None)
    result = cli("whoami", env=env, binary="fab")
    assert (result.returncode, result.stdout) == (0, "developer@example.com\n"), result.stderr
