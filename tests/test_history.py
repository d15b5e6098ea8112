"""``history ENV`` end to end: a deploy, a promotion, a rollback and a config change made by hand.

One project for the module (dev and uat in a pipeline). uat gets, in order:
v2 a deploy of master with a note, v3 a promotion of dev's slug, v4 a rollback
to v2, v5 ``heroku config:set`` run directly. A local webhook receiver on uat
checks what the promotion and the rollback announced.
"""
from __future__ import annotations

import json

import pytest

from heroku_tools.release.history import entries, kind_of
from heroku_tools.models import Release
from heroku_tools.release.tags import ReleaseTag
from _support.home import project_env
from _support.project import Project
from _support.webhooks import Receiver

SETTINGS = """\
# The sandbox of these tests runs no web dynos: nothing would answer a health check.
health: {{enabled: false}}
environments:
    - label:    uat
      app_name: {prefix}-uat
      branch:   master
      notify:
        - webhook: ${{TEST_HOOK_URL}}
    - label:    dev
      app_name: {prefix}-dev
      branch:   dev
"""


@pytest.fixture(scope="module")
def receiver():
    made = Receiver()
    yield made
    made.close()


@pytest.fixture(scope="module")
def project(sandbox, tmp_path_factory, receiver):
    root = tmp_path_factory.mktemp("history")
    env = project_env(sandbox, root, NO_COLOR="1", TEST_HOOK_URL=receiver.url())
    project = Project(root, env, "hst").create_repo().create_apps(labels=("dev", "uat"), postgres=False)
    project.commit("Notify uat's webhook", {"heroku-tools.yml": SETTINGS.format(prefix="hst")})
    project.git("checkout", "-q", "dev")
    project.commit("Add the customer_stats command", {"customers/stats.py": "TOTAL = 0\n"})
    project.git("checkout", "-q", "master")
    project.master, project.dev = project.head("master"), project.head("dev")

    def tools(*args):
        result = project.tools(*args)
        assert result.returncode == 0, f"heroku-tools {' '.join(args)}\n{result.stdout}\n{result.stderr}"
        return result

    tools("deploy", "dev", "--options", "1", "--confirm", "hst-dev", "--no-note")
    tools("deploy", "uat", "--options", "1", "--confirm", "hst-uat",
          "--note", "Uat release one\n\nFirst cut of the sample app.")
    tools("promote", "dev", "--options", "1", "--confirm", "hst-uat", "--note", "Promote the customer stats command")
    tools("rollback", "uat", "--confirm", "hst-uat", "--note", "Roll back: stats broke the home page")
    project.heroku("config:set", "FOO=bar", "-a", "hst-uat")
    return project


def test_history_shows_each_kind_of_release(project):
    result = project.tools("history", "uat")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "uat (hst-uat): the latest 5 release(s), newest first"
    assert lines[1].split() == ["VERSION", "WHEN", "(UTC)", "WHO", "KIND", "COMMITS", "OUTCOME", "NOTE"]
    rows = {line.split()[0]: line for line in lines[2:7]}
    master, dev = project.master[:7], project.dev[:7]
    assert rows["v5"].split()[4:] == ["config*", "-", "succeeded", "Set", "FOO", "config", "vars"]
    assert rows["v4"].split()[4:7] == ["rollback", f"{dev}..{master}", "succeeded"]
    assert rows["v4"].endswith("Roll back: stats broke the home page")
    assert rows["v3"].split()[4:7] == ["promotion", f"{master}..{dev}", "succeeded"]
    assert rows["v3"].endswith("Promote the customer stats command")
    assert rows["v2"].split()[4:7] == ["deploy", master, "succeeded"]
    assert rows["v2"].endswith("Uat release one")
    assert rows["v1"].split()[4:] == ["other*", "-", "succeeded", "Initial", "release"]
    assert lines[7].startswith("* no release tag: made outside heroku-tools")


