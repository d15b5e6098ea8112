"""The hardening issue's config items, without Heroku: every change asks, values off command lines,
Invoke's ``--debug`` masked, bad input a clear error, never a traceback.

The same items end to end — the real CLI, the sandbox, releases counted there — are in
``test_config_e2e.py``.
"""
from __future__ import annotations

import io
import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings as hsettings, strategies as st
from _support.fakes import FakeApi
from test_config_unit import SECRET, fake, project, run_task  # noqa: F401 (fake, project: fixtures)

from heroku_tools import configvars as cv
from heroku_tools.confirm import ConfirmationRefused, confirm_change
from heroku_tools.errors import HerokuToolsError
from heroku_tools.git import Git
from heroku_tools.heroku_api import PlatformAPI, PlatformAPIError
from heroku_tools.output import Console
from heroku_tools.session import Session
from heroku_tools.settings import Environment, load

QUIET = Console(report=lambda text: None, say=lambda text: None, warn=lambda text: None)


# -- every change asks -------------------------------------------------------------------------------------


class Terminal(io.StringIO):
    """A stdin that says it is a terminal."""

    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("protected", [True, False])
def test_confirm_change_is_one_rule_for_every_environment(protected, monkeypatch):
    env = Environment(label="uat", app_name="my-app-uat", branch="main", protected=protected)
    monkeypatch.setattr("sys.stdin", io.StringIO(""))  # no terminal
    with pytest.raises(ConfirmationRefused, match="refusing to set A on uat .* without confirmation"):
        confirm_change(env, "set A on uat (my-app-uat)")
    with pytest.raises(ConfirmationRefused, match="does not match the app being changed"):
        confirm_change(env, "set A on uat (my-app-uat)", confirm_app="my-app-live")
    confirm_change(env, "set A on uat (my-app-uat)", confirm_app="my-app-uat")
    # on a terminal the code is asked for, on the console's prompt stream
    prompt = io.StringIO()
    monkeypatch.setattr("sys.stdin", Terminal("000000\n"))
    with pytest.raises(ConfirmationRefused, match="the code did not match"):
        confirm_change(env, "set A on uat (my-app-uat)", console=Console(prompt=prompt))
    assert prompt.getvalue().startswith("Type ") and prompt.getvalue().endswith(" to set A on uat (my-app-uat): ")
    confirm_change(env, "set A on uat (my-app-uat)", read=lambda text: text.split()[1])


def test_json_runs_ask_for_the_code_on_stderr():
    assert Console.for_json().prompt is not None and Console().prompt is None


# -- values go through the Platform API, in the body of one request ----------------------------------------------


class StubAPI(BaseHTTPRequestHandler):
    """Answers the PATCH of config vars as ``answers`` says; records what it was sent."""

    answers: list[tuple[int, bytes]] = []
    received: list[dict] = []

    def do_PATCH(self):  # noqa: N802 (http.server's naming)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append({"path": self.path, "headers": dict(self.headers), "body": json.loads(body)})
        status, answer = self.answers.pop(0)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args):
        pass


@pytest.fixture
def stub_api():
    server = ThreadingHTTPServer(("127.0.0.1", 0), StubAPI)
    StubAPI.answers, StubAPI.received = [], []
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield PlatformAPI("token-123", environ={"HEROKU_HOST": f"http://127.0.0.1:{server.server_port}"})
    server.shutdown()


def test_update_config_vars_is_one_patch_with_a_json_body(stub_api):
    StubAPI.answers.append((200, json.dumps({"A": SECRET}).encode()))
    assert stub_api.update_config_vars("my app", {"A": SECRET, "GONE": None}) == {"A": SECRET}
    (request,) = StubAPI.received
    assert request["path"] == "/apps/my%20app/config-vars"
    assert request["body"] == {"A": SECRET, "GONE": None}
    assert request["headers"]["Content-Type"] == "application/json"
    assert request["headers"]["Authorization"] == "Bearer token-123"
    assert request["headers"]["Accept"] == "application/vnd.heroku+json; version=3"


@pytest.mark.parametrize("status, answer, reason", [
    (422, b'{"id": "invalid_params", "message": "Invalid config var name."}', "Invalid config var name."),
    (503, b"<html>busy</html>", "Service Unavailable"),
    (200, b"not json", "the answer is not JSON"),
])
def test_update_config_vars_errors_are_platform_api_errors_without_values(stub_api, status, answer, reason):
    StubAPI.answers.append((status, answer))
    with pytest.raises(PlatformAPIError) as caught:
        stub_api.update_config_vars("app", {"A": SECRET})
    assert caught.value.reason == reason and caught.value.status == (status if status != 200 else 0)
    assert SECRET not in caught.value.render()


