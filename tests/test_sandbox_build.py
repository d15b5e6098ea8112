"""Builds as Heroku's Python buildpack makes them: the Python version asked for, the app's own
dependencies installed into an environment the user's sandboxes share, a failed install rejecting
the push, and ``--reuse-env`` as the less faithful shortcut.

Everything goes through a real ``git push`` and the real heroku CLI; outcomes are read where they
live: the push's output, the slug's files, the build cache, what a one-off dyno imports.
"""
from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from _support.gitrepo import GitRepo

from heroku_tools.sandbox import environments, pythons

pytestmark = [pytest.mark.sandbox, pytest.mark.usefixtures("schema_conformance")]

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "examples" / "sampleapp"
MISSING_PACKAGE = "heroku-tools-no-such-package==1.0"


def sample_files() -> dict[str, str]:
    """The sample Django app's files (what ``git push`` sends)."""
    skip = {"__pycache__", "staticfiles"}
    return {
        str(path.relative_to(SAMPLE)): path.read_text()
        for path in sorted(SAMPLE.rglob("*"))
        if path.is_file() and not skip & set(path.relative_to(SAMPLE).parts) and path.suffix != ".sqlite3"
    }


@pytest.fixture
def repo(tmp_path, cli_env, sandbox, app_name) -> GitRepo:
    sandbox.api("POST", "/apps", {"name": app_name})
    return GitRepo(tmp_path / "repo", cli_env)


@pytest.fixture
def settings(sandbox):
    """Change the session sandbox's settings for one test; the defaults come back afterwards."""
    yield sandbox.configure
    sandbox.configure(reuse_env=False, strict=False)


def push(repo: GitRepo, sandbox, app: str, *args: str):
    return repo.push(f"{sandbox.base_url}/{app}.git", "main", *args)


def run_x(heroku, app: str, command: str):
    return heroku("run", "-x", "--no-tty", "-a", app, "--", command, check=False)


def releases(sandbox, app: str) -> list[dict]:
    return sandbox.api("GET", f"/apps/{app}/releases")


def current_slug_dir(sandbox, app: str) -> Path:
    current = next(r for r in releases(sandbox, app) if r["current"])
    return sandbox.directory / "slugs" / current["slug"]["id"] / "app"


def environment_of(sandbox, app: str) -> tuple[Path, dict]:
    """The environment the app's current slug links to, and what the cache says it holds."""
    link = current_slug_dir(sandbox, app) / ".heroku" / "python"
    assert link.is_symlink()
    environment = Path(link.readlink())
    return environment, json.loads((environment / environments.READY).read_text())


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def assert_lines(output: str, *lines: str) -> None:
    for line in lines:
        assert line in output, f"{line!r} missing from:\n{output}"


# -- installing what the app asks for ------------------------------------------------------------


def test_build_installs_the_requirements_into_the_python_the_app_asks_for_and_shares_them(sandbox, heroku, repo, app_name):
    files = sample_files()
    repo.commit("Sample app", files)
    pushed = push(repo, sandbox, app_name)
    assert pushed.returncode == 0, pushed.stderr
    assert_lines(
        pushed.stderr,
        "remote: -----> Python app detected",
        "remote: -----> Using Python 3.11 specified in .python-version",
        "remote: -----> Installing dependencies using 'pip install -r requirements.txt'",
        "remote: -----> $ python manage.py collectstatic --noinput",
        "remote: Waiting for release.... done.",
    )
    python, _ = pythons.choose(pythons.Request("3.11", ".python-version"), pythons.find_interpreters())
    environment, held = environment_of(sandbox, app_name)
    assert environment.parent == environments.cache_root() / "envs"
    assert held["python"] == python.dotted and held["manager"] == "pip"
    assert held["files"] == {"requirements.txt": sha256(files["requirements.txt"])}

    imported = run_x(heroku, app_name, "python -c 'import sys, django, dj_database_url, psycopg; "
                                       "print(\"%d.%d\" % sys.version_info[:2], sys.prefix, django.__file__)'; pwd")
    assert imported.returncode == 0, imported.stderr
    (version, prefix, django_file), (cwd,) = (line.split() for line in imported.stdout.splitlines())
    assert version == python.dotted.rsplit(".", 1)[0]  # 3.11 unless this machine has none
    assert prefix == f"{cwd}/.heroku/python"  # the dyno's own copy of the slug, linking to the environment
    assert (environment / Path(django_file).relative_to(prefix)).is_file()  # Django, from the shared environment

    # Another app with the same Python and requirements: nothing is installed again.
    other = f"{app_name[:26]}-two"
    sandbox.api("POST", "/apps", {"name": other})
    store = sorted((environments.cache_root() / "store").iterdir())
    again = push(repo, sandbox, other)
    assert again.returncode == 0, again.stderr
    assert_lines(again.stderr, "remote: -----> Restoring cache", f"remote: -----> Using cached install of Python {python.dotted}")
    assert "Collecting Django" not in again.stderr
    assert environment_of(sandbox, other)[0] == environment
    assert sorted((environments.cache_root() / "store").iterdir()) == store


