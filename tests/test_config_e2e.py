"""The ``config`` collection end to end: the console scripts, the real heroku CLI, the sandbox.

Releases are counted in the sandbox itself, so "one release" means what Heroku
would show. Secrets set here are long random strings, searched for in every
byte a command prints unless ``--show-values`` was asked for.
"""
from __future__ import annotations

import json
import os
import secrets
import stat
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pexpect
import pytest
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from heroku_tools import configvars as cv
from heroku_tools.heroku_api import PlatformAPI

pytestmark = pytest.mark.sandbox

BIN = Path(sys.executable).parent
_counter = iter(range(1, 1_000_000))

SETTINGS = """\
environments:
  - label: live
    app_name: {live}
    branch: master
    settings:
      DEBUG: false
      WORKERS: 2
      SENTRY_DSN: "${{SENTRY_DSN}}"
      OLD_FLAG: null
    config_ignore: [SENTRY_ENVIRONMENT]
  - label: uat
    app_name: {uat}
    branch: master
    settings: uat.env
"""


def prefix() -> str:
    return f"cfg{next(_counter)}-{os.getpid() % 10000}-{secrets.token_hex(2)}"


class Project:
    """A project directory with heroku-tools.yml naming a uat and a live app in the sandbox."""

    def __init__(self, sandbox, root: Path, home: Path):
        self.sandbox = sandbox
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        home.mkdir(parents=True, exist_ok=True)
        name = prefix()
        self.apps = {"uat": f"{name}-uat", "live": f"{name}-live"}
        env = sandbox.cli_env(home)
        env.pop("SENTRY_DSN", None)
        env.update({"PATH": f"{BIN}{os.pathsep}{env['PATH']}", "XDG_CONFIG_HOME": str(home / ".config"),
                    "NO_COLOR": "1", "HEROKU_TOOLS_HEROKU": str(sandbox.heroku_bin)})
        self.env = env
        (root / "heroku-tools.yml").write_text(SETTINGS.format(**self.apps))
        (root / "uat.env").write_text("DEBUG=true\nWORKERS=1\n")
        for app in self.apps.values():
            self.heroku("apps:create", app, "--no-remote")

    def heroku(self, *args: str) -> subprocess.CompletedProcess:
        result = subprocess.run(["heroku", *args], env=self.env, cwd=self.root, capture_output=True, text=True,
                                stdin=subprocess.DEVNULL, timeout=120, check=False)
        assert result.returncode == 0, f"heroku {args[0]}: {result.stderr}"
        return result

    def run(self, *args: str, binary: str = "heroku-tools", extra_env: dict | None = None
            ) -> subprocess.CompletedProcess:
        return subprocess.run([str(BIN / binary), *args], env={**self.env, **(extra_env or {})}, cwd=self.root,
                              capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=180, check=False)

    def config(self, label: str) -> dict:
        return self.sandbox.api("GET", f"/apps/{self.apps[label]}/config-vars")

    def releases(self, label: str) -> list[str]:
        """Release descriptions, oldest first."""
        releases = self.sandbox.api("GET", f"/apps/{self.apps[label]}/releases")
        return [r["description"] for r in sorted(releases, key=lambda r: r["version"])]

    def set_config(self, label: str, values: dict) -> None:
        self.heroku("config:set", *(f"{k}={v}" for k, v in values.items()), "-a", self.apps[label])


def no_secret(result: subprocess.CompletedProcess, *values: str) -> None:
    for value in values:
        assert value not in result.stdout and value not in result.stderr, f"a secret was printed:\n{result.stderr}"


# -- a shared pair of apps for the read-only tasks -----------------------------------------------------------

UAT_SECRET = "uat-" + secrets.token_hex(16)
LIVE_SECRET = "live-" + secrets.token_hex(16)


@pytest.fixture(scope="module")
def world(sandbox, tmp_path_factory) -> Project:
    """uat and live with drift between them; live has a Postgres add-on."""
    base = tmp_path_factory.mktemp("config-world")
    project = Project(sandbox, base / "project", base / "home")
    project.heroku("addons:create", "heroku-postgresql", "-a", project.apps["live"])
    project.set_config("uat", {"SECRET_KEY": UAT_SECRET, "DEBUG": "true", "ALLOWED_HOSTS": "example.com",
                               "SENTRY_ENVIRONMENT": "uat", "DEBUG_TOOLBAR": "on"})
    project.set_config("live", {"SECRET_KEY": LIVE_SECRET, "DEBUG": "false", "ALLOWED_HOSTS": "example.com",
                                "SENTRY_ENVIRONMENT": "live", "WORKERS": "2"})
    return project


