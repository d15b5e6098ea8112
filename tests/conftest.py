"""Shared fixtures: a sandbox driven by the real heroku CLI, with an isolated HOME."""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from heroku_tools.sandbox import Sandbox, find_pinned_heroku
from heroku_tools.sandbox.environments import cache_root

ROOT = Path(__file__).resolve().parents[1]

# Builds install each app's dependencies into the user's build cache. Tests run
# with a HOME of their own, so name the cache once, from the real HOME: every
# sandbox of the session (and of the next) shares it, and Django is installed once.
os.environ.setdefault("HEROKU_TOOLS_BUILD_CACHE", str(cache_root()))


@pytest.fixture(scope="session")
def heroku_bin() -> Path:
    found = find_pinned_heroku()
    if not found or not found.exists():
        pytest.fail("the pinned heroku CLI is not installed: run `npm ci` in the repository root")
    return found


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory, heroku_bin) -> Sandbox:
    """One sandbox for the whole session; tests use unique app names."""
    with Sandbox(tmp_path_factory.mktemp("sandbox"), heroku_bin=heroku_bin) as running:
        yield running


@pytest.fixture(autouse=True)
def _reset_faults(request):
    """Faults armed by one test never leak into the next."""
    yield
    if "sandbox" in request.fixturenames:
        request.getfixturevalue("sandbox").clear_faults()


@pytest.fixture
def home(tmp_path) -> Path:
    """An isolated HOME: the heroku CLI writes into ~/.gitconfig and ~/.cache."""
    path = tmp_path / "home"
    path.mkdir()
    (path / ".gitconfig").write_text("[user]\n\tname = Test User\n\temail = test@example.com\n[init]\n\tdefaultBranch = main\n")
    return path


@pytest.fixture
def cli_env(sandbox, home) -> dict:
    return sandbox.cli_env(home)


class HerokuCLI:
    """Runs the real heroku CLI against the sandbox."""

    def __init__(self, env: dict, cwd: Path):
        self.env, self.cwd = env, cwd

    def __call__(self, *args: str, check: bool = True, input: str | None = None, timeout: float = 120):
        result = subprocess.run(
            ["heroku", *args],
            env=self.env,
            cwd=self.cwd,
            capture_output=True,
            text=True,
            input=input,
            stdin=None if input is not None else subprocess.DEVNULL,
            timeout=timeout,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"heroku {' '.join(args)} exited {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
            )
        return result

    def json(self, *args: str):
        return json.loads(self(*args).stdout)


@pytest.fixture
def heroku(cli_env, tmp_path) -> HerokuCLI:
    return HerokuCLI(cli_env, tmp_path)


_counter = iter(range(1, 1_000_000))


@pytest.fixture
def app_name(request) -> str:
    """A unique, Heroku-valid app name per test."""
    base = "".join(ch if ch.isalnum() else "-" for ch in request.node.name.lower())[:20].strip("-")
    return f"t{next(_counter)}-{os.getpid() % 1000}-{base}".strip("-")[:30]