def test_requirements_that_cannot_install_reject_the_push_and_leave_the_app_as_it_was(sandbox, repo, app_name):
    files = sample_files()
    good = repo.commit("Sample app", files)
    assert push(repo, sandbox, app_name).returncode == 0
    before = releases(sandbox, app_name)
    slugs_before = set(sandbox.state()["slugs"])

    broken = files["requirements.txt"] + f"{MISSING_PACKAGE}\n"
    repo.commit("Depend on a package that does not exist", {"requirements.txt": broken})
    rejected = push(repo, sandbox, app_name)

    assert rejected.returncode != 0
    assert_lines(
        rejected.stderr,
        "remote: -----> Installing dependencies using 'pip install -r requirements.txt'",
        f"No matching distribution found for {MISSING_PACKAGE}",
        "remote:  !     Error: Unable to install dependencies using pip.",
        "remote:  !     Push rejected, failed to compile Python app.",
        f"remote: !\tPush rejected to {app_name}.",
        " ! [remote rejected] main -> main (pre-receive hook declined)",
    )
    assert releases(sandbox, app_name) == before
    assert set(sandbox.state()["slugs"]) == slugs_before
    assert repo.git("ls-remote", f"{sandbox.base_url}/{app_name}.git", "main").stdout.split()[0] == good
    builds = sandbox.api("GET", f"/apps/{app_name}/builds")
    assert [b["status"] for b in builds] == ["succeeded", "failed"]
    assert builds[-1]["slug"] is None and builds[-1]["release"] is None
    # Nothing of the failed install is left in the cache, published or not.
    interpreter, _ = pythons.choose(pythons.Request("3.11", ".python-version"), pythons.find_interpreters())
    plan = environments.Plan.for_app(interpreter, repo.path, {})
    root = environments.cache_root()
    assert not (root / "envs" / plan.name).exists()
    assert not list((root / "store").glob(f"{plan.name}.*"))


def test_a_dependency_added_between_two_deploys_is_present_in_the_second(sandbox, heroku, repo, app_name):
    files = sample_files()
    repo.commit("Sample app", files)
    assert push(repo, sandbox, app_name).returncode == 0
    missing = run_x(heroku, app_name, "python -c 'import six'")
    assert missing.returncode == 1 and "ModuleNotFoundError: No module named 'six'" in missing.stdout

    repo.commit("Use six", {"requirements.txt": files["requirements.txt"] + "six==1.17.0\n"})
    pushed = push(repo, sandbox, app_name)

    assert pushed.returncode == 0, pushed.stderr
    # A cache that never saw these requirements discards the app's previous one, as the buildpack does.
    assert ("remote:        - The contents of requirements.txt changed" in pushed.stderr
            or "remote: -----> Restoring cache" in pushed.stderr), pushed.stderr
    present = run_x(heroku, app_name, "python -c 'import six; print(six.__version__)'")
    assert (present.returncode, present.stdout) == (0, "1.17.0\n"), present.stderr


