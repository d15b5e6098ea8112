"""``heroku-tools deploy`` end to end: the sandbox, the real heroku CLI and git, the sample Django app.

One project (three apps with Postgres in a pipeline: dev ← dev branch, uat ←
master, live ← promotion of uat) is shared by the module. Every test states
what it needs first (``settle`` brings dev up to date with its branch,
``uat_ahead_of_live`` gives live something to promote), makes fresh commits and
compares the sandbox before and after, so each holds whatever ran before it.

Outcomes are read from where they live: releases and slugs from the sandbox's
API, the request log (dynos started, maintenance switched, pushes received),
tags from git, tables from the app's Postgres database.
"""
from __future__ import annotations

import io
import itertools
import re
import time
from datetime import datetime
from pathlib import Path

import pexpect
import pytest

from _support.home import project_env
from _support.project import HEROKU_TOOLS, Project, new_model_migration
from _support.sandboxed import Log, applied_migrations, current, database_url, maintenance, releases, slug, slug_commit, table_exists

pytestmark = pytest.mark.sandbox

PREFIX = "dpl"
_models = itertools.count(1)


# -- the project ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def project(sandbox, tmp_path_factory) -> Project:
    root = tmp_path_factory.mktemp("deploy-e2e")
    # GIT_EDITOR: a deploy on a terminal may open the editor for a release note.
    env = project_env(sandbox, root, GIT_EDITOR="true")
    project = Project(root, env, PREFIX).create_repo().create_apps()
    # dev starts a commit ahead of master, so a branch cut from master diverges from whatever dev runs.
    project.git("checkout", "-q", "dev")
    project.commit("Start dev", {"docs/dev.md": "Work on dev starts here.\n"})
    project.git("push", "-q", "origin", "dev")
    first = deploy(project, "dev")
    assert first.returncode == 0, output(first)
    return project


def deploy(project: Project, label: str, *args: str, timeout: float = 240):
    return project.tools("deploy", label, "--confirm", project.apps[label], *args, timeout=timeout)


def output(result) -> str:
    return f"exit {result.returncode}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"


def commit_on(project: Project, branch: str, message: str, files: dict[str, str], *, push: bool = True) -> str:
    project.git("checkout", "-q", branch)
    sha = project.commit(message, files)
    if push:
        project.git("push", "-q", "origin", branch)
    return sha


def add_migration(project: Project) -> tuple[str, dict[str, str]]:
    """A new model (its name) and the migration creating it, numbered after the checked-out branch's last one."""
    last = sorted((project.path / "customers" / "migrations").glob("0*.py"))[-1].stem
    model = f"Gadget{next(_models)}x{int(time.time()) % 100000}"
    return model, new_model_migration(int(last[:4]) + 1, last, model)


def failing_migration(project: Project) -> tuple[str, dict[str, str]]:
    """A migration creating a table, then raising: Postgres rolls the whole migration back."""
    last = sorted((project.path / "customers" / "migrations").glob("0*.py"))[-1].stem
    path = f"customers/migrations/{int(last[:4]) + 1:04d}_explode.py"
    return path, {
        path: f"""
            from django.db import migrations, models


            def explode(apps, schema_editor):
                raise RuntimeError("this migration fails on purpose")


            class Migration(migrations.Migration):
                dependencies = [("customers", "{last}")]
                operations = [
                    migrations.CreateModel(
                        name="Doomed",
                        fields=[("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False))],
                    ),
                    migrations.RunPython(explode, migrations.RunPython.noop),
                ]
            """
    }


def origin_tags(project: Project) -> set[str]:
    out = project.git("ls-remote", "--tags", "origin").stdout
    return {line.split("refs/tags/", 1)[1] for line in out.splitlines() if "refs/tags/" in line}


# -- preconditions -----------------------------------------------------------------------


def settle(project: Project, sandbox) -> str:
    """dev runs the head of the dev branch, maintenance off; the head's sha."""
    app = project.apps["dev"]
    project.git("checkout", "-q", "dev")
    if maintenance(sandbox, app):
        project.heroku("maintenance:off", "-a", app)
    if slug_commit(sandbox, app) != project.head("dev"):
        # A new commit always builds (the app's repository may hold the head already, e.g. after a failed release).
        project.git("commit", "-q", "--allow-empty", "-m", "Settle dev")
        project.git("push", "-q", "origin", "dev")
        result = deploy(project, "dev")
        assert result.returncode == 0, output(result)
    assert slug_commit(sandbox, app) == project.head("dev")
    return project.head("dev")


def ready(project: Project, sandbox) -> dict:
    """dev checked out, dev's maintenance off; the release dev runs (its code may lag the branch)."""
    app = project.apps["dev"]
    project.git("checkout", "-q", "dev")
    if maintenance(sandbox, app):
        project.heroku("maintenance:off", "-a", app)
    return current(sandbox, app)