# -- Invoke's --debug logging gets our mask -------------------------------------------------------------------


@pytest.mark.parametrize("argv", [
    ["config.set", "uat", f"SECRET_KEY={SECRET}", "--dry-run"],
    ["config.set", "uat", f"--var=SECRET_KEY={SECRET}", "--dry-run"],
    [f"config.set:uat,SECRET_KEY={SECRET},confirm=my-app-uat"],
])
def test_debug_logging_masks_values_of_key_value_arguments(fake, capsys, caplog, argv):  # noqa: F811
    with caplog.at_level(logging.DEBUG):
        code, out, err = run_task(["--debug", *argv], capsys)
    assert code == 0, err
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "SECRET_KEY=…" in logged  # Invoke did log the argument: masked
    assert SECRET not in logged + out + err


def test_the_mask_keeps_what_is_not_a_value():
    assert cv.mask_arguments("Starting argv: ['config.set', '--env=uat', '--var=A=s3cret', '--confirm=my-app']") == (
        "Starting argv: ['config.set', '--env=uat', '--var=A=…', '--confirm=my-app']")
    assert cv.mask_arguments("""kwargs: {'var': ["Q=it's", 'B=a\\'b"c'], 'dry_run': True}""") == (
        """kwargs: {'var': ["Q=…", 'B=…'], 'dry_run': True}""")


# -- bad input: one clear error naming the key and the limit, nothing applied, --dry-run too -------------------


BIG = "x" * 250_000  # the 200-300 KB value: "Argument list too long" through the CLI


@pytest.mark.parametrize("dry_run", [True, False])
@pytest.mark.parametrize("settings_file, message", [
    ('settings:\n  GOOD: ok\n  BAD: "a\\0b"\n', "BAD: the value contains a NUL byte"),
    ('settings:\n  BAD: "\\ud800"\n', "BAD: the value is not valid Unicode text"),
    (f"settings:\n  BIG: {BIG}\n", "BIG: 250,003 bytes with its name, over Heroku's limit of 32 kB (32,768 bytes)"),
    ("settings:\n" + "".join(f"  V{i}: {'y' * 9000}\n" for i in range(4)),
     "after this change the app's config vars would take 36,"),
    ('settings:\n  "BAD\\x01KEY": 1\n', "config/uat.yml, line 2: settings: 'BAD\\x01KEY' is not a usable config var name"),
])
def test_push_refuses_what_heroku_cannot_hold(fake, capsys, project, settings_file, message, dry_run):  # noqa: F811
    (project / "config" / "uat.yml").write_text(settings_file)
    code, out, err = run_task(["config.push", "uat", "--confirm", "my-app-uat", *(["--dry-run"] * dry_run)], capsys)
    assert code == 1 and message in err, err
    assert "Traceback" not in err and "dry run" not in err
    assert not any(call[0] == "api:patch" for call in fake.calls)
    for value in ("a\x00b", BIG, "y" * 9000):
        assert value not in out + err


def test_set_refuses_a_name_heroku_refuses_and_a_nul_byte(fake, capsys):  # noqa: F811
    code, _, err = run_task(["config.set", "uat", "BAD\x01KEY=1", "--confirm", "my-app-uat"], capsys)
    assert code == 1 and "'BAD\\x01KEY' is not a usable config var name" in err
    session = Session(load(), Git(), fake, FakeApi(fake))
    with pytest.raises(cv.ConfigError, match="A: the value contains a NUL byte") as caught:
        cv.set_vars(session, "uat", {"A": "x\x00" + SECRET}, confirm_app="my-app-uat", console=QUIET)
    assert SECRET not in caught.value.render()
    with pytest.raises(cv.ConfigError, match="A: the value contains a NUL byte"):
        cv.apply(fake, "my-app-uat", {"A": "x\x00y"})
    assert not any(call[0] == "api:patch" for call in fake.calls)


def test_values_are_sent_as_heroku_stores_them(fake):  # noqa: F811
    session = Session(load(), Git(), fake, FakeApi(fake))
    cv.set_vars(session, "uat", {"FLAG": True, "WORKERS": 2}, confirm_app="my-app-uat", console=QUIET)
    assert fake.apps["my-app-uat"]["FLAG"] == "true" and fake.apps["my-app-uat"]["WORKERS"] == "2"


def test_the_total_counts_what_the_app_keeps(fake, capsys):  # noqa: F811
    fake.apps["my-app-uat"]["HUGE"] = "z" * 30_000
    code, _, err = run_task(["config.set", "uat", f"MORE={'m' * 3000}", "--confirm", "my-app-uat"], capsys)
    assert code == 1 and "would take 33," in err and "largest, in bytes: HUGE 30,004, MORE 3,004" in err
    code, _, err = run_task(["config.set", "uat", "SMALL=1", "--confirm", "my-app-uat"], capsys)
    assert code == 0, err


