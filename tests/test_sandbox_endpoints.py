"""The Platform API endpoints heroku-tools' new features call, driven by the real heroku CLI where
it has a command for them: ``releases:retry``, ``heroku logs`` (``--num``, ``--dyno``, ``--source``,
``--tail``), the builds list and a build's output stream, and the promotion of a named release.

Every answer is validated against the Platform API schema (``schema_conformance``); outcomes are
read from the sandbox's releases, builds and logs and from what the CLI printed.
"""
from __future__ import annotations

import os
import queue
import re
import signal
import ssl
import subprocess
import threading
import time
import urllib.error
import urllib.request

import pytest
from _support.gitrepo import GitRepo
from _support.schema import RequestLog
from _support.seed import release_slug

from heroku_tools.heroku_api import PlatformAPI, PlatformAPIError

pytestmark = [pytest.mark.sandbox, pytest.mark.usefixtures("schema_conformance")]

BASE_FILES = {"requirements.txt": "", ".python-version": "3.11\n", "app.py": "print('hello')\n"}


@pytest.fixture
def repo(tmp_path, cli_env, sandbox, app_name) -> GitRepo:
    sandbox.api("POST", "/apps", {"name": app_name})
    return GitRepo(tmp_path / "repo", cli_env)


def push(repo: GitRepo, sandbox, app: str):
    return repo.push(f"{sandbox.base_url}/{app}.git", "main")


def releases(sandbox, app: str) -> list[dict]:
    return sandbox.api("GET", f"/apps/{app}/releases")


def fetch(url: str, sandbox) -> str:
    context = ssl.create_default_context(cafile=str(sandbox.ca_file))
    with urllib.request.urlopen(url, context=context, timeout=30) as response:
        return response.read().decode()


# -- releases:retry ------------------------------------------------------------------------------


def test_releases_retry_reruns_a_failed_release_phase(sandbox, heroku, repo, app_name, tmp_path):
    flag = tmp_path / "database-ready"
    procfile = f"release: cat {flag} && echo migrated on $DYNO\n"
    deployed = repo.commit("Release phase needs the database", {**BASE_FILES, "Procfile": procfile})
    pushed = push(repo, sandbox, app_name)
    assert pushed.returncode == 0 and "remote: Waiting for release.... failed." in pushed.stderr
    failed = releases(sandbox, app_name)[-1]
    assert (failed["version"], failed["status"], failed["current"]) == (2, "failed", False)

    flag.write_text("ready\n")
    log = RequestLog(sandbox)
    retried = heroku("releases:retry", "-a", app_name)

    assert f"Retrying v2 on {app_name}... done, v3" in retried.stderr
    assert "Running release command..." in retried.stdout
    assert re.search(r"^ready\nmigrated on release\.\d{4}$", retried.stdout, re.M), retried.stdout
    newest = releases(sandbox, app_name)[-1]
    assert (newest["version"], newest["status"], newest["current"]) == (3, "succeeded", True)
    assert newest["description"] == f"Retry of v2: Deploy {deployed[:7]}"
    assert newest["slug"] == failed["slug"]
    posted = [e for e in log.entries() if e["method"] == "POST" and e["path"] == f"/apps/{app_name}/releases"]
    assert [e["body"] for e in posted] == [{"description": f"Retry of v2: Deploy {deployed[:7]}", "slug": failed["slug"]["id"]}]


def test_releases_retry_needs_a_release_phase(sandbox, heroku, app_name):
    sandbox.api("POST", "/apps", {"name": app_name})
    release_slug(sandbox, app_name, {"web": "python app.py"}, commit="e" * 40)

    refused = heroku("releases:retry", "-a", app_name, check=False)

    assert refused.returncode != 0
    assert "App must have a release-phase command to use this command." in refused.stderr
    assert [r["version"] for r in releases(sandbox, app_name)] == [1, 2]


# -- builds ----------------------------------------------------------------------------------------