def uat_ahead_of_live(project: Project, sandbox) -> str:
    """uat runs a master commit with a new migration that live does not run yet; that commit."""
    uat, live = project.apps["uat"], project.apps["live"]
    running = slug_commit(sandbox, uat)
    if running is None or running == slug_commit(sandbox, live):
        project.git("checkout", "-q", "master")
        model, files = add_migration(project)
        commit_on(project, "master", f"Add {model} for uat", files)
        result = deploy(project, "uat")
        assert result.returncode == 0, output(result)
        running = slug_commit(sandbox, uat)
    project.git("checkout", "-q", "dev")
    return running


def assert_failure(result, label: str, step: str) -> str:
    """A failed deploy: non-zero, the failed step, the state and the recovery, no traceback. Its stderr."""
    assert result.returncode not in (0, None), output(result)
    err = result.stderr
    assert f"deploy to {label} failed at {step}" in err, output(result)
    assert "State now:" in err and "To recover:" in err, output(result)
    assert "Traceback" not in err, output(result)
    return err


def assert_preflight_refusal(result, message: str) -> None:
    assert result.returncode not in (0, None), output(result)
    assert message in result.stderr, output(result)
    assert "Traceback" not in result.stderr, output(result)


# -- pre-flight refusals: nothing changes -------------------------------------------------------


def test_a_protected_environment_refuses_any_branch_but_its_own(project, sandbox):
    live = project.apps["live"]
    before = releases(sandbox, live)
    log = Log(sandbox)
    result = deploy(project, "live", "--branch", "dev")
    assert_preflight_refusal(result, "live is protected: it deploys only from master, not dev; nothing was changed")
    assert "merge dev into master and deploy that" in result.stderr
    assert log.changes() == []
    assert releases(sandbox, live) == before


def test_preflight_refuses_a_dirty_tree_a_branch_behind_origin_a_missing_branch_and_no_login(project, sandbox):
    app = project.apps["dev"]
    project.git("checkout", "-q", "dev")
    before, tags = releases(sandbox, app), project.tags()
    log = Log(sandbox)
    dirty = {
        "untracked": lambda: project.write({"notes/scratch.txt": "untracked\n"}),
        "unstaged": lambda: project.write({"docs/dev.md": "changed, not staged\n"}),
        "staged": lambda: (project.write({"docs/staged.md": "staged\n"}), project.git("add", "docs/staged.md")),
    }
    try:
        for kind, make_dirty in dirty.items():
            make_dirty()
            result = deploy(project, "dev")
            assert_preflight_refusal(result, "the working tree is not clean (")
            assert "; nothing was changed" in result.stderr, kind
            assert "git stash --include-untracked" in result.stderr, kind
            project.git("reset", "-q", "--hard")
            project.git("clean", "-q", "-fd")

        # Behind origin: origin/behind has a commit the local branch lacks.
        project.git("checkout", "-q", "-B", "behind", "dev")
        commit_on(project, "behind", "Ahead on origin", {"docs/dev.md": f"ahead {time.time()}\n"})
        project.git("reset", "-q", "--hard", "HEAD~1")
        project.git("checkout", "-q", "dev")
        result = deploy(project, "dev", "--branch", "behind")
        assert_preflight_refusal(result, "behind is 1 commit(s) behind origin/behind; nothing was changed")
        assert "git checkout behind && git pull --ff-only origin behind" in result.stderr

        result = deploy(project, "dev", "--branch", "no-such-branch")
        assert_preflight_refusal(result, "branch 'no-such-branch' does not exist in this repository; nothing was changed")

        logged_out = project._run(
            [str(HEROKU_TOOLS), "deploy", "dev", "--confirm", app], check=False,
            env={**project.env, "HEROKU_API_KEY": "not-a-valid-token"},
        )
        assert_preflight_refusal(logged_out, "not logged in to Heroku")
    finally:
        project.git("reset", "-q", "--hard")
        project.git("clean", "-q", "-fd")
        project.git("checkout", "-q", "dev")
        if project.git("branch", "--list", "behind").stdout.strip():
            project.git("branch", "-q", "-D", "behind")
            project.git("push", "-q", "origin", "--delete", "behind")
    assert log.changes() == []
    assert releases(sandbox, app) == before
    assert project.tags() == tags


def test_confirm_must_name_the_app_and_without_a_terminal_there_is_no_prompt(project, sandbox):
    app = project.apps["dev"]
    project.git("checkout", "-q", "-B", "to-confirm", "dev")
    project.commit("Something to deploy", {"docs/dev.md": f"confirm {time.time()}\n"})
    try:
        before = releases(sandbox, app)
        log = Log(sandbox)
        wrong = project.tools("deploy", "dev", "--branch", "to-confirm", "--confirm", project.apps["uat"])
        assert_preflight_refusal(
            wrong, f"--confirm {project.apps['uat']} does not match the app being changed ({app}); nothing was changed."
        )
        assert "Options:" in wrong.stdout  # refused after the report, before any change
        no_terminal = project.tools("deploy", "dev", "--branch", "to-confirm")  # stdin is not a terminal
        assert_preflight_refusal(no_terminal, "without confirmation: no terminal to type the code on; nothing was changed.")
        assert f"--confirm {app}" in no_terminal.stderr
        assert log.changes() == []
        assert releases(sandbox, app) == before
    finally:
        project.git("checkout", "-q", "dev")
        project.git("branch", "-q", "-D", "to-confirm")


