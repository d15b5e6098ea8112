"""Teams and CI end to end: the sandbox, the real heroku CLI and git, the sample Django app.

* the README's sandbox lines in a fresh project, then a deploy: the sandbox's
  state never dirties the tree;
* ``init`` on a project with Heroku remotes and a pipeline: the file loads and
  deploys, and is never overwritten without ``--force``;
* ``ci`` along the routes: ``master`` → uat, ``dev`` → dev, ``feature/x`` → a
  personal app (its first deployment), an unrouted branch, a protected route
  refused, a detached shallow clone;
* the lock: two deploys of one environment at once, a deploy killed outright
  and its lock broken with ``unlock``, Ctrl-C, a failed deploy.

A deploy is paused, when a test needs it held, by the project's own
``pre-push`` hook, which waits for a file before the push to the app: the
lock is taken and nothing has reached the app yet. Outcomes are read from
where they live: the sandbox's releases and request log, refs on ``origin``.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pexpect
import psycopg
import pytest

from heroku_tools.sandbox import Sandbox
from heroku_tools.settings import load
from _support.project import HEROKU_TOOLS, SAMPLE, Project
from _support.sandboxed import Log, database_url, releases, slug_commit

pytestmark = pytest.mark.sandbox

ROOT = Path(__file__).resolve().parents[1]
PREFIX = "tms"
PERSONAL_APP = f"{PREFIX}-dev-3"
LOCK = "refs/heroku-tools/locks/"

TEAM_SETTINGS = """\
environments:
    - label:    live
      app_name: {prefix}-live
      branch:   production
      pipeline: true
    - label:    uat
      app_name: {prefix}-uat
      branch:   master
    - label:    dev
      app_name: {prefix}-dev
      branch:   dev
    - label:    dev-*
      app_name: {prefix}-dev-*
routes:
    master: uat
    dev: dev
    "feature/*": personal
    "hotfix/*": live
    production: {{env: live, allow_protected: true}}
commands:
    collectstatic: python manage.py collectstatic --noinput
    migrate: python manage.py migrate --noinput
