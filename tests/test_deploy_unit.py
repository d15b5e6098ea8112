"""The deploy machinery's pure parts, without Heroku.

Options inference, overrides and parsing; the one-dyno steps script (run in a
real shell) and its marker parsing; the report for a hand-built plan; the
rollback target; release tags in a real throwaway git repository; and the
failure policy of :func:`heroku_tools.deploy.execute` against recording fakes,
for the failures the sandbox cannot stage on cue.
"""
from __future__ import annotations


import re
import subprocess

import pytest

from heroku_tools.confirm import ConfirmationRefused, confirm
from heroku_tools.errors import CommandError, RemoteCommandFailed
from heroku_tools.git import Git
from heroku_tools.models import Commit, Release
from heroku_tools.output import Console
from heroku_tools.release import tags
from heroku_tools.release.deployed import Deployed, resolve_deployed
from heroku_tools.release.deployed import wait_for_release
from heroku_tools.release.execute import execute
from heroku_tools.release.errors import DeployFailed, NothingBuilt
from heroku_tools.release.options import DeployOptions, apply_overrides, infer_options, matching_files
from heroku_tools.release.plan import DeployPlan
from heroku_tools.release.report import render_report
from heroku_tools.release.rollback import RollbackError, choose_target
from heroku_tools.release.steps import MARKER, Step, StepProgress, script, select_steps
from heroku_tools.release.tags import TagConflict
from heroku_tools.session import Session
from heroku_tools.settings import Environment

from _support.fakes import FakeApi, FakeHeroku

Opt = DeployOptions
COMMANDS = {
    "collectstatic": "python manage.py collectstatic --noinput",
    "migrate": "python manage.py migrate --noinput",
    "loaddata": "python manage.py loaddata",
    "syncdb": "python manage.py migrate --run-syncdb",
}


# -- options ------------------------------------------------------------------------------


@pytest.mark.parametrize("value, expected", [
    (21, Opt.PUSH | Opt.MIGRATE | Opt.COLLECTSTATIC),
    ("21", Opt.PUSH | Opt.MIGRATE | Opt.COLLECTSTATIC),
    (" 5 ", Opt.PUSH | Opt.MIGRATE),
    ("push,migrate,collectstatic", Opt(21)),
    ("push|migrate", Opt(5)),
    ("PUSH + loaddata", Opt(9)),
    (0, Opt(0)),
    (31, Opt(31)),
])
def test_options_parse(value, expected):
    assert DeployOptions.parse(value) == expected


@pytest.mark.parametrize("value, message", [
    (32, "between 0 and 31"),
    (-1, "between 0 and 31"),
    ("push,deploy", "unknown option 'deploy'"),
])
def test_options_parse_refuses_nonsense(value, message):
    with pytest.raises(ValueError, match=message):
        DeployOptions.parse(value)


def test_describe_lists_every_flag_in_bit_order():
    assert DeployOptions(5).describe() == [(Opt.PUSH, True), (Opt.SYNCDB, False), (Opt.MIGRATE, True),
                                            (Opt.LOADDATA, False), (Opt.COLLECTSTATIC, False)]


def test_inference_from_changed_files_with_reasons():
    changed = ["customers/models.py", "customers/migrations/0002_widget.py", "static/css/site.css",
               "customers/fixtures/plans.json", "README.md"]
    inference = infer_options(changed)
    assert inference.options == Opt.PUSH | Opt.MIGRATE | Opt.LOADDATA | Opt.COLLECTSTATIC
    assert inference.reasons == {
        Opt.MIGRATE: ("customers/migrations/0002_widget.py",),
        Opt.LOADDATA: ("customers/fixtures/plans.json",),
        Opt.COLLECTSTATIC: ("static/css/site.css",),
    }


def test_inference_with_nothing_relevant_is_just_the_push():
    inference = infer_options(["README.md", "customers/views.py", "customers/migrations/README"])
    assert inference.options == Opt.PUSH and inference.reasons == {}
    assert infer_options([]).options == Opt.PUSH


def test_an_unknown_deployed_commit_infers_every_step_but_fixtures():
    inference = infer_options(None)
    assert inference.options == Opt.PUSH | Opt.MIGRATE | Opt.COLLECTSTATIC
    assert set(inference.reasons) == {Opt.MIGRATE, Opt.COLLECTSTATIC}
    assert not inference.options & Opt.SYNCDB  # never inferred