def test_diff_uat_live(world):
    result = world.run("config.diff", "uat", "live")
    print(result.stdout)
    assert result.returncode == 1, result.stderr
    no_secret(result, UAT_SECRET, LIVE_SECRET, world.config("live")["DATABASE_URL"])
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"Comparing uat ({world.apps['uat']}) with live ({world.apps['live']}) (values masked")
    rows = {line.split()[1]: line for line in lines[2:-1]}
    assert rows["DEBUG"].startswith("! ") and rows["SECRET_KEY"].startswith("! ")
    assert rows["DEBUG_TOOLBAR"].startswith("< ") and rows["WORKERS"].startswith("> ")
    assert rows["ALLOWED_HOSTS"].startswith("= ")
    assert rows["DATABASE_URL"].startswith("~ ") and "add-on heroku-postgresql" in rows["DATABASE_URL"]
    assert rows["SENTRY_ENVIRONMENT"].startswith("# ")  # live's config_ignore
    # the same value has the same fingerprint on both sides
    equal = rows["ALLOWED_HOSTS"].split()
    assert equal[2:5] == equal[5:8] and equal[2] == "<11"
    assert lines[-1] == ("4 differences: 2 different, 1 only in uat, 1 only in live; 1 equal; "
                         "not compared: 1 set by add-ons, 1 ignored")


def test_diff_exit_codes_json_and_values(world):
    same = world.run("config.diff", "live", "live")
    assert same.returncode == 0 and same.stdout.splitlines()[-1].startswith("live and live match")
    error = world.run("config.diff", "uat", "lvie")
    assert (error.returncode, error.stdout) == (2, "")
    assert error.stderr.startswith("unknown environment 'lvie'; did you mean 'live'?")
    data = json.loads(world.run("config.diff", "uat", "live", "--json").stdout)
    assert data["match"] is False and data["b"]["app"] == world.apps["live"]
    statuses = {v["key"]: v["status"] for v in data["vars"]}
    assert statuses["DATABASE_URL"] == "addon" and statuses["DEBUG"] == "different"
    assert UAT_SECRET not in json.dumps(data)
    shown = world.run("config.diff", "uat", "live", "--show-values")
    assert shown.returncode == 1 and UAT_SECRET in shown.stdout and LIVE_SECRET in shown.stdout


def test_diff_an_environment_against_its_settings_and_a_file(world):
    (world.root / "live.yml").write_text("settings:\n  SECRET_KEY: ${LIVE_KEY}\n  DEBUG: false\n  WORKERS: 2\n")
    result = world.run("config.diff", "live", "live.yml", extra_env={"LIVE_KEY": LIVE_SECRET})
    assert result.returncode == 0, result.stderr  # live has what the file declares; the rest is not drift
    rows = {line.split()[1]: line[0] for line in result.stdout.splitlines()[2:-1]}
    assert rows == {"SECRET_KEY": "=", "DEBUG": "=", "WORKERS": "=", "ALLOWED_HOSTS": "?", "DATABASE_URL": "~",
                    "SENTRY_ENVIRONMENT": "#"}
    assert result.stdout.splitlines()[-1] == (
        "live and live.yml match: 3 vars equal; not compared: 1 not declared in live.yml, 1 set by add-ons, 1 ignored"
    )
    no_secret(result, LIVE_SECRET)
    declared = world.run("config.diff", "@uat", "uat")
    assert declared.returncode == 1
    assert {line.split()[1]: line[0] for line in declared.stdout.splitlines()[2:-1]}["WORKERS"] == "<"


def test_show_masked_text_and_json(world):
    result = world.run("config.show", "live")
    assert result.returncode == 0, result.stderr
    no_secret(result, LIVE_SECRET, world.config("live")["DATABASE_URL"])
    database = next(line for line in result.stdout.splitlines() if "DATABASE_URL" in line)
    assert database.rstrip().endswith("(set by heroku-postgresql)")
    data = json.loads(world.run("config.show", "live", "--json").stdout)
    assert data["vars"]["DATABASE_URL"]["managed_by"] == "heroku-postgresql"
    assert data["vars"]["SECRET_KEY"]["length"] == len(LIVE_SECRET) and "value" not in data["vars"]["SECRET_KEY"]