def test_dry_run_reports_and_leaves_the_sandbox_and_the_tags_untouched(project, sandbox):
    app = project.apps["dev"]
    project.git("checkout", "-q", "-B", "dry-run", "dev")
    model, files = add_migration(project)
    sha = project.commit(f"Add {model}", files)
    try:
        state, tags, remote_tags = sandbox.state(), project.tags(), origin_tags(project)
        log = Log(sandbox)
        result = project.tools("deploy", "dev", "--branch", "dry-run", "--dry-run")  # no --confirm: it stops before
        assert result.returncode == 0, output(result)
        assert f"Deploying:          {sha[:12]} (branch dry-run)" in result.stdout
        assert re.search(rf"\[x\]\s+4 run migrations\s+<- 1 pending on the database: customers\.\d{{4}}_{model.lower()}\b",
                         result.stdout)
        assert "--dry-run: stopping here; nothing was changed." in result.stderr
        assert "Type " not in result.stdout + result.stderr
        assert log.changes() == []
        assert log.pushes(app) == []
        assert sandbox.state() == state
        assert project.tags() == tags and origin_tags(project) == remote_tags
    finally:
        project.git("checkout", "-q", "dev")
        project.git("branch", "-q", "-D", "dry-run")


def test_preboot_and_the_flags_change_what_the_report_says_it_will_do(project, sandbox):
    app = project.apps["dev"]
    project.git("checkout", "-q", "-B", "dry-run", "dev")
    model, files = add_migration(project)
    project.commit(f"Add {model}", files)

    def report(*args: str) -> str:
        result = project.tools("deploy", "dev", "--branch", "dry-run", "--dry-run", *args)
        assert result.returncode == 0, output(result)
        return result.stdout

    log = Log(sandbox)
    try:
        text = report("--no-migrate")
        assert "Options: 1\n" in text and "Maintenance:        off (no downtime needed)" in text
        text = report("--options", "21")
        assert "Options: 21\n" in text and re.search(r"\[x\]\s+16 collect static files", text)
        assert "python manage.py migrate --noinput\n    python manage.py collectstatic --noinput" in text
        text = report("--options", "push,collectstatic", "--maintenance")
        assert "Options: 17\n" in text
        assert "Maintenance:        on from the end of the build until the release phase has succeeded" in text
        assert "Note: --options 17 overrides the inferred 5" in text
        project.heroku("features:enable", "preboot", "-a", app)
        text = report()
        assert "Options: 5\n" in text  # the migration still runs, with no maintenance window: preboot keeps serving
        assert "Preboot:            on\n" in text and "Maintenance:        off (no downtime needed)" in text
    finally:
        project.heroku("features:disable", "preboot", "-a", app)
        project.git("checkout", "-q", "dev")
        project.git("branch", "-q", "-D", "dry-run")
    assert [e for e in log.changes() if "/features/" not in e["path"]] == []


def test_up_to_date_stops_before_the_report(project, sandbox):
    app = project.apps["dev"]
    head = settle(project, sandbox)
    before, tags = releases(sandbox, app), project.tags()
    log = Log(sandbox)
    result = deploy(project, "dev")
    assert result.returncode == 0, output(result)
    version = current(sandbox, app)["version"]
    assert f"dev ({app}) is up to date: v{version} runs {head[:12]}." in result.stderr
    assert "Options:" not in result.stdout
    assert log.changes() == []
    assert releases(sandbox, app) == before
    assert project.tags() == tags


# -- deployments that succeed --------------------------------------------------------------


def test_a_change_without_migrations_runs_no_steps_and_no_maintenance(project, sandbox):
    app = project.apps["dev"]
    settle(project, sandbox)
    sha = commit_on(project, "dev", "Reword the dev notes", {"docs/dev.md": f"Reworded {time.time()}\n"})
    before = releases(sandbox, app)
    log = Log(sandbox)
    result = deploy(project, "dev")
    assert result.returncode == 0, output(result)
    assert "Traceback" not in result.stderr
    assert "Options: 1\n" in result.stdout
    assert "Maintenance:        off (no downtime needed)" in result.stdout
    assert "Post-push commands" not in result.stdout
    after = releases(sandbox, app)
    assert [r["version"] for r in after] == [r["version"] for r in before] + [before[-1]["version"] + 1]
    assert after[-1]["current"] and slug_commit(sandbox, app, after[-1]) == sha
    assert len(log.pushes(app)) == 1
    assert log.dynos(app) == []
    assert log.maintenance(app) == []
    assert maintenance(sandbox, app) is False
    assert project.tag_commit(f"dev/v{after[-1]['version']}") == sha


