"""heroku-tools.yml: the original format, defaults, one clear message per mistake, Invoke overrides."""
from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from invoke import Collection, Config, Context

from heroku_tools import settings
from heroku_tools.cli import HerokuToolsProgram
from heroku_tools.errors import SettingsError, UnknownEnvironment
from heroku_tools.tasks import task

ROOT = Path(__file__).resolve().parents[1]

ORIGINAL = """\
environments:
    - label:    live
      app_name: my-app-live
      branch:   master
    - label:    uat
      app_name: my-app-uat
      branch:   master
    - label:    dev
      app_name: my-app-dev
      branch:   dev
commands:
    collectstatic: python manage.py collectstatic
    migrate: python manage.py migrate
"""


def write(directory: Path, text: str, name: str = "heroku-tools.yml") -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(text))
    return path


@pytest.fixture
def project(tmp_path, monkeypatch) -> Path:
    """A project directory as the current directory, with no settings leaking in from outside."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(settings.ENV_VAR, raising=False)
    return tmp_path


# -- the original format and defaults ------------------------------------------------


def test_original_format_loads_unchanged(project):
    path = write(project, ORIGINAL)
    loaded = settings.load()
    assert loaded.source == path.resolve()
    assert loaded.labels == ["live", "uat", "dev"]
    live, uat, dev = loaded.environments
    assert (live.app_name, live.branch, uat.branch, dev.branch) == ("my-app-live", "master", "master", "dev")
    assert loaded.commands["migrate"] == "python manage.py migrate"
    assert loaded.commands["collectstatic"] == "python manage.py collectstatic"


def test_defaults(project):
    write(project, ORIGINAL)
    loaded = settings.load()
    live, uat, dev = loaded.environments
    assert (live.upstream, uat.upstream, dev.upstream) == ("uat", "dev", None)
    assert loaded.upstream_of("live") is uat and loaded.upstream_of(dev) is None
    assert (live.protected, uat.protected, dev.protected) == (True, False, False)
    assert (live.pipeline, live.push_tags, live.preboot, live.remote) == (False, True, None, "origin")
    assert live.tag(12) == "live/v12"
    # the project's commands first, in its order, then Django's defaults
    assert list(loaded.commands) == ["collectstatic", "migrate", "loaddata", "syncdb"]
    assert loaded.options["migrate"] == ("**/migrations/*.py",)
    assert loaded.options["collectstatic"] == ("**/static/**",)
    assert loaded.options["loaddata"] == ("**/fixtures/**",)
    assert (loaded.heroku_bin, loaded.git_bin) == (None, None)


def test_every_optional_key(project):
    write(
        project,
        """\
        environments:
          - label: live
            app_name: my-app-live
            pipeline: true
            protected: false
            tag_format: "release-{label}-{version}"
            push_tags: false
            preboot: true
            settings: config/live.env
            data: {anonymise: false}
            remote: upstream
          - label: staging
            app_name: my-app-staging
            branch: main
            upstream: null
            settings: {DEBUG: false, WORKERS: 2}
        commands:
          loaddata: null
          seed: python manage.py seed
        options:
          collectstatic: []
          seed: "**/seeds/*.json"
        heroku: {bin: node_modules/.bin/heroku}
        git: {bin: /usr/bin/git}
        """,
    )
    loaded = settings.load()
    live, staging = loaded.environments
    assert (live.pipeline, live.protected, live.push_tags, live.preboot, live.remote) == (True, False, False, True, "upstream")
    assert (live.branch, live.upstream, live.tag(3)) == (None, "staging", "release-live-3")
    assert live.config_vars == "config/live.env" and live.data == {"anonymise": False}
    assert staging.upstream is None and dict(staging.config_vars) == {"DEBUG": False, "WORKERS": 2}
    assert "loaddata" not in loaded.commands and loaded.commands["seed"] == "python manage.py seed"
    assert "loaddata" not in loaded.options and loaded.options["collectstatic"] == ()
    assert loaded.options["seed"] == ("**/seeds/*.json",)
    assert (loaded.heroku_bin, loaded.git_bin) == ("node_modules/.bin/heroku", "/usr/bin/git")


# -- one message per mistake ---------------------------------------------------------------

MISTAKES = {
    "syntax error": (
        """\
        environments:
          - label: live
            app_name: [my-app-live
        """,
        "heroku-tools.yml, line 4: invalid YAML:",
    ),
    "missing key": (
        """\
        environments:
          - label: live
            branch: master
        """,
        "heroku-tools.yml, line 2: environments.live: missing key 'app_name'",
    ),
    "missing label": (
        """\
        environments:
          - app_name: my-app-live
            branch: master
        """,
        "heroku-tools.yml, line 2: environments[0]: missing key 'label'",
    ),
    "missing branch": (
        """\
        environments:
          - label: live
            app_name: my-app-live
        """,
        "heroku-tools.yml, line 2: environments.live: missing key 'branch' (the git branch deployed here)",
    ),
    "wrong type": (
        """\
        environments:
          - label: live
            app_name: my-app-live
            branch: master
            pipeline: maybe
        """,
        "heroku-tools.yml, line 5: environments.live.pipeline: expected true or false, got 'maybe'",
    ),
    "wrong type of app name": (
        """\
        environments:
          - label: live
            app_name: 42
            branch: master
        """,
        "heroku-tools.yml, line 3: environments.live.app_name: expected a Heroku app name",
    ),
    "unknown label": (
        """\
        environments:
          - label: live
            app_name: my-app-live
            branch: master
            upstream: uta
          - label: uat
            app_name: my-app-uat
            branch: master
        """,
        "heroku-tools.yml, line 5: environments.live.upstream: unknown environment 'uta'; did you mean 'uat'?",
    ),
    "duplicate label": (
        """\
        environments:
          - label: uat
            app_name: my-app-uat
            branch: master
          - label: uat
            app_name: my-app-uat2
            branch: master
        """,
        "heroku-tools.yml, line 5: environments[1].label: duplicate environment 'uat' (first at line 2)",
    ),
    "a second label for the same app": (
        """\
        environments:
          - label: live
            app_name: my-app-live
            branch: master
          - label: scratch
            app_name: my-app-live
            branch: dev
        """,
        "heroku-tools.yml, line 6: environments.scratch.app_name: 'my-app-live' is already the app of environment "
        "'live': each environment needs its own app",
    ),
    "unknown key": (
        """\
        environments:
          - label: uat
            app_nmae: my-app-uat
            branch: master
        """,
        "heroku-tools.yml, line 3: environments.uat: unknown key 'app_nmae'; did you mean 'app_name'?",
    ),
    "unknown top-level key": (
        """\
        enviroments:
          - label: uat
        """,
        "heroku-tools.yml, line 1: unknown key 'enviroments'; did you mean 'environments'?",
    ),
    "duplicate YAML key": (
        """\
        environments:
          - label: uat
            app_name: my-app-uat
            app_name: my-app-uat2
        """,
        "heroku-tools.yml, line 4: environments[0].app_name: duplicate key (first at line 3)",
    ),
    "environments not a list": (
        """\
        environments: my-app-live
        """,
        "heroku-tools.yml, line 1: environments: expected a list of environments, got 'my-app-live'",
    ),
    "no environments": (
        """\
        commands: {}
        """,
        "heroku-tools.yml, line 1: environments: expected at least one environment",
    ),
    "option for an unknown command": (
        ORIGINAL + "options:\n    migrat: '**/migrations/*.py'\n",
        "heroku-tools.yml, line 15: options.migrat: no command named 'migrat'; did you mean 'migrate'?",
    ),
    "bad tag format": (
        """\
        environments:
          - label: live
            app_name: my-app-live
            branch: master
            tag_format: "{label}-{release}"
        """,
        "heroku-tools.yml, line 5: environments.live.tag_format: expected a tag format using only {label}, {version}",
    ),
    "pipeline without upstream": (
        """\
        environments:
          - label: live
            app_name: my-app-live
            pipeline: true
        """,
        "heroku-tools.yml, line 4: environments.live.pipeline: a pipeline environment needs an upstream",
    ),
    "unknown heroku key": (
        ORIGINAL + "heroku:\n    binary: heroku\n",
        "heroku-tools.yml, line 15: heroku: unknown key 'binary'; did you mean 'bin'?",
    ),
    "config var value that is not plain": (
        """\
        environments:
          - label: live
            app_name: my-app-live
            branch: master
            settings:
              DEBUG: false
              ALLOWED_HOSTS: [a.example.com, b.example.com]
        """,
        "heroku-tools.yml, line 7: environments.live.settings.ALLOWED_HOSTS: expected a string, a number, "
        "true/false, or null (to remove it), got a list",
    ),
    "config var name that is not usable": (
        """\
        environments:
          - label: live
            app_name: my-app-live
            branch: master
            settings:
              "MY VAR": secret-value
        """,
        "heroku-tools.yml, line 6: environments.live.settings: 'MY VAR' is not a usable config var name",
    ),
    "settings neither a mapping nor a path": (
        ORIGINAL.replace("branch:   dev\n", "branch:   dev\n      settings: [a, b]\n"),
        "heroku-tools.yml, line 11: environments.dev.settings: expected a mapping of config vars to values, "
        "or the path of a file holding them",
    ),
    "config_ignore not a list of patterns": (
        ORIGINAL + "config_ignore: {SENTRY: yes}\n",
        "heroku-tools.yml, line 14: config_ignore: expected a list of config var name patterns",
    ),
    "config_ignore misspelt": (
        ORIGINAL + "config_ingore: [A]\n",
        "heroku-tools.yml, line 14: unknown key 'config_ingore'; did you mean 'config_ignore'?",
    ),
}


def test_config_var_settings_and_ignore_lists(project):
    write(
        project,
        """\
        environments:
          - label: live
            app_name: my-app-live
            branch: master
            settings: {DEBUG: false, OLD_FLAG: null, SENTRY_DSN: "${SENTRY_DSN}"}
            config_ignore: [SENTRY_ENVIRONMENT]
          - label: uat
            app_name: my-app-uat
            branch: master
            config_ignore: NEW_RELIC_*
        config_ignore: [BUILD_*, HEROKU_SLUG_COMMIT]
        """,
    )
    loaded = settings.load()
    live, uat = loaded.environments
    assert dict(live.config_vars) == {"DEBUG": False, "OLD_FLAG": None, "SENTRY_DSN": "${SENTRY_DSN}"}
    assert live.config_ignore == ("SENTRY_ENVIRONMENT",) and uat.config_ignore == ("NEW_RELIC_*",)
    assert loaded.config_ignore == ("BUILD_*", "HEROKU_SLUG_COMMIT")
    assert settings.parse(ORIGINAL).config_ignore == () and settings.parse(ORIGINAL).environments[0].config_ignore == ()


def test_a_bad_config_var_value_is_never_quoted(project):
    write(project, ORIGINAL.replace("branch:   dev\n", "branch:   dev\n      settings: {'BAD KEY': hunter2-secret}\n"))
    with pytest.raises(SettingsError) as caught:
        settings.load()
    assert "hunter2-secret" not in str(caught.value)


@pytest.mark.parametrize("text, expected", MISTAKES.values(), ids=MISTAKES.keys())
def test_one_message_naming_file_line_and_key(project, text, expected):
    write(project, text)
    with pytest.raises(SettingsError) as caught:
        settings.load()
    message = str(caught.value)
    assert message.startswith(expected), message
    assert "\n" not in message


@task
def show(c, env):
    """Print one environment's app: the smallest task that reads the settings."""
    print(settings.from_context(c).environment(env).app_name)


@pytest.mark.parametrize("text, expected", MISTAKES.values(), ids=MISTAKES.keys())
def test_the_program_exits_1_with_that_message(project, capsys, text, expected):
    write(project, text, "elsewhere.yml")
    program = HerokuToolsProgram(namespace=Collection(show), version="0")
    with pytest.raises(SystemExit) as caught:
        program.run(["heroku-tools", "--config", "elsewhere.yml", "show", "live"])
    assert caught.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith(expected.replace("heroku-tools.yml", "elsewhere.yml")) and err.count("\n") == 1


def test_stock_inv_prints_one_message_without_traceback(project):
    write(project, MISTAKES["unknown key"][0])
    (project / "tasks.py").write_text(
        "from invoke import Collection\nfrom heroku_tools import settings\nfrom heroku_tools.tasks import task\n\n"
        "@task\ndef show(c, env):\n    print(settings.from_context(c).environment(env).app_name)\n\n"
        "ns = Collection(show)\n"
    )
    inv = Path(sys.executable).parent / "inv"
    result = subprocess.run([str(inv), "show", "uat"], cwd=project, capture_output=True, text=True, check=False)
    assert result.returncode == 1
    assert result.stderr == f"{MISTAKES['unknown key'][1]}\n"
    write(project, ORIGINAL)
    result = subprocess.run([str(inv), "show", "uta"], cwd=project, capture_output=True, text=True, check=False)
    assert (result.returncode, result.stderr) == (1, "unknown environment 'uta'; did you mean 'uat'? (known: live, uat, dev)\n")
    result = subprocess.run([str(inv), "show", "live"], cwd=project, capture_output=True, text=True, check=False)
    assert (result.returncode, result.stdout) == (0, "my-app-live\n")


# -- environments named on the command line ---------------------------------------------------


def test_environment_lookup_suggests_and_refuses_flags(project):
    write(project, ORIGINAL)
    loaded = settings.load()
    assert loaded.environment("uat").app_name == "my-app-uat"
    with pytest.raises(UnknownEnvironment, match=r"^unknown environment 'uta'; did you mean 'uat'\? \(known: live, uat, dev\)$"):
        loaded.environment("uta")
    with pytest.raises(UnknownEnvironment, match=r"^unknown environment 'staging' \(known"):
        loaded.environment("staging")
    with pytest.raises(UnknownEnvironment, match="got the flag '--help'"):
        loaded.environment("--help")


# -- finding the file -------------------------------------------------------------------------------


def test_found_in_a_parent_directory(project, monkeypatch):
    path = write(project, ORIGINAL)
    deeper = project / "app" / "templates"
    deeper.mkdir(parents=True)
    monkeypatch.chdir(deeper)
    assert settings.load().source == path.resolve()


def test_env_var_and_explicit_path_win(project, monkeypatch):
    write(project, ORIGINAL)
    other = write(project, ORIGINAL.replace("my-app-live", "other-live"), "other.yml")
    monkeypatch.setenv(settings.ENV_VAR, str(other))
    assert settings.load().environment("live").app_name == "other-live"
    monkeypatch.delenv(settings.ENV_VAR)
    assert settings.load("other.yml").environment("live").app_name == "other-live"
    with pytest.raises(SettingsError, match="settings file 'missing.yml' does not exist"):
        settings.load("missing.yml")


def test_no_settings_anywhere(project):
    with pytest.raises(SettingsError, match=r"^no heroku-tools.yml in .* or its parents: create one, or name it with --config PATH"):
        settings.load()


# -- Invoke configuration, merged deeply -----------------------------------------------------------


def context(overrides: dict) -> Context:
    return Context(Config(overrides={"heroku_tools": overrides}))


def test_invoke_configuration_overrides_one_key_deeply(project):
    write(project, ORIGINAL)
    loaded = settings.from_context(context({"environments": {"live": {"app_name": "override-live"}}}))
    live = loaded.environment("live")
    assert (live.app_name, live.branch) == ("override-live", "master")
    assert loaded.labels == ["live", "uat", "dev"]
    assert loaded.commands["migrate"] == "python manage.py migrate"


def test_invoke_configuration_alone(project):
    loaded = settings.from_context(
        context(
            {
                "environments": [{"label": "uat", "app_name": "x-uat", "branch": "main"}],
                "commands": {"migrate": "python manage.py migrate --plan"},
            }
        )
    )
    assert loaded.source is None and loaded.environment("uat").app_name == "x-uat"
    assert loaded.commands["migrate"] == "python manage.py migrate --plan"


def test_invoke_configuration_adds_an_environment_and_names_the_file(project):
    write(project, ORIGINAL, "ci.yml")
    loaded = settings.from_context(
        context({"config": "ci.yml", "environments": {"review": {"app_name": "my-app-review", "branch": "pr"}}})
    )
    assert loaded.labels == ["live", "uat", "dev", "review"]
    assert loaded.environment("dev").upstream == "review"


def test_invoke_configuration_errors_name_the_key(project):
    write(project, ORIGINAL)
    with pytest.raises(SettingsError) as caught:
        settings.from_context(context({"environments": {"live": {"pipeline": "yes"}}}))
    assert str(caught.value) == (
        "invoke configuration (heroku_tools.environments.live.pipeline): "
        "expected true or false, got 'yes'"
    )


def test_root_collection_configuration_survives_invokes_shallow_merge(project, capsys):
    """A project's ``ns.configure({"heroku_tools": ...})`` changes one key; the file supplies the rest."""
    write(project, ORIGINAL)
    ns = Collection(show)
    ns.configure({"heroku_tools": {"environments": {"uat": {"app_name": "configured-uat"}}}})
    HerokuToolsProgram(namespace=ns, version="0").run(["heroku-tools", "show", "uat"], exit=False)
    HerokuToolsProgram(namespace=ns, version="0").run(["heroku-tools", "show", "live"], exit=False)
    assert capsys.readouterr().out == "configured-uat\nmy-app-live\n"


def test_project_invoke_yaml_is_read_by_the_program(project, capsys):
    write(project, ORIGINAL)
    (project / "invoke.yaml").write_text("heroku_tools:\n  environments:\n    dev:\n      app_name: yaml-dev\n")
    HerokuToolsProgram(namespace=Collection(show), version="0").run(["heroku-tools", "show:dev"], exit=False)
    assert capsys.readouterr().out == "yaml-dev\n"