def test_rules_from_the_settings_replace_the_defaults():
    changed = ["db/schema/001.sql", "customers/migrations/0002_x.py", "assets/app.js"]
    inference = infer_options(changed, {"migrate": ("db/schema/*.sql",), "collectstatic": ()})
    assert inference.options == Opt.PUSH | Opt.MIGRATE
    assert inference.reasons == {Opt.MIGRATE: ("db/schema/001.sql",)}


def test_globs_star_stays_in_a_directory_and_double_star_spans_them():
    files = ["migrations/0001.py", "a/migrations/0001.py", "a/b/migrations/0002.py", "a/migrations/sub/0003.py",
             "a/migrations/0001.pyc", "a/static/x/y.css"]
    assert matching_files(files, ["**/migrations/*.py"]) == files[:3]
    assert matching_files(files, ["**/static/**"]) == ["a/static/x/y.css"]


def test_flags_override_the_inferred_bits():
    inferred = Opt.PUSH | Opt.MIGRATE
    assert apply_overrides(inferred, migrate=False) == Opt.PUSH
    assert apply_overrides(inferred, collectstatic=True) == Opt.PUSH | Opt.MIGRATE | Opt.COLLECTSTATIC
    assert apply_overrides(inferred, migrate=None, collectstatic=None, loaddata=None) == inferred
    assert apply_overrides(Opt(0), loaddata=True, migrate=True) == Opt.MIGRATE | Opt.LOADDATA


# -- the steps script ---------------------------------------------------------------------


def test_steps_follow_the_fixed_order_and_skip_unconfigured_commands():
    steps = select_steps(Opt(31), {"collectstatic": "cs", "loaddata": "ld", "migrate": "mg"})
    assert [s.name for s in steps] == ["migrate", "loaddata", "collectstatic"]  # no syncdb command: skipped
    assert select_steps(Opt.PUSH, COMMANDS) == []


def test_loaddata_gets_the_changed_fixtures_quoted():
    (step,) = select_steps(Opt.LOADDATA, COMMANDS, fixtures=["app/fixtures/plans.json", "app/fixtures/my plans.json"])
    assert step.command == "python manage.py loaddata app/fixtures/plans.json 'app/fixtures/my plans.json'"


def test_the_script_chains_every_step_with_markers_and_never_ends_with_exit():
    steps = select_steps(Opt(21), COMMANDS)
    line = script(steps)
    assert line == (
        f"echo '{MARKER} 1/2: migrate' && ( python manage.py migrate --noinput ) && "
        f"echo '{MARKER} 2/2: collectstatic' && ( python manage.py collectstatic --noinput )"
    )
    assert not re.search(r"\bexit\b", line)  # the CLI appends its status echo: an `exit` would skip it


def run_script(steps) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-c", script(steps)], capture_output=True, text=True, timeout=30)


def test_the_script_stops_at_the_first_failure_with_its_status():
    steps = [Step("migrate", "echo migrating"), Step("loaddata", "echo 'a; b' && false || exit 3"),
             Step("collectstatic", "echo never")]
    result = run_script(steps)
    assert result.returncode == 3
    assert result.stdout.splitlines() == [f"{MARKER} 1/3: migrate", "migrating", f"{MARKER} 2/3: loaddata", "a; b"]

    progress = StepProgress(steps)
    for line in result.stdout.splitlines():
        progress(line)
    assert progress.started == ["migrate", "loaddata"] and progress.current == "loaddata"
    assert not progress.in_schema_step


def test_the_script_succeeds_only_when_every_step_does():
    result = run_script([Step("migrate", "true"), Step("collectstatic", "echo done")])
    assert result.returncode == 0 and result.stdout.endswith("done\n")


def test_step_progress_follows_markers_and_hides_the_clis_progress_lines():
    steps = select_steps(Opt(21), COMMANDS)
    shown = []
    progress = StepProgress(steps, show=shown.append)
    assert progress.current is None and not progress.in_schema_step
    lines = [
        "Running echo 'heroku-tools step 1/2: migrate' && ( python manage.py migrate ) on acme-dev... up, run.4821 (Basic)",
        f"{MARKER} 1/2: migrate\r",
        "  Applying customers.0002_widget... OK",
        f"  {MARKER} 9/9: not-a-marker-in-the-middle of a line",
    ]
    for line in lines:
        progress(line)
    assert progress.started == ["migrate"] and progress.in_schema_step
    assert progress.command("migrate") == "python manage.py migrate --noinput"
    assert progress.command("nope") is None
    assert shown == lines[1:]  # everything but the CLI's own progress line
    progress(f"{MARKER} 2/2: collectstatic")
    assert progress.current == "collectstatic" and not progress.in_schema_step


