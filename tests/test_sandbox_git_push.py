"""``git push`` to the sandbox over HTTPS: build, slug, release phase, release.

Real git pushes with nothing but the sandbox's exports: TLS trust through the
exported ``http.<url>.sslCAInfo`` and the API key through the heroku CLI's
credential helper (``heroku git:credentials``). Each test asserts what the push
changed: releases, slugs, the slug's files and what git's remote holds.
"""
from __future__ import annotations

import ssl
import subprocess
import time
import urllib.error
import urllib.request
import uuid

import pytest
from _support.gitrepo import GitRepo, django_project
from _support.schema import find_links, validate_body

pytestmark = [pytest.mark.sandbox, pytest.mark.usefixtures("schema_conformance")]

NON_DJANGO = {"requirements.txt": "\n", "app.py": "print('hello')\n"}


@pytest.fixture
def repo(tmp_path, cli_env, heroku, sandbox, app_name) -> GitRepo:
    """A new app and a working tree whose ``heroku`` remote points at it."""
    heroku("apps:create", app_name, "--no-remote")
    repo = GitRepo(tmp_path / "repo", cli_env)
    heroku.cwd = repo.path
    heroku("git:remote", "-a", app_name)
    assert repo.git("remote", "get-url", "heroku").stdout.strip() == f"{sandbox.base_url}/{app_name}.git"
    return repo


def releases(sandbox, app: str) -> list[dict]:
    """Newest first, read from the API as ``heroku releases --json`` does (minus ~1 s of CLI)."""
    return sandbox.api("GET", f"/apps/{app}/releases", headers={"Range": "version ..; max=15, order=desc"})


def set_config(sandbox, app: str, **values) -> None:
    """What ``heroku config:set``/``config:unset`` send (``None`` unsets)."""
    sandbox.api("PATCH", f"/apps/{app}/config-vars", values)


def slug_dir(sandbox, slug_id: str):
    return sandbox.directory / "slugs" / slug_id / "app"


def fetch_stream(url: str, sandbox) -> str:
    """``output_stream_url`` as the CLI reads it: no credentials."""
    context = ssl.create_default_context(cafile=str(sandbox.ca_file))
    with urllib.request.urlopen(url, context=context, timeout=30) as response:
        assert response.headers["Content-Type"].startswith("text/plain")
        return response.read().decode()


def test_push_builds_collectstatic_and_releases_then_fast_forward_and_force(sandbox, heroku, repo, app_name):
    first = repo.commit("Add the site", django_project())
    pushed = repo.push("heroku", "main")
    assert pushed.returncode == 0, pushed.stderr
    output = pushed.stderr
    for line in (
        "remote: -----> Building on the Heroku-24 stack",
        "remote: -----> Python app detected",
        "remote: -----> $ python manage.py collectstatic --noinput",
        "remote:        1 static file copied to",
        "remote:        Procfile declares types -> release, web",
        "remote:  !     Release command declared: this new release will not be available until the command succeeds.",
        "remote:        Released v2",
        "deployed to Heroku",
        "remote: Verifying deploy... done.",
        "remote: Running release command...",
        "remote: Waiting for release.... done.",
        " * [new branch]      main -> main",
    ):
        assert line in output, f"{line!r} missing from:\n{output}"

    newest = heroku.json("releases", "--json", "-a", app_name)[0]
    assert (newest["version"], newest["description"], newest["status"], newest["current"]) == (
        2, f"Deploy {first[:7]}", "succeeded", True,
    )
    slug = sandbox.api("GET", f"/apps/{app_name}/slugs/{newest['slug']['id']}")
    assert slug["commit"] == first
    assert slug["commit_description"] == "Add the site"
    assert slug["process_types"] == {
        "web": "python manage.py runserver 0.0.0.0:$PORT",
        "release": "echo 'release phase ran' > release-ran.txt",
    }
    assert slug["buildpack_provided_description"] == "Python"
    assert slug["stack"]["name"] == "heroku-24" and slug["checksum"].startswith("SHA256:") and slug["size"] > 0
    files = slug_dir(sandbox, slug["id"])
    assert (files / "staticfiles" / "site.css").read_text() == "body { color: #430098; }\n"
    # The release phase ran in a dyno of its own: what it wrote went with that dyno, as on Heroku.
    assert not (files / "release-ran.txt").exists()

    state = sandbox.state()
    (build,) = [b for b in state["builds"].values() if b["source_blob"]["version"] == first]
    assert build["status"] == "succeeded" and build["slug"] == {"id": slug["id"]}
    assert build["release"] == {"id": newest["id"]}
    (build_link,) = [link for link in find_links("GET", f"/apps/{app_name}/builds/{build['id']}") if link.title == "build Info"]
    assert validate_body(build_link, build) == []
    assert "-----> Discovering process types" in fetch_stream(build["output_stream_url"], sandbox)
    with pytest.raises(urllib.error.HTTPError) as unknown:
        fetch_stream(f"{sandbox.base_url}/streams/{uuid.uuid4()}", sandbox)
    assert unknown.value.code == 404

    # A fast-forward push builds again.
    second = repo.commit("Restyle", {"static/site.css": "body { color: black; }\n"})
    pushed = repo.push("heroku", "main")
    assert pushed.returncode == 0, pushed.stderr
    assert f"{first[:7]}..{second[:7]}  main -> main" in pushed.stderr
    newest = releases(sandbox, app_name)[0]
    assert (newest["version"], newest["description"], newest["current"]) == (3, f"Deploy {second[:7]}", True)
    assert (slug_dir(sandbox, newest["slug"]["id"]) / "staticfiles" / "site.css").read_text() == "body { color: black; }\n"

    # Rewritten history needs --force, and then builds too.
    amended = repo.commit("Restyle, amended", {"static/site.css": "body { color: red; }\n"}, amend=True)
    refused = repo.push("heroku", "main")
    assert refused.returncode != 0 and "[rejected]" in refused.stderr
    forced = repo.push("--force", "heroku", "main")
    assert forced.returncode == 0, forced.stderr
    assert "(forced update)" in forced.stderr and "remote:        Released v4" in forced.stderr
    newest = releases(sandbox, app_name)[0]
    assert (newest["version"], newest["description"], newest["current"]) == (4, f"Deploy {amended[:7]}", True)
    assert sandbox.api("GET", f"/apps/{app_name}/slugs/{newest['slug']['id']}")["commit"] == amended

    # The app's repository serves fetches too (upload-pack), at the forced commit.
    clone = GitRepo(repo.path.parent / "clone", repo.env)
    clone.git("fetch", "-q", f"{sandbox.base_url}/{app_name}.git", "main")
    assert clone.git("rev-parse", "FETCH_HEAD").stdout.strip() == amended