def test_pull_writes_an_owner_only_dotenv_that_reads_back(world):
    result = world.run("config.pull", "live", "-o", "live.env")
    assert result.returncode == 0, result.stderr
    path = world.root / "live.env"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    expected = {k: v for k, v in world.config("live").items() if k != "DATABASE_URL"}
    assert cv.parse_dotenv(path.read_text()) == expected
    assert "left out, set by add-ons: DATABASE_URL" in result.stderr
    no_secret(result, LIVE_SECRET)
    again = world.run("config.pull", "live", "-o", "live.env")
    assert again.returncode == 1 and "live.env exists: pass --force" in again.stderr
    forced = world.run("config.pull", "live", "-o", "live.env", "--force", "--include-addons")
    assert forced.returncode == 0 and "DATABASE_URL=" in path.read_text()
    try:
        import dotenv
    except ImportError:
        return
    assert dict(dotenv.dotenv_values(path, interpolate=False)) == world.config("live")


def test_fab_and_inv_calling_conventions(world):
    module = textwrap.dedent("""\
        from invoke import Collection
        from heroku_tools import tasks
        from heroku_tools.colon import enable_colon_syntax

        ns = Collection(tasks.config)
        enable_colon_syntax()
        """)
    (world.root / "fabfile.py").write_text(module)
    (world.root / "tasks.py").write_text(module)
    fab = world.run("config.diff:uat,live", binary="fab")
    inv = world.run("config.diff", "uat", "live", binary="inv")
    program = world.run("config.diff", "uat", "live")
    assert fab.returncode == inv.returncode == program.returncode == 1, fab.stderr + inv.stderr
    assert fab.stdout.splitlines()[2:] == inv.stdout.splitlines()[2:] == program.stdout.splitlines()[2:]


def test_missing_reference_stops_push_before_heroku_is_asked(world):
    before = world.releases("live")
    result = world.run("config.push", "live", "--confirm", world.apps["live"])
    assert result.returncode == 1
    assert "${SENTRY_DSN} is not set in this environment (needed by SENTRY_DSN); nothing was changed" in result.stderr
    assert result.stdout == "" and world.releases("live") == before


# -- changes: each test has its own apps ---------------------------------------------------------------------------


@pytest.fixture
def project(sandbox, tmp_path) -> Project:
    return Project(sandbox, tmp_path / "project", tmp_path / "home")


def test_push_dry_run_then_one_release_for_adds_and_changes(project):
    dsn = "https://" + secrets.token_hex(12) + "@sentry.example.com/1"
    dsn_env = {"SENTRY_DSN": dsn}
    project.set_config("live", {"DEBUG": "true", "KEEP": "kept", "OLD_FLAG": "1"})
    before = project.releases("live")
    config_before = project.config("live")

    dry = project.run("config.push", "live", "--dry-run", extra_env=dsn_env)
    assert dry.returncode == 0, dry.stderr
    assert project.releases("live") == before and project.config("live") == config_before
    signs = {line.split()[1]: line.split()[0] for line in dry.stdout.splitlines()[1:-1]}
    assert signs == {"SENTRY_DSN": "+", "WORKERS": "+", "DEBUG": "!", "OLD_FLAG": "-", "KEEP": "?"}
    assert dry.stdout.splitlines()[-1] == (
        "2 to add, 1 to change, 1 to remove: 1 release; 1 on the app only (left alone)"
    )
    no_secret(dry, dsn)

    pushed = project.run("config.push", "live", "--confirm", project.apps["live"], extra_env=dsn_env)
    assert pushed.returncode == 0, pushed.stderr
    # additions, changes and removals: ONE release (one PATCH of the Platform API)
    assert project.releases("live")[len(before):] == [
        "Set DEBUG, SENTRY_DSN, WORKERS config vars and remove OLD_FLAG config vars"]
    assert project.config("live") == {"DEBUG": "false", "KEEP": "kept", "SENTRY_DSN": dsn, "WORKERS": "2"}
    no_secret(pushed, dsn)

    # a new secret and a drifted value: adds and changes are ONE release
    dsn2 = dsn.replace("sentry", "sentry2")
    project.set_config("live", {"DEBUG": "true"})
    before = project.releases("live")
    again = project.run("--debug", "config.push", "live", "--confirm", project.apps["live"],
                        extra_env={"SENTRY_DSN": dsn2})
    assert again.returncode == 0, again.stderr
    assert project.releases("live")[len(before):] == ["Set DEBUG, SENTRY_DSN config vars"]
    no_secret(again, dsn, dsn2)  # not even in --debug logging

    settled = project.run("config.push", "live", "--confirm", project.apps["live"], extra_env={"SENTRY_DSN": dsn2})
    assert settled.returncode == 0 and "already matches" in settled.stderr
    assert project.releases("live")[len(before) + 1:] == []