# The sandbox of these tests runs no web dynos: nothing would answer a health check.
health: {{enabled: false}}
"""

#: Waits for the file ``$HOLD_PUSH`` before any push when that variable is set; says it got there.
HOOK = """\
#!/bin/sh
[ -z "$HOLD_PUSH" ] && exit 0
touch "$HOLD_PUSH.reached"
while [ ! -e "$HOLD_PUSH" ]; do sleep 0.1; done
"""


def output(result) -> str:
    return f"exit {result.returncode}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"


@pytest.fixture(scope="module")
def team(sandbox, tmp_path_factory) -> Project:
    root = tmp_path_factory.mktemp("teams-e2e")
    home = root / "home"
    home.mkdir()
    (home / ".gitconfig").write_text("[user]\n\tname = Test User\n\temail = test@example.com\n")
    # No editor, ever: a ci run that opened one would fail.
    env = sandbox.cli_env(home, GIT_EDITOR="false")
    project = Project(root, env, PREFIX).create_repo().create_apps()
    project.heroku("apps:create", PERSONAL_APP, "--no-remote")
    project.heroku("addons:create", "heroku-postgresql", "-a", PERSONAL_APP)
    project.commit("Routes and personal environments", {"heroku-tools.yml": TEAM_SETTINGS.format(prefix=PREFIX)})
    project.git("push", "-q", "origin", "master")
    project.git("checkout", "-q", "dev")
    project.git("merge", "-q", "--ff-only", "master")
    project.git("push", "-q", "origin", "dev")
    hook = project.path / ".git" / "hooks" / "pre-push"
    hook.write_text(HOOK)
    hook.chmod(0o755)
    return project


def commit_on(project: Project, branch: str, message: str, *, create: bool = False) -> str:
    project.git("checkout", "-q", *(["-b"] if create else []), branch)
    sha = project.commit(message, {f"docs/{branch.replace('/', '-')}-{time.time_ns()}.md": f"{message}\n"})
    project.git("push", "-q", "origin", branch)
    return sha


def origin_refs(project: Project, prefix: str = "refs/") -> dict[str, str]:
    out = project.git("ls-remote", "origin").stdout
    return {ref: sha for sha, ref in (line.split("\t") for line in out.splitlines()) if ref.startswith(prefix)}


def locks_on_origin(project: Project) -> dict[str, str]:
    return {ref: sha for ref, sha in origin_refs(project, LOCK).items() if not ref.endswith("^{}")}


def local_locks(project: Project) -> list[str]:
    directory = project.path / ".git" / "heroku-tools" / "locks"
    return sorted(path.name for path in directory.iterdir()) if directory.exists() else []


def ci(project: Project, *args: str, env: dict | None = None, cwd: Path | None = None):
    return subprocess.run([str(HEROKU_TOOLS), "ci", *args], cwd=cwd or project.path, env={**project.env, **(env or {})},
                          capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=600)


# -- the README's sandbox lines ---------------------------------------------------------------------------------


def test_the_readme_sandbox_lines_then_a_deploy_leave_a_fresh_project_clean(home, tmp_path):
    project = tmp_path / "fresh"
    shutil.copytree(SAMPLE, project, ignore=shutil.ignore_patterns("heroku-tools.yml", "__pycache__", "*.sqlite3", "staticfiles"))
    app = f"fresh-{os.getpid() % 100000}"
    (project / "heroku-tools.yml").write_text(f"environments:\n    - {{label: dev, app_name: {app}, branch: master}}\n")
    env = {k: v for k, v in os.environ.items() if k not in ("HEROKU_API_KEY", "HEROKU_APP", "HEROKU_TOOLS_SANDBOX")}
    env.update(HOME=str(home), GIT_EDITOR="true", PATH=f"{HEROKU_TOOLS.parent}{os.pathsep}{env['PATH']}")
    git = ["git", "-C", str(project)]
    subprocess.run([*git, "init", "-q", "-b", "master"], check=True, env=env)
    subprocess.run([*git, "add", "-A"], check=True, env=env)
    subprocess.run([*git, "commit", "-q", "-m", "A project"], check=True, env=env)
    script = f"""
        set -e
        eval "$(heroku-tools sandbox up)"
        heroku apps:create {app} && heroku addons:create heroku-postgresql -a {app}
        git status --porcelain --untracked-files=all > {tmp_path / "status-after-up.txt"}
        heroku-tools deploy dev --confirm {app}
    """
    state = project / ".heroku-tools" / "sandbox"
    try:
        result = subprocess.run(["bash", "-c", script], cwd=project, env=env, capture_output=True, text=True,
                                stdin=subprocess.DEVNULL, timeout=600)
        assert result.returncode == 0, output(result)
        assert (tmp_path / "status-after-up.txt").read_text() == "", output(result)
        assert (state / ".gitignore").read_text().splitlines()[-1] == "*"
        sandbox = Sandbox(state)
        head = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
        assert slug_commit(sandbox, app) == head
        status = subprocess.run([*git, "status", "--porcelain", "--untracked-files=all"], capture_output=True, text=True,
                                env=env, check=True).stdout
        assert status == ""
    finally:
        subprocess.run([str(HEROKU_TOOLS), "sandbox", "down"], cwd=project, env=env, capture_output=True, timeout=120)


# -- init -----------------------------------------------------------------------------------------------------------


def test_init_adopts_a_project_with_heroku_remotes_and_a_pipeline(sandbox, tmp_path_factory):
    root = tmp_path_factory.mktemp("init-e2e")
    home = root / "home"
    home.mkdir()
    (home / ".gitconfig").write_text("[user]\n\tname = Test User\n\temail = test@example.com\n")
    project = Project(root, sandbox.cli_env(home, GIT_EDITOR="true"), "ini").create_repo().create_apps()
    project.git("rm", "-q", "heroku-tools.yml", "anonymise.yml")
    project.commit("No heroku-tools settings or rules yet")
    project.git("push", "-q", "origin", "master")
    project.git("checkout", "-q", "dev")
    project.git("merge", "-q", "--ff-only", "master")
    project.git("push", "-q", "origin", "dev")
    for label in ("dev", "uat"):  # live is reached by promotion: not a remote, found through the pipeline
        project.heroku("git:remote", "-a", project.apps[label], "-r", f"heroku-{label}")
    project.heroku("features:enable", "preboot", "-a", project.apps["live"])
    with psycopg.connect(database_url(project, "live"), autocommit=True) as conn:
        conn.execute("CREATE TABLE customers (id serial PRIMARY KEY, email text NOT NULL, full_name text)")

    result = project.tools("init")
    assert result.returncode == 0, output(result)
    settings = load(cwd=project.path)
    assert [(e.label, e.app_name, e.branch, e.pipeline, e.protected) for e in settings.environments] == [
        ("live", "ini-live", "master", True, True), ("uat", "ini-uat", "master", False, False),
        ("dev", "ini-dev", "dev", False, False)]
    said = result.stderr
    for line in ["live: ini-live (pipeline ini, stage production; production → live; deployed by promoting uat's slug)",
                 "uat: ini-uat (git remote heroku-uat; pipeline ini, stage staging; staging → uat; deploys master)",
                 "dev: ini-dev (git remote heroku-dev; pipeline ini, stage development; development → dev; deploys dev)",
                 "Procfile: `release: python manage.py check --deploy --fail-level ERROR`",
                 "preboot: on for ini-live",
                 "anonymisation rules: proposed from ini-live's schema (1 tables)",
                 "wrote " + str(project.path / "heroku-tools.yml")]:
        assert line in said, output(result)
    text = (project.path / "heroku-tools.yml").read_text()
    assert "    # ini-dev: git remote heroku-dev; pipeline ini, stage development\n" in text
    assert "      # preboot: true" in text and "#     dev: dev\n" in text
    rules = (project.path / "anonymise.yml").read_text()
    assert "  customers:\n" in rules and "    email: {fake: email}" in rules

    # what init wrote deploys
    project.commit("heroku-tools init")
    project.git("push", "-q", "origin", "dev")
    deployed = project.tools("deploy", "dev", "--confirm", "ini-dev", "--no-health-check")  # no web dynos here
    assert deployed.returncode == 0, output(deployed)
    assert slug_commit(sandbox, "ini-dev") == project.head()

    # never overwrites: not through the program, nor stock Invoke composing the collection
    before = text
    again = project.tools("init")
    assert again.returncode != 0
    assert f"{project.path / 'heroku-tools.yml'} exists: heroku-tools init never replaces it unless given --force; " \
           "nothing was written" in again.stderr
    (project.path / "tasks.py").write_text("from invoke import Collection\nfrom heroku_tools import tasks\n\n"
                                           "ns = Collection(tasks.init)\n")
    stock = project._run([str(Path(sys.executable).parent / "inv"), "init"], check=False)
    assert stock.returncode != 0 and "never replaces it unless given --force" in stock.stderr, output(stock)
    assert (project.path / "heroku-tools.yml").read_text() == before
    forced = project._run([str(Path(sys.executable).parent / "inv"), "init", "--force", "--no-rules"], check=False)
    assert forced.returncode == 0, output(forced)
    assert "#     heroku-tools backups.propose live -o anonymise.yml" in (project.path / "heroku-tools.yml").read_text()


# -- ci ---------------------------------------------------------------------------------------------------------


def test_ci_on_master_deploys_uat_with_no_code_no_note_and_no_prompt(team, sandbox):
    head = commit_on(team, "master", "A change for uat")
    result = ci(team, "--json")
    assert result.returncode == 0, output(result)
    outcome = json.loads(result.stdout)
    assert (outcome["deployed"], outcome["environment"], outcome["app"], outcome["route"], outcome["branch"],
            outcome["commit"]) == (True, "uat", "tms-uat", "master", "master", head)
    assert slug_commit(sandbox, "tms-uat") == head
    assert origin_refs(team, f"refs/tags/{outcome['tag']}")
    assert "locked uat: refs/heroku-tools/locks/uat on origin" in result.stderr
    assert locks_on_origin(team) == {}


def test_ci_on_dev_deploys_dev(team, sandbox):
    head = commit_on(team, "dev", "A change for dev")
    result = ci(team)
    assert result.returncode == 0, output(result)
    assert "branch dev (" in result.stderr and "→ dev (tms-dev), by the route 'dev'" in result.stderr
    assert slug_commit(sandbox, "tms-dev") == head


def test_ci_on_a_feature_branch_is_the_first_deployment_of_a_personal_app(team, sandbox):
    team.git("checkout", "-q", "dev")
    head = commit_on(team, "feature/x", "Try something", create=True)
    before = releases(sandbox, PERSONAL_APP)
    assert [r["slug"] for r in before] == [None] * len(before)  # app and add-on releases: no code yet
    result = ci(team, env={"HEROKU_TOOLS_PERSONAL_APP": PERSONAL_APP})
    assert result.returncode == 0, output(result)
    assert slug_commit(sandbox, PERSONAL_APP) == head
    count = len(team.git("rev-list", head).stdout.split())
    assert f"First deployment of {PERSONAL_APP}: {count} commits (every file is new)\n" in result.stdout, output(result)
    assert "Commits since" not in result.stdout and "Deployed:           no code yet" in result.stdout
    version = releases(sandbox, PERSONAL_APP)[-1]["version"]
    assert team.tag_commit(f"dev-3/v{version}") == head
    history = team.tools("history", "dev-3", "--json")
    assert history.returncode == 0, output(history)
    assert f'"tag": "dev-3/v{version}"' in history.stdout


def test_ci_on_an_unrouted_branch_exits_0_and_changes_nothing(team, sandbox):
    team.git("checkout", "-q", "-B", "wip/notes", "dev")
    log = Log(sandbox)
    result = ci(team, "--json")
    assert result.returncode == 0, output(result)
    assert json.loads(result.stdout) == {"branch": "wip/notes", "commit": team.head(), "route": None,
                                         "environment": None, "app": None, "reason": "no route for branch wip/notes",
                                         "deployed": False}
    assert "no route for branch wip/notes: nothing to deploy" in result.stderr
    assert log.changes() == [] and locks_on_origin(team) == {}


def test_ci_refuses_a_protected_route_unless_allowed_and_confirmed(team, sandbox):
    team.git("checkout", "-q", "-B", "hotfix/1", "master")
    log = Log(sandbox)
    refused = ci(team, "--confirm", "tms-live")
    assert refused.returncode == 1, output(refused)
    assert "the route 'hotfix/*' leads to live, which is protected: a route reaches a protected environment only " \
           "with allow_protected: true" in refused.stderr
    team.git("checkout", "-q", "-B", "production", "master")
    unconfirmed = ci(team)
    assert unconfirmed.returncode == 1 and "did not name its app" in unconfirmed.stderr, output(unconfirmed)
    assert "Traceback" not in refused.stderr + unconfirmed.stderr
    assert log.changes() == [] and locks_on_origin(team) == {}
    if slug_commit(sandbox, "tms-uat") is None:
        test_ci_on_master_deploys_uat_with_no_code_no_note_and_no_prompt(team, sandbox)
        team.git("checkout", "-q", "production")
    log = Log(sandbox)
    allowed = ci(team, "--confirm", "tms-live", "--dry-run")
    assert allowed.returncode == 0, output(allowed)
    assert "Pipeline:           promote from tms-uat" in allowed.stdout
    assert log.changes() == [] and locks_on_origin(team) == {}  # --dry-run takes no lock


def test_ci_in_a_detached_shallow_clone_by_the_documented_job(team, sandbox, tmp_path):
    """``docs/ci-deploy.sh``, as the CI page shows it, in the checkout a CI provider makes."""
    head = commit_on(team, "dev", "Built by CI")
    clone = tmp_path / "ci-checkout"
    team.git("clone", "-q", "--depth", "1", "--branch", "dev", f"file://{team.origin}", str(clone))
    subprocess.run(["git", "-C", str(clone), "checkout", "-q", "--detach"], check=True, env=team.env)
    assert subprocess.run(["git", "-C", str(clone), "rev-parse", "--is-shallow-repository"], capture_output=True,
                          text=True, env=team.env).stdout.strip() == "true"
    assert subprocess.run(["git", "-C", str(clone), "symbolic-ref", "-q", "HEAD"], env=team.env).returncode == 1
    job = ROOT / "docs" / "ci-deploy.sh"
    env = {**team.env, "CI_BRANCH": "dev", "PATH": f"{HEROKU_TOOLS.parent}{os.pathsep}{team.env['PATH']}"}
    result = subprocess.run(["bash", str(job)], cwd=clone, env=env, capture_output=True, text=True,
                            stdin=subprocess.DEVNULL, timeout=600)
    assert result.returncode == 0, output(result)
    assert "a shallow clone: fetching its history from origin (git fetch --unshallow)" in result.stderr
    outcome = json.loads(result.stdout)
    assert (outcome["deployed"], outcome["environment"], outcome["commit"]) == (True, "dev", head)
    assert slug_commit(sandbox, "tms-dev") == head
    assert origin_refs(team, f"refs/tags/{outcome['tag']}")
    assert locks_on_origin(team) == {}


# -- the lock ---------------------------------------------------------------------------------------------------------


def deploy_dev(team: Project, who: str, *args: str, hold: Path | None = None, **popen) -> subprocess.Popen:
    """``deploy dev`` in the background as ``who``; with ``hold``, paused before its push to the app until the file exists."""
    env = {**team.env, "GIT_COMMITTER_NAME": who, "GIT_COMMITTER_EMAIL": f"{who.split()[0].lower()}@example.com",
           **({"HOLD_PUSH": str(hold)} if hold else {})}
    return subprocess.Popen([str(HEROKU_TOOLS), "deploy", "dev", "--confirm", "tms-dev", *args], cwd=team.path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True, **popen)


def wait_for(path: Path, process: subprocess.Popen, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if process.poll() is not None:
            out, err = process.communicate()
            pytest.fail(f"the deploy ended (exit {process.returncode}) before reaching its push:\n{out}\n{err}")
        assert time.monotonic() < deadline, "the deploy did not reach its push"
        time.sleep(0.1)


def test_two_deploys_of_one_environment_at_once_exactly_one_proceeds(team, sandbox, tmp_path):
    head = commit_on(team, "dev", "Deployed twice at once")
    hold = tmp_path / "go"
    alice = deploy_dev(team, "Alice Able", hold=hold)
    try:
        wait_for(Path(f"{hold}.reached"), alice)
        assert list(locks_on_origin(team)) == [f"{LOCK}dev"]
        before = releases(sandbox, "tms-dev")
        log = Log(sandbox)
        bob = deploy_dev(team, "Bob Baker")
        out, err = bob.communicate(timeout=300)
        assert bob.returncode == 75, f"{out}\n{err}"
        assert "dev is locked: Alice Able <alice@example.com> (deploy to dev (tms-dev), " \
               f"commit {head[:12]}) from " in err and " since " in err
        assert "heroku-tools unlock dev   # only if that change is no longer running" in err
        assert log.changes() == [], log.changes()
        assert releases(sandbox, "tms-dev") == before
    finally:
        hold.touch()
        out, err = alice.communicate(timeout=600)
    assert alice.returncode == 0, f"{out}\n{err}"
    assert slug_commit(sandbox, "tms-dev") == head
    assert len(releases(sandbox, "tms-dev")) == len(before) + 1
    assert locks_on_origin(team) == {}


def test_a_killed_deploys_lock_stops_the_next_until_unlock_breaks_it(team, sandbox, tmp_path):
    head = commit_on(team, "dev", "Deploy killed outright")
    hold = tmp_path / "never"
    alice = deploy_dev(team, "Alice Able", hold=hold, start_new_session=True)
    wait_for(Path(f"{hold}.reached"), alice)
    os.killpg(alice.pid, signal.SIGKILL)  # kill -9 of the job: nothing runs to release anything
    alice.communicate(timeout=60)
    assert list(locks_on_origin(team)) == [f"{LOCK}dev"]

    bob = team.tools("deploy", "dev", "--confirm", "tms-dev")
    assert bob.returncode == 75 and "dev is locked: Alice Able <alice@example.com>" in bob.stderr, output(bob)
    dry = team.tools("deploy", "dev", "--dry-run")
    assert dry.returncode == 0 and "--dry-run: stopping here" in dry.stderr, output(dry)

    unlocking = pexpect.spawn(str(HEROKU_TOOLS), ["unlock", "dev"], cwd=str(team.path), env=team.env,
                              encoding="utf-8", timeout=120)
    unlocking.expect(r"dev is locked \(refs/heroku-tools/locks/dev on origin\) by Alice Able <alice@example.com> "
                     r"\(deploy to dev \(tms-dev\), commit [0-9a-f]{12}\) from ")
    unlocking.expect(r"Type (\d{6}) to break the lock on dev held by Alice Able <alice@example.com>: ")
    unlocking.sendline(unlocking.match.group(1))
    unlocking.expect("unlocked dev")
    unlocking.expect(pexpect.EOF)
    unlocking.close()
    assert unlocking.exitstatus == 0
    assert locks_on_origin(team) == {}

    again = team.tools("deploy", "dev", "--confirm", "tms-dev")
    assert again.returncode == 0, output(again)
    assert slug_commit(sandbox, "tms-dev") == head


def test_ctrl_c_releases_the_lock(team, sandbox, tmp_path):
    commit_on(team, "dev", "Deploy interrupted")
    hold = tmp_path / "never"
    alice = deploy_dev(team, "Alice Able", hold=hold, start_new_session=True)
    wait_for(Path(f"{hold}.reached"), alice)
    os.killpg(alice.pid, signal.SIGINT)  # the terminal's Ctrl-C reaches the whole foreground group
    out, err = alice.communicate(timeout=120)
    assert alice.returncode not in (0, None) and "interrupted (Ctrl-C)" in err, f"{out}\n{err}"
    assert "Traceback" not in err
    assert locks_on_origin(team) == {} and local_locks(team) == []


def test_the_lock_is_released_after_a_failed_deploy(team, sandbox):
    commit_on(team, "dev", "Deploy whose build fails")
    sandbox.arm_fault("tms-dev", "build")
    failed = team.tools("deploy", "dev", "--confirm", "tms-dev")
    assert failed.returncode not in (0, None) and "deploy to dev failed at" in failed.stderr, output(failed)
    assert locks_on_origin(team) == {} and local_locks(team) == []
    sandbox.clear_faults()
    again = team.tools("deploy", "dev", "--confirm", "tms-dev")
    assert again.returncode == 0, output(again)