# -- the report ---------------------------------------------------------------------------

SHA_A = "a" * 40
SHA_B = "b" * 40


def release(version, *, slug="slug-1", status="succeeded", current=False, description=None, eligible=None) -> Release:
    return Release(version=version, description=description or f"Deploy {SHA_A[:7]}", status=status,
                   current=current, slug_id=slug, created_at=None, user_email="dev@example.com",
                   eligible_for_rollback=eligible)


def make_plan(**overrides) -> DeployPlan:
    env = Environment(label="live", app_name="acme-live", branch="master", pipeline=True, upstream="uat", protected=True)
    changed = ("customers/migrations/0002_widget.py", "customers/views.py")
    inference = infer_options(changed)
    options = inference.options
    values = dict(
        env=env, method="promote", branch="master", target_commit=SHA_B,
        deployed=Deployed(release(41, current=True), SHA_A, SHA_A),
        changed_files=changed, commits=(Commit(SHA_B, "Add widgets"),), inference=inference,
        options=options, steps=tuple(select_steps(options, COMMANDS)), maintenance=True, preboot=False,
        force=False, git_url="https://git.heroku.com/acme-live.git", deployer="dev@example.com",
        next_version=42, source_app="acme-uat", target_apps=("acme-live",),
    )
    values.update(overrides)
    return DeployPlan(**values)


def test_the_report_for_a_promotion_with_a_migration():
    text = render_report(make_plan())
    assert text == "\n".join([
        "Files changed since v41 (2):",
        "    customers/migrations/0002_widget.py",
        "    customers/views.py",
        "",
        "Commits since v41 (1):",
        "    bbbbbbb Add widgets",
        "",
        "Target environment: live (protected)",
        "Heroku app:         acme-live",
        "Deployed:           v41 (aaaaaaaaaaaa)",
        "Deploying:          bbbbbbbbbbbb (promotion of acme-uat)",
        "Branch:             master",
        "Git remote:         https://git.heroku.com/acme-live.git",
        "Force push:         no",
        "Preboot:            off",
        "Pipeline:           promote from acme-uat",
        "Maintenance:        on from just before the promotion until the migrations are done",
        "New release:        v42 (tag live/v42)",
        "Health check:       GET / answering any status below 500, 3 in a row within 60s (if the app runs a web "
        "process); unhealthy: rolled back if the schema allows",
        "",
        "Options: 5",
        "    [x]  1 git push (by pipeline promotion)",
        "    [ ]  2 syncdb (migrate --run-syncdb)",
        "    [x]  4 run migrations  <- customers/migrations/0002_widget.py",
        "    [ ]  8 load fixtures",
        "    [ ] 16 collect static files",
        "",
        "Post-push commands (one dyno, stops at the first failure):",
        "    python manage.py migrate --noinput",
    ])


def test_the_report_for_a_first_push_without_downtime():
    env = Environment(label="dev", app_name="acme-dev", branch="dev")
    inference = infer_options(None)
    plan = make_plan(
        env=env, method="push", branch="dev", deployed=Deployed(release(1, slug=None, current=True), None),
        changed_files=None, inference=inference, options=Opt.PUSH, steps=(), maintenance=False, preboot=True,
        force=True, next_version=2, source_app=None, notes=("--options 1 overrides the inferred 21",),
    )
    text = render_report(plan)
    # v1 (an add-on release, no code) is never named as what runs now.
    assert text.startswith("First deployment of acme-dev: 1 commit (every file is new)\n    bbbbbbb Add widgets\n\n")
    assert "since v1" not in text
    for line in ["Target environment: dev\n", "Deployed:           no code yet\n",
                 "Deploying:          bbbbbbbbbbbb (branch dev)\n", "Force push:         yes\n", "Preboot:            on\n",
                 "Pipeline:           no (git push)\n", "Maintenance:        off (no downtime needed)\n",
                 "New release:        v2 (tag dev/v2)\n", "    [x]  1 git push\n", "    [ ]  4 run migrations\n"]:
        assert line in text
    assert "Post-push commands" not in text
    assert text.endswith("Note: --options 1 overrides the inferred 21")


def test_the_report_when_the_deployed_commit_is_unknown():
    plan = make_plan(deployed=Deployed(release(41, current=True), None, "1234567"), changed_files=None,
                     already_maintenance=True)
    text = render_report(plan)
    assert text.startswith("Deployed commit unknown: treating every file as changed.\n")
    assert "Deployed:           v41 (1234567)\n" in text
    assert "Maintenance:        already on (left as it is)\n" in text


