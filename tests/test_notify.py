"""Notifications end to end: real deploys against the sandbox, real local HTTP receivers.

One project (uat only) and four receivers for the module: a Slack-compatible
one, a JSON webhook with an Authorization header, one answering 500 and one
that never answers in time. Each receiver's URL comes from an environment
variable, as a real webhook's secret would.
"""
from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest

from heroku_tools import Console, Session, configvars, deploy, rollback
from heroku_tools.errors import SettingsError
from heroku_tools.release import notify, operations
from heroku_tools.models import Commit
from heroku_tools.settings import parse
from _support.home import project_env
from _support.project import HEROKU_TOOLS, Project
from _support.webhooks import Receiver

SETTINGS = """\
# The sandbox of these tests runs no web dynos: nothing would answer a health check.
health: {{enabled: false}}
environments:
    - label:    uat
      app_name: {app}
      branch:   master
      notify:
        - slack: ${{TEST_SLACK_URL}}
        - webhook: ${{TEST_HOOK_URL}}
          headers:
            Authorization: Bearer ${{TEST_HOOK_TOKEN}}
{extra}"""
FLAKY = """\
        - webhook: ${TEST_FAILING_URL}
        - webhook: ${TEST_SLOW_URL}
"""
SECRET = "s3cr3t-t0ken"
TOKEN = "tok-123"
PAYLOAD_KEYS = {
    "action", "outcome", "environment", "app", "release", "tag", "commit_range", "commits", "deployer",
    "note", "source_app", "rollback_to", "duration_seconds", "error",
}


@pytest.fixture(scope="module")
def receivers():
    made = {"slack": Receiver(), "hook": Receiver(), "failing": Receiver(status=500), "slow": Receiver(delay=30)}
    yield made
    for receiver in made.values():
        receiver.close()


@pytest.fixture(scope="module")
def project(sandbox, tmp_path_factory, receivers):
    root = tmp_path_factory.mktemp("notify")
    env = project_env(sandbox, root, NO_COLOR="1")
    env.update({
        "TEST_SLACK_URL": receivers["slack"].url(),
        "TEST_HOOK_URL": receivers["hook"].url("/hooks/" + SECRET),
        "TEST_HOOK_TOKEN": TOKEN,
        "TEST_FAILING_URL": receivers["failing"].url(),
        "TEST_SLOW_URL": receivers["slow"].url(),
    })
    project = Project(root, env, "ntf").create_repo().create_apps(labels=("uat",), pipeline=False, postgres=False)
    project.commit("Notify on deploys", {"heroku-tools.yml": SETTINGS.format(app=project.apps["uat"], extra=FLAKY)})
    return project


