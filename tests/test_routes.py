"""Branch routes and personal environments: the settings that declare them, and what ``ci`` decides from them.

The deploy itself is end to end in ``test_teams_e2e.py``; here :func:`heroku_tools.routes.ci`
runs on a real git repository with the deploy replaced by a recorder, to pin
down which environment, commit and confirmation it passes on — and what it refuses.
"""
from __future__ import annotations

import subprocess
from dataclasses import replace

import pytest

from heroku_tools.backups import DataFlowRefused, check_direction
from heroku_tools.errors import SettingsError
from heroku_tools.git import Git
from heroku_tools.output import Console
from heroku_tools.personal import git_user, personal_app, with_person
from heroku_tools import routes
from heroku_tools.routes import RouteRefused, ci, current_branch
from heroku_tools.session import Session
from heroku_tools.settings import parse

SETTINGS = """\
environments:
    - {label: live, app_name: acme-live, branch: production, pipeline: true}
    - {label: uat, app_name: acme-uat, branch: master}
    - {label: dev, app_name: acme-dev, branch: dev}
    - {label: dev-*, app_name: acme-dev-*}
routes:
    master: uat
    dev: dev
    "feature/*": personal
    "hotfix/*": live
    production: {env: live, allow_protected: true}
"""


def error(text: str) -> str:
    with pytest.raises(SettingsError) as raised:
        parse(text)
    return str(raised.value)


# -- settings ---------------------------------------------------------------------------------


def test_routes_load_in_order_and_a_branch_takes_its_exact_route_first():
    settings = parse(SETTINGS + '    "feat*": dev\n    feature/special: uat\n')
    assert [(r.branch, r.environment, r.allow_protected) for r in settings.routes][-3:] == [
        ("production", "live", True), ("feat*", "dev", False), ("feature/special", "uat", False)]
    assert settings.route("feature/x").environment == "personal"  # the first pattern written wins
    assert settings.route("feature/special").environment == "uat"  # a name beats any pattern
    assert settings.route("master").environment == "uat"
    assert settings.route("docs/typo") is None


@pytest.mark.parametrize("routes, message", [
    ("routes: [master]\n", "line 6: routes: expected a mapping of branch: environment, such as "
                           "{master: uat, 'feature/*': personal}, got a list"),
    ("routes: {master: uta}\n", "routes.master: unknown environment 'uta'; did you mean 'uat'? "
                                "(known: live, uat, dev, personal)"),
    ("routes: {master: [uat]}\n", "routes.master: expected an environment label, or {env: LABEL, allow_protected: true}"),
    ("routes: {master: {env: live, allowed: true}}\n", "routes.master: unknown key 'allowed'"),
    ("routes: {master: {env: live, allow_protected: yes please}}\n",
     "routes.master.allow_protected: expected true or false, got 'yes please'"),
])
def test_route_mistakes_name_the_line_and_key(routes, message):
    text = SETTINGS.split("routes:")[0] + routes
    assert message in error(text)


def test_a_route_allowed_to_a_protected_environment_must_be_for_its_branch():
    text = SETTINGS.replace("production: {env: live", '"release/*": {env: live')
    assert "routes.release/*: allows live, but live is protected and deploys only from production: a route to it " \
           "must be for production" in error(text)


def test_a_personal_route_needs_a_template():
    text = SETTINGS.replace("    - {label: dev-*, app_name: acme-dev-*}\n", "")
    assert "routes.feature/*: 'personal' names a personal environment, but no environment is its template" in error(text)


@pytest.mark.parametrize("template, message", [
    ("{label: dev-*, app_name: acme-dev-*, protected: true}", "environments.dev-*.protected: a personal environment (dev-*) "
                                                               "is never protected"),
    ("{label: dev-*, app_name: acme-dev-*, pipeline: true}", "is deployed by push, never by promotion"),
    ("{label: dev-*, app_name: acme-dev-*, upstream: uat}", "takes no upstream"),
    ("{label: dev-*, app_name: acme-dev}", "environments.dev-*.app_name: expected an app name with one * where each "
                                           "person's name goes, such as my-app-dev-*, got 'acme-dev'"),
    ("{label: dev-*}", "environments.dev-*: missing key 'app_name'"),
    ("{label: 'dev-**', app_name: acme-dev-*}", "expected a name such as 'uat' (or 'dev-*', a template), got 'dev-**'"),
])
def test_template_mistakes(template, message):
    assert message in error(SETTINGS.replace("{label: dev-*, app_name: acme-dev-*}", template))