def test_plan_properties():
    assert not make_plan().up_to_date
    assert make_plan(target_commit=SHA_A).up_to_date
    assert not make_plan(deployed=Deployed(None, None)).up_to_date
    assert make_plan().migrations == ("customers/migrations/0002_widget.py",)


# -- the deployed commit ---------------------------------------------------------------------


class KnownCommits:
    """A git that knows some commits, and more after a fetch."""

    def __init__(self, known=(), fetched=()):
        self.known, self.fetched, self.fetches = set(known), set(fetched), 0

    def commit_exists(self, sha):
        return any(full.startswith(sha) for full in self.known)

    def rev_parse(self, sha):
        return next(full for full in self.known if full.startswith(sha))

    def fetch(self, *args, **kwargs):
        self.fetches += 1
        self.known |= self.fetched


class SlugCommits:
    def __init__(self, commits):
        self.commits = commits

    def slug_commit(self, app, slug_id):
        return self.commits.get(slug_id)


def test_the_deployed_commit_comes_from_the_slug_and_a_fetch_when_unknown():
    releases = [release(5, slug="s5", current=True)]
    known = resolve_deployed(KnownCommits([SHA_A]), SlugCommits({"s5": SHA_A}), "acme-dev", releases)
    assert (known.commit, known.release.version) == (SHA_A, 5)

    git = KnownCommits(fetched=[SHA_A])
    fetched = resolve_deployed(git, SlugCommits({"s5": SHA_A}), "acme-dev", releases)
    assert fetched.commit == SHA_A and git.fetches == 1

    git = KnownCommits()
    unknown = resolve_deployed(git, SlugCommits({"s5": SHA_A}), "acme-dev", releases)
    assert (unknown.commit, unknown.reported_sha, git.fetches) == (None, SHA_A, 1)
    assert infer_options(None).options == Opt(21)  # what the plan then infers

    # No commit on the slug: the description's short sha, resolved locally.
    short = resolve_deployed(KnownCommits([SHA_A]), SlugCommits({}), "acme-dev", releases)
    assert short.commit == SHA_A
    nothing = resolve_deployed(KnownCommits(), SlugCommits({}), "acme-dev", [release(1, slug=None, current=True)])
    assert nothing.commit is None and nothing.reported_sha is None


# -- rollback target --------------------------------------------------------------------------


def test_rollback_goes_to_the_newest_older_release_with_other_code():
    releases = [
        release(45, slug="s3", current=True),
        release(44, slug="s3", description="Set FOO config vars"),  # same code as the current one
        release(43, slug="s2", status="failed"),
        release(42, slug="s1", eligible=False),
        release(41, slug="s1"),
        release(40, slug="s0"),
    ]
    current, target = choose_target(releases, None)
    assert (current.version, target.version) == (45, 41)


def test_rollback_to_a_named_release_and_its_refusals():
    releases = [release(12, slug="s2", current=True), release(11, slug=None, description="Initial release"),
                release(10, slug="s1", status="failed"), release(9, slug="s0")]
    assert choose_target(releases, 9)[1].version == 9
    with pytest.raises(RollbackError, match="v7 was not found"):
        choose_target(releases, 7)
    with pytest.raises(RollbackError, match="v12 is not older than the current release v12"):
        choose_target(releases, 12)
    with pytest.raises(RollbackError, match="v10 cannot be rolled back to"):
        choose_target(releases, 10)
    with pytest.raises(RollbackError, match="v11 cannot be rolled back to"):
        choose_target(releases, 11)


def test_rollback_refuses_without_earlier_code():
    with pytest.raises(RollbackError, match="no earlier release with different code"):
        choose_target([release(3, slug="s1", current=True), release(2, slug="s1"), release(1, slug=None)], None)
    with pytest.raises(RollbackError, match="no current release"):
        choose_target([], None)


# -- release tags in a real repository ---------------------------------------------------------