def test_a_new_migration_runs_migrate_in_one_dyno_tags_and_creates_the_table(project, sandbox):
    app = project.apps["dev"]
    settle(project, sandbox)
    model, files = add_migration(project)
    (path,) = files
    sha = commit_on(project, "dev", f"Add {model}", files)
    before = releases(sandbox, app)
    log = Log(sandbox)
    result = deploy(project, "dev")
    assert result.returncode == 0, output(result)
    assert "Traceback" not in result.stderr

    # The report: what changed and why each step runs.
    assert f"Files changed since v{before[-1]['version']} (1):\n    {path}\n" in result.stdout
    assert "Options: 5\n" in result.stdout
    assert re.search(rf"\[x\]\s+4 run migrations\s+<- 1 pending on the database: customers\.{Path(path).stem}\b",
                     result.stdout)
    assert re.search(r"\[ \]\s+16 collect static files", result.stdout)
    assert "Maintenance:        on from the end of the build until the migrations are done" in result.stdout

    # One new release, current, built from the commit.
    after = releases(sandbox, app)
    assert len(after) == len(before) + 1
    new = after[-1]
    assert (new["status"], new["current"], new["description"]) == ("succeeded", True, f"Deploy {sha[:7]}")
    assert slug_commit(sandbox, app, new) == sha

    # Every post-push command in ONE dyno, inside the shortest maintenance window.
    (dyno,) = log.dynos(app)
    assert "python manage.py migrate --noinput" in dyno["body"]["command"]
    assert "collectstatic" not in dyno["body"]["command"]
    switches = log.maintenance(app)
    assert [e["body"]["maintenance"] for e in switches] == [True, False]
    (push,) = log.pushes(app)
    # The page went up once the build was done (not before the push), and before the new release existed.
    assert push["time"] < switches[0]["time"] < dyno["time"] < switches[1]["time"]
    created = datetime.fromisoformat(new["created_at"].replace("Z", "+00:00")).timestamp()
    assert switches[0]["time"] <= created + 1.0
    assert maintenance(sandbox, app) is False

    # The annotated, namespaced release tag, pushed to origin.
    tag = f"dev/v{new['version']}"
    assert project.tag_commit(tag) == sha
    body = project.git("cat-file", "-p", tag).stdout
    assert body.startswith(f"object {sha}\ntype commit\ntag {tag}\ntagger Test User <test@example.com> ")
    assert f"\n{app} (dev) v{new['version']}, deployed by developer@example.com\n" in body
    assert f"Commits:\n  {sha[:7]} Add {model}\n" in body
    assert tag in origin_tags(project)

    # The migration ran on dev's database.
    url = database_url(project, "dev")
    assert table_exists(url, f"customers_{model.lower()}")
    assert path.rsplit("/", 1)[1][:-3] in applied_migrations(url)


def test_a_tag_on_another_commit_stops_preflight_and_one_on_the_same_commit_is_fine(project, sandbox):
    app = project.apps["dev"]
    ready(project, sandbox)
    sha = commit_on(project, "dev", "Tagged ahead of time", {"docs/dev.md": f"tagged {time.time()}\n"})
    version = releases(sandbox, app)[-1]["version"] + 1
    tag, elsewhere = f"dev/v{version}", project.head("master")
    project.git("tag", tag, elsewhere)
    try:
        before = releases(sandbox, app)
        log = Log(sandbox)
        result = deploy(project, "dev")
        assert_preflight_refusal(
            result, f"tag {tag} already exists on {elsewhere[:12]}, not on {sha[:12]}, the commit to deploy; nothing was changed"
        )
        assert f"git tag -d {tag}" in result.stderr
        assert log.changes() == []
        assert releases(sandbox, app) == before
        assert project.tag_commit(tag) == elsewhere

        project.git("tag", "-f", tag, sha)
        result = deploy(project, "dev")
        assert result.returncode == 0, output(result)
        assert current(sandbox, app)["version"] == version
        assert project.tag_commit(tag) == sha
    finally:
        if project.tag_commit(tag) == elsewhere:
            project.git("tag", "-d", tag)


# -- injected faults: the app, the maintenance flag and the tags end as step 8 says -------------


def maintenance_from_push(project: Project) -> str:
    """A settings file (ignored by git, so the tree stays clean) where dev's page goes up before the push."""
    (project.path / ".git" / "info" / "exclude").write_text("push-first.yml\n")
    text = (project.path / "heroku-tools.yml").read_text()
    (project.path / "push-first.yml").write_text(
        text.replace("      branch:   dev\n", "      branch:   dev\n      maintenance_from: push\n"))
    return "push-first.yml"


