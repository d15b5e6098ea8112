"""Any settings file at all: a clear error or settings, never a traceback (hypothesis).

A careless or hostile ``heroku-tools.yml`` — random bytes, recursive aliases,
a mapping where a string belongs, a value of the wrong type under every key
the loader knows — must end in one :class:`SettingsError` (which the program
prints as one message) or in valid settings. Anything else is a bug.
"""
from __future__ import annotations

import yaml
from hypothesis import HealthCheck, given, settings as hsettings
from hypothesis import strategies as st

from heroku_tools.errors import SettingsError
from heroku_tools.settings import load, parse
from heroku_tools.settings.validate import DATA_KEYS, ENVIRONMENT_KEY_NAMES, MIGRATION_KEYS, TOP_KEYS

VALID = {
    "environments": [
        {"label": "live", "app_name": "my-app-live", "branch": "master", "pipeline": True},
        {"label": "uat", "app_name": "my-app-uat", "branch": "master",
         "settings": {"DEBUG": False, "URL": "${HOOK:-https://x.example.com}"},
         "notify": [{"slack": "${SLACK_URL}"}, {"webhook": "https://h.example.com/x", "headers": {"A": "b"}}]},
        {"label": "dev", "app_name": "my-app-dev", "branch": "dev", "maintenance_scale_down": ["worker"]},
    ],
    "commands": {"migrate": "python manage.py migrate --noinput"},
    "options": {"migrate": ["**/migrations/*.py"]},
    "migrations": {"compatible": ["shop.0002_x"]},
    "data": {"rules": "anonymise.yml", "secret": "${SECRET}", "canary": "canary@example.com"},
}
KEYS = sorted({*TOP_KEYS, *ENVIRONMENT_KEY_NAMES, *DATA_KEYS, *MIGRATION_KEYS, "slack", "webhook", "headers", "bin"})
scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20),
                    st.sampled_from(["${X}", "${", "$${Y}", "${A:-b}", "${bad name}", "live", "a\0b", "-flag"]))
keys = st.one_of(st.sampled_from(KEYS), st.text(max_size=8))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(keys, inner, max_size=4)), max_leaves=12)


def outcome(text: str):
    try:
        return parse(text)
    except SettingsError as error:
        assert error.message and "\n" not in error.message, error.message
        return error


@hsettings(max_examples=300, deadline=None)
@given(document=st.dictionaries(keys, values, max_size=6))
def test_any_structure_is_settings_or_one_settings_error(document):
    outcome(yaml.safe_dump(document, allow_unicode=True))


def _paths(node, path=()):
    yield path
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, path + (key,))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _paths(value, path + (index,))


PATHS = [path for path in _paths(VALID) if path]


def _replaced(document, path, value):
    if len(path) == 1:
        document[path[0]] = value
        return
    _replaced(document[path[0]], path[1:], value)


@hsettings(max_examples=400, deadline=None)
@given(path=st.sampled_from(PATHS), value=values)
def test_a_valid_file_with_any_one_value_replaced(path, value):
    document = yaml.safe_load(yaml.safe_dump(VALID))
    _replaced(document, path, value)
    outcome(yaml.safe_dump(document, allow_unicode=True))


@hsettings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=400))
def test_any_bytes_in_the_file(tmp_path, data):
    path = tmp_path / "heroku-tools.yml"
    path.write_bytes(data)
    try:
        load(path)
    except SettingsError as error:
        assert error.message and "\n" not in error.message


def test_recursive_and_exploding_aliases_are_errors_with_a_line():
    assert "an alias refers to the mapping or list that holds it" in outcome("a: &x [*x]\n").message
    laughs = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{name}: &{name} [{', '.join(['*' + prev] * 9)}]\n" for prev, name in zip("abcde", "bcdef", strict=True))
    assert "aliases repeated too often" in outcome(laughs).message
    assert isinstance(outcome("x: &x\n  <<: *x\n"), SettingsError)


def test_not_utf8_names_the_line(tmp_path):
    path = tmp_path / "heroku-tools.yml"
    path.write_bytes(b"environments:\n  - label: live\n    branch: \xff\n")
    try:
        load(path)
    except SettingsError as error:
        assert error.message.endswith("heroku-tools.yml, line 3: not UTF-8 text (byte 0xff): save the file as UTF-8")
    else:
        raise AssertionError("not UTF-8 was accepted")
