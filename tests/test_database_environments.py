"""Database environments (``database_url:``): the settings that make one, what it refuses, how it is confirmed.

Pure units: the settings file's rules with their messages (file, line, key),
the model, the one place a label becomes an app, the typed confirmation, the
direction of a restore, and how a database URL is identified.
"""
from __future__ import annotations

import io
import textwrap

import pytest

from heroku_tools.backups import DataFlowRefused, check_direction
from heroku_tools.confirm import ConfirmationRefused, confirm_change
from heroku_tools.errors import HerokuToolsError, NotAnApp, SettingsError, current_task
from heroku_tools.output import Console
from heroku_tools.protection import (
    Database, ProtectedTarget, Unverified, check_database_target, libpq_database_of, on_this_machine,
)
from heroku_tools.settings import parse

SETTINGS = """\
environments:
    - {label: live, app_name: acme-live, branch: master}
    - {label: uat, app_name: acme-uat, branch: master}
    - {label: dev, app_name: acme-dev, branch: dev}
    - label: local
      database_url: ${DATABASE_URL}
    - label: test
      database_url: postgres:///acme_test
"""


def settings(text: str = SETTINGS):
    return parse(textwrap.dedent(text))


# -- the model -------------------------------------------------------------------------------


def test_a_database_environment_is_the_lowest_and_never_protected():
    loaded = settings()
    local = loaded.environment("local", database=True)
    assert local.is_database and local.database_url == "${DATABASE_URL}", "kept as written: expanded when used"
    assert (local.app_name, local.protected, local.upstream, local.remote_host) == ("", False, None, False)
    assert loaded.environment("test", database=True).database_url == "postgres:///acme_test"
    assert loaded.labels == ["live", "uat", "dev", "local", "test"]
    # the chain of apps ignores the databases below it: dev has no upstream, nothing promotes into local
    assert loaded.environment("dev").upstream is None
    assert [env.label for env in loaded.downstream_of("dev")] == ["uat"]
    assert not [env for env in loaded.environments if env.upstream in ("local", "test")]
    assert not loaded.environment("dev").is_database


def test_the_mapping_form_and_remote_host():
    loaded = settings("""\
        environments:
          live: {app_name: acme-live, branch: master, protected: true}
          dev: {app_name: acme-dev, branch: dev}
          local: {database_url: "postgres://me@db.internal/acme", remote_host: true, protected: false}
        """)
    local = loaded.environment("local", database=True)
    assert (local.remote_host, local.protected) == (True, False)


# -- one message per mistake, naming file, line and key ----------------------------------------

MISTAKES = {
    "app and database": (
        "    - {label: local, app_name: acme-local, database_url: 'postgres:///x'}\n",
        "heroku-tools.yml, line 5: environments.local.app_name: an environment is a Heroku app (app_name) "
        "or a database (database_url), not both",
    ),
    "a key only an app has": (
        "    - label: local\n      database_url: postgres:///x\n      branch: dev\n",
        "heroku-tools.yml, line 7: environments.local.branch: local is a database (database_url), "
        "not a Heroku app: 'branch' only makes sense for an app",
    ),
    "notify on a database": (
        "    - label: local\n      database_url: postgres:///x\n      notify: [{slack: 'https://x'}]\n",
        "heroku-tools.yml, line 7: environments.local.notify: local is a database (database_url), not a Heroku app",
    ),
    "protected": (
        "    - label: local\n      database_url: postgres:///x\n      protected: true\n",
        "heroku-tools.yml, line 7: environments.local.protected: a database environment (local) is never protected",
    ),
    "unknown key": (
        "    - label: local\n      database_url: postgres:///x\n      remote_hots: true\n",
        "heroku-tools.yml, line 7: environments.local: unknown key 'remote_hots'; did you mean 'remote_host'?",
    ),
    "not a postgres URL": (
        "    - label: local\n      database_url: mysql://root:hunter2@localhost/x\n",
        "heroku-tools.yml, line 6: environments.local.database_url: expected a postgres:// URL",
    ),
    "malformed reference": (
        "    - label: local\n      database_url: ${DATABASE_URL\n",
        "heroku-tools.yml, line 6: environments.local.database_url: expected ${NAME} or ${NAME:-default} references",
    ),
    "remote_host not a boolean": (
        "    - label: local\n      database_url: postgres:///x\n      remote_host: yes please\n",
        "heroku-tools.yml, line 7: environments.local.remote_host: expected true or false, got 'yes please'",
    ),
}


