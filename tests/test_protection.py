"""Protection follows the database: how a config var's URL is identified, and what cannot be verified."""
from __future__ import annotations

import pytest

from heroku_tools.errors import HerokuToolsError
from heroku_tools.protection import Database, ProtectedTarget, Unverified, check_target, database_of, databases
from heroku_tools.settings import parse

SETTINGS = """\
environments:
    - {label: live, app_name: app-live, branch: master}
    - {label: uat, app_name: app-uat, branch: master}
    - {label: dev, app_name: app-dev, branch: dev}
"""


@pytest.mark.parametrize("url, expected", [
    ("postgres://u:p@Host.Example.com:5433/db1", Database("host.example.com", 5433, "db1")),
    ("postgresql://u@host/db1?sslmode=require", Database("host", 5432, "db1")),
    ("postgres://other-user:other-pass@host:5432/db1", Database("host", 5432, "db1")),
    ("redis://h:6379/0", None),
    ("postgres://host", None),
    ("postgres://host:notaport/db", None),
    ("not a url", None),
])
def test_a_database_is_its_host_port_and_name(url, expected):
    assert database_of(url) == expected


def test_every_attached_postgres_counts_and_other_vars_do_not():
    found = databases({
        "DATABASE_URL": "postgres://a@h:5432/one",
        "HEROKU_POSTGRESQL_RED_URL": "postgres://b@h:5432/two",
        "HEROKU_POSTGRESQL_BLUE_URL": "postgres://c@h:5432/one",
        "REDIS_URL": "redis://h:6379",
        "SECRET": "postgres is great",
    })
    assert found == {Database("h", 5432, "one"): "DATABASE_URL", Database("h", 5432, "two"): "HEROKU_POSTGRESQL_RED_URL"}


def reader(configs: dict):
    def read(app: str):
        value = configs[app]
        if isinstance(value, Exception):
            raise value
        return value
    return read


def test_a_follower_of_lives_database_under_another_var_is_refused():
    settings = parse(SETTINGS)
    configs = {
        "app-live": {"DATABASE_URL": "postgres://live@h:5432/live"},
        "app-dev": {"DATABASE_URL": "postgres://dev@h:5432/dev", "HEROKU_POSTGRESQL_RED_URL": "postgres://x@h/live"},
    }
    with pytest.raises(ProtectedTarget) as caught:
        check_target(settings, settings.environment("dev"), reader(configs), action="deploy to dev")
    assert "dev's HEROKU_POSTGRESQL_RED_URL (h:5432/live) is live's database (app-live's DATABASE_URL)" in caught.value.message


def test_the_protected_environment_itself_is_left_to_its_own_rules():
    settings = parse(SETTINGS)
    assert check_target(settings, settings.environment("live"), reader({}), action="deploy to live") == []


def test_an_unreadable_protected_app_is_a_note_or_with_strict_a_refusal():
    settings = parse(SETTINGS)
    configs = {"app-live": HerokuToolsError("Heroku API GET /apps/app-live/config-vars failed (403): forbidden"),
               "app-uat": {"DATABASE_URL": "postgres://u@h/uat"}}
    notes = check_target(settings, settings.environment("uat"), reader(configs), action="deploy to uat")
    assert notes == ["could not verify that uat's database is not live's (live is protected): "
                     "Heroku API GET /apps/app-live/config-vars failed (403): forbidden"]
    with pytest.raises(Unverified):
        check_target(settings, settings.environment("uat"), reader(configs), action="restore", strict=True)


def test_the_targets_own_read_failing_is_that_error():
    settings = parse(SETTINGS)
    configs = {"app-live": {}, "app-uat": HerokuToolsError("app-uat not found")}
    with pytest.raises(HerokuToolsError, match="app-uat not found"):
        check_target(settings, settings.environment("uat"), reader(configs), action="deploy to uat")