def test_a_failed_maintenance_call_stops_before_the_push(project, sandbox):
    """With ``maintenance_from: push`` the page goes up first: when it cannot, nothing is pushed."""
    app = project.apps["dev"]
    running = ready(project, sandbox)
    model, files = add_migration(project)
    commit_on(project, "dev", f"Add {model}", files)
    before, tags = releases(sandbox, app), project.tags()
    log = Log(sandbox)
    sandbox.arm_fault(app, "maintenance")
    result = project.tools("-f", maintenance_from_push(project), "deploy", "dev", "--confirm", app)
    err = assert_failure(result, "dev", f"maintenance on for {app}")
    assert f"{app} runs v{running['version']} ({running['description']})" in err
    assert "heroku-tools deploy dev" in err
    assert log.switches(app) == [True]  # the failed call, and nothing else
    assert log.pushes(app) == [] and log.dynos(app) == []
    assert releases(sandbox, app) == before
    assert maintenance(sandbox, app) is False
    assert project.tags() == tags


def test_a_maintenance_switch_failing_after_the_build_says_what_is_out_and_how_to_finish(project, sandbox):
    """The page goes up after the build: if it cannot, Heroku releases anyway, and the message says so."""
    app = project.apps["dev"]
    running = ready(project, sandbox)
    model, files = add_migration(project)
    sha = commit_on(project, "dev", f"Add {model}", files)
    before, tags = releases(sandbox, app), project.tags()
    log = Log(sandbox)
    sandbox.arm_fault(app, "maintenance")
    result = deploy(project, "dev")
    version = before[-1]["version"] + 1
    err = assert_failure(result, "dev", f"maintenance on for {app} (after the build)")
    assert f"released v{version} without the maintenance page, and its post-push commands have not run" in err
    assert f"{app} runs v{version}" in err
    assert f"heroku releases:rollback v{running['version']} -a {app}" in err
    assert log.switches(app) == [True]  # the failed call, and nothing else
    assert len(log.pushes(app)) == 1 and log.dynos(app) == []
    assert slug_commit(sandbox, app) == sha and maintenance(sandbox, app) is False
    assert project.tags() == tags
    # The recovery printed runs what the release missed, with the page up around it.
    command = re.search(r"\$ (heroku-tools deploy dev --options (\d+))", err)
    assert command and int(command.group(2)) & 4, err
    recovered = project.tools(*command.group(1).split()[1:], "--confirm", app)
    assert recovered.returncode == 0, output(recovered)
    assert table_exists(database_url(project, "dev"), f"customers_{model.lower()}")
    assert log.switches(app) == [True, True, False]


def test_a_failed_build_leaves_the_old_release_and_maintenance_off(project, sandbox):
    app = project.apps["dev"]
    running = ready(project, sandbox)
    model, files = add_migration(project)
    sha = commit_on(project, "dev", f"Add {model}", files)
    before, tags = releases(sandbox, app), project.tags()
    log = Log(sandbox)
    sandbox.arm_fault(app, "build")
    result = deploy(project, "dev")
    err = assert_failure(result, "dev", f"pushing {sha[:12]} to {app}")
    assert "rejected" in err
    assert f"{app} runs v{running['version']} ({running['description']})" in err
    assert log.switches(app) == [], "a build that fails never turns the page on"
    assert len(log.pushes(app)) == 1 and log.dynos(app) == []
    assert releases(sandbox, app) == before
    assert maintenance(sandbox, app) is False
    assert project.tags() == tags
    assert not table_exists(database_url(project, "dev"), f"customers_{model.lower()}")


def test_a_failed_release_phase_keeps_the_old_release_current(project, sandbox):
    app = project.apps["dev"]
    running = ready(project, sandbox)
    model, files = add_migration(project)
    sha = commit_on(project, "dev", f"Add {model}", files)
    before, tags = releases(sandbox, app), project.tags()
    log = Log(sandbox)
    sandbox.arm_fault(app, "release")
    result = deploy(project, "dev")
    version = before[-1]["version"] + 1
    err = assert_failure(result, "dev", f"waiting for the new release of {app}")
    assert f"release v{version} of {app} failed (its release phase failed)" in err
    assert f"{app} runs v{running['version']} ({running['description']})" in err
    assert f"maintenance is off again for {app}" in err
    assert "heroku-tools deploy dev   # retries the release phase (heroku releases:retry)" in err
    after = releases(sandbox, app)
    assert [r["version"] for r in after] == [r["version"] for r in before] + [version]
    assert (after[-1]["status"], after[-1]["current"]) == ("failed", False)
    assert slug_commit(sandbox, app, after[-1]) == sha
    assert current(sandbox, app) == running
    assert log.switches(app) == [True, False]
    assert log.dynos(app) == []
    assert maintenance(sandbox, app) is False
    assert project.tags() == tags

    # Re-running the deploy finishes the job: the same slug, its release phase again (no new commit, no push).
    log = Log(sandbox)
    again = deploy(project, "dev")
    assert again.returncode == 0, output(again)
    assert f"v{version} of it failed in its release phase: retried" in again.stdout
    retried = current(sandbox, app)
    assert retried["version"] == version + 1 and retried["description"].startswith(f"Retry of v{version}")
    assert slug_commit(sandbox, app, retried) == sha
    assert log.pushes(app) == [] and len(log.dynos(app)) == 1
    assert table_exists(database_url(project, "dev"), f"customers_{model.lower()}")
    assert project.tag_commit(f"dev/v{retried['version']}") == sha