# -- the Python version ------------------------------------------------------------------------------


def test_a_python_not_installed_here_builds_with_the_nearest_or_fails_when_strict(sandbox, heroku, repo, app_name, settings):
    newest = pythons.find_interpreters()[0]
    major, minor, patch = newest.version
    wanted = f"{major}.{minor}.{patch + 1}"  # a patch release this machine does not have
    repo.commit("Pin an absent Python", {"requirements.txt": "", ".python-version": f"{wanted}\n", "app.py": ""})

    pushed = push(repo, sandbox, app_name)

    assert pushed.returncode == 0, pushed.stderr
    assert_lines(
        pushed.stderr,
        f"remote: -----> Using Python {wanted} specified in .python-version",
        f"remote:  !     Warning: Python {wanted} is not installed on this machine.",
        f"remote:  !     The sandbox builds with Python {newest.dotted} ({newest.path}), the nearest it found;",
    )
    version = run_x(heroku, app_name, "python -V")
    assert (version.returncode, version.stdout) == (0, f"Python {newest.dotted}\n")

    settings(strict=True)
    before = releases(sandbox, app_name)
    repo.commit("Again, strictly", {"app.py": "print('strict')\n"})
    rejected = push(repo, sandbox, app_name)
    assert rejected.returncode != 0
    assert_lines(
        rejected.stderr,
        f"remote:  !     Error: Python {wanted} is not installed on this machine (the sandbox downloads no interpreters).",
        "remote:  !     Push rejected, failed to compile Python app.",
    )
    assert releases(sandbox, app_name) == before


def test_runtime_txt_wins_and_the_version_sticks_to_the_app(sandbox, repo, app_name):
    found = {i.version[:2]: i for i in pythons.find_interpreters()}
    if len(found) < 2:
        pytest.skip("needs two Python minor versions on this machine")
    (first, second) = sorted(found)[-2:]
    runtime = "python-{}.{}".format(*first)
    repo.commit("Both files", {"requirements.txt": "", "runtime.txt": f"{runtime}\n",
                               ".python-version": "{}.{}\n".format(*second)})
    pushed = push(repo, sandbox, app_name)
    assert pushed.returncode == 0, pushed.stderr
    assert f"remote: -----> Using Python {runtime[7:]} specified in runtime.txt" in pushed.stderr

    # Without any version file, the app keeps the major version of its last build.
    repo.git("rm", "-q", "runtime.txt", ".python-version")
    repo.commit("No version file")
    sticky = push(repo, sandbox, app_name)
    assert sticky.returncode == 0, sticky.stderr
    assert (f"remote: -----> No Python version was specified. Using the same major version as the last build: "
            f"Python {runtime[7:]}") in sticky.stderr


# -- lock files ------------------------------------------------------------------------------------