# -- clear error or success, never a traceback --------------------------------------------------------------------

names = st.one_of(
    st.from_regex(r"[A-Z_][A-Z0-9_]{0,8}", fullmatch=True),
    st.text(max_size=6),  # anything: spaces, '=', '-', control characters, NUL, surrogates
)
scalars = st.one_of(
    st.text(max_size=30), st.integers(), st.floats(), st.booleans(), st.none(),
    st.just("${HOME}"), st.just("${UNSET_VARIABLE_X}"), st.just("${BROKEN"), st.just("$$"),
    st.builds(lambda n: "v" * n, st.sampled_from([33_000, 8_500])),
)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=2) | st.dictionaries(names, inner, max_size=2),
                      max_leaves=4)


def _yaml(data) -> str:
    try:
        return yaml.safe_dump(data, allow_unicode=True)
    except yaml.YAMLError:
        return "settings: {}\n"


def _dotenv(pairs: list[tuple[str, str, str]]) -> str:
    return "".join(f"{key}={quote}{value}{quote}\n" for key, value, quote in pairs)


settings_texts = st.one_of(
    st.dictionaries(names, values, max_size=5).map(_yaml),
    st.dictionaries(names, values, max_size=5).map(lambda data: _yaml({"settings": data})),
    st.lists(st.tuples(names, st.text(max_size=20), st.sampled_from(["", "'", '"'])), max_size=5).map(_dotenv),
    st.text(max_size=80),  # not even a settings file
    st.sampled_from(["a: &x [*x]\n", "settings:\n  A: !!binary AAAA\n", "A='unterminated\n", "\ufeffA=1\n",
                     "settings: [1, 2]\n", "A: 2020-01-01\n", "? [1]\n: 2\n"]),
)


@hsettings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=settings_texts, as_dotenv=st.booleans(), encoding=st.sampled_from(["utf-8", "latin-1", "utf-16"]),
       command=st.sampled_from(["diff", "push", "push --dry-run"]))
@example(text="A=" + "\x00", as_dotenv=True, encoding="utf-8", command="push")
@example(text="settings:\n  A: \"\\0\"\n", as_dotenv=False, encoding="utf-8", command="push --dry-run")
@example(text="a: &x [*x]\n", as_dotenv=False, encoding="utf-8", command="diff")
def test_settings_files_give_a_clear_error_or_success(fake, capsys, project, text, as_dotenv, encoding,  # noqa: F811
                                                      command):
    """config.diff and config.push over arbitrary settings files: exit 0/1 (2 for diff), one message, no traceback."""
    name = "config/dev.env" if as_dotenv else "config/uat.yml"
    label = "dev" if as_dotenv else "uat"
    try:
        data = text.encode(encoding)
    except UnicodeEncodeError:
        data = text.encode("utf-8", "surrogatepass")
    (project / name).write_bytes(data)
    if command == "diff":
        argv = ["config.diff", label, name]
    else:
        argv = ["config.push", label, "--confirm", f"my-app-{label}", *command.split()[1:]]
    code, out, err = run_task(argv, capsys)  # anything but a HerokuToolsError would raise out of here
    assert code in (0, 1, 2) and "Traceback" not in out + err
    if code == 2 or (code == 1 and command != "diff"):  # diff's 1 is "they differ", not an error
        assert err.strip(), "an error without a message"


@hsettings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(changes=st.dictionaries(names, st.one_of(st.text(max_size=40), st.integers(), st.booleans(), st.none(),
                                                st.builds(lambda n: "w" * n, st.sampled_from([40_000, 9_000]))),
                               max_size=5),
       unset=st.lists(names, max_size=3))
def test_set_and_unset_give_a_clear_error_or_success(fake, changes, unset):  # noqa: F811
    """The operations a fabfile calls, with any names and values: a HerokuToolsError or success, nothing else."""
    session = Session(load(), Git(), fake, FakeApi(fake))
    for operation in (lambda: cv.set_vars(session, "uat", changes, confirm_app="my-app-uat", console=QUIET),
                      lambda: cv.unset_vars(session, "uat", unset, confirm_app="my-app-uat", console=QUIET)):
        try:
            operation()
        except HerokuToolsError as error:
            assert error.render().strip()


def test_protection_reads_the_protected_apps_through_the_platform_api(fake, capsys):  # noqa: F811
    """A change to uat checks live's databases with one Platform API GET, not a heroku CLI start-up."""
    code, _, err = run_task(["config.set", "uat", "NEW=1", "--confirm", "my-app-uat"], capsys)
    assert code == 0, err
    assert ("api:config-vars", "my-app-live") in fake.calls and ("config", "my-app-live") not in fake.calls