def test_a_rejected_push_changes_nothing(project, sandbox):
    app = project.apps["dev"]
    running = ready(project, sandbox)
    # Cut from master: it lacks the commits dev runs, so the app's repository refuses it (not a fast-forward).
    project.git("checkout", "-q", "-B", "side", "master")
    model, files = add_migration(project)
    sha = project.commit(f"Add {model} on a side branch", files)
    try:
        before, tags = releases(sandbox, app), project.tags()
        log = Log(sandbox)
        result = deploy(project, "dev", "--branch", "side")
        err = assert_failure(result, "dev", f"pushing {sha[:12]} to {app}")
        assert "was rejected" in err
        assert f"{app} runs v{running['version']} ({running['description']})" in err
        assert log.switches(app) == [], "nothing was built: the page never went up"
        assert log.pushes(app) == []  # git refused it before sending anything
        assert log.dynos(app) == []
        assert releases(sandbox, app) == before
        assert maintenance(sandbox, app) is False
        assert project.tags() == tags
    finally:
        project.git("checkout", "-q", "dev")
        project.git("branch", "-q", "-D", "side")


def test_a_failed_migration_leaves_maintenance_on_loudly(project, sandbox):
    app = project.apps["dev"]
    ready(project, sandbox)
    path, files = failing_migration(project)
    sha = commit_on(project, "dev", "Add a migration that fails", files)
    before, tags = releases(sandbox, app), project.tags()
    log = Log(sandbox)
    try:
        result = deploy(project, "dev")
        assert result.returncode not in (0, None), output(result)
        err = result.stderr
        assert f"deploy to dev failed at running step 'migrate' on {app}: " in err, output(result)
        assert "`python manage.py migrate --noinput` exited with status 1" in err
        assert f"MAINTENANCE IS STILL ON for {app}" in err
        assert f"heroku maintenance:off -a {app}" in err
        assert "showmigrations" in err
        # The migration's own error came from the dyno; heroku-tools itself printed no traceback.
        assert "this migration fails on purpose" in err
        assert not re.search(r'File "[^"]*/(heroku_tools|invoke|sh)/', err), output(result)

        assert maintenance(sandbox, app) is True
        assert log.switches(app) == [True]
        assert len(log.dynos(app)) == 1
        new = current(sandbox, app)  # the code was released; its migration failed
        assert new["version"] == before[-1]["version"] + 1 and slug_commit(sandbox, app, new) == sha
        assert project.tags() == tags  # no success, no tag
        url = database_url(project, "dev")
        assert not table_exists(url, "customers_doomed")
        assert path.rsplit("/", 1)[1][:-3] not in applied_migrations(url)
    finally:
        project.git("checkout", "-q", "dev")
        project.git("rm", "-q", path)
        project.git("commit", "-q", "-m", "Drop the failing migration")
        project.git("push", "-q", "origin", "dev")
        project.heroku("maintenance:off", "-a", app)


SLOW_BUILD = """
# Slow builds down (the build runs collectstatic with SOURCE_VERSION set), for the Ctrl-C test.
if os.environ.get("SOURCE_VERSION"):
    import time as _time

    _time.sleep(5)
"""