@pytest.fixture
def repo(tmp_path, monkeypatch):
    for name, value in {"GIT_AUTHOR_NAME": "Dee Ployer", "GIT_AUTHOR_EMAIL": "dee@example.com",
                        "GIT_COMMITTER_NAME": "Dee Ployer", "GIT_COMMITTER_EMAIL": "dee@example.com"}.items():
        monkeypatch.setenv(name, value)
    path = tmp_path / "repo"
    path.mkdir()

    def git(*args):
        return subprocess.run(["git", *args], cwd=path, check=True, capture_output=True, text=True).stdout.strip()

    git("init", "-q", "-b", "master")
    shas = []
    for n in (1, 2):
        (path / "file.txt").write_text(f"{n}\n")
        git("add", "-A")
        git("commit", "-q", "-m", f"Commit {n}")
        shas.append(git("rev-parse", "HEAD"))
    origin = tmp_path / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", str(origin)], check=True)
    git("remote", "add", "origin", str(origin))
    return Git(cwd=path), shas, git


LIVE = Environment(label="live", app_name="acme-live", branch="master")


def test_a_new_tag_is_annotated_namespaced_and_pushed(repo):
    git, (first, second), run = repo
    assert tags.check_tag(git, LIVE, 7, second) is None
    text = tags.message(LIVE, 7, "dev@example.com", [Commit(second, "Commit 2"), Commit(first, "Commit 1")])
    assert tags.record(git, LIVE, 7, second, text, push_remote="origin") == "live/v7"
    assert run("cat-file", "-t", "live/v7") == "tag"
    assert run("rev-parse", "live/v7^{commit}") == second
    assert run("tag", "-l", "--format=%(contents)", "live/v7") == (
        "acme-live (live) v7, deployed by dev@example.com\n\nCommits:\n"
        f"  {second[:7]} Commit 2\n  {first[:7]} Commit 1"
    )
    assert "refs/tags/live/v7" in run("ls-remote", "--tags", "origin")


def test_a_tag_on_the_same_commit_is_fine_and_on_another_is_a_conflict(repo):
    git, (first, second), run = repo
    run("tag", "-a", "-m", "earlier run", "live/v8", second)
    assert tags.check_tag(git, LIVE, 8, second) == "live/v8"
    assert tags.record(git, LIVE, 8, second, "ignored\n") == "live/v8"
    assert run("tag", "-l", "--format=%(contents)", "live/v8") == "earlier run"  # left as it was

    with pytest.raises(TagConflict) as raised:
        tags.check_tag(git, LIVE, 8, first)
    error = raised.value
    assert error.message == (f"tag live/v8 already exists on {second[:12]}, not on {first[:12]}, "
                             "the commit to deploy; nothing was changed")
    assert error.recover == ["inspect it with `git show live/v8`; delete it (`git tag -d live/v8`) if it is stale"]
    with pytest.raises(TagConflict):
        tags.record(git, LIVE, 8, first, "text\n")
    assert run("rev-parse", "live/v8^{commit}") == second


def test_tag_format_namespaces(repo):
    git, (_, second), run = repo
    env = Environment(label="uat", app_name="acme-uat", tag_format="{app_name}-release-{version}")
    assert tags.record(git, env, 3, second, "x\n") == "acme-uat-release-3"
    assert tags.check_tag(git, LIVE, 3, second) is None  # live's v3 is another tag


# -- confirmation --------------------------------------------------------------------------------


def test_confirm_with_the_app_name_or_the_code():
    confirm("acme-live", "deploy to live", confirm_app="acme-live")
    with pytest.raises(ConfirmationRefused, match="does not match the app being changed"):
        confirm("acme-live", "deploy to live", confirm_app="acme-uat")
    prompts = []

    def typed(answer):
        return lambda prompt: prompts.append(prompt) or answer(prompt)

    confirm("acme-live", "deploy to live", read=typed(lambda p: re.search(r"\d{6}", p).group() + "\n"))
    assert re.fullmatch(r"Type \d{6} to deploy to live: ", prompts[-1])
    with pytest.raises(ConfirmationRefused, match="the code did not match; nothing was changed on acme-live"):
        confirm("acme-live", "deploy to live", read=typed(lambda p: "123"))

    def interrupted(prompt):
        raise KeyboardInterrupt

    with pytest.raises(ConfirmationRefused, match="interrupted at the confirmation code"):
        confirm("acme-live", "deploy to live", read=interrupted)


# -- execute(): the failure policy, against fakes --------------------------------------------------


class FakeGit:
    def __init__(self, push_output="", push_error=None, on_push=None):
        self.push_output, self.push_error, self.on_push = push_output, push_error, on_push
        self.calls, self.tags = [], {}

    def push(self, remote, refspec, *, force=False, stream=None):
        self.calls.append(("push", remote, refspec, force))
        if self.on_push:
            self.on_push()
        if self.push_error:
            raise self.push_error
        return self.push_output

    def remote_url(self, remote):
        return None

    def tag_commit(self, name):
        return self.tags.get(name)

    def tag(self, name, commit, message):
        self.calls.append(("tag", name, commit))
        self.tags[name] = commit


