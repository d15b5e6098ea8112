"""Shared fixtures: a sandbox driven by the real heroku CLI, with an isolated HOME.

Helpers (no fixtures) live in ``tests/_support/``.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from _support.cli import HerokuCLI
from _support.home import GITCONFIG, make_home
from _support.schema import RequestLog
from heroku_tools.sandbox import Sandbox, find_pinned_heroku

ROOT = Path(__file__).resolve().parents[1]


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
    return make_home(tmp_path / "home", GITCONFIG + "[init]\n\tdefaultBranch = main\n")


@pytest.fixture
def cli_env(sandbox, home) -> dict:
    return sandbox.cli_env(home)


@pytest.fixture
def heroku(cli_env, tmp_path) -> HerokuCLI:
    return HerokuCLI(cli_env, tmp_path)


_counter = iter(range(1, 1_000_000))


@pytest.fixture
def app_name(request) -> str:
    """A unique, Heroku-valid app name per test."""
    base = "".join(ch if ch.isalnum() else "-" for ch in request.node.name.lower())[:20].strip("-")
    return f"t{next(_counter)}-{os.getpid() % 1000}-{base}".strip("-")[:30]


@pytest.fixture
def schema_conformance(sandbox) -> RequestLog:
    """Fails the test if any answer the sandbox gave during it breaks the Platform API schema.

    Use with ``pytestmark = pytest.mark.usefixtures("schema_conformance")``.
    """
    log = RequestLog(sandbox)
    yield log
    log.assert_conform()