def test_ctrl_c_during_the_push_ends_in_a_defined_state_with_working_recovery(project, sandbox):
    app = project.apps["dev"]
    running = ready(project, sandbox)
    settings = (project.path / "sampleapp" / "settings.py").read_text()
    model, files = add_migration(project)
    sha = commit_on(project, "dev", f"Add {model}, slowly", {**files, "sampleapp/settings.py": settings + SLOW_BUILD})
    before, tags = releases(sandbox, app), project.tags()
    old, version = running["version"], before[-1]["version"] + 1
    log = Log(sandbox)
    try:
        shown = io.StringIO()
        child = pexpect.spawn(str(HEROKU_TOOLS), ["deploy", "dev", "--confirm", app], cwd=str(project.path),
                              env=project.env, encoding="utf-8", timeout=120, dimensions=(50, 200))
        child.logfile_read = shown
        child.expect(r"\$ python manage.py collectstatic")  # the build is running, on the other end of the push
        child.sendintr()
        child.expect(pexpect.EOF)
        child.close()
        text = shown.getvalue()
        assert child.signalstatus is None and child.exitstatus not in (0, None), text
        assert f"deploy to dev failed at pushing {sha[:12]} to {app}: interrupted (Ctrl-C)" in text
        assert log.switches(app) == [], "interrupted during the build: the page had not gone up"
        assert "Traceback" not in text
        assert maintenance(sandbox, app) is False

        # Heroku finishes a build whose pusher went away: the new code comes up, without its migration.
        deadline = time.monotonic() + 60
        while current(sandbox, app)["version"] == old and time.monotonic() < deadline:
            time.sleep(0.5)
        new = current(sandbox, app)
        assert new["version"] == version and slug_commit(sandbox, app, new) == sha
        reported = re.search(rf"{app} runs v(\d+) ", text)
        assert reported and int(reported.group(1)) in (old, version), text
        if int(reported.group(1)) == old:  # reported before the build finished: it says the release may come
            assert f"Heroku may still finish the build and release {sha[:12]}: check `heroku releases -a {app}`" in text
        else:
            assert f"{app} already runs the new code (v{version}), but its post-push commands did not run" in text
        assert log.dynos(app) == []
        assert project.tags() == tags
        url = database_url(project, "dev")
        assert not table_exists(url, f"customers_{model.lower()}")

        # The recovery printed runs the post-push commands the release missed.
        command = re.search(r"\$ (heroku-tools deploy dev --options (\d+))", text)
        assert command and int(command.group(2)) & 4 and not int(command.group(2)) & 1, text
        recovered = project.tools(*command.group(1).split()[1:], "--confirm", app)
        assert recovered.returncode == 0, output(recovered)
        assert table_exists(url, f"customers_{model.lower()}")
        assert maintenance(sandbox, app) is False
    finally:
        project.git("checkout", "-q", "dev")
        commit_on(project, "dev", "Builds at full speed again", {"sampleapp/settings.py": settings})


def test_ctrl_c_during_the_dyno_stops_it_and_says_so(project, sandbox):
    """The dyno would go on migrating without its CLI: Ctrl-C stops it, and the CLI's dying stack trace is not shown."""
    app = project.apps["dev"]
    ready(project, sandbox)
    last = sorted((project.path / "customers" / "migrations").glob("0*.py"))[-1].stem
    path = f"customers/migrations/{int(last[:4]) + 1:04d}_slow.py"
    commit_on(project, "dev", "A slow migration", {path: f"""
        import time

        from django.db import migrations


        class Migration(migrations.Migration):
            dependencies = [("customers", "{last}")]
            operations = [migrations.RunPython(lambda apps, schema_editor: time.sleep(60), migrations.RunPython.noop)]
        """})
    log = Log(sandbox)
    try:
        shown = io.StringIO()
        child = pexpect.spawn(str(HEROKU_TOOLS), ["deploy", "dev", "--confirm", app, "--no-note"], cwd=str(project.path),
                              env=project.env, encoding="utf-8", timeout=180, dimensions=(50, 200))
        child.logfile_read = shown
        child.expect(r"heroku-tools step 1/1: migrate")
        time.sleep(2)  # the migration is running in the dyno
        child.sendintr()
        child.expect(pexpect.EOF)
        child.close()
        text = shown.getvalue()
        assert child.exitstatus not in (0, None), text
        assert f"deploy to dev failed at running step 'migrate' on {app}: interrupted (Ctrl-C)" in text
        stopped = re.search(r"the one-off dyno (run\.\d+) was stopped", text)
        assert stopped, text
        assert [e for e in log.entries() if e["method"] == "POST" and e["path"].endswith(f"/dynos/{stopped.group(1)}/actions/stop")]
        assert "No exit code returned" not in text and "TypeError" not in text and "Traceback" not in text
        assert f"MAINTENANCE IS STILL ON for {app}" in text  # the migration was cut off
    finally:
        project.git("rm", "-q", path)
        project.git("commit", "-q", "-m", "Drop the slow migration")
        project.git("push", "-q", "origin", "dev")
        project.heroku("maintenance:off", "-a", app)


# -- live: promotion through the pipeline ---------------------------------------------------


def test_a_failed_promotion_leaves_live_as_it_was(project, sandbox):
    live = project.apps["live"]
    target = uat_ahead_of_live(project, sandbox)
    before, tags = releases(sandbox, live), project.tags()
    log = Log(sandbox)
    sandbox.arm_fault(live, "promotion")
    result = deploy(project, "live")
    err = assert_failure(result, "live", f"promoting {project.apps['uat']} to {live}")
    assert f"maintenance is off again for {live}" in err
    assert log.switches(live) == [True, False]
    assert len(log.promotions()) == 1
    assert log.pushes(live) == [] and log.dynos(live) == []
    assert releases(sandbox, live) == before
    assert slug_commit(sandbox, live) != target
    assert maintenance(sandbox, live) is False
    assert project.tags() == tags