def test_a_template_is_no_ones_upstream_and_only_one_is_allowed():
    settings = parse(SETTINGS)
    assert settings.environment("dev").upstream is None  # not the template listed after it
    two = SETTINGS.replace("    - {label: dev-*", "    - {label: x-*, app_name: acme-x-*}\n    - {label: dev-*")
    assert "environments.dev-*.label: one template of personal environments at most; 'x-*' is one already" in error(two)
    up = SETTINGS.replace("{label: dev, app_name: acme-dev, branch: dev}", "{label: dev, app_name: acme-dev, branch: dev, "
                                                                           "upstream: dev-*}")
    assert "upstream: expected a name such as 'uat'" in error(up)


def test_a_personal_environment_is_its_templates_made_concrete():
    settings = parse(SETTINGS)
    env = settings.environment("dev-3")
    assert (env.label, env.app_name, env.template, env.protected, env.pipeline, env.branch) == \
        ("dev-3", "acme-dev-3", "dev-*", False, False, None)
    assert env.tag(12) == "dev-3/v12"
    assert settings.knows("dev-3") and settings.knows("personal") and not settings.knows("dev-*")
    with pytest.raises(SettingsError, match=r"dev-\* is the template of personal environments: name one \(dev-alice\)"):
        settings.environment("dev-*")
    with pytest.raises(SettingsError, match="no personal environment for you: set HEROKU_TOOLS_PERSONAL_APP"):
        settings.environment("personal")


def test_personal_names_your_app_and_never_another_environments():
    settings = parse(SETTINGS)
    assert replace(settings, personal_app="acme-dev-alice").environment("personal").label == "dev-alice"
    other = replace(settings, personal_app="alices-sandbox").environment("personal")
    assert (other.label, other.app_name) == ("dev-alices-sandbox", "alices-sandbox")
    with pytest.raises(SettingsError, match="acme-live .* is the app of environment live: a personal environment needs "
                                            "an app of its own"):
        replace(settings, personal_app="acme-live").environment("personal")
    with pytest.raises(SettingsError, match="'Not_An_App' .* is not a Heroku app name"):
        replace(settings, personal_app="Not_An_App").environment("personal")


def git_repo(tmp_path, *config: str) -> Git:
    subprocess.run(["git", "init", "-q", "-b", "master", str(tmp_path)], check=True)
    for setting in config:
        key, _, value = setting.partition("=")
        subprocess.run(["git", "-C", str(tmp_path), "config", key, value], check=True)
    return Git(cwd=tmp_path)


def test_the_person_comes_from_the_variable_else_git(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))  # no global git identity
    template = parse(SETTINGS).template
    git = git_repo(tmp_path / "a", "user.email=Alice.Smith@example.com", "user.name=Alice")
    assert git_user(git) == "alice-smith"
    assert personal_app(template, git, environ={}) == "acme-dev-alice-smith"
    assert personal_app(template, git, environ={"HEROKU_TOOLS_PERSONAL_APP": "acme-dev-3"}) == "acme-dev-3"
    assert git_user(git_repo(tmp_path / "b", "user.name=Bob Jones")) == "bob-jones"
    assert with_person(parse(SETTINGS), git, environ={}).environment("personal").label == "dev-alice-smith"
    no_template = parse(SETTINGS.split("    - {label: dev-*")[0])
    assert with_person(no_template, git) is no_template


def test_a_personal_environment_takes_data_but_never_gives_it():
    settings = parse(SETTINGS)
    live, uat, mine = settings.environment("live"), settings.environment("uat"), settings.environment("dev-alice")
    check_direction(settings, uat, mine)
    check_direction(settings, live, mine)
    with pytest.raises(DataFlowRefused, match="dev-alice is a personal environment: it is never the source of a restore"):
        check_direction(settings, mine, settings.environment("dev"))
    with pytest.raises(DataFlowRefused, match="dev-alice is a personal environment"):
        check_direction(settings, mine, settings.environment("dev-bob"))


# -- ci ----------------------------------------------------------------------------------------