def test_history_json(project):
    result = project.tools("history", "uat", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert (data["environment"], data["app"]) == ("uat", "hst-uat")
    releases = data["releases"]
    assert [r["version"] for r in releases] == [5, 4, 3, 2, 1]
    assert [r["kind"] for r in releases] == ["config", "rollback", "promotion", "deploy", "other"]
    assert [r["tag"] for r in releases] == [None, "uat/v4", "uat/v3", "uat/v2", None]
    assert [r["outside_heroku_tools"] for r in releases] == [True, False, False, False, True]
    assert [r["outcome"] for r in releases] == ["succeeded"] * 5
    ranges = [(r["commit_range"]["from"], r["commit_range"]["to"]) for r in releases]
    master, dev = project.master, project.dev
    assert ranges == [(None, None), (dev, master), (master, dev), (None, master), (None, None)]
    assert releases[3]["note"] == "Uat release one\n\nFirst cut of the sample app."
    assert releases[0]["description"] == "Set FOO config vars"
    assert all(r["who"] and r["created_at"] for r in releases)

    two = json.loads(project.tools("history", "uat", "--json", "--num", "2").stdout)["releases"]
    assert [r["version"] for r in two] == [5, 4]


def test_the_rollback_tag_tells_its_story(project):
    shown = project.git("show", "--no-patch", "--format=", "uat/v4").stdout
    assert "Roll back: stats broke the home page" in shown
    assert "Rollback to v2." in shown
    assert project.tag_commit("uat/v4") == project.master


def test_promotion_and_rollback_were_announced(project, receiver):
    bodies = [request["body"] for request in receiver.wait_for(6)]
    assert [(b["action"], b["outcome"]) for b in bodies] == [
        ("deploy", "started"), ("deploy", "succeeded"),
        ("promotion", "started"), ("promotion", "succeeded"),
        ("rollback", "started"), ("rollback", "succeeded"),
    ]
    promoted = bodies[3]
    assert (promoted["source_app"], promoted["release"], promoted["tag"]) == ("hst-dev", 3, "uat/v3")
    assert promoted["commit_range"] == {"from": project.master, "to": project.dev}
    assert promoted["commits"] == [{"sha": project.dev, "subject": "Add the customer_stats command"}]
    started, done = bodies[4], bodies[5]
    assert (started["release"], started["rollback_to"]) == (None, 2)
    assert started["commits"] == [{"sha": project.dev, "subject": "Add the customer_stats command"}]
    assert (done["release"], done["tag"], done["note"]) == (4, "uat/v4", "Roll back: stats broke the home page")


def test_a_deploy_without_a_note_shows_no_note(project):
    lines = project.tools("history", "dev").stdout.splitlines()
    assert lines[2].split() == ["v2", *lines[2].split()[1:4], "deploy", project.dev[:7], "succeeded"]


@pytest.mark.parametrize("description, kind", [
    ("Deploy 1a2b3c4", "deploy"),
    ("Promote my-app-uat v12 1a2b3c4", "promotion"),
    ("Rollback to v41", "rollback"),
    ("Set DEBUG, SECRET_KEY config vars", "config"),
    ("Remove DEBUG config vars", "config"),
    ("Attach DATABASE (@ref:postgresql-curved-12345)", "add-on"),
    ("Detach DATABASE (@ref:postgresql-curved-12345)", "add-on"),
    ("Update DATABASE by heroku-postgresql", "add-on"),
    ("Initial release", "other"),
    ("Enable Logplex", "other"),
])
def test_kind_of(description, kind):
    release = Release(version=3, description=description, status="succeeded", current=True, slug_id=None,
                      created_at=None, user_email=None)
    assert kind_of(release) == kind


def test_a_tag_left_from_an_earlier_app_is_ignored():
    def release(version, description):
        return Release(version=version, description=description, status="succeeded", current=False,
                       slug_id="s", created_at=None, user_email="dev@example.com")

    stale = {
        2: ReleaseTag("uat/v2", 2, "a" * 40, "old@example.com", "Old note"),
        3: ReleaseTag("uat/v3", 3, "c" * 40, "old@example.com", "Old config?"),
    }
    rows = entries([release(2, "Deploy bbbbbbb"), release(3, "Set A config vars")], stale)
    assert [(row.version, row.tag, row.note, row.commit_to) for row in rows] == [
        (3, None, None, None), (2, None, None, "bbbbbbb"),
    ]