def dev_plan(options: DeployOptions = Opt.PUSH | Opt.MIGRATE, **overrides) -> DeployPlan:
    env = Environment(label="dev", app_name="acme-dev", branch="dev")
    values = dict(env=env, method="push", branch="dev", options=options, source_app=None,
                  steps=tuple(select_steps(options, COMMANDS)), maintenance=bool(options & Opt.MIGRATE),
                  deployed=Deployed(release(41, slug="s41", current=True), SHA_A, SHA_A))
    values.update(overrides)
    return make_plan(**values)


def released(version=42, status="succeeded"):
    return release(version, slug=f"s{version}", status=status, current=status == "succeeded",
                   description=f"Deploy {SHA_B[:7]}")


def markers(*names):
    return [f"{MARKER} {i}/{len(names)}: {name}" for i, name in enumerate(names, 1)]


def run_plan(plan, heroku, git=None):
    said = []
    git = git or FakeGit(on_push=lambda: heroku._releases.append(released()))
    try:
        session = Session(settings=None, git=git, heroku=heroku, api=FakeApi(heroku))
        outcome = execute(plan, session, console=Console(say=said.append, stream=said.append))
    except DeployFailed as error:
        return None, error, said
    return outcome, None, said


def names(heroku):
    return [call[0] for call in heroku.calls if call[0] != "releases"]


def test_success_runs_every_step_in_one_dyno_inside_the_maintenance_window_and_tags():
    plan = dev_plan(Opt(21))
    heroku = FakeHeroku(releases=[release(41, slug="s41", current=True)], run_output=markers("migrate", "collectstatic"))
    git = FakeGit(on_push=lambda: heroku._releases.append(released()))
    outcome, error, said = run_plan(plan, heroku, git)
    assert error is None
    assert names(heroku) == ["maintenance_on", "run", "maintenance_off"]
    (run,) = [c for c in heroku.calls if c[0] == "run"]
    assert run[2] == script(plan.steps, lock_timeout=plan.lock_timeout) and "-c lock_timeout=5s" in run[2]
    assert git.calls == [("push", plan.git_url, f"{SHA_B}:refs/heads/main", False), ("tag", "dev/v42", SHA_B)]
    assert (outcome.release.version, outcome.tag, outcome.steps_run) == (42, "dev/v42", ("migrate", "collectstatic"))


def test_a_failed_maintenance_off_after_the_steps_is_not_blamed_on_the_migration():
    plan = dev_plan(Opt(5))
    heroku = FakeHeroku(releases=[release(41, slug="s41", current=True)], run_output=markers("migrate"),
                        fail={"maintenance_off": CommandError("maintenance:off failed: 503", argv=["heroku"], exit_code=2)})
    _, error, _ = run_plan(plan, heroku)
    assert error.message == "deploy to dev failed at maintenance off for acme-dev: maintenance:off failed: 503"
    text = error.render()
    assert "half-migrated" not in text and "'migrate'" not in text
    assert "MAINTENANCE IS STILL ON for acme-dev: turning it off failed too" in error.state
    assert error.recover[0] == "heroku maintenance:off -a acme-dev"
    assert not any("--options" in line for line in error.recover)  # the steps had all succeeded


def test_a_failed_migration_leaves_maintenance_on():
    plan = dev_plan(Opt(21))
    heroku = FakeHeroku(releases=[release(41, slug="s41", current=True)], run_output=markers("migrate"),
                        run_error=RemoteCommandFailed("exited 1", argv=["heroku"], exit_code=1))
    _, error, _ = run_plan(plan, heroku)
    assert error.message == ("deploy to dev failed at running step 'migrate' on acme-dev: "
                             "`python manage.py migrate --noinput` exited with status 1")
    assert names(heroku) == ["maintenance_on", "run"]  # maintenance never comes off
    assert any(line.startswith("MAINTENANCE IS STILL ON for acme-dev: migrate failed") for line in error.state)
    assert "heroku maintenance:off -a acme-dev   # once the schema is sound" in error.recover
    assert "heroku-tools deploy dev --options 20   # re-run just the post-push commands" in error.recover
    assert "heroku releases:rollback v41 -a acme-dev   # back to the code that ran before" in error.recover