UV_PROJECT = {
    ".python-version": "3.12\n",
    "pyproject.toml": """
        [project]
        name = "uv-sandbox-app"
        version = "0.1.0"
        requires-python = ">=3.10"
        dependencies = ["six==1.17.0"]

        [dependency-groups]
        dev = ["iniconfig==2.1.0"]
        """,
    "uv.lock": """
        version = 1
        revision = 3
        requires-python = ">=3.10"

        [[package]]
        name = "iniconfig"
        version = "2.1.0"
        source = { registry = "https://pypi.org/simple" }
        sdist = { url = "https://files.pythonhosted.org/packages/f2/97/ebf4da567aa6827c909642694d71c9fcf53e5b504f2d96afea02718862f3/iniconfig-2.1.0.tar.gz", hash = "sha256:3abbd2e30b36733fee78f9c7f7308f2d0050e88f0087fd25c2645f63c773e1c7", size = 4793, upload-time = "2025-03-19T20:09:59.721Z" }
        wheels = [
            { url = "https://files.pythonhosted.org/packages/2c/e1/e6716421ea10d38022b952c159d5161ca1193197fb744506875fbb87ea7b/iniconfig-2.1.0-py3-none-any.whl", hash = "sha256:9deba5723312380e77435581c6bf4935c94cbfab9b1ed33ef8d238ea168eb760", size = 6050, upload-time = "2025-03-19T20:10:01.071Z" },
        ]

        [[package]]
        name = "six"
        version = "1.17.0"
        source = { registry = "https://pypi.org/simple" }
        sdist = { url = "https://files.pythonhosted.org/packages/94/e7/b2c673351809dca68a0e064b6af791aa332cf192da575fd474ed7d6f16a2/six-1.17.0.tar.gz", hash = "sha256:ff70335d468e7eb6ec65b95b99d3a2836546063f63acc5171de367e834932a81", size = 34031, upload-time = "2024-12-04T17:35:28.174Z" }
        wheels = [
            { url = "https://files.pythonhosted.org/packages/b7/ce/149a00dd41f10bc29e5921b496af8b574d8413afcd5e30dfa0ed46c2cc5e/six-1.17.0-py2.py3-none-any.whl", hash = "sha256:4721f391ed90541fddacab5acf947aa0d3dc7d27b2e1e8eda2be8970586c3274", size = 11050, upload-time = "2024-12-04T17:35:26.475Z" },
        ]

        [[package]]
        name = "uv-sandbox-app"
        version = "0.1.0"
        source = { virtual = "." }
        dependencies = [
            { name = "six" },
        ]

        [package.dev-dependencies]
        dev = [
            { name = "iniconfig" },
        ]

        [package.metadata]
        requires-dist = [{ name = "six", specifier = "==1.17.0" }]

        [package.metadata.requires-dev]
        dev = [{ name = "iniconfig", specifier = "==2.1.0" }]
        """,  # noqa: E501 - a lock file's lines are as long as uv writes them
}

POETRY_PROJECT = {
    ".python-version": "3.12\n",
    "pyproject.toml": """
        [project]
        name = "poetry-sandbox-app"
        version = "0.1.0"
        requires-python = ">=3.10"
        dependencies = ["six==1.17.0"]

        [tool.poetry]
        package-mode = false

        [tool.poetry.group.dev.dependencies]
        iniconfig = "2.1.0"
        """,
    "poetry.lock": """
        # This file is automatically @generated by Poetry 2.4.1 and should not be changed by hand.

        [[package]]
        name = "iniconfig"
        version = "2.1.0"
        description = "brain-dead simple config-ini parsing"
        optional = false
        python-versions = ">=3.8"
        groups = ["dev"]
        files = [
            {file = "iniconfig-2.1.0-py3-none-any.whl", hash = "sha256:9deba5723312380e77435581c6bf4935c94cbfab9b1ed33ef8d238ea168eb760"},
            {file = "iniconfig-2.1.0.tar.gz", hash = "sha256:3abbd2e30b36733fee78f9c7f7308f2d0050e88f0087fd25c2645f63c773e1c7"},
        ]

        [[package]]
        name = "six"
        version = "1.17.0"
        description = "Python 2 and 3 compatibility utilities"
        optional = false
        python-versions = "!=3.0.*,!=3.1.*,!=3.2.*,>=2.7"
        groups = ["main"]
        files = [
            {file = "six-1.17.0-py2.py3-none-any.whl", hash = "sha256:4721f391ed90541fddacab5acf947aa0d3dc7d27b2e1e8eda2be8970586c3274"},
            {file = "six-1.17.0.tar.gz", hash = "sha256:ff70335d468e7eb6ec65b95b99d3a2836546063f63acc5171de367e834932a81"},
        ]

        [metadata]
        lock-version = "2.1"
        python-versions = ">=3.10"
        content-hash = "fe4493ba8ac7a295fc82d41aab14cc70a650223d0aaf58e2c05f7eff10de0066"
        """,
}