class Recorder:
    """Stands in for :func:`heroku_tools.release.deploy`: what ``ci`` asked for."""

    def __init__(self):
        self.calls: list[tuple[str, dict]] = []

    def __call__(self, session, label, **kwargs):
        self.calls.append((label, kwargs))
        return None


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    for name in ("CI_COMMIT_BRANCH", "CIRCLE_BRANCH", "BITBUCKET_BRANCH", "BUILDKITE_BRANCH", "GITHUB_REF",
                 "HEROKU_TOOLS_PERSONAL_APP"):
        monkeypatch.delenv(name, raising=False)
    git = git_repo(tmp_path / "repo", "user.email=alice@example.com", "user.name=Alice")
    git.execute(["commit", "-q", "--allow-empty", "-m", "one"])
    recorder = Recorder()
    monkeypatch.setattr(routes, "deploy", recorder)
    session = Session(with_person(parse(SETTINGS), git), git, None, None)
    return session, recorder


def quiet() -> Console:
    return Console(report=lambda _: None, say=lambda _: None, warn=lambda _: None)


def test_an_unprotected_route_is_its_own_confirmation_and_never_asks_for_a_note(project):
    session, recorder = project
    head = session.git.rev_parse("HEAD")
    outcome = ci(session, console=quiet())
    assert recorder.calls == [("uat", {"branch": "master", "commit": head, "confirm_app": "acme-uat", "dry_run": False,
                                       "note": False, "console": recorder.calls[0][1]["console"]})]
    assert outcome.as_json() == {"branch": "master", "commit": head, "route": "master", "environment": "uat",
                                 "app": "acme-uat", "reason": "nothing deployed (up to date, or a dry run)"}


def test_a_feature_branch_goes_to_the_personal_app_of_the_git_user_or_the_variable(project, monkeypatch):
    session, recorder = project
    session.git.execute(["checkout", "-q", "-b", "feature/x"])
    assert ci(session, console=quiet()).env.app_name == "acme-dev-alice"
    monkeypatch.setenv("HEROKU_TOOLS_PERSONAL_APP", "acme-dev-7")
    session = Session(with_person(parse(SETTINGS), session.git), session.git, None, None)
    ci(session, console=quiet())
    assert [(label, kwargs["confirm_app"]) for label, kwargs in recorder.calls] == [
        ("dev-alice", "acme-dev-alice"), ("dev-7", "acme-dev-7")]


def test_no_route_is_not_an_error(project):
    session, recorder = project
    said = []
    outcome = ci(session, branch=None, console=Console(say=said.append))
    session.git.execute(["checkout", "-q", "-b", "docs/typo"])
    outcome = ci(session, console=Console(say=said.append))
    assert outcome.route is None and outcome.reason == "no route for branch docs/typo"
    assert said[-1].startswith("no route for branch docs/typo: nothing to deploy (routes: master → uat, dev → dev, ")
    assert len(recorder.calls) == 1  # the master run only


def test_a_protected_route_needs_allow_protected_and_the_app_named(project):
    session, recorder = project
    session.git.execute(["checkout", "-q", "--detach"])
    with pytest.raises(RouteRefused, match="the route 'hotfix/\\*' leads to live, which is protected: a route reaches a "
                                           "protected environment only with allow_protected: true"):
        ci(session, branch="hotfix/1", confirm_app="acme-live", console=quiet())
    with pytest.raises(RouteRefused, match="the route 'production' allows live, which is protected, but this job did "
                                           "not name its app") as refused:
        ci(session, branch="production", console=quiet())
    assert "heroku-tools ci --confirm acme-live" in refused.value.render()
    assert recorder.calls == []
    ci(session, branch="production", confirm_app="acme-live", console=quiet())
    assert [(label, kwargs["confirm_app"]) for label, kwargs in recorder.calls] == [("live", "acme-live")]


def test_a_wrong_confirm_is_passed_on_for_the_confirmation_rule_to_refuse(project):
    session, recorder = project
    ci(session, confirm_app="acme-dev", console=quiet())
    assert recorder.calls[0][1]["confirm_app"] == "acme-dev"  # confirm_change refuses it: it names another app


def test_the_branch_of_a_detached_head(project):
    session, _ = project
    git = session.git
    assert current_branch(git, None, {}) == "master"
    with pytest.raises(Exception, match="HEAD is on master, not dev"):
        current_branch(git, "dev", {})
    git.execute(["checkout", "-q", "--detach"])
    assert current_branch(git, "dev", {}) == "dev"
    assert current_branch(git, None, {"CI_COMMIT_BRANCH": "feature/y"}) == "feature/y"
    assert current_branch(git, None, {"GITHUB_REF": "refs/heads/dev"}) == "dev"
    with pytest.raises(Exception, match="HEAD is detached and no branch was given: pass --branch NAME"):
        current_branch(git, None, {"GITHUB_REF": "refs/pull/7/merge"})