def test_ctrl_c_during_a_migration_leaves_maintenance_on():
    plan = dev_plan(Opt(5))
    heroku = FakeHeroku(releases=[release(41, slug="s41", current=True)], run_output=markers("migrate"),
                        run_error=KeyboardInterrupt())
    _, error, _ = run_plan(plan, heroku)
    assert error.message == "deploy to dev failed at running step 'migrate' on acme-dev: interrupted (Ctrl-C)"
    assert names(heroku) == ["maintenance_on", "run"]
    assert any(line.startswith("MAINTENANCE IS STILL ON for acme-dev: migrate failed or was interrupted")
               for line in error.state)


def test_a_failure_after_the_migrations_completed_turns_maintenance_off():
    plan = dev_plan(Opt(21))
    heroku = FakeHeroku(releases=[release(41, slug="s41", current=True)], run_output=markers("migrate", "collectstatic"),
                        run_error=RemoteCommandFailed("exited 2", argv=["heroku"], exit_code=2))
    _, error, _ = run_plan(plan, heroku)
    assert error.message.startswith("deploy to dev failed at running step 'collectstatic' on acme-dev")
    assert names(heroku) == ["maintenance_on", "run", "maintenance_off"]
    assert "maintenance is off again for acme-dev (the migrations had completed)" in error.state


def test_a_dyno_that_never_started_a_step_turns_maintenance_off():
    plan = dev_plan(Opt(5))
    heroku = FakeHeroku(releases=[release(41, slug="s41", current=True)], run_output=[],
                        run_error=RemoteCommandFailed("no status", argv=["heroku"], exit_code=1))
    _, error, _ = run_plan(plan, heroku)
    assert error.message == "deploy to dev failed at running migrate on acme-dev (one dyno): the dyno exited with status 1"
    assert "maintenance is off again for acme-dev (no migration had run)" in error.state


def test_ctrl_c_during_the_push_says_the_release_may_still_come():
    # maintenance_from: push: the page was up before the push, as the original tool had it
    env = Environment(label="dev", app_name="acme-dev", branch="dev", maintenance_from="push")
    plan = dev_plan(Opt(5), env=env)
    heroku = FakeHeroku(releases=[release(41, slug="s41", current=True)])
    _, error, _ = run_plan(plan, heroku, FakeGit(push_error=KeyboardInterrupt()))
    assert error.message == f"deploy to dev failed at pushing {SHA_B[:12]} to acme-dev: interrupted (Ctrl-C)"
    assert error.state == [
        f"acme-dev runs v41 (Deploy {SHA_A[:7]})",
        "maintenance is off again for acme-dev (no migration had run)",
        f"the push was interrupted, but Heroku may still finish the build and release {SHA_B[:12]}: "
        "check `heroku releases -a acme-dev`",
    ]
    assert error.recover[0] == f"heroku-tools deploy dev --options 4   # once acme-dev runs {SHA_B[:12]}: the post-push commands it missed"


def test_the_page_goes_up_only_once_the_build_is_done_and_never_for_a_failed_build():
    plan = dev_plan(Opt(5))
    heroku = FakeHeroku(releases=[release(41, slug="s41", current=True)], run_output=markers("migrate"))
    build = ["remote: -----> Building on the Heroku-24 stack", "remote: -----> Compressing...",
             "remote: -----> Launching..."]
    order = []

    class BuildingGit(FakeGit):
        def push(self, remote, refspec, *, force=False, stream=None):
            for line in build:
                stream(line)
                order.append((line, [call[0] for call in heroku.calls if call[0] != "releases"]))
            heroku._releases.append(released())
            return ""

    outcome, error, said = run_plan(plan, heroku, BuildingGit())
    assert error is None, error and error.render()
    assert order[0][1] == [], "nothing switched while compiling"
    assert names(heroku) == ["maintenance_on", "run", "maintenance_off"]

    failing = FakeHeroku(releases=[release(41, slug="s41", current=True)])
    _, error, _ = run_plan(plan, failing, FakeGit(push_error=CommandError("push rejected", argv=["git"], exit_code=1)))
    assert error is not None and names(failing) == [], "a failed build never turns the page on"


def test_ctrl_c_after_heroku_released_says_so():
    plan = dev_plan(Opt(5))
    heroku = FakeHeroku(releases=[release(41, slug="s41")])

    def released_then_interrupted():
        heroku._releases.append(released())
        raise KeyboardInterrupt

    _, error, _ = run_plan(plan, heroku, FakeGit(on_push=released_then_interrupted))
    assert "acme-dev already runs the new code (v42), but its post-push commands did not run" in error.state
    assert "heroku releases:rollback v41 -a acme-dev   # or: back to the code that ran before" in error.recover