def timed_run(project: Project, *args: str) -> tuple[int, list[tuple[float, str]], float]:
    """Run heroku-tools, stamping each output line with the wall-clock time it arrived."""
    process = subprocess.Popen(
        [str(HEROKU_TOOLS), *args], cwd=project.path, env=project.env, stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    lines = [(time.time(), line.rstrip("\n")) for line in process.stdout]
    status = process.wait(timeout=300)
    return status, lines, time.time()


def test_an_unset_variable_stops_the_deploy_before_anything_happens(project, sandbox):
    env = {key: value for key, value in project.env.items() if key != "TEST_SLACK_URL"}
    before = len(sandbox.requests())
    result = project._run([str(HEROKU_TOOLS), "deploy", "uat", "--dry-run"], check=False, env=env)
    assert result.returncode == 1
    line = (project.path / "heroku-tools.yml").read_text().splitlines().index("        - slack: ${TEST_SLACK_URL}") + 1
    expected = f"heroku-tools.yml, line {line}: environments.uat.notify[0] refers to ${{TEST_SLACK_URL}}, not set in this environment"
    assert expected in result.stderr
    assert "export TEST_SLACK_URL=" in result.stderr
    assert len(sandbox.requests()) == before  # not one call to Heroku


def test_deploy_notifies_every_target_and_slow_or_failing_ones_cost_a_warning_only(project, receivers):
    head = project.head()
    status, lines, ended = timed_run(
        project, "deploy", "uat", "--options", "1", "--confirm", project.apps["uat"],
        "--note", "Invoice fix\n\nRounds totals half-up.",
    )
    output = "\n".join(line for _, line in lines)
    assert status == 0, output
    assert project.tag_commit("uat/v2") == head
    assert f"Notifications: 127.0.0.1:{receivers['slack'].port} (slack)" in output

    started, succeeded = [request["body"] for request in receivers["hook"].wait_for(2)]
    for body in (started, succeeded):
        assert set(body) == PAYLOAD_KEYS
        assert body["action"] == "deploy" and body["environment"] == "uat" and body["app"] == project.apps["uat"]
        assert body["commit_range"] == {"from": None, "to": head}
        assert {"sha": head, "subject": "Notify on deploys"} in body["commits"]
        assert body["note"] == "Invoice fix\n\nRounds totals half-up."
        assert body["deployer"] and body["error"] is None
    assert (started["outcome"], started["release"], started["tag"], started["duration_seconds"]) == ("started", 2, None, None)
    assert (succeeded["outcome"], succeeded["release"], succeeded["tag"]) == ("succeeded", 2, "uat/v2")
    assert succeeded["duration_seconds"] > 0
    hook_request = receivers["hook"].received[0]
    assert hook_request["headers"]["Authorization"] == f"Bearer {TOKEN}"
    assert hook_request["headers"]["Content-Type"] == "application/json"
    assert hook_request["path"] == "/hooks/" + SECRET

    slack = [request["body"] for request in receivers["slack"].wait_for(2)]
    assert all(set(body) == {"text"} for body in slack)
    assert slack[0]["text"].startswith(":rocket:") and "*uat*" in slack[0]["text"] and "as v2" in slack[0]["text"]
    assert slack[1]["text"].startswith(":white_check_mark:") and "`uat/v2`" in slack[1]["text"]
    assert "> Invoice fix" in slack[1]["text"] and "Notify on deploys" in slack[1]["text"]

    failing, slow = receivers["failing"].port, receivers["slow"].port
    assert len(receivers["failing"].wait_for(2)) == 2
    assert f"warning: 127.0.0.1:{failing} (webhook) was not notified that the deploy started: HTTP 500" in output
    assert f"warning: 127.0.0.1:{failing} (webhook) was not notified that the deploy succeeded: HTTP 500" in output
    assert f"warning: 127.0.0.1:{slow} (webhook) was not notified that the deploy started" in output
    assert SECRET not in output and TOKEN not in output

    # The slow receiver held the start notification, and the push went ahead regardless...
    pushing = next(at for at, line in lines if line.startswith("==> pushing"))
    assert pushing - receivers["slow"].received[0]["at"] < 3
    # ...and at the end the deploy waited no longer than the bound.
    assert ended - receivers["hook"].received[1]["at"] < notify.TIMEOUT + 3


def test_a_failed_deploy_sends_the_failure(project, receivers, sandbox):
    for receiver in receivers.values():
        receiver.clear()
    head = project.commit("Break the build; drop the flaky receivers", {
        "heroku-tools.yml": SETTINGS.format(app=project.apps["uat"], extra=""),
    })
    sandbox.arm_fault(project.apps["uat"], "build")
    started_at = time.monotonic()
    result = project.tools("deploy", "uat", "--options", "1", "--confirm", project.apps["uat"], "--no-note")
    assert result.returncode == 1
    assert "deploy to uat failed at pushing" in result.stderr
    assert time.monotonic() - started_at < 60

    started, failed = [request["body"] for request in receivers["hook"].wait_for(2)]
    assert started["outcome"] == "started" and started["commit_range"]["to"] == head
    assert failed["outcome"] == "failed" and failed["note"] is None and failed["tag"] is None
    assert failed["error"].startswith("deploy to uat failed at pushing")
    assert failed["duration_seconds"] >= 0
    slack = receivers["slack"].wait_for(2)[1]["body"]["text"]
    assert slack.startswith(":x:") and "failed deploying" in slack
    assert receivers["failing"].received == [] and receivers["slow"].received == []
    assert "warning:" not in result.stderr


def test_ctrl_c_during_a_rollback_sends_the_failure(project, receivers, sandbox):
    """The announcement's exit sends "failed" whatever ends the work: here Ctrl-C at the rollback."""
    app = project.apps["uat"]
    for text in ("Something to roll back to", "Something to roll back"):  # two releases with code, whatever ran before
        project.commit(text, {"docs/rollback.md": f"{text}.\n"})
        deployed = project.tools("deploy", "uat", "--options", "1", "--confirm", app, "--no-note")
        assert deployed.returncode == 0, deployed.stderr
    for receiver in receivers.values():
        receiver.clear()
    sandbox.set_latency(4000)  # the rollback's API calls take long enough to be interrupted
    try:
        process = subprocess.Popen(
            [str(HEROKU_TOOLS), "rollback", "uat", "--confirm", app], cwd=project.path, env=project.env,
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            start_new_session=True,
        )
        lines = []
        for line in process.stdout:
            lines.append(line)
            if line.startswith("==> rolling"):
                time.sleep(1.0)
                os.killpg(process.pid, signal.SIGINT)  # as a terminal sends it: the whole process group
                break
        lines += process.stdout.readlines()
        status = process.wait(timeout=120)
    finally:
        sandbox.set_latency(0)
    output = "".join(lines)
    assert status != 0, output
    assert "Traceback" not in output, output
    started, failed = [request["body"] for request in receivers["hook"].wait_for(2)]
    assert (started["action"], started["outcome"]) == ("rollback", "started")
    assert (failed["action"], failed["outcome"]) == ("rollback", "failed")
    assert failed["error"].endswith("interrupted (Ctrl-C)"), failed["error"]
    assert receivers["slack"].wait_for(2)[1]["body"]["text"].startswith(":x:")


@pytest.fixture
def in_process(project, monkeypatch):
    """The project's environment in this process, for calling the library's operations directly."""
    for key, value in project.env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(project.path)
    return Session.load()


@pytest.mark.parametrize("operation", ["deploy", "rollback"])
def test_an_unexpected_error_sends_the_failure_too(project, receivers, in_process, monkeypatch, operation):
    """A bug (not a HerokuToolsError) still ends the announcement: the targets hear "failed", with what it was."""
    for receiver in receivers.values():
        receiver.clear()

    def boom(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(operations, "execute" if operation == "deploy" else "execute_rollback", boom)
    app = project.apps["uat"]
    project.commit(f"Unexpected error during {operation}", {f"docs/{operation}.md": "Never shipped.\n"})
    with pytest.raises(RuntimeError, match="boom"):
        if operation == "deploy":
            deploy(in_process, "uat", confirm_app=app, note=False, options=1, console=Console(say=print, stream=print))
        else:
            rollback(in_process, "uat", confirm_app=app)
    started, failed = [request["body"] for request in receivers["hook"].wait_for(2)]
    assert started["outcome"] == "started" and started["action"] == operation
    assert (failed["outcome"], failed["error"]) == ("failed", "RuntimeError: boom")


def test_a_default_in_a_reference_reads_the_same_in_settings_and_notify():
    """One ${VAR} grammar: ``${NAME:-default}`` is accepted and expanded alike in ``settings:`` and ``notify:``."""
    text = """\
environments:
    - label:    uat
      app_name: my-app-uat
      branch:   master
      settings:
          HOOK_URL: ${HOOK:-https://hooks.example.com/default}
      notify:
        - webhook: ${HOOK:-https://hooks.example.com/default}
"""
    settings = parse(text, source="heroku-tools.yml")
    env = settings.environment("uat")
    for environ, expected in [({}, "https://hooks.example.com/default"),
                              ({"HOOK": ""}, "https://hooks.example.com/default"),
                              ({"HOOK": "https://hooks.example.com/own"}, "https://hooks.example.com/own")]:
        (target,) = notify.resolve(env, environ)
        declared = configvars.declared(settings, env, environ=environ)
        assert target.url == declared.values["HOOK_URL"] == expected
    for broken in ("${HOOK:-https://x", "${HO OK:-https://x}"):
        with pytest.raises(SettingsError) as raised:
            parse(text.replace("${HOOK:-https://hooks.example.com/default}\n", broken + "\n"))
        assert "https://x" not in str(raised.value)


# -- without a deploy -------------------------------------------------------------


def test_expansion_waits_until_the_environment_is_used():
    settings = parse(SETTINGS.format(app="my-app-uat", extra=""), source="heroku-tools.yml")
    env = settings.environment("uat")  # loads although no variable is set
    with pytest.raises(SettingsError) as raised:
        notify.resolve(env, {})
    assert "line 8: environments.uat.notify[0] refers to ${TEST_SLACK_URL}, not set in this environment" in str(raised.value)
    targets = notify.resolve(env, {"TEST_SLACK_URL": "https://hooks.slack.com/services/T/B/x",
                                   "TEST_HOOK_URL": "https://ci.example.com/x", "TEST_HOOK_TOKEN": "t"})
    assert [str(target) for target in targets] == ["hooks.slack.com (slack)", "ci.example.com (webhook)"]
    assert targets[1].headers == {"Authorization": "Bearer t"}
    with pytest.raises(SettingsError) as raised:
        notify.resolve(env, {"TEST_SLACK_URL": "not-a-url/" + SECRET, "TEST_HOOK_URL": "x", "TEST_HOOK_TOKEN": "t"})
    assert "is not an http(s) URL" in str(raised.value) and SECRET not in str(raised.value)


def test_a_refused_connection_is_a_warning_naming_the_host():
    receiver = Receiver()
    url = receiver.url()
    receiver.close()  # nothing listens there any more
    warnings: list[str] = []
    notifier = notify.Notifier([notify.Target("webhook", url)], warn=warnings.append)
    event = notify.Event("deploy", "started", "uat", "my-app-uat", 3, None, "a" * 40, (), "dev@example.com")
    notifier.send(event)
    notifier.close()
    assert len(warnings) == 1 and warnings[0].startswith(f"warning: 127.0.0.1:{receiver.port} (webhook)")
    assert "s3cr3t" not in warnings[0]


def test_slack_text_is_escaped():
    event = notify.Event("deploy", "succeeded", "uat", "app-uat", 4, None, "b" * 40,
                         (Commit("c" * 40, "Use <b> & friends"),), "dev@example.com",
                         note="Fix <script>", tag="uat/v4", duration=3.0)
    text = event.slack()["text"]
    assert "Use &lt;b&gt; &amp; friends" in text and "> Fix &lt;script&gt;" in text