def test_builds_list_info_and_output_stream(sandbox, repo, app_name, cli_env):
    repo.commit("Build me", BASE_FILES)
    assert push(repo, sandbox, app_name).returncode == 0
    repo.commit("Break me", {".python-version": "2.7\n"})
    assert push(repo, sandbox, app_name).returncode != 0
    api = PlatformAPI(sandbox.api_key, environ=cli_env)  # how heroku-tools reads the API

    listed = api.get(f"/apps/{app_name}/builds")

    assert [(b["status"], b["source_blob"]["version_description"]) for b in listed] == [
        ("succeeded", "Build me"), ("failed", "Break me"),
    ]
    good, bad = listed
    assert good["release"] == {"id": releases(sandbox, app_name)[-1]["id"]} and good["slug"]["id"]
    assert api.get(f"/apps/{app_name}/builds/{bad['id']}") == bad
    assert "-----> Installing dependencies using 'pip install -r requirements.txt'" in fetch(good["output_stream_url"], sandbox)
    output = fetch(bad["output_stream_url"], sandbox)
    assert " !     Error: The requested Python version has reached end-of-life." in output
    assert output.rstrip().endswith(" !     Push failed")
    with pytest.raises(PlatformAPIError) as missing:
        api.get(f"/apps/{app_name}/builds/{good['app']['id']}")
    assert missing.value.status == 404


# -- logs ------------------------------------------------------------------------------------------


def test_logs_show_api_build_release_and_dyno_lines_filtered_as_asked(sandbox, heroku, repo, app_name):
    repo.commit("Logged app", {**BASE_FILES, "Procfile": "release: echo migrating for $DYNO\n"})
    assert push(repo, sandbox, app_name).returncode == 0
    ran = heroku("run:detached", "-a", app_name, "--", "echo detached output")
    run = re.search(r"--dyno (run\.\d{4})", ran.stdout).group(1)
    app_log = sandbox.directory / "logs" / f"{sandbox.api('GET', f'/apps/{app_name}')['id']}.jsonl"
    wait = time.monotonic() + 15
    while f'"heroku", "{run}", "State changed from up to complete"' not in app_log.read_text():
        assert time.monotonic() < wait, "the detached dyno never ended"
        time.sleep(0.1)
    log = RequestLog(sandbox)

    everything = heroku("logs", "-a", app_name, "--num", "200").stdout.splitlines()

    line = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00 (app|heroku)\[([\w.]+)\]:(?: (.*))?$")
    parsed = [line.match(entry).groups() for entry in everything]
    assert ("app", "api", "Build started by user developer@example.com") in parsed
    assert ("app", "api", "Build succeeded") in parsed
    assert ("app", "api", "Release v2 created by user developer@example.com") in parsed
    assert ("heroku", "build", "-----> Python app detected") in parsed
    releasing = next(dyno for source, dyno, text in parsed if text.startswith("migrating for "))
    assert re.fullmatch(r"release\.\d{4}", releasing) and ("app", releasing, f"migrating for {releasing}") in parsed
    assert ("heroku", releasing, "Process exited with status 0") in parsed
    assert ("app", run, "detached output") in parsed and ("heroku", run, "State changed from starting to up") in parsed

    last_three = heroku("logs", "-a", app_name, "-n", "3").stdout.splitlines()
    assert last_three == everything[-3:]
    release_only = [line.match(e).groups() for e in heroku("logs", "-a", app_name, "--dyno", "release").stdout.splitlines()]
    assert release_only and {dyno for _, dyno, _ in release_only} == {releasing}
    app_source = [line.match(e).groups() for e in heroku("logs", "-a", app_name, "--source", "app").stdout.splitlines()]
    assert app_source and {source for source, _, _ in app_source} == {"app"}
    sessions = [e["body"] for e in log.entries() if e["path"] == f"/apps/{app_name}/log-sessions"]
    assert sessions[:3] == [
        {"lines": 200, "tail": False}, {"lines": 3, "tail": False}, {"dyno": "release", "lines": 100, "tail": False},
    ]
    assert sessions[3] == {"source": "app", "lines": 100, "tail": False}