def test_push_asks_for_the_code_on_a_terminal(project):
    project.set_config("live", {"DEBUG": "true"})
    before = project.releases("live")
    env = {**project.env, "SENTRY_DSN": "https://x@sentry.example.com/2"}

    def push(answer):
        child = pexpect.spawn(str(BIN / "heroku-tools"), ["config.push", "live"], cwd=str(project.root), env=env,
                              encoding="utf-8", timeout=90)
        child.expect(r"Type (\d{6}) to push 3 config var changes to live \(" + project.apps["live"] + r"\): ")
        code = child.match.group(1)
        child.sendline(answer(code))
        child.expect(pexpect.EOF)
        child.close()
        return child.exitstatus, child.before

    status, text = push(lambda code: f"{(int(code) + 1) % 1_000_000:06d}")
    assert status == 1 and "the code did not match; nothing was changed on" in text
    assert project.releases("live") == before
    status, text = push(lambda code: code)
    assert status == 0 and "now matches" in text
    assert project.releases("live")[len(before):] == ["Set DEBUG, SENTRY_DSN, WORKERS config vars"]


def test_set_and_unset_a_protected_environment(project):
    secret = "tricky " + secrets.token_hex(8)
    live = project.apps["live"]
    before = project.releases("live")
    refused = project.run("config.set", "live", f"API_KEY={secret}", "FLAG=on")
    assert refused.returncode == 1 and "without confirmation" in refused.stderr
    wrong = project.run("config.set", "live", f"API_KEY={secret}", "FLAG=on", "--confirm", project.apps["uat"])
    assert wrong.returncode == 1 and f"does not match the app being changed ({live})" in wrong.stderr
    assert project.releases("live") == before
    done = project.run("config.set", "live", f"API_KEY={secret}", "FLAG=on", "--confirm", live)
    assert done.returncode == 0, done.stderr
    assert project.releases("live")[len(before):] == ["Set API_KEY, FLAG config vars"]
    assert project.config("live") == {"API_KEY": secret, "FLAG": "on"}
    for result in (refused, wrong, done):
        no_secret(result, secret)
    removed = project.run("config.unset", "live", "API_KEY", "FLAG", "NOT_THERE", "--confirm", live)
    assert removed.returncode == 0, removed.stderr
    assert project.releases("live")[len(before) + 1:] == ["Remove API_KEY, FLAG config vars"]
    # an unprotected environment needs the code too (every change asks)
    uat = project.run("config.set", "uat", "A=1", "--confirm", project.apps["uat"])
    assert uat.returncode == 0 and project.config("uat") == {"A": "1"}


def test_set_round_trips_awkward_values_through_the_console_script(project):
    values = {
        "SPACES": "  two  spaces  ", "QUOTES": "it's \"quoted\"", "EQUALS": "a=b=c", "DOLLAR": "$HOME ${HOME} $$",
        "BACKSLASH": "C:\\path\\n\\", "NEWLINES": "line one\nline two\n", "UNICODE": "héllo wörld ✓ 日本",
        "DASH": "-a --flag", "EMPTY": "", "SEMICOLON": "a; rm -rf /; `x` $(y)", "TAB": "a\tb",
    }
    result = project.run("config.set", "uat", *(f"{k}={v}" for k, v in values.items()), "--confirm", project.apps["uat"])
    assert result.returncode == 0, result.stderr
    assert json.loads(project.heroku("config", "--json", "-a", project.apps["uat"]).stdout) == values
    assert len(project.releases("uat")) == 2  # the initial release and ONE config:set