def test_promote_uat_deploys_live_by_promoting_uats_slug(project, sandbox):
    uat, live = project.apps["uat"], project.apps["live"]
    target = uat_ahead_of_live(project, sandbox)
    uat_release = current(sandbox, uat)
    before = releases(sandbox, live)
    log = Log(sandbox)
    result = project.tools("promote", "uat", "--confirm", live)  # `promote uat` = `deploy live` here
    assert result.returncode == 0, output(result)
    assert "Traceback" not in result.stderr
    assert f"Deploying:          {target[:12]} (promotion of {uat})" in result.stdout
    assert f"Pipeline:           promote from {uat}" in result.stdout
    assert "git push (by pipeline promotion)" in result.stdout

    new = current(sandbox, live)
    assert new["version"] == before[-1]["version"] + 1
    assert new["description"].startswith(f"Promote {uat} v{uat_release['version']}")
    assert slug_commit(sandbox, live, new) == target == slug_commit(sandbox, uat, uat_release)
    assert slug(sandbox, live, new)["checksum"] == slug(sandbox, uat, uat_release)["checksum"]
    assert len(log.promotions()) == 1 and log.pushes(live) == []

    # The migrations uat ran, run on live in one dyno; static files came with the slug.
    (dyno,) = log.dynos(live)
    assert "migrate" in dyno["body"]["command"] and "collectstatic" not in dyno["body"]["command"]
    assert log.switches(live) == [True, False]
    assert maintenance(sandbox, live) is False
    uat_migrations = applied_migrations(database_url(project, "uat"))
    assert uat_migrations <= applied_migrations(database_url(project, "live"))

    tag = f"live/v{new['version']}"
    assert project.tag_commit(tag) == target
    assert f"{live} (live) v{new['version']}, deployed by developer@example.com" in project.git("cat-file", "-p", tag).stdout


FABFILE = """\
from invoke import Collection

from heroku_tools import Session, promote, task


@task
def release_live(c):
    \"\"\"Promote uat to live: the library's own promote(), from this project's fabfile.\"\"\"
    (outcome,) = promote(Session.from_context(c), "uat", confirm_app="{live}", note="Weekly release")
    print(f"live is v{{outcome.release.version}}, tagged {{outcome.tag}}")


ns = Collection(release_live)
"""


def test_a_projects_own_fabfile_promotes_with_the_library_function(project, sandbox, tmp_path):
    """``promote()`` is a plain function a fabfile calls: run with stock ``fab``, the same promotion happens."""
    live = project.apps["live"]
    target = uat_ahead_of_live(project, sandbox)
    (tmp_path / "fabfile.py").write_text(FABFILE.format(live=live))  # beside the project, not in its tree
    result = project._run([str(HEROKU_TOOLS.parent / "fab"), "-r", str(tmp_path), "release-live"], check=False)
    assert result.returncode == 0, output(result)
    new = current(sandbox, live)
    assert slug_commit(sandbox, live, new) == target
    assert f"live is v{new['version']}, tagged live/v{new['version']}" in result.stdout
    assert project.tag_commit(f"live/v{new['version']}") == target
    assert "Weekly release" in project.git("cat-file", "-p", f"live/v{new['version']}").stdout


# -- rollback, and deploying again after it -------------------------------------------------------


def test_rollback_warns_and_lists_migrations_then_deploying_again_does_not_hang(project, sandbox):
    app = project.apps["dev"]
    settled = slug_commit(sandbox, app, ready(project, sandbox))
    model, files = add_migration(project)
    (path,) = files
    sha = commit_on(project, "dev", f"Add {model}", files)
    result = deploy(project, "dev")
    assert result.returncode == 0, output(result)
    deployed = current(sandbox, app)

    result = project.tools("rollback", "dev", "--confirm", app)
    assert result.returncode == 0, output(result)
    assert "WARNING: a rollback restores code and config vars, NOT the database." in result.stdout
    assert path in result.stdout and f"compatible    customers.{Path(path).stem}" in result.stdout
    rolled = current(sandbox, app)
    assert rolled["version"] == deployed["version"] + 1
    assert slug_commit(sandbox, app, rolled) == settled
    assert project.tag_commit(f"dev/v{rolled['version']}") == settled

    # The app's repository holds the head already: a push builds nothing, and deploy must say so, not wait.
    log = Log(sandbox)
    started = time.monotonic()
    again = deploy(project, "dev", timeout=180)
    assert time.monotonic() - started < 120, output(again)
    err = assert_failure(again, "dev", f"pushing {sha[:12]} to {app}")
    assert current(sandbox, app)["version"] == rolled["version"]
    assert maintenance(sandbox, app) is False
    assert log.dynos(app) == []
    assert f"heroku releases:rollback v{deployed['version']} -a {app}" in err or "heroku releases" in err
    # Roll forward, as the recovery says, so dev runs its head again.
    project.heroku("releases:rollback", f"v{deployed['version']}", "-a", app)
    assert slug_commit(sandbox, app) == sha
