"""The fault matrix: every fault the sandbox can inject into every operation it can hit, and Ctrl-C between steps.

Each case makes one operation fail the way Heroku can — a build rejected, a
release phase failing, a dyno exiting non-zero, a promotion, maintenance
switch, backup capture, download or config change failing — or sends SIGINT
to the whole process group (as a terminal does) at a step boundary. Then it
checks what the issue promises, every time:

* the command exits non-zero, with no traceback;
* it says where things stand (``State now:``) and how to recover (``To recover:``);
* what it says is true: every "APP runs vN" is the app's current release, and
  the maintenance page is on exactly where it says so;
* re-running the same command, with the fault cleared, succeeds.

One project for the module: dev (pushed from ``dev``), uat (pushed from
``master``) and live (promoted from uat), each with Postgres; live holds the
sample app's seeded customers for the restores.
"""
from __future__ import annotations

import itertools
import re
import subprocess
import time

import pexpect
import psycopg
import pytest
import yaml

from _support.project import HEROKU_TOOLS, Project
from _support.sandboxed import current

pytestmark = pytest.mark.sandbox

PREFIX = "flt"
SECRET = "fault-matrix-secret-0123456789abcdef"
_models = itertools.count(1)


def output(result) -> str:
    return f"exit {result.returncode}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"


@pytest.fixture(scope="module")
def project(sandbox, tmp_path_factory) -> Project:
    root = tmp_path_factory.mktemp("fault-matrix")
    home = root / "home"
    home.mkdir()
    (home / ".gitconfig").write_text("[user]\n\tname = Test User\n\temail = test@example.com\n")
    env = sandbox.cli_env(home, HEROKU_TOOLS_DATA_SECRET=SECRET, GIT_EDITOR="true")
    project = Project(root, env, PREFIX).create_repo().create_apps()
    settings = (project.path / "heroku-tools.yml").read_text()
    settings = settings.replace("      branch:   dev\n", "      branch:   dev\n      settings: {FEATURE: '0'}\n")
    # The rules live beside the project: each restore case adds a rule for the tables the migrations made.
    (root / "rules.yml").write_text((project.path / "anonymise.yml").read_text())
    settings += (f"data:\n    rules: {root / 'rules.yml'}\n    secret: ${{HEROKU_TOOLS_DATA_SECRET}}\n"
                 "    post_restore: [python manage.py customer_stats]\n")
    project.git("checkout", "-q", "master")
    project.commit("Settings for the fault matrix", {"heroku-tools.yml": settings})
    project.git("push", "-q", "origin", "master")
    project.git("checkout", "-q", "dev")
    project.git("merge", "-q", "master")
    project.git("push", "-q", "origin", "dev")
    for label in ("dev", "uat", "live"):
        result = run(project, ["deploy", label])
        assert result.returncode == 0, output(result)
    seeded = subprocess.run(["heroku", "run", "-x", "-a", project.apps["live"], "--",
                             "python manage.py seed_customers --count 3000"], cwd=project.path, env=env,
                            capture_output=True, text=True)
    assert seeded.returncode == 0, seeded.stderr
    return project


def run(project: Project, argv: list[str], **kwargs):
    label = next((word for word in argv[1:] if word in project.apps), None)
    confirm = ["--confirm", project.apps[_target(argv, label)]] if argv[0] != "config.show" else []
    extra = ["--no-note"] if argv[0] == "deploy" else []
    return project.tools(*argv, *confirm, *extra, **kwargs)


def _target(argv: list[str], label: str) -> str:
    return argv[2] if argv[0] == "backups.restore" else label


# -- preparing each operation ---------------------------------------------------------------


def new_migration(project: Project, branch: str, *, slow: bool = False) -> None:
    """A migration on ``branch`` (a new table; slow: it sleeps first), pushed to origin."""
    project.git("checkout", "-q", branch)
    last = sorted(path.stem for path in (project.path / "customers" / "migrations").glob("0*.py"))[-1]
    name = f"Fault{next(_models)}"
    wait = "        migrations.RunPython(lambda apps, editor: __import__('time').sleep(15), migrations.RunPython.noop),\n"
    project.commit(f"Add {name}", {f"customers/migrations/{int(last[:4]) + 1:04d}_{name.lower()}.py": (
        "from django.db import migrations, models\n\n\nclass Migration(migrations.Migration):\n"
        f"    dependencies = [(\"customers\", \"{last}\")]\n    operations = [\n"
        + (wait if slow else "")
        + f"        migrations.CreateModel(name=\"{name}\", fields=[(\"id\", models.BigAutoField(primary_key=True))]),\n"
        "    ]\n")})
    project.git("push", "-q", "origin", branch)