def test_failure_part_way_says_what_was_and_was_not_applied(project):
    dsn = "https://" + secrets.token_hex(12) + "@sentry.example.com/3"
    env = {"SENTRY_DSN": dsn}
    live = project.apps["live"]
    project.set_config("live", {"DEBUG": "true", "OLD_FLAG": "1"})
    before = project.releases("live")

    # the sandbox's `config` fault: the next PATCH of the config vars fails with a 503, changing nothing
    project.sandbox.arm_fault(live, "config")
    failed_set = project.run("config.push", "live", "--confirm", live, extra_env=env)
    assert failed_set.returncode == 1
    # The change held live's lock first: a file, as this project is no git repository (see docs/lock.rst).
    locked, _, failure = failed_set.stderr.partition("\n")
    assert locked.startswith("==> locked live on this machine only (the project is not a git repository)")
    assert failure.startswith(
        f"changing the config vars of {live} failed: Config vars could not be updated right now. Please try again later.")
    assert f"nothing was applied on {live}" in failed_set.stderr
    assert "not applied: DEBUG, SENTRY_DSN, WORKERS, OLD_FLAG" in failed_set.stderr
    assert "To recover:\n  $ heroku-tools config.push live   # safe to repeat" in failed_set.stderr
    assert "Traceback" not in failed_set.stderr and project.releases("live") == before

    # `config-unset` fails the next PATCH that only removes vars: config.unset's, the same kind of failure
    project.sandbox.arm_fault(live, "config-unset")
    failed_unset = project.run("--debug", "config.unset", "live", "OLD_FLAG", "--confirm", live)
    assert failed_unset.returncode == 1
    message = failed_unset.stderr[failed_unset.stderr.index(f"changing the config vars of {live} failed"):]
    assert message.startswith(f"changing the config vars of {live} failed: Config vars could not be updated right now.")
    assert f"State now:\n  - nothing was applied on {live}\n  - not applied: OLD_FLAG\n" in message
    assert "To recover:\n  $ heroku-tools config.unset live OLD_FLAG" in message
    assert "Traceback" not in failed_unset.stderr and project.releases("live") == before
    for result in (failed_set, failed_unset):
        no_secret(result, dsn)

    recovered = project.run("config.push", "live", "--confirm", live, extra_env=env)
    assert recovered.returncode == 0, recovered.stderr
    signs = [line.split()[0] for line in recovered.stdout.splitlines()[1:-1]]
    assert signs == ["+", "+", "!", "-"]
    assert project.releases("live")[len(before):] == [
        "Set DEBUG, SENTRY_DSN, WORKERS config vars and remove OLD_FLAG config vars"]


# -- hardening: every change asks, values off command lines, bad input -------------------------------------------------


def test_every_change_asks_on_every_environment(project):
    """uat is not protected: config.set and config.unset still need the code, or --confirm APP; no terminal, no change."""
    uat, live = project.apps["uat"], project.apps["live"]
    project.set_config("uat", {"GONE": "x"})
    before = project.releases("uat")
    refused_set = project.run("config.set", "uat", "A=1")
    assert refused_set.returncode == 1
    assert f"refusing to set A on uat ({uat}) without confirmation: no terminal" in refused_set.stderr
    refused_unset = project.run("config.unset", "uat", "GONE")
    assert refused_unset.returncode == 1
    assert f"refusing to remove GONE from uat ({uat}) without confirmation" in refused_unset.stderr
    wrong = project.run("config.set", "uat", "A=1", "--confirm", live)
    assert wrong.returncode == 1 and f"does not match the app being changed ({uat})" in wrong.stderr
    assert project.releases("uat") == before and project.config("uat") == {"GONE": "x"}

    child = pexpect.spawn(str(BIN / "heroku-tools"), ["config.set", "uat", "A=1"], cwd=str(project.root),
                          env=project.env, encoding="utf-8", timeout=90)
    child.expect(r"Type (\d{6}) to set A on uat \(" + uat + r"\): ")
    child.sendline(child.match.group(1))
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    removed = project.run("config.unset", "uat", "GONE", "--confirm", uat)
    assert removed.returncode == 0, removed.stderr
    assert project.releases("uat")[len(before):] == ["Set A config vars", "Remove GONE config vars"]


class CommandLines:
    """Watches every process's command line (``/proc/*/cmdline``, what ``ps`` shows) for ``needles``."""

    def __init__(self, *needles: str):
        self.needles = [needle.encode() for needle in needles]
        self.seen: list[list[str]] = []
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def __enter__(self) -> CommandLines:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _watch(self) -> None:
        me = str(os.getpid())
        while not self._stop.is_set():
            self.samples += 1
            for pid in os.listdir("/proc"):
                if not pid.isdigit() or pid == me:
                    continue
                try:
                    argv = Path(f"/proc/{pid}/cmdline").read_bytes()
                except OSError:
                    continue
                if any(needle in argv for needle in self.needles):
                    self.seen.append([part.decode(errors="replace") for part in argv.split(b"\0")])
            time.sleep(0.002)

    def others(self, program: str) -> list[list[str]]:
        """What was seen on command lines other than ``program``'s own (the one the user typed)."""
        return [argv for argv in self.seen if not any(part.endswith(program) for part in argv[:2])]