def test_disable_collectstatic_failed_collectstatic_and_build_fault(sandbox, heroku, repo, app_name):
    heroku("config:set", "DISABLE_COLLECTSTATIC=1", "-a", app_name)
    good = repo.commit("Site", django_project())
    pushed = repo.push("heroku", "main")
    assert pushed.returncode == 0, pushed.stderr
    assert "remote: -----> Skipping Django collectstatic since the env var DISABLE_COLLECTSTATIC is set." in pushed.stderr
    assert "collectstatic --noinput" not in pushed.stderr
    deployed = releases(sandbox, app_name)[0]
    assert deployed["description"] == f"Deploy {good[:7]}" and deployed["current"]
    assert not (slug_dir(sandbox, deployed["slug"]["id"]) / "staticfiles").exists()

    # collectstatic runs with the app's config vars: a broken setting fails the build.
    set_config(sandbox, app_name, DISABLE_COLLECTSTATIC=None)
    deployed = releases(sandbox, app_name)[0]
    slugs_before = len(sandbox.state()["slugs"])
    broken = django_project(settings_extra='STATIC_ROOT = os.environ["MISSING_STATIC_ROOT"]')
    repo.commit("Break the settings", broken)
    rejected = repo.push("heroku", "main")
    assert rejected.returncode != 0
    for line in (
        "remote: -----> $ python manage.py collectstatic --noinput",
        "KeyError: 'MISSING_STATIC_ROOT'",
        "remote:  !     Error: Unable to generate Django static files.",
        "remote:  !     Push rejected, failed to compile Python app.",
        "remote:  !     Push failed",
        f"remote: !\tPush rejected to {app_name}.",
        " ! [remote rejected] main -> main (pre-receive hook declined)",
    ):
        assert line in rejected.stderr, f"{line!r} missing from:\n{rejected.stderr}"
    assert releases(sandbox, app_name)[0]["id"] == deployed["id"]
    assert len(sandbox.state()["slugs"]) == slugs_before
    assert repo.git("ls-remote", "heroku", "main").stdout.split()[0] == good

    # The build fault rejects a push that would otherwise build.
    set_config(sandbox, app_name, MISSING_STATIC_ROOT="staticfiles")
    after_config = releases(sandbox, app_name)[0]
    sandbox.arm_fault(app_name, "build")
    faulted = repo.push("heroku", "main")
    assert faulted.returncode != 0 and "Push rejected, failed to compile Python app." in faulted.stderr
    assert releases(sandbox, app_name)[0]["id"] == after_config["id"]
    failed_builds = [b for b in sandbox.state()["builds"].values() if b["source_blob"]["version_description"] == "Break the settings"]
    assert [b["status"] for b in failed_builds] == ["failed", "failed"]
    assert all(b["slug"] is None and b["release"] is None for b in failed_builds)


