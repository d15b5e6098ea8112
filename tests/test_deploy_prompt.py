"""The confirmation code, typed on a real terminal.

``heroku-tools deploy dev`` runs in a pty (pexpect) without ``--confirm``: the
test reads the six-digit code off the screen and types it back wrong, right,
or presses Ctrl-C instead. Only the right code changes anything.
"""
from __future__ import annotations

import io
import time

import pexpect
import pytest

from _support.home import project_env
from _support.project import HEROKU_TOOLS, Project

pytestmark = pytest.mark.sandbox

PROMPT = r"Type (\d{6}) to deploy to dev \(dpp-dev\): "


@pytest.fixture(scope="module")
def project(sandbox, tmp_path_factory) -> Project:
    root = tmp_path_factory.mktemp("deploy-prompt")
    # On a terminal the deploy may open an editor for a release note first: `true` accepts the template.
    env = project_env(sandbox, root, GIT_EDITOR="true", TERM="xterm")
    return Project(root, env, "dpp").create_repo().create_apps(labels=("dev",), pipeline=False, postgres=False)


def new_commit(project: Project, what: str) -> str:
    project.git("checkout", "-q", "dev")
    sha = project.commit(what, {"docs/prompt.md": f"{what} at {time.time()}\n"})
    project.git("push", "-q", "origin", "dev")
    return sha


def releases(sandbox, app: str) -> list[dict]:
    return sorted(sandbox.api("GET", f"/apps/{app}/releases"), key=lambda r: r["version"])


def changes_since(sandbox, start: int) -> list[dict]:
    return [e for e in sandbox.requests()[start:] if e["method"] not in ("GET", "HEAD")]


def spawn(project: Project) -> tuple[pexpect.spawn, io.StringIO]:
    screen = io.StringIO()
    child = pexpect.spawn(str(HEROKU_TOOLS), ["deploy", "dev"], cwd=str(project.path), env=project.env,
                          encoding="utf-8", timeout=120, dimensions=(50, 200))
    child.logfile_read = screen
    return child, screen


def finish(child: pexpect.spawn) -> int | None:
    child.expect(pexpect.EOF)
    child.close()
    return child.exitstatus


def test_a_wrong_code_changes_nothing(project, sandbox):
    app = project.apps["dev"]
    new_commit(project, "Wrong code")
    before, tags, start = releases(sandbox, app), project.tags(), len(sandbox.requests())
    child, screen = spawn(project)
    child.expect(PROMPT)
    code = child.match.group(1)
    child.sendline(f"{(int(code) + 1) % 1_000_000:06d}")
    status = finish(child)
    text = screen.getvalue()
    assert status not in (0, None), text
    assert f"the code did not match; nothing was changed on {app}." in text
    assert "Traceback" not in text
    assert changes_since(sandbox, start) == []
    assert releases(sandbox, app) == before
    assert project.tags() == tags


def test_ctrl_c_at_the_prompt_changes_nothing(project, sandbox):
    app = project.apps["dev"]
    new_commit(project, "Interrupted prompt")
    before, tags, start = releases(sandbox, app), project.tags(), len(sandbox.requests())
    child, screen = spawn(project)
    child.expect(PROMPT)
    child.sendintr()
    status = finish(child)
    text = screen.getvalue()
    assert status not in (0, None), text
    assert f"interrupted at the confirmation code; nothing was changed on {app}." in text
    assert "Traceback" not in text
    assert changes_since(sandbox, start) == []
    assert releases(sandbox, app) == before
    assert project.tags() == tags


def test_the_right_code_deploys(project, sandbox):
    app = project.apps["dev"]
    sha = new_commit(project, "Right code")
    before = releases(sandbox, app)
    child, screen = spawn(project)
    child.expect(PROMPT)
    code = child.match.group(1)
    assert "Options:" in child.before  # the code comes after the report
    child.sendline(code)
    status = finish(child)
    text = screen.getvalue()
    assert status == 0, text
    after = releases(sandbox, app)
    assert len(after) == len(before) + 1 and after[-1]["current"]
    slug = sandbox.api("GET", f"/apps/{app}/slugs/{after[-1]['slug']['id']}")
    assert slug["commit"] == sha
    assert project.tag_commit(f"dev/v{after[-1]['version']}") == sha
    assert f"Deployed {sha[:12]} to dev ({app}) as v{after[-1]['version']}" in text
