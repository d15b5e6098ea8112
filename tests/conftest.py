"""Shared fixtures: a sandbox driven by the real heroku CLI, isolated HOMEs, throwaway PostgreSQL.

The suite runs in parallel (pytest-xdist: ``./dev test``). Each worker is a
pytest session of its own, so each has its own HOME (:func:`_worker_home`),
its own sandbox (state directory, ports, PostgreSQL cluster) and app names
marked with its number; a module's tests all run on one worker
(``--dist loadfile``), so a module-scoped project is built once.

Markers (``pyproject.toml``; docs/development.rst):

- ``sandbox``: not a pure unit. Added here to every test that uses the
  ``sandbox`` fixture (directly or through another fixture) and to every
  ``postgres`` test, so ``-m "not sandbox"`` runs the pure units alone.
- ``postgres``: starts a throwaway PostgreSQL cluster of its own (no sandbox).
  Skipped when no PostgreSQL server binaries are found, failed under ``CI``.
"""
from __future__ import annotations

import collections
import itertools
import os
import signal
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings

from _support.cli import HerokuCLI
from _support.home import GITCONFIG, make_home
from _support.schema import RequestLog
from heroku_tools.sandbox import Sandbox, find_pinned_heroku
from heroku_tools.sandbox.environments import cache_root
from heroku_tools.sandbox.postgres import PostgresError, find_bin_dir

ROOT = Path(__file__).resolve().parents[1]

# Builds install each app's dependencies into the user's build cache. Tests run
# with a HOME of their own, so name the cache once, from the real HOME: every
# sandbox of the session (and of the next) shares it, and Django is installed once.
os.environ.setdefault("HEROKU_TOOLS_BUILD_CACHE", str(cache_root()))

# Timing is not an assertion here: under a loaded machine (parallel workers,
# real subprocesses) Hypothesis's per-example deadline only produces flakes.
hypothesis_settings.register_profile("heroku-tools", deadline=None)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "heroku-tools"))

# Many tests press Ctrl-C (SIGINT) as a terminal does. A runner that starts the suite in the
# background without job control (`cmd &` in a script, some CI agents) leaves SIGINT ignored,
# and an ignored signal stays ignored in every child: the tools under test would never see it.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

#: This worker's number under pytest-xdist (``gw3``: ``3``); ``s`` in a serial run.
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "gws").removeprefix("gw")


# -- markers ---------------------------------------------------------------------------------------


def _postgres_missing() -> str | None:
    try:
        find_bin_dir()
    except PostgresError as error:
        return str(error)
    return None


#: The modules that take longest, longest first (test-seconds in a run with ``--durations=0``, 2026-12-07:
#: from 1,020 for the fault matrix down to 160: four fifths of the suite between them), handed to the workers first:
#: a worker that picked one up last would finish alone.
SLOWEST_MODULES = ("test_fault_matrix.py", "test_backups_e2e.py", "test_downtime_e2e.py", "test_deploy_e2e.py",
                   "test_config_e2e.py", "test_health_e2e.py", "test_teams_e2e.py", "test_runners.py",
                   "test_sandbox_formation.py", "test_sandbox_postgres.py", "test_sandbox_git_push.py",
                   "test_sandbox_build.py")


@pytest.hookimpl(tryfirst=True)  # before -m deselects by marker
def pytest_collection_modifyitems(config, items):
    missing = None
    for item in items:
        if item.get_closest_marker("postgres"):
            item.add_marker(pytest.mark.sandbox)
            if missing is None:
                missing = _postgres_missing() or ""
            if missing and not os.environ.get("CI"):
                item.add_marker(pytest.mark.skip(reason=missing))
        elif "sandbox" in item.fixturenames:
            item.add_marker(pytest.mark.sandbox)
    _slowest_modules_first(items)


def _slowest_modules_first(items) -> None:
    """Whole modules in order of expected cost: the listed slowest, then by sandbox tests, pure units last.

    Tests keep their order within a module (a stable sort); every xdist worker
    sorts alike, so they all see the same collection (``--no-loadscope-reorder``
    keeps this order when handing out modules).
    """
    sandbox_tests = collections.Counter(item.path for item in items if item.get_closest_marker("sandbox"))

    def cost(path: Path) -> tuple:
        listed = SLOWEST_MODULES.index(path.name) if path.name in SLOWEST_MODULES else len(SLOWEST_MODULES)
        return listed, -sandbox_tests[path], str(path)

    rank = {path: position for position, path in enumerate(sorted({item.path for item in items}, key=cost))}
    items.sort(key=lambda item: rank[item.path])


# -- one HOME, sandbox and set of app names per worker -------------------------------------------------


@pytest.fixture(scope="session", autouse=True)
def _worker_home(tmp_path_factory):
    """This worker's HOME: nothing reads the developer's ~/.gitconfig or the CLI's caches, nor another worker's."""
    saved = os.environ.get("HOME")
    os.environ["HOME"] = str(make_home(tmp_path_factory.mktemp("worker-home")))
    yield Path(os.environ["HOME"])
    if saved is None:
        os.environ.pop("HOME", None)
    else:
        os.environ["HOME"] = saved


@pytest.fixture(scope="session")
def heroku_bin() -> Path:
    found = find_pinned_heroku()
    if not found or not found.exists():
        pytest.fail("the pinned heroku CLI is not installed: run `npm ci` in the repository root")
    return found


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory, heroku_bin) -> Sandbox:
    """One sandbox per worker; tests use unique app names."""
    with Sandbox(tmp_path_factory.mktemp("sandbox"), heroku_bin=heroku_bin) as running:
        yield running


#: Heroku's delays (crash cool-offs, the preboot switch, the router's timeout) in the formation sandbox: × 0.1.
FORMATION_TIME_SCALE = 0.1


@pytest.fixture(scope="session")
def formation_sandbox(tmp_path_factory, heroku_bin) -> Sandbox:
    """A second sandbox per worker that runs each release's dynos and serves ``web_url`` (delays × 0.1).

    The shared ``sandbox`` runs no dynos, so tests that need no HTTP pay for none.
    A module that needs HTTP takes this one as its ``sandbox``, so ``heroku``,
    ``cli_env`` and ``schema_conformance`` talk to it::

        @pytest.fixture(scope="module")
        def sandbox(formation_sandbox):
            return formation_sandbox

    A test that changes its ``time_scale`` puts it back.
    """
    with Sandbox(tmp_path_factory.mktemp("formation-sandbox"), heroku_bin=heroku_bin, formation=True,
                 time_scale=FORMATION_TIME_SCALE) as running:
        yield running


@pytest.fixture(autouse=True)
def _reset_faults(request):
    """Faults armed by one test never leak into the next."""
    yield
    if "sandbox" in request.fixturenames:
        request.getfixturevalue("sandbox").clear_faults()


_counter = itertools.count(1)


@pytest.fixture
def app_name(request) -> str:
    """A unique, Heroku-valid app name per test, unique across workers too."""
    base = "".join(ch if ch.isalnum() else "-" for ch in request.node.name.lower())[:20].strip("-")
    return f"t{next(_counter)}-{WORKER}-{base}".strip("-")[:30].rstrip("-")


# -- the heroku CLI against the sandbox ------------------------------------------------------------------


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


@pytest.fixture
def schema_conformance(sandbox) -> RequestLog:
    """Fails the test if any answer the sandbox gave during it breaks the Platform API schema.

    Use with ``pytestmark = pytest.mark.usefixtures("schema_conformance")``.
    """
    log = RequestLog(sandbox)
    yield log
    log.assert_conform()