def test_logs_tail_follows_new_lines_and_ends_with_the_cli(sandbox, heroku, repo, app_name, cli_env, tmp_path):
    repo.commit("Tailed app", BASE_FILES)
    assert push(repo, sandbox, app_name).returncode == 0
    tail = subprocess.Popen(["heroku", "logs", "--tail", "-a", app_name], env=cli_env, cwd=tmp_path, text=True,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while sandbox.state()["log_streams"] < 1 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert sandbox.state()["log_streams"] == 1
        lines: queue.Queue = queue.Queue()
        threading.Thread(target=lambda: [lines.put(line) for line in tail.stdout], daemon=True).start()
        heroku("config:set", "TAILED=1", "-a", app_name)

        seen = ""
        while "Set TAILED config vars by user" not in seen:
            seen = lines.get(timeout=max(deadline - time.monotonic(), 0.1))  # queue.Empty fails the test
        assert "app[api]: Set TAILED config vars by user developer@example.com" in seen

        os.killpg(tail.pid, signal.SIGINT)
        assert tail.wait(timeout=10) is not None
        deadline = time.monotonic() + 10
        while sandbox.state()["log_streams"] and time.monotonic() < deadline:
            time.sleep(0.1)
        assert sandbox.state()["log_streams"] == 0  # the sandbox stopped streaming to the CLI that left
    finally:
        if tail.poll() is None:
            os.killpg(tail.pid, signal.SIGKILL)
            tail.wait()


# -- promotion of a named release ------------------------------------------------------------------


def test_promotion_of_a_named_release(sandbox, heroku, app_name):
    account = sandbox.api("GET", "/account")
    pipeline = sandbox.api("POST", "/pipelines", {"name": f"{app_name[:26]}-p", "owner": {"id": account["id"], "type": "user"}})
    source, target = f"{app_name[:26]}-stg", f"{app_name[:26]}-prd"
    for name, stage in ((source, "staging"), (target, "production")):
        sandbox.api("POST", "/apps", {"name": name})
        sandbox.api("POST", "/pipeline-couplings", {"app": name, "pipeline": pipeline["id"], "stage": stage})
    older = release_slug(sandbox, source, {"web": "python app.py"}, commit="a" * 40)  # v2
    release_slug(sandbox, source, {"web": "python app.py"}, commit="b" * 40)  # v3, current

    promotion = sandbox.api("POST", "/pipeline-promotions", {
        "pipeline": {"id": pipeline["id"]},
        "source": {"app": {"id": older["app"]["id"]}, "release": {"id": older["id"]}},
        "targets": [{"app": {"id": sandbox.api("GET", f"/apps/{target}")["id"]}}],
    })

    assert promotion["source"]["release"] == {"id": older["id"]}
    promoted = heroku.json("releases", "-a", target, "--json")[0]
    assert promoted["description"] == f"Promote {source} v2 aaaaaaa" and promoted["current"]
    assert sandbox.api("GET", f"/apps/{target}/slugs/{promoted['slug']['id']}")["commit"] == "a" * 40
    assert promoted["slug"]["id"] != older["slug"]["id"]  # a new slug in the target, as on Heroku

    other = release_slug(sandbox, target, {"web": "python app.py"}, commit="c" * 40)
    with pytest.raises(urllib.error.HTTPError) as foreign:
        sandbox.api("POST", "/pipeline-promotions", {
            "pipeline": {"id": pipeline["id"]},
            "source": {"app": {"id": older["app"]["id"]}, "release": {"id": other["id"]}},
            "targets": [{"app": {"id": other["app"]["id"]}}],
        })
    assert foreign.value.code == 404  # the named release must be the source app's