@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="reads command lines from /proc")
def test_values_never_reach_a_command_line(project):
    """The values go in the body of one Platform API request: no heroku process ever holds them in its argv.

    Today's main passed them to ``heroku config:set`` as arguments — also the ones from ``${VAR}`` and
    settings files, which were never on the user's own command line.
    """
    typed = "typed-" + secrets.token_hex(16)
    from_env = "https://" + secrets.token_hex(16) + "@sentry.example.com/9"
    uat, live = project.apps["uat"], project.apps["live"]
    project.set_config("live", {"OLD_FLAG": "1"})
    before = project.releases("live")
    with CommandLines(typed, from_env) as watched:
        set_ = project.run("--debug", "config.set", "uat", f"API_KEY={typed}", "--confirm", uat)
        colon = project.run("--debug", f"config.set:uat,OTHER_KEY={typed},confirm={uat}")
        pushed = project.run("--debug", "config.push", "live", "--confirm", live, extra_env={"SENTRY_DSN": from_env})
    assert set_.returncode == colon.returncode == pushed.returncode == 0, set_.stderr + colon.stderr + pushed.stderr
    assert watched.samples > 50 and watched.seen  # it did see heroku-tools' own command line, typed by the user
    assert watched.others("heroku-tools") == []
    # Invoke's own --debug logging of the command line is masked like ours
    no_secret(set_, typed)
    no_secret(colon, typed)
    no_secret(pushed, from_env)
    assert "API_KEY=…" in set_.stderr and "OTHER_KEY=…" in colon.stderr
    assert project.config("uat") == {"API_KEY": typed, "OTHER_KEY": typed}
    # and a push of additions, changes and removals is one release
    assert project.releases("live")[len(before):] == [
        "Set DEBUG, SENTRY_DSN, WORKERS config vars and remove OLD_FLAG config vars"]


def test_bad_input_is_a_clear_error_and_changes_nothing(project):
    """A NUL byte, a value or a total over Heroku's 32 kB, a name Heroku refuses: exit 1 naming the key and the
    limit, never the value, no traceback, nothing sent — under --dry-run too."""
    uat = project.apps["uat"]
    project.set_config("uat", {"KEEP": "kept"})
    before, config = project.releases("uat"), project.config("uat")
    big = "b" * 250_000  # "Argument list too long" on today's main, through the CLI
    hidden = "nul-" + secrets.token_hex(8)
    cases = [
        (f"NUL_VALUE={hidden}\0tail\n", "NUL_VALUE: the value contains a NUL byte", hidden),
        (f"BIG={big}\n", "BIG: 250,003 bytes with its name, over Heroku's limit of 32 kB (32,768 bytes)", big[:100]),
        ("".join(f"PART{i}={'p' * 9000}\n" for i in range(4)),
         "after this change the app's config vars would take 36,", "p" * 100),
    ]
    for text, message, value in cases:
        (project.root / "uat.env").write_text(text)
        for extra in (["--dry-run"], ["--confirm", uat]):
            result = project.run("config.push", "uat", *extra)
            assert result.returncode == 1 and message in result.stderr, result.stderr
            assert "Traceback" not in result.stderr and value not in result.stdout + result.stderr
    refused_name = project.run("config.set", "uat", "BAD\x01NAME=1", "--confirm", uat)
    assert refused_name.returncode == 1 and "'BAD\\x01NAME' is not a usable config var name" in refused_name.stderr
    assert project.releases("uat") == before and project.config("uat") == config


# -- arbitrary values, through the real CLI --------------------------------------------------------------------------

values = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=40)


@pytest.fixture
def roundtrip_app(project) -> tuple[PlatformAPI, str, Project]:
    api = PlatformAPI(project.env["HEROKU_API_KEY"], environ=project.env)
    return api, project.apps["uat"], project


@hsettings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batch=st.lists(values, min_size=8, max_size=8))
def test_arbitrary_values_round_trip_exactly(roundtrip_app, batch):
    """Eight values per example, all in ONE request (the library's), read back by ``heroku config --json``."""
    api, app, project = roundtrip_app
    wanted = {f"V{i}": value for i, value in enumerate(batch)}
    cv.apply(api, app, wanted, verify=False)
    assert json.loads(project.heroku("config", "--json", "-a", app).stdout) == wanted