@pytest.mark.parametrize("entry, expected", MISTAKES.values(), ids=MISTAKES.keys())
def test_one_message_naming_file_line_and_key(entry, expected):
    text = "environments:\n    - {label: live, app_name: acme-live, branch: master}\n" \
           "    - {label: dev, app_name: acme-dev, branch: dev}\n    - {label: uat, app_name: acme-uat, branch: master}\n"
    with pytest.raises(SettingsError) as caught:
        parse(text + entry)
    message = str(caught.value)
    assert message.startswith(expected), message
    assert "hunter2" not in message, "a database URL may hold a password: never echoed"


def test_a_database_is_listed_after_every_app():
    with pytest.raises(SettingsError) as caught:
        settings("""\
            environments:
              - {label: live, app_name: acme-live, branch: master}
              - {label: local, database_url: "postgres:///acme"}
              - {label: dev, app_name: acme-dev, branch: dev}
            """)
    assert str(caught.value) == ("heroku-tools.yml, line 3: environments.local: a database environment (local) is the "
                                 "lowest: list it after every app environment (dev comes after it)")


def test_a_database_is_nobodys_upstream_and_no_routes_target():
    with pytest.raises(SettingsError, match=r"^heroku-tools.yml, line 3: environments.dev.upstream: local is a "
                                            r"database environment: never an upstream"):
        settings("""\
            environments:
              - {label: live, app_name: acme-live, branch: master}
              - {label: dev, app_name: acme-dev, branch: dev, upstream: local}
              - {label: local, database_url: "postgres:///acme"}
            """)
    with pytest.raises(SettingsError, match=r"^heroku-tools.yml, line 10: routes.master: local is a database "
                                            r"environment, not a Heroku app: no branch deploys to it"):
        settings(SETTINGS + "routes:\n    master: local\n")


def test_a_template_is_never_a_database():
    with pytest.raises(SettingsError, match=r"environments.dev-\*.database_url: a template of personal environments "
                                            r"\(dev-\*\) is a Heroku app"):
        settings(SETTINGS.replace("label: test", "label: dev-*"))


def test_an_environment_with_neither_says_what_it_may_be():
    with pytest.raises(SettingsError, match=r"missing key 'app_name' \(or database_url, for a database environment\)"):
        settings("environments:\n  - {label: local, branch: dev}\n")


# -- never an app: the one place a label becomes an environment ----------------------------------------


def test_every_lookup_of_an_app_refuses_a_database():
    loaded = settings()
    with pytest.raises(NotAnApp) as caught:
        loaded.environment("local")
    assert caught.value.message.startswith("local is a database, not a Heroku app: this needs a Heroku app; "
                                           "nothing was done.")
    assert caught.value.recover == ["heroku-tools backups.restore SOURCE local   # the one task that takes it"]
    token = current_task.set("deploy")
    try:
        with pytest.raises(NotAnApp, match=r"^local is a database, not a Heroku app: `deploy` needs an app"):
            loaded.environment("local")
    finally:
        current_task.reset(token)
    with pytest.raises(NotAnApp):
        loaded.downstream_of("test")


# -- direction ---------------------------------------------------------------------------------------


def test_a_database_takes_any_apps_data_and_gives_none():
    loaded = settings()
    env = lambda label: loaded.environment(label, database=True)  # noqa: E731
    for source in ("live", "uat", "dev"):
        check_direction(loaded, env(source), env("local"))
    with pytest.raises(DataFlowRefused, match=r"^local is a database, not a Heroku app: it is never the source of a "
                                              r"restore; nothing was changed$"):
        check_direction(loaded, env("local"), env("dev"))
    with pytest.raises(DataFlowRefused, match="never the source"):
        check_direction(loaded, env("local"), env("test"))


# -- confirmation: the typed code, or --confirm LABEL ------------------------------------------------


def test_confirm_names_the_label_of_a_database():
    local = settings().environment("local", database=True)
    confirm_change(local, "replace local's database", confirm_app="local")
    with pytest.raises(ConfirmationRefused) as caught:
        confirm_change(local, "replace local's database", confirm_app="acme-dev")
    assert caught.value.message == ("--confirm acme-dev does not match the database environment being changed (local); "
                                    "nothing was changed.")
    assert caught.value.recover == ["re-run with --confirm local if local is really the target"]


def test_the_typed_code_works_as_for_an_app():
    local = settings().environment("local", database=True)
    prompts = []

    def typed(prompt: str) -> str:
        prompts.append(prompt)
        return prompt.split()[1]

    confirm_change(local, "replace local's database", read=typed, console=Console(prompt=io.StringIO()))
    assert prompts and prompts[0].endswith(" to replace local's database: ")
    with pytest.raises(ConfirmationRefused, match="the code did not match"):
        confirm_change(local, "replace local's database", read=lambda prompt: "000000x")