@pytest.mark.parametrize(
    ("project", "tool", "command"),
    [
        (UV_PROJECT, f"uv {environments.UV_VERSION}", "uv sync --locked --no-default-groups"),
        (POETRY_PROJECT, f"Poetry {environments.POETRY_VERSION}", "poetry sync --only main"),
    ],
    ids=["uv", "poetry"],
)
def test_lock_files_install_with_their_own_tool_without_dev_dependencies(sandbox, heroku, repo, app_name, project, tool, command):
    repo.commit("Locked project", {**project, "Procfile": "release: python -c 'import six'\n"})

    pushed = push(repo, sandbox, app_name)

    assert pushed.returncode == 0, pushed.stderr
    assert f"remote: -----> Installing dependencies using '{command}'" in pushed.stderr
    assert f"remote: -----> Installing {tool}" in pushed.stderr or f"remote: -----> Using cached {tool}" in pushed.stderr \
        or "remote: -----> Restoring cache" in pushed.stderr
    assert releases(sandbox, app_name)[-1]["status"] == "succeeded"  # the release phase imported six
    imported = run_x(heroku, app_name, "python -c 'import six; print(six.__version__)'; python -c 'import iniconfig'")
    assert imported.stdout.splitlines()[0] == "1.17.0"
    assert "No module named 'iniconfig'" in imported.stdout and imported.returncode == 1


# -- the shortcut --------------------------------------------------------------------------------------


def test_reuse_env_installs_nothing_and_runs_the_sandbox_python(sandbox, heroku, repo, app_name, settings):
    settings(reuse_env=True)
    repo.commit("Requirements never installed", {"requirements.txt": f"{MISSING_PACKAGE}\n", "app.py": ""})

    pushed = push(repo, sandbox, app_name)

    assert pushed.returncode == 0, pushed.stderr
    assert "requirements are not installed (sandbox up --reuse-env)" in pushed.stderr
    assert "Installing dependencies" not in pushed.stderr
    assert not (current_slug_dir(sandbox, app_name) / ".heroku").exists()
    prefix = run_x(heroku, app_name, "python -c 'import sys; print(sys.prefix)'")
    assert prefix.stdout.strip() == sys.prefix  # heroku-tools' own environment, which the sandbox runs in


# -- the cache itself --------------------------------------------------------------------------------

PROVIDE = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from heroku_tools.sandbox.environments import provide

    def build(target):
        (target / "bin").mkdir(parents=True)
        with open(sys.argv[2], "a") as builds:
            builds.write("built\\n")
        time.sleep(1)
        if sys.argv[3] == "fail":
            raise RuntimeError("the install failed")
        (target / "bin" / "python").write_text("")
        return {}

    try:
        path, reused = provide(Path(sys.argv[1]), "demo", build)
        print(path.resolve(), reused)
    except RuntimeError as error:
        print(error)
""")


def provide_in(root: Path, tmp_path: Path, outcome: str = "ok") -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", PROVIDE, str(root), str(tmp_path / "builds.txt"), outcome],
                            stdout=subprocess.PIPE, text=True, cwd=ROOT)


def test_two_builds_of_one_environment_at_once_install_it_once_and_a_failed_one_publishes_nothing(tmp_path):
    root = tmp_path / "cache"
    failed = provide_in(root, tmp_path, "fail")
    assert failed.communicate(timeout=60)[0] == "the install failed\n"
    assert not (root / "envs" / "demo").exists() and list((root / "store").iterdir()) == []

    first, second = provide_in(root, tmp_path), provide_in(root, tmp_path)
    answers = sorted(p.communicate(timeout=60)[0].split() for p in (first, second))

    assert [reused for _, reused in answers] == ["False", "True"]
    assert answers[0][0] == answers[1][0] == str((root / "envs" / "demo").resolve())
    assert (tmp_path / "builds.txt").read_text() == "built\nbuilt\n"  # the failed build, then one of the two
    assert [p.name for p in (root / "store").iterdir()] == [Path(answers[0][0]).name]