def test_a_push_that_sends_nothing_fails_at_once_with_a_way_forward():
    plan = dev_plan(Opt(1), maintenance=False)
    heroku = FakeHeroku(releases=[
        release(43, slug="s41", current=True, description="Rollback to v41"),
        release(42, slug="s42", description=f"Deploy {SHA_B[:7]}"),
        release(41, slug="s41"),
    ])
    _, error, _ = run_plan(plan, heroku, FakeGit(push_output="Everything up-to-date\n"))
    assert error.message == (f"deploy to dev failed at pushing {SHA_B[:12]} to acme-dev: acme-dev's git repository "
                             f"already holds {SHA_B[:12]}, so the push built nothing")
    assert error.recover[0] == f"heroku releases:rollback v42 -a acme-dev   # back to the release that ran {SHA_B[:12]}"
    assert error.recover[1].startswith("git commit --allow-empty")


def test_waiting_for_a_release_that_never_comes_ends():
    heroku = FakeHeroku(releases=[release(41, slug="s41", current=True)])
    with pytest.raises(NothingBuilt, match="no new release of acme-dev appeared"):
        wait_for_release(heroku, "acme-dev", 41, poll=0, appear_timeout=0)
    pending = release(42, slug="s42", status="pending")
    heroku = FakeHeroku(releases=[pending])
    with pytest.raises(DeployFailed, match="no finished release appeared"):
        wait_for_release(heroku, "acme-dev", 41, poll=0, appear_timeout=0, timeout=0)


def test_a_failed_release_phase_stops_before_the_steps():
    plan = dev_plan(Opt(5))
    heroku = FakeHeroku(releases=[release(41, slug="s41", current=True)])
    git = FakeGit(on_push=lambda: heroku._releases.append(released(status="failed")))
    _, error, _ = run_plan(plan, heroku, git)
    assert error.message == ("deploy to dev failed at waiting for the new release of acme-dev: "
                             "release v42 of acme-dev failed (its release phase failed)")
    assert names(heroku) == ["maintenance_on", "maintenance_off"]
    assert error.state[0] == f"acme-dev runs v41 (Deploy {SHA_A[:7]})"
    assert not any("releases:rollback" in line for line in error.recover)
    # Deploying again retries the release phase (the app's repository already holds the commit).
    assert not any("--allow-empty" in line for line in error.recover)
    assert error.recover[-1] == "heroku-tools deploy dev   # retries the release phase (heroku releases:retry) once the cause is fixed"


def test_a_failed_promotion_runs_nothing_after_it():
    plan = make_plan(steps=tuple(select_steps(Opt(5), COMMANDS)))
    heroku = FakeHeroku(releases=[release(41, slug="s41", current=True)],
                        fail={"pipeline_promote": CommandError("promotion of acme-uat failed", argv=["heroku"], exit_code=1)})
    _, error, _ = run_plan(plan, heroku, FakeGit())
    assert error.message == "deploy to live failed at promoting acme-uat to acme-live: promotion of acme-uat failed"
    assert names(heroku) == ["maintenance_on", "pipeline_promote", "maintenance_off"]
    assert ("pipeline_promote", "acme-uat", ("acme-live",)) in heroku.calls


def test_steps_only_runs_no_push():
    plan = dev_plan(Opt.MIGRATE)
    heroku = FakeHeroku(releases=[release(41, slug="s41", current=True)], run_output=markers("migrate"))
    git = FakeGit()
    outcome, error, _ = run_plan(plan, heroku, git)
    assert error is None and git.calls == []
    assert names(heroku) == ["maintenance_on", "run", "maintenance_off"]
    assert outcome.release is None and outcome.tag is None



def test_the_first_deployment_counts_every_commit_it_ships_and_lists_the_newest():
    env = Environment(label="dev", app_name="acme-dev", branch="dev")
    commits = tuple(Commit(f"{n:040x}", f"Change {n}") for n in range(20, 0, -1))
    plan = make_plan(env=env, method="push", deployed=Deployed(release(4, slug=None, current=True), None),
                     changed_files=None, inference=infer_options(None), commits=commits, commit_count=153)
    lines = render_report(plan).splitlines()
    assert lines[0] == "First deployment of acme-dev: 153 commits (every file is new)"
    assert lines[1:22] == [f"    {c.short} {c.subject}" for c in commits] + ["    … and 133 earlier"]
    assert not any("v4" in line for line in lines if not line.startswith("New release"))