# -- how a database URL is identified ------------------------------------------------------------------------


@pytest.mark.parametrize("url, environ, expected", [
    ("postgres:///acme_dev", {}, Database("localhost", 5432, "acme_dev")),
    ("postgres:///acme_dev", {"PGPORT": "5433"}, Database("localhost", 5433, "acme_dev")),
    ("postgresql://me:secret@127.0.0.1:5499/acme", {}, Database("localhost", 5499, "acme")),
    ("postgres://me@[::1]/acme", {}, Database("localhost", 5432, "acme")),
    ("postgres://LOCALHOST/acme", {}, Database("localhost", 5432, "acme")),
    ("postgres:///acme?host=/var/run/postgresql&port=5444", {}, Database("localhost", 5444, "acme")),
    ("postgres://", {"PGHOST": "db.example.com", "PGDATABASE": "acme"}, Database("db.example.com", 5432, "acme")),
    ("postgres://me@localhost", {}, Database("localhost", 5432, "me")),
    ("postgres://db.example.com/acme", {}, Database("db.example.com", 5432, "acme")),
    ("mysql://localhost/acme", {}, None),
    ("postgres://h:notaport/acme", {}, None),
])
def test_a_database_url_is_identified_as_libpq_connects(url, environ, expected):
    assert libpq_database_of(url, environ) == expected


def test_this_machine():
    assert on_this_machine(Database("localhost", 5432, "x"))
    assert not on_this_machine(Database("db.example.com", 5432, "x"))


def reader(configs: dict):
    def read(app: str):
        value = configs[app]
        if isinstance(value, Exception):
            raise value
        return value
    return read


CONFIGS = {
    "acme-live": {"DATABASE_URL": "postgres://u:p@127.0.0.1:5432/live_db"},
    "acme-uat": {"DATABASE_URL": "postgres://u:p@ec2-1.example.com:5432/uat_db"},
    "acme-dev": {"DATABASE_URL": "postgres://u:p@ec2-1.example.com:5432/dev_db"},
}


def test_a_local_url_that_is_lives_database_is_refused():
    loaded = settings(SETTINGS.replace("label: live,", "label: live, protected: true,"))
    local = loaded.environment("local", database=True)
    with pytest.raises(ProtectedTarget) as caught:
        check_database_target(loaded, local, "postgres://other:pw@localhost/live_db", reader(CONFIGS), action="restore")
    assert caught.value.message == (
        "refusing to restore: environments.local.database_url (localhost:5432/live_db) is live's database "
        "(acme-live's DATABASE_URL), and live is protected; nothing was changed")
    assert check_database_target(loaded, local, "postgres:///acme_dev", reader(CONFIGS), action="restore") == \
        Database("localhost", 5432, "acme_dev")


def test_a_remote_host_needs_saying_so():
    loaded = settings()
    local = loaded.environment("local", database=True)
    with pytest.raises(ProtectedTarget, match=r"database_url points at db.example.com, not this machine"):
        check_database_target(loaded, local, "postgres://db.example.com/acme", reader(CONFIGS), action="restore")
    remote = settings(SETTINGS.replace("database_url: postgres:///acme_test",
                                       "database_url: postgres:///acme_test\n      remote_host: true"))
    test = remote.environment("test", database=True)
    assert check_database_target(remote, test, "postgres://db.example.com/acme", reader(CONFIGS), action="restore")
    with pytest.raises(ProtectedTarget, match=r"is uat's database \(acme-uat's DATABASE_URL\): a database environment "
                                              r"needs a database of its own"):
        check_database_target(remote, test, "postgres://x@ec2-1.example.com/uat_db", reader(CONFIGS), action="restore")


def test_an_unreadable_protected_app_refuses_and_an_unprotected_one_does_not():
    loaded = settings()
    local = loaded.environment("local", database=True)
    configs = {**CONFIGS, "acme-dev": HerokuToolsError("forbidden")}
    assert check_database_target(loaded, local, "postgres:///x", reader(configs), action="restore")
    configs = {**CONFIGS, "acme-live": HerokuToolsError("forbidden")}
    with pytest.raises(Unverified, match=r"could not verify that local's database is not live's \(live is protected\)"):
        check_database_target(loaded, local, "postgres:///x", reader(configs), action="restore")