def push_timed(repo: GitRepo, *args: str) -> tuple[int, list[tuple[float, str]]]:
    """Push, noting when each line of git's output arrives."""
    process = subprocess.Popen(
        ["git", "push", *args], cwd=repo.path, env=repo.env, stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    lines = [(time.monotonic(), line.rstrip()) for line in process.stderr]
    return process.wait(timeout=180), lines


def arrival(lines: list[tuple[float, str]], text: str) -> float:
    return next(when for when, line in lines if text in line)


def test_release_phase_failure_keeps_the_previous_release(sandbox, heroku, repo, app_name):
    release = "echo migrated $HEROKU_RELEASE_VERSION; sleep 1.5; echo still migrating"
    ok = repo.commit("Release ok", {**NON_DJANGO, "Procfile": f"release: {release}\n"})
    status, lines = push_timed(repo, "heroku", "main")
    output = "\n".join(line for _, line in lines)
    assert status == 0, output
    assert "remote: migrated v2" in output and "remote: Waiting for release.... done." in output
    assert "Python app detected" in output and "collectstatic" not in output
    # The release command's output reaches the pusher live, not when the push ends.
    assert arrival(lines, "remote: still migrating") - arrival(lines, "remote: migrated v2") > 1.0

    # The code builds and the ref moves, but the release fails; v2 stays current.
    broken = repo.commit("Release fails", {"Procfile": "release: echo cannot migrate; exit 3\n"})
    pushed = repo.push("heroku", "main")
    assert pushed.returncode == 0, pushed.stderr
    assert "remote: cannot migrate" in pushed.stderr and "remote: Waiting for release.... failed." in pushed.stderr
    listed = releases(sandbox, app_name)
    assert [(r["version"], r["description"], r["status"], r["current"]) for r in listed[:2]] == [
        (3, f"Deploy {broken[:7]}", "failed", False),
        (2, f"Deploy {ok[:7]}", "succeeded", True),
    ]
    assert "cannot migrate" in fetch_stream(listed[0]["output_stream_url"], sandbox)
    assert repo.git("ls-remote", "heroku", "main").stdout.split()[0] == broken

    # The release fault fails a release command that would succeed.
    fixed = repo.commit("Release ok again", {"Procfile": "release: echo migrated\n"})
    sandbox.arm_fault(app_name, "release")
    pushed = repo.push("heroku", "main")
    assert pushed.returncode == 0 and "remote: Waiting for release.... failed." in pushed.stderr
    newest, *_ = releases(sandbox, app_name)
    assert (newest["description"], newest["status"]) == (f"Deploy {fixed[:7]}", "failed")
    assert [r["version"] for r in releases(sandbox, app_name) if r["current"]] == [2]


def test_push_to_another_branch_does_not_build(sandbox, heroku, repo, app_name):
    sha = repo.commit("Feature", NON_DJANGO)
    pushed = repo.push("heroku", "main:feature")
    assert pushed.returncode == 0, pushed.stderr
    assert "remote: Pushed to non-master branch, skipping build." in pushed.stderr
    assert "Building source" not in pushed.stderr
    assert [r["description"] for r in releases(sandbox, app_name)] == ["Initial release"]
    assert repo.git("ls-remote", "heroku", "feature").stdout.split()[0] == sha


def test_push_without_valid_credentials_is_refused(sandbox, heroku, repo, app_name, tmp_path):
    repo.commit("Site", NON_DJANGO)
    bare_home = tmp_path / "no-helper-home"
    bare_home.mkdir()
    # Trust the sandbox's CA, but no credential helper and no prompt.
    no_helper = {
        **{k: v for k, v in repo.env.items() if not k.startswith("GIT_CONFIG_")},
        "HOME": str(bare_home),
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": repo.env["GIT_CONFIG_KEY_0"],
        "GIT_CONFIG_VALUE_0": repo.env["GIT_CONFIG_VALUE_0"],
        "GIT_TERMINAL_PROMPT": "0",
    }
    refused = repo.push("heroku", "main", env=no_helper)
    assert refused.returncode == 128
    assert "could not read Username" in refused.stderr

    # The helper hands git a key the sandbox does not accept.
    wrong_key = repo.push("heroku", "main", env={**repo.env, "HEROKU_API_KEY": "not-the-key"})
    assert wrong_key.returncode == 128
    assert "Authentication failed" in wrong_key.stderr

    unknown = repo.push(f"{sandbox.base_url}/no-such-app-here.git", "main")
    assert unknown.returncode == 128 and "not found" in unknown.stderr

    git_answers = [(e["path"], e["status"]) for e in sandbox.requests() if e["path"].startswith(f"/{app_name}.git/")]
    assert (f"/{app_name}.git/info/refs", 401) in git_answers
    assert [r["description"] for r in releases(sandbox, app_name)] == ["Initial release"]
