"""The git and heroku runners: environment, errors, parsing, and real commands.

Pure tests first (error lines, release descriptions, models, the child's
environment through a fake executable), then git against throwaway
repositories, then the heroku runner against the sandbox with the real CLI.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import ssl
import subprocess
import sys
import tarfile
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from heroku_tools.errors import (
    AppNotFound,
    CommandError,
    NotLoggedIn,
    RemoteCommandFailed,
    ToolNotFound,
)
from heroku_tools.git import Git
from heroku_tools.heroku import Heroku, _promotion_targets, _sections, _transfers
from heroku_tools.models import App, Pipeline, Release, Slug
from heroku_tools.runner import first_error_line
from heroku_tools.settings import parse

# -- error lines -------------------------------------------------------------------


@pytest.mark.parametrize(
    "stderr, expected",
    [
        (" ›   Error: Couldn't find that app.\n ›\n ›   Error ID: not_found\n", "Couldn't find that app."),
        (
            (
                " ›   Warning: Our terms of service have changed: \n ›   https://dashboard.heroku.com/terms\n"
                " ›   Warning: HEROKU_API_KEY is set\n ›   Error: Invalid credentials provided.\n ›\n ›   Error ID: unauthorized\n"
            ),
            "Invalid credentials provided.",
        ),
        (
            (
                "    Error: The token provided to HEROKU_API_KEY is invalid. Please \n"
                "    double-check that you have the correct token, or run `heroku login` \n    without HEROKU_API_KEY set.\n"
            ),
            (
                "The token provided to HEROKU_API_KEY is invalid. Please double-check that you have the correct token, "
                "or run `heroku login` without HEROKU_API_KEY set."
            ),
        ),
        (" ›   Error: Nonexistent flag: -j\n ›   See more help with --help\n\nUSAGE\n  $ heroku releases\n", "Nonexistent flag: -j"),
        (
            "fatal: not a git repository (or any of the parent directories): .git\n",
            "not a git repository (or any of the parent directories): .git",
        ),
        (" ›   Warning: something\n ›   more warning\nplain last words\n", "plain last words"),
        ("", ""),
    ],
    ids=["not-found", "after-warnings", "unprefixed-multiline", "usage-dropped", "git-fatal", "no-error-line", "empty"],
)
def test_first_error_line(stderr, expected):
    assert first_error_line(stderr) == expected


def test_first_error_line_falls_back_to_stdout():
    assert first_error_line("", "one\ntwo\n") == "two"


# -- release descriptions and models -------------------------------------------------


@pytest.mark.parametrize(
    "description, sha, promoted, rollback",
    [
        ("Deploy c0ffee0", "c0ffee0", None, None),
        ("Deploy 0123456789abcdef0123456789abcdef01234567", "0123456789abcdef0123456789abcdef01234567", None, None),
        ("Promote my-app-uat v12 abc1234", "abc1234", ("my-app-uat", 12), None),
        ("Rollback to v46", None, None, 46),
        ("Set A, B config vars", None, None, None),
        ("Deploy c0ffee", None, None, None),
        ("Deploy C0FFEE01", None, None, None),
        ("Initial release", None, None, None),
    ],
)
def test_release_descriptions(description, sha, promoted, rollback):
    release = Release.from_json({"version": 1, "description": description})
    assert (release.deployed_sha, release.promoted_from, release.rollback_to) == (sha, promoted, rollback)


def test_release_from_api_body():
    release = Release.from_json(
        {
            "version": 7,
            "description": "Deploy abc1234",
            "status": "succeeded",
            "current": True,
            "slug": {"id": "s-1"},
            "user": {"id": "u", "email": "dev@example.com"},
            "created_at": "2024-05-12T10:00:00Z",
            "eligible_for_rollback": True,
            "extra_field": 1,
        }
    )
    assert (release.version, release.slug_id, release.user_email, release.current) == (7, "s-1", "dev@example.com", True)
    assert release.raw["extra_field"] == 1
    assert Release.from_json({"version": 2, "slug": None, "user": None}).slug_id is None


def test_app_from_apps_info_and_from_a_bare_app():
    info = {
        "app": {"id": "a1", "name": "my-app", "region": {"name": "eu"}, "stack": {"name": "heroku-24"}, "maintenance": True},
        "addons": [{"name": "pg-1", "addon_service": {"name": "heroku-postgresql"}, "plan": {"name": "heroku-postgresql:essential-0"}}],
        "dynos": [{"name": "web.1", "type": "web", "state": "up", "release": {"version": 3}}],
        "pipeline_coupling": {"pipeline": {"id": "p1", "name": "pipe"}, "stage": "production"},
    }
    app = App.from_json(info)
    assert (app.name, app.region, app.stack, app.maintenance) == ("my-app", "eu", "heroku-24", True)
    assert app.addons[0].is_postgres and app.dynos[0].release_version == 3
    assert (app.pipeline_coupling.pipeline_name, app.pipeline_coupling.stage, app.pipeline_coupling.app_name) == (
        "pipe",
        "production",
        "my-app",
    )
    assert App.from_json({"id": "a1", "name": "bare"}).pipeline_coupling is None


def test_pipeline_and_slug_models():
    pipeline = Pipeline.from_info(
        {
            "pipeline": {"id": "p1", "name": "pipe"},
            "apps": [
                {"id": "a1", "name": "app-uat", "pipelineCoupling": {"stage": "staging"}},
                {"id": "a2", "name": "app-live", "pipelineCoupling": {"stage": "production"}},
            ],
        }
    )
    assert pipeline.apps("production") == ["app-live"] and pipeline.couplings[0].pipeline_name == "pipe"
    slug = Slug.from_json({"id": "s1", "commit": "f" * 40, "stack": {"name": "heroku-24"}, "process_types": {"web": "x"}})
    assert (slug.commit, slug.stack) == ("f" * 40, "heroku-24")


def test_text_output_parsers():
    assert _sections("=== DATABASE_URL\n\nPlan:   Essential 0\nStatus: Available\n") == {
        "DATABASE_URL": {"Plan": "Essential 0", "Status": "Available"}
    }
    targets = _promotion_targets("Fetching...\nb-app: succeeded\nc-app: failed\n  release phase failed\n    exit 1\n")
    assert [(t.app, t.status, t.error) for t in targets] == [
        ("b-app", "succeeded", None),
        ("c-app", "failed", "release phase failed exit 1"),
    ]
    backups = _transfers(
        "=== Backups\n\n  ID     Created at                  Status                                Size     Database\n"
        " ────────\n  b002   2026-11-22 01:31:52 +0000   Completed 2026-11-22 01:31:52 +0000   1.08KB   DATABASE\n\n"
        "=== Restores\n\nNo restores found.\n"
    )
    assert [(b.name, b.kind, b.size, b.database, b.succeeded) for b in backups] == [
        ("b002", "backup", "1.08KB", "DATABASE", True)
    ]


# -- the child's environment and missing binaries --------------------------------------


ENV_DUMP = """#!{python}
import json, os, sys
json.dump({{"argv": sys.argv[1:], "env": dict(os.environ), "stdin": sys.stdin.read()}}, sys.stdout)
"""


@pytest.fixture
def env_dump(tmp_path) -> Path:
    script = tmp_path / "dump-env"
    script.write_text(ENV_DUMP.format(python=sys.executable))
    script.chmod(0o755)
    return script


def test_heroku_child_environment_is_quiet_and_app_free(env_dump, monkeypatch):
    monkeypatch.setenv("HEROKU_APP", "the-wrong-app")
    monkeypatch.setenv("TERM", "xterm-256color")
    seen = json.loads(Heroku(env_dump, env={"EXTRA": "1"}).execute(["config", "--json", "-a", "x"]).stdout)
    env = seen["env"]
    assert "HEROKU_APP" not in env
    assert env["EXTRA"] == "1" and env["NO_COLOR"] == "1" and env["TERM"] == "dumb"
    for name, value in {
        "DISABLE_TELEMETRY": "true",
        "HEROKU_SKIP_ANALYTICS": "1",
        "HEROKU_DISABLE_AUTOUPDATE": "1",
        "HEROKU_SKIP_NEW_VERSION_CHECK": "true",
    }.items():
        assert env[name] == value
    assert seen["stdin"] == ""


def test_git_child_environment_and_prefix(env_dump):
    seen = json.loads(Git(env_dump).execute(["status"]).stdout)
    assert seen["argv"] == ["--no-pager", "-c", "color.ui=never", "status"]
    assert seen["env"]["GIT_PAGER"] == "cat" and seen["env"]["GIT_TERMINAL_PROMPT"] == "0"


def test_environment_is_built_per_call(env_dump, monkeypatch):
    runner = Heroku(env_dump)
    monkeypatch.setenv("LATE_ARRIVAL", "yes")
    assert json.loads(runner.execute(["x"]).stdout)["env"]["LATE_ARRIVAL"] == "yes"


def test_binary_from_env_var_settings_and_path(env_dump, tmp_path, monkeypatch):
    monkeypatch.delenv("HEROKU_TOOLS_HEROKU", raising=False)
    assert Heroku().bin == "heroku"
    settings = parse(
        "environments:\n  - {label: dev, app_name: my-app-dev, branch: dev}\nheroku: {bin: node_modules/.bin/heroku}\n",
        source=tmp_path / "heroku-tools.yml",
    )
    assert Heroku.from_settings(settings).bin == str(tmp_path / "node_modules/.bin/heroku")
    monkeypatch.setenv("HEROKU_TOOLS_HEROKU", str(env_dump))
    assert Heroku().bin == str(env_dump) and Heroku.from_settings(settings).bin == str(env_dump)


def test_binary_is_looked_up_on_the_runners_path(env_dump):
    runner = Heroku("dump-env", env={"PATH": f"{env_dump.parent}{os.pathsep}{os.environ['PATH']}"})
    assert json.loads(runner.execute(["x"]).stdout)["argv"] == ["x"]


@pytest.mark.parametrize("runner", [Heroku, Git])
def test_missing_binary_says_how_to_fix_it(runner, tmp_path):
    with pytest.raises(ToolNotFound) as caught:
        runner(tmp_path / "nowhere" / runner.tool).execute(["--version"])
    message = str(caught.value)
    assert str(tmp_path / "nowhere") in message
    assert ("HEROKU_TOOLS_HEROKU" if runner is Heroku else "HEROKU_TOOLS_GIT") in message


def test_failure_is_one_error_with_argv_status_and_output(tmp_path):
    script = tmp_path / "heroku"
    script.write_text(
        f"#!{sys.executable}\nimport sys\nprint('partial')\n"
        "sys.stderr.write(' ›   Warning: noise\\n ›   Error: Something broke.\\n ›\\n ›   Error ID: boom\\n')\nsys.exit(2)\n"
    )
    script.chmod(0o755)
    with pytest.raises(CommandError) as caught:
        Heroku(script).releases("my-app")
    error = caught.value
    assert error.message == "`heroku releases --json -n 15 -a my-app` failed: Something broke."
    assert (error.argv[0], error.exit_code, error.stdout) == ("heroku", 2, "partial\n")
    assert "Error ID: boom" in error.stderr and "--- stderr" in error.details


def test_stdin_from_bytes_and_stdout_streamed_without_being_kept(tmp_path):
    """What the restore's engine needs of a runner: stdin fed from bytes, output handed over line by line as it
    arrives and not held in memory, and a consumer that can stop the command."""
    script = tmp_path / "heroku"
    script.write_text(f"#!{sys.executable}\nimport sys, time\n"
                      "data = sys.stdin.buffer.read()\nprint(len(data), flush=True)\n"
                      "for n in range(100000):\n    print('line', n, flush=True)\n    time.sleep(0.001)\n")
    script.chmod(0o755)
    seen: list[str] = []

    def consume(line: str):
        seen.append(line)
        return True if line == "line 5" else None  # the consumer failed: stop the command

    started = time.monotonic()
    with pytest.raises(CommandError):  # stopped by a signal: not a success
        Heroku(script).execute(["anything"], stream=consume, input=b"x" * 200_000, keep_stdout=False)
    assert time.monotonic() - started < 30, "stopped long before its 100,000 lines"
    assert seen[0] == "200000" and seen[1:7] == [f"line {n}" for n in range(6)]
    assert len(seen) < 1000

    kept = Heroku(script).execute(["x"], stream=lambda line: True if line == "line 0" else None, input=b"ab",
                                  ok=range(-64, 256))
    assert kept.stdout.startswith("2\nline 0\n")
    streamed = Heroku(script).execute(["x"], stream=lambda line: True if line == "line 0" else None, input=b"ab",
                                      ok=range(-64, 256), keep_stdout=False)
    assert streamed.stdout == ""


def test_a_nul_byte_or_an_oversized_argument_is_one_clear_error_not_a_traceback(tmp_path):
    git = Git(cwd=tmp_path)
    with pytest.raises(CommandError) as caught:
        git.execute(["commit", "-m", "a\0b"], shown=["commit", "-m", "…"])
    assert "holds a NUL byte" in caught.value.message and "a\0b" not in caught.value.message
    huge = "x" * 3_000_000
    with pytest.raises(CommandError) as caught:
        git.execute(["commit", "-m", huge], shown=["commit", "-m", "…"])
    assert "could not be started: Argument list too long" in caught.value.message
    assert "3,000," in caught.value.message and huge not in caught.value.message


def test_ctrl_c_during_the_fork_is_passed_to_the_child_and_raised(tmp_path, monkeypatch):
    """A SIGINT landing while the child is forked is never swallowed: the child gets it, the caller too."""
    script = tmp_path / "git"
    script.write_text(f"#!{sys.executable}\nimport time\ntime.sleep(60)\n")
    script.chmod(0o755)
    git = Git(script, cwd=tmp_path)
    real = git._command

    def interrupted_while_forking(env):
        command = real(env)

        def spawn(*args, **kwargs):
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C arrives during the spawn
            return command(*args, **kwargs)

        return spawn

    monkeypatch.setattr(git, "_command", interrupted_while_forking)
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        git.execute(["status"])
    assert time.monotonic() - started < 30, "the child was waited for"
    for _ in range(100):  # the child is gone: it got the Ctrl-C
        if subprocess.run(["pgrep", "-f", str(script)], capture_output=True).returncode == 1:
            break
        time.sleep(0.05)
    else:
        subprocess.run(["pkill", "-KILL", "-f", str(script)])
        pytest.fail("the child did not get the Ctrl-C")


def test_ctrl_c_while_waiting_is_raised_by_the_wait_even_if_the_child_goes_on(tmp_path):
    """While the child runs, Ctrl-C is only noted, then raised by the wait itself: raised wherever the main thread
    was (inside a weak reference's callback, say), it could be swallowed and the run would go on."""
    script = tmp_path / "git"
    script.write_text(f"#!{sys.executable}\nimport signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\n"
                      "time.sleep(60)\n")
    script.chmod(0o755)
    git = Git(script, cwd=tmp_path)
    handlers = []

    def ctrl_c():
        handlers.append(signal.getsignal(signal.SIGINT))
        os.kill(os.getpid(), signal.SIGINT)

    threading.Timer(0.5, ctrl_c).start()
    started = time.monotonic()
    try:
        with pytest.raises(KeyboardInterrupt):
            git.execute(["status"])
        assert time.monotonic() - started < 5
        assert handlers and handlers[0] is not signal.default_int_handler, "Ctrl-C would raise where it landed"
    finally:
        subprocess.run(["pkill", "-KILL", "-f", str(script)])


CTRL_C_STORM = """
import os, signal, sys, threading, time
from heroku_tools.git import Git

git, me, stop, armed = Git("true"), os.getpid(), time.monotonic() + float(sys.argv[1]), [False]

def ctrl_c(signum, frame):  # Python's own handler, raising only where this program can take it
    if armed[0]:
        raise KeyboardInterrupt

def forks():
    while time.monotonic() < stop:
        try:
            git.execute(["x"])
        except BaseException:
            pass

signal.signal(signal.SIGINT, ctrl_c)
threading.Thread(target=forks, daemon=True).start()
print("ready", flush=True)
while time.monotonic() < stop:
    try:
        git.execute(["x"])
    except BaseException:
        pass
    try:
        armed[0] = True
        time.sleep(0.05)
    except KeyboardInterrupt:
        pass
    finally:
        armed[0] = False
print(f"finished by the program itself: {os.getpid() == me}", flush=True)
os._exit(0)
"""


def test_ctrl_c_during_forks_from_any_thread_stays_out_of_the_forked_children(tmp_path):
    """Between fork and exec a child runs this program's Python, handlers included: a Ctrl-C raised there printed
    a traceback to the terminal (Python's after-fork hooks; seen in CI at the deploy's pre-flight, whose reads run
    in threads) or escaped ``sh`` and went on as a second copy of the program. Ctrl-Cs rain on the process group
    while two threads run commands: no traceback, one program finishing."""
    storm = subprocess.Popen([sys.executable, "-c", CTRL_C_STORM, "4"], start_new_session=True, cwd=tmp_path,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert storm.stdout.readline() == "ready\n", storm.stderr.read()
        sent, ends = 0, time.monotonic() + 3
        while time.monotonic() < ends and storm.poll() is None:
            os.killpg(storm.pid, signal.SIGINT)
            sent += 1
            time.sleep(0.003)
        out, err = storm.communicate(timeout=60)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(storm.pid, signal.SIGKILL)
    assert sent > 100
    assert "Traceback" not in err and "Exception ignored" not in err, err[-3000:]
    assert out == "finished by the program itself: True\n", (out, err[-3000:])
    assert storm.returncode == 0


# -- git ----------------------------------------------------------------------------


@pytest.fixture
def repo(tmp_path, home) -> Git:
    path = tmp_path / "repo"
    path.mkdir()
    git = Git(cwd=path, env={"HOME": str(home)})
    git.execute(["init", "-q", "-b", "main"])
    return git


def commit(git: Git, message: str, files: dict[str, str]) -> str:
    for name, text in files.items():
        target = Path(git.cwd) / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    git.execute(["add", "-A"])
    git.execute(["commit", "-q", "-m", message])
    return git.rev_parse("HEAD")


def test_git_revisions_branches_log_and_diff(repo):
    first = commit(repo, "first", {"README": "x\n"})
    second = commit(repo, "add a migration", {"app/migrations/0001_initial.py": "", "app/static/site.css": ""})
    assert len(first) == 40 and repo.rev_parse("HEAD~1") == first
    assert repo.commit_exists(first) and not repo.commit_exists("f" * 40)
    assert repo.current_branch() == "main" and repo.branch_exists("main") and not repo.branch_exists("dev")
    assert [(c.sha, c.subject) for c in repo.log(f"{first}..HEAD")] == [(second, "add a migration")]
    assert sorted(repo.changed_files(first, second)) == ["app/migrations/0001_initial.py", "app/static/site.css"]
    repo.execute(["branch", "dev", first])
    assert repo.ahead_behind("main", "dev") == (1, 0) and repo.ahead_behind("dev", "main") == (0, 1)
    repo.execute(["checkout", "-q", "--detach", first])
    assert repo.current_branch() is None


def test_git_log_no_merges(repo):
    base = commit(repo, "base", {"a": "1"})
    repo.execute(["checkout", "-q", "-b", "topic"])
    commit(repo, "topic work", {"b": "1"})
    repo.execute(["checkout", "-q", "main"])
    commit(repo, "main work", {"c": "1"})
    repo.execute(["merge", "-q", "--no-edit", "topic"])
    subjects = [c.subject for c in repo.log(f"{base}..HEAD")]
    assert len(subjects) == 3 and subjects[0].startswith("Merge")
    assert [c.subject for c in repo.log(f"{base}..HEAD", no_merges=True)] == ["main work", "topic work"]


def test_git_log_is_complete_beyond_a_screenful(repo):
    for number in range(40):
        commit(repo, f"commit {number}", {"n": str(number)})
    assert len(repo.log("HEAD")) == 40


def test_git_rev_parse_of_an_unknown_ref(repo):
    commit(repo, "first", {"a": "1"})
    with pytest.raises(CommandError, match="'nope' is not a commit"):
        repo.rev_parse("nope")


def test_git_status_staged_unstaged_untracked(repo):
    commit(repo, "first", {"tracked": "1", "other": "1", "old name": "1"})
    assert repo.is_clean()
    (Path(repo.cwd) / "tracked").write_text("2")
    (Path(repo.cwd) / "other").write_text("2")
    repo.execute(["add", "other"])
    repo.execute(["mv", "old name", "new name"])
    (Path(repo.cwd) / "brand new.txt").write_text("x")
    tree = repo.status_porcelain()
    assert sorted(tree.staged) == ["new name", "other"]
    assert tree.unstaged == ("tracked",) and tree.untracked == ("brand new.txt",)
    assert not repo.is_clean()


def test_git_tags_push_and_remotes(repo, tmp_path):
    sha = commit(repo, "first", {"a": "1"})
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", str(remote)], check=True)
    repo.execute(["remote", "add", "origin", str(remote)])
    assert repo.remote_url("origin") == str(remote) and repo.remote_url("nope") is None
    lines: list[str] = []
    output = repo.push("origin", "main:refs/heads/main", stream=lines.append)
    assert any("main -> main" in line for line in lines) and "main -> main" in output
    repo.tag("live/v12", sha, "Deployed to live as v12")
    assert repo.tag_commit("live/v12") == sha and repo.tag_commit("live/v13") is None
    repo.push_tag("origin", "live/v12")
    remote_tags = subprocess.run(["git", "tag"], cwd=remote, capture_output=True, text=True, check=True).stdout
    assert remote_tags.split() == ["live/v12"]
    repo.fetch("origin")


def test_git_push_rejection_is_one_error(repo, tmp_path):
    commit(repo, "first", {"a": "1"})
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", str(remote)], check=True)
    repo.push(str(remote), "main:refs/heads/main")
    repo.execute(["commit", "-q", "--amend", "-m", "rewritten"])
    with pytest.raises(CommandError) as caught:
        repo.push(str(remote), "main:refs/heads/main")
    assert "rejected" in caught.value.stderr
    assert caught.value.message == (
        f"`git push {remote} main:refs/heads/main` was rejected: [rejected]        main -> main (non-fast-forward)"
    )
    repo.push(str(remote), "main:refs/heads/main", force=True)


# -- heroku against the sandbox -------------------------------------------------------

sandbox_only = pytest.mark.sandbox


@pytest.fixture
def sandbox_env(cli_env) -> dict:
    """The sandbox's complete environment as runner overrides: what it leaves out is unset."""
    return {**cli_env, **{name: None for name in os.environ if name not in cli_env}}


@pytest.fixture
def h(sandbox_env, tmp_path) -> Heroku:
    return Heroku(env=sandbox_env, cwd=tmp_path)


@pytest.fixture
def app(heroku, app_name) -> str:
    heroku("apps:create", app_name, "--no-remote")
    return app_name


@pytest.fixture
def deployed(sandbox, app) -> str:
    """An app with a released slug (through the Platform API's slug routes), so one-off dynos can run."""
    slug = sandbox.api("POST", f"/apps/{app}/slugs", {"process_types": {"web": "true"}, "commit": "c0ffee" + "0" * 34})
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as tar:
        data = b"echo hello from the slug\n"
        info = tarfile.TarInfo("./app/hello.sh")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    upload = urllib.request.Request(slug["blob"]["url"], data=archive.getvalue(), method="PUT")
    urllib.request.urlopen(upload, context=ssl.create_default_context(cafile=str(sandbox.ca_file))).read()
    sandbox.api("POST", f"/apps/{app}/releases", {"slug": slug["id"]})
    return app


@sandbox_only
def test_whoami_and_token(h, sandbox):
    assert h.whoami().email == "developer@example.com"
    assert h.auth_token() == sandbox.api_key


@sandbox_only
def test_not_logged_in_is_recognised(sandbox_env):
    env = sandbox_env
    with pytest.raises(NotLoggedIn, match="not logged in to Heroku"):
        Heroku(env={**env, "HEROKU_API_KEY": "wrong"}).whoami()
    with pytest.raises(NotLoggedIn):
        Heroku(env={**env, "HEROKU_API_KEY": "wrong"}).releases("any-app")
    unset = {k: v for k, v in env.items() if k != "HEROKU_API_KEY"}
    runner = Heroku(env={**unset, "HEROKU_API_KEY": ""})
    with pytest.raises(NotLoggedIn) as caught:
        runner.whoami()
    assert caught.value.exit_code == 100


@sandbox_only
def test_app_not_found(h):
    with pytest.raises(AppNotFound, match="'no-such-app-here' not found"):
        h.app_info("no-such-app-here")


@sandbox_only
def test_app_info_releases_config_and_rollback(h, app):
    info = h.app_info(app)
    assert info.name == app and info.git_url.endswith(f"/{app}.git")
    # config vars are written through the Platform API (heroku_api); two releases made with the CLI itself here
    h.execute(["config:set", "A=1", "B=two words", "FLAG=true", "-a", app])
    assert h.config(app) == {"A": "1", "B": "two words", "FLAG": "true"}
    h.execute(["config:unset", "A", "-a", app])
    releases = h.releases(app)
    assert [r.version for r in releases] == [3, 2, 1] and releases[0].current
    assert releases[1].description == "Set A, B, FLAG config vars"
    assert [r.version for r in h.releases(app, num=1)] == [3]
    assert h.release_info(app).version == 3 and h.release_info(app, 1).description == "Initial release"
    assert h.rollback(app, 2) == 4
    assert h.config(app)["A"] == "1"


@sandbox_only
def test_maintenance_and_features(h, app):
    assert h.maintenance(app) is False
    h.maintenance_on(app)
    assert h.maintenance(app) is True and h.app_info(app).maintenance
    h.maintenance_off(app)
    assert h.maintenance(app) is False
    h.feature_enable(app, "preboot")
    assert {f.name: f.enabled for f in h.features(app)}["preboot"] is True
    h.feature_disable(app, "preboot")
    assert {f.name: f.enabled for f in h.features(app)}["preboot"] is False


@sandbox_only
def test_run_streams_and_reports_the_remote_status(h, deployed):
    lines: list[str] = []
    result = h.run(deployed, ["bash", "hello.sh"], stream=lines.append)
    assert result.exit_code == 0 and result.stdout == "hello from the slug\n"
    assert "hello from the slug" in lines
    with pytest.raises(RemoteCommandFailed, match="exited with status 3") as caught:
        h.run(deployed, ["sh", "-c", "echo before; exit 3"])
    assert caught.value.stdout == "before\n"
    assert h.run(deployed, "false", check=False).exit_code == 1
    assert h.run(deployed, "false", exit_code=False).exit_code == 0
    with pytest.raises(RemoteCommandFailed, match="without reporting an exit status"):
        h.run(deployed, "exit 0")


@sandbox_only
def test_run_keeps_its_words_away_from_the_cli(h, deployed):
    result = h.run(deployed, ["echo", "--noinput", "-x", "a b", "$HOME;"])
    assert result.stdout == "--noinput -x a b $HOME;\n"


@sandbox_only
def test_run_detached_ps_and_scale(h, deployed):
    assert (h.run_detached(deployed, ["echo", "hi"]) or "").startswith("run.")
    h.ps_scale(deployed, {"web": 2})
    assert sorted(d.name for d in h.ps(deployed) if d.type == "web") == ["web.1", "web.2"]


@sandbox_only
def test_pipelines_info_and_promote(h, heroku, sandbox, deployed, app_name):
    live = f"{app_name[:24]}-live"
    heroku("apps:create", live, "--no-remote")
    pipeline = f"{app_name[:20]}-pipe"
    heroku("pipelines:create", pipeline, "-a", deployed, "--stage", "staging")
    heroku("pipelines:add", pipeline, "-a", live, "--stage", "production")
    info = h.pipelines_info(pipeline)
    assert info.name == pipeline and info.apps("production") == [live] and info.apps("staging") == [deployed]
    targets = h.pipeline_promote(deployed, to=[live])
    assert [(t.app, t.succeeded) for t in targets] == [(live, True)]
    promoted = h.releases(live, num=1)[0]
    assert promoted.promoted_from == (deployed, h.releases(deployed, num=1)[0].version)
    sandbox.arm_fault(live, "promotion")
    with pytest.raises(CommandError, match=f"promotion of {deployed} failed: {live}: failed") as caught:
        h.pipeline_promote(deployed, to=[live])
    assert caught.value.exit_code == 1


@sandbox_only
def test_git_remote_and_push_to_the_sandbox(h, sandbox_env, app, tmp_path):
    git = Git(cwd=tmp_path, env=sandbox_env)
    git.execute(["init", "-q", "-b", "main"])
    (tmp_path / "requirements.txt").write_text("")
    (tmp_path / "Procfile").write_text("web: true\n")
    git.execute(["add", "-A"])
    git.execute(["commit", "-q", "-m", "first"])
    url = h.git_remote(app, "heroku")
    assert url and git.remote_url("heroku") == url
    lines: list[str] = []
    git.push("heroku", "main:refs/heads/main", stream=lines.append)
    assert any(line.startswith("remote:") for line in lines)
    release = h.releases(app, num=1)[0]
    assert release.deployed_sha and git.rev_parse("HEAD").startswith(release.deployed_sha)


@sandbox_only
def test_addons_and_postgres(h, heroku, app, tmp_path):
    heroku("addons:create", "heroku-postgresql", "-a", app)
    assert [a.is_postgres for a in h.addons(app)] == [True]
    assert "Plan" in h.pg_info(app)["DATABASE_URL"]
    assert h.pg_backups_capture(app) == "b001"
    backups = h.pg_backups(app)
    assert [(b.name, b.kind, b.succeeded) for b in backups] == [("b001", "backup", True)]
    assert h.pg_backups_url(app, "b001").startswith("https://")
    assert h.pg_backups_download(app, "b001", "copy.dump").stat().st_size > 0
    h.pg_backups_restore("b001", app, confirm=app)
    assert [b.kind for b in h.pg_backups(app)] == ["backup", "restore"]
    h.pg_reset(app, confirm=app)
    with pytest.raises(CommandError, match="did not match"):
        h.pg_reset(app, confirm="some-other-app")