def prepare(project: Project, operation: str, sandbox, point: str = "") -> list[str]:
    """Make ``operation`` have something to do; its command line."""
    if operation == "push":
        new_migration(project, "dev")
        return ["deploy", "dev"]
    if operation == "promote":
        new_migration(project, "master")
        result = run(project, ["deploy", "uat"])
        assert result.returncode == 0, output(result)
        return ["deploy", "live"]
    if operation == "rollback":
        project.git("checkout", "-q", "dev")
        project.commit("Something to roll back", {"docs/rollback.md": f"{next(_models)}\n"})
        project.git("push", "-q", "origin", "dev")
        result = run(project, ["deploy", "dev"])
        assert result.returncode == 0, output(result)
        return ["rollback", "dev"]
    if operation == "config":
        return prepare_config(project, sandbox, removal=point == "config-unset")
    rules_cover(project, sandbox)
    return ["backups.restore", "live", "uat"]


def rules_cover(project: Project, sandbox) -> None:
    """A rule for every table the earlier cases' migrations made on live (deny by default refuses them otherwise)."""
    url = sandbox.api("GET", f"/apps/{project.apps['live']}/config-vars")["DATABASE_URL"]
    with psycopg.connect(url) as conn:
        tables = [name for (name,) in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename LIKE 'customers_fault%'")]
    path = project.root / "rules.yml"
    rules = yaml.safe_load((project.path / "anonymise.yml").read_text())
    rules["tables"].update({name: "truncate" for name in tables})
    path.write_text(yaml.safe_dump(rules, sort_keys=False))


def prepare_config(project: Project, sandbox, *, removal: bool) -> list[str]:
    """dev's declared settings differ from the app: a change (``FEATURE``), or a removal only (``OLD_FLAG: null``)."""
    app = project.apps["dev"]
    feature = sandbox.api("GET", f"/apps/{app}/config-vars").get("FEATURE", "0")
    if removal:
        sandbox.api("PATCH", f"/apps/{app}/config-vars", {"OLD_FLAG": "1"})
        declared = f"{{FEATURE: '{feature}', OLD_FLAG: null}}"
    else:
        declared = f"{{FEATURE: '{next(_models)}'}}"
    path = project.path / "heroku-tools.yml"
    path.write_text(re.sub(r"settings: \{FEATURE: [^}]*\}", f"settings: {declared}", path.read_text()))
    return ["config.push", "dev"]


FAULTS = [
    ("push", "build"), ("push", "release"), ("push", "run"), ("push", "maintenance"),
    ("promote", "promotion"), ("promote", "release"), ("promote", "run"), ("promote", "maintenance"),
    ("rollback", "release"),
    ("config", "config"), ("config", "config-unset"),
    ("restore", "backup"), ("restore", "download"), ("restore", "maintenance"), ("restore", "run"),
]


def fault_app(project: Project, operation: str, point: str) -> str:
    if operation == "promote":
        return project.apps["live"]
    if operation == "restore":
        return project.apps["live"] if point in ("backup", "download") else project.apps["uat"]
    return project.apps["dev"]


# -- what every failure must be ----------------------------------------------------------------


def assert_defined_state(project: Project, sandbox, text: str) -> None:
    """Non-zero, no traceback, state and recovery said — and what was said about each app is true."""
    assert "Traceback" not in text, text
    assert "State now:" in text and "To recover:" in text, text
    state = text.split("State now:", 1)[1].split("To recover:", 1)[0]
    for app, version in re.findall(r"(\S+) runs v(\d+)\b", state):
        if app in project.apps.values():
            now = current(sandbox, app)["version"]
            if "Heroku may still finish the build and release" in state:  # as Heroku does after a push cut short
                assert now in (int(version), int(version) + 1), f"{app} said to run v{version} (or the next):\n{text}"
            else:
                assert now == int(version), f"{app} said to run v{version}:\n{text}"
    still_on = set(re.findall(r"MAINTENANCE IS STILL ON for (\S+?):", state))
    for app in project.apps.values():
        assert sandbox.api("GET", f"/apps/{app}")["maintenance"] is (app in still_on), f"{app}:\n{text}"


def settle(project: Project) -> None:
    for app in project.apps.values():
        project.heroku("maintenance:off", "-a", app)


@pytest.mark.parametrize("operation, point", FAULTS, ids=[f"{op}-{point}" for op, point in FAULTS])
def test_a_fault_ends_in_a_defined_state_and_running_again_finishes(project, sandbox, operation, point):
    argv = prepare(project, operation, sandbox, point)
    # A restore downloads the backup more than once (its table of contents here and in the dyno, then the data):
    # cut every download of the run, as a bad network would (the reads of the table of contents survive it).
    sandbox.arm_fault(fault_app(project, operation, point), point, times=5 if point == "download" else 1)
    try:
        failed = run(project, argv)
        assert failed.returncode != 0, output(failed)
        assert_defined_state(project, sandbox, failed.stdout + failed.stderr)
        sandbox.clear_faults()
        again = run(project, argv)
        assert again.returncode == 0, f"re-running after {point}:\n{output(failed)}\n=== again\n{output(again)}"
    finally:
        sandbox.clear_faults()
        settle(project)


# -- Ctrl-C at each step boundary -----------------------------------------------------------------


INTERRUPTS = {
    # the step: (operation, what to wait for before Ctrl-C)
    "pre-flight": ("push", r"pre-flight: checking"),
    "push": ("push", r"\$ python manage.py collectstatic"),
    "dyno": ("push-slow", r"heroku-tools step 1/\d+: migrate"),
    "release wait": ("promote", r"==> waiting for the new release"),
    "tagging": ("push-tag", r"==> tagging"),
    "restore load": ("restore", r"==> (restoring|streaming) b\d+ into"),  # in a dyno (the default), or --here
}


def slow_tag_pushes(project: Project, on: bool) -> None:
    """origin takes 10 s to accept a tag, so Ctrl-C can land while deploy is tagging."""
    hook = project.origin / "hooks" / "pre-receive"
    if on:
        hook.write_text("#!/bin/sh\nwhile read old new ref; do case $ref in refs/tags/*) sleep 10;; esac; done\n")
        hook.chmod(0o755)
    else:
        hook.unlink(missing_ok=True)


@pytest.mark.parametrize("step", INTERRUPTS, ids=list(INTERRUPTS))
def test_ctrl_c_at_a_step_boundary_ends_in_a_defined_state_and_running_again_finishes(project, sandbox, step):
    operation, marker = INTERRUPTS[step]
    if operation == "push-slow":
        new_migration(project, "dev", slow=True)
        argv = ["deploy", "dev"]
    else:
        argv = prepare(project, "push" if operation == "push-tag" else operation, sandbox)
    slow_tag_pushes(project, operation == "push-tag")
    label = argv[2] if argv[0] == "backups.restore" else argv[1]
    try:
        child = pexpect.spawn(str(HEROKU_TOOLS), [*argv, "--confirm", project.apps[label],
                                                  *(["--no-note"] if argv[0] == "deploy" else [])],
                              cwd=str(project.path), env=project.env, encoding="utf-8", timeout=240,
                              dimensions=(50, 200))
        seen = []
        child.logfile_read = _Collect(seen)
        child.expect(marker)
        before = {app: current(sandbox, app)["version"] for app in project.apps.values()}
        child.sendintr()  # the terminal's Ctrl-C: SIGINT to the whole foreground process group
        child.expect(pexpect.EOF)
        child.close()
        text = "".join(seen)
        assert child.exitstatus not in (0, None) or child.signalstatus is not None, text
        assert "Traceback" not in text, text
        if "State now:" in text:  # interrupted after something changed: the state said must be true
            assert_defined_state(project, sandbox, text)
        else:  # interrupted before anything changed
            assert "nothing was changed" in text or "interrupted" in text, text
        slow_tag_pushes(project, False)
        _wait_for_heroku(project, sandbox, before if step == "push" else None)
        again = run(project, argv)
        assert again.returncode == 0, f"re-running after Ctrl-C at {step}:\n{text}\n=== again\n{output(again)}"
    finally:
        slow_tag_pushes(project, False)
        settle(project)


class _Collect:
    def __init__(self, into: list[str]):
        self.into = into

    def write(self, text: str) -> None:
        self.into.append(text)

    def flush(self) -> None:
        pass


def _wait_for_heroku(project: Project, sandbox, released_after: dict | None) -> None:
    """What the interrupted client left running (a build, a release phase) finishes before the command runs again.

    ``released_after``: each app's version when Ctrl-C came, for a push whose build Heroku goes on with.
    """
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        releases = {app: sandbox.api("GET", f"/apps/{app}/releases") for app in project.apps.values()}
        pending = [r for found in releases.values() for r in found if r["status"] == "pending"]
        built = released_after is None or any(
            max(r["version"] for r in found) > released_after[app] for app, found in releases.items())
        if not pending and built:
            return
        time.sleep(1)
