"""Config vars without Heroku: masking, interpolation, declared settings, diff, plan, apply, .env files.

The end-to-end half (the real CLI against the sandbox) is ``test_config_e2e.py``.
"""
from __future__ import annotations

import io
import json
import os
import stat
import textwrap
from pathlib import Path

import pytest
from hypothesis import given, settings as hsettings, strategies as st
from invoke import Collection

from heroku_tools import configvars as cv
from heroku_tools.private import would_track
from heroku_tools import settings
from heroku_tools.cli import HerokuToolsProgram
from heroku_tools.colon import rewrite
from heroku_tools.errors import CommandError, SettingsError, UnknownEnvironment
from heroku_tools.git import Git
from heroku_tools.heroku_api import PlatformAPIError
from heroku_tools.models import Addon
from heroku_tools.session import Session
from heroku_tools.tasks import config as config_tasks

from _support.fakes import FakeApi, FakeHeroku

KEY = b"unit-test-key"
SECRET = "s3cr3t-value-never-shown"


# -- helpers -----------------------------------------------------------------------------------------


def cli_failure(step: str, message: str) -> CommandError:
    return CommandError(
        f"`heroku {step} …` failed: {message}", argv=["heroku", step], exit_code=2,
        stderr=f" ›   Error: {message}\n ›\n ›   Error ID: unavailable\n",
    )


def failure(message: str = "Config vars could not be updated right now.", status: int = 503) -> PlatformAPIError:
    return PlatformAPIError(f"Heroku API PATCH /apps/app/config-vars failed ({status}): {message}", status=status,
                            reason=message)


def postgres(app: str) -> Addon:
    return Addon(name="postgresql-curly-123", service="heroku-postgresql", plan="heroku-postgresql:essential-0",
                 state="provisioned", config_vars=("DATABASE_URL",), app_name=app,
                 raw={"attachments": [{"name": "DATABASE", "app": {"name": app}}]})


def snap(name="uat", values=None, **kwargs) -> cv.Snapshot:
    return cv.Snapshot(name=name, kind="environment", values=values or {}, app=f"my-app-{name}", **kwargs)


PROJECT = """\
environments:
  - label: live
    app_name: my-app-live
    branch: master
    settings:
      DEBUG: false
      WORKERS: 2
      RATIO: 0.5
      SENTRY_DSN: "${SENTRY_DSN}"
      PRICE: "$$5"
      OLD_FLAG: null
    config_ignore: [SENTRY_ENVIRONMENT]
  - label: uat
    app_name: my-app-uat
    branch: master
    settings: config/uat.yml
  - label: dev
    app_name: my-app-dev
    branch: dev
    settings: config/dev.env
config_ignore: ["NEW_RELIC_*"]
"""


@pytest.fixture
def project(tmp_path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(settings.ENV_VAR, raising=False)
    (tmp_path / "heroku-tools.yml").write_text(PROJECT)
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "uat.yml").write_text("settings:\n  DEBUG: 'true'\n  GREETING: hello ${WHO:-world}\n")
    (tmp_path / "config" / "dev.env").write_text("# dev\nexport DEBUG=true\nGREETING='hi there'\nEMPTY=\n")
    return tmp_path


# -- names and assignments ------------------------------------------------------------------------------


def test_parse_assignments_splits_at_the_first_equals_and_keeps_values_exactly():
    pairs = ["A=1", "B=x=y", "C=", "D= spaced ", "E=line\nbreak", "F=$HOME \\ 'q' \"dq\" ✓"]
    assert cv.parse_assignments(pairs) == {
        "A": "1", "B": "x=y", "C": "", "D": " spaced ", "E": "line\nbreak", "F": "$HOME \\ 'q' \"dq\" ✓",
    }


@pytest.mark.parametrize("pairs, message", [
    (["NOEQUALS"], "expected KEY=VALUE, got 'NOEQUALS' without '='"),
    (["A=1", "A=2"], "A is given twice"),
    (["=value"], "'' is not a usable config var name"),
    (["-A=1"], "'-A' is not a usable config var name"),
    (["A B=1"], "'A B' is not a usable config var name"),
    ([], "nothing to set"),
])
def test_parse_assignments_errors(pairs, message):
    with pytest.raises(cv.ConfigError, match=message.replace("(", r"\(")):
        cv.parse_assignments(pairs)


def test_an_argument_without_equals_is_not_echoed_when_it_may_be_a_secret():
    with pytest.raises(cv.ConfigError) as caught:
        cv.parse_assignments([f"with space {SECRET}"])
    assert SECRET not in caught.value.render()


# -- masking ---------------------------------------------------------------------------------------------


def test_mask_shows_length_and_keyed_fingerprint_never_the_value():
    masker = cv.Masker(KEY)
    masked = masker.mask(SECRET)
    assert masked == f"<{len(SECRET)} chars {masker.fingerprint(SECRET)}>" and SECRET not in masked
    assert masker.mask("x") == f"<1 char {masker.fingerprint('x')}>"
    assert masker.mask("") == "<empty>"
    assert len(masker.fingerprint(SECRET)) == cv.FINGERPRINT_LENGTH


def test_fingerprint_is_stable_per_key_and_differs_across_keys():
    a, b = cv.Masker(KEY), cv.Masker(KEY)
    assert a.fingerprint("value") == b.fingerprint("value") != a.fingerprint("value2")
    assert cv.Masker(b"another key").fingerprint("value") != a.fingerprint("value")
    # not a plain hash of the value: the key matters
    import hashlib
    assert a.fingerprint("value") != hashlib.sha256(b"value").hexdigest()[:8]


def test_fingerprint_key_from_the_environment_or_a_private_file(tmp_path):
    assert cv.fingerprint_key({cv.FINGERPRINT_ENV: "shared", "HOME": str(tmp_path)}) == b"shared"
    environ = {"XDG_CONFIG_HOME": str(tmp_path / "cfg")}
    first = cv.fingerprint_key(environ)
    path = cv.key_file(environ)
    assert path == tmp_path / "cfg" / "heroku-tools" / "fingerprint.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and len(first) == 64
    assert cv.fingerprint_key(environ) == first  # reused


def test_fingerprint_key_falls_back_to_one_for_this_run(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    key = cv.fingerprint_key({"XDG_CONFIG_HOME": str(blocker)})
    assert len(key) == 64 and not (blocker / "heroku-tools").exists()


def test_visible_quotes_what_would_be_ambiguous():
    assert cv.visible("plain-value") == "plain-value"
    assert cv.visible("two words") == "two words"
    assert cv.visible(" lead") == '" lead"'
    assert cv.visible("multi\nline") == '"multi\\nline"'
    assert cv.visible("") == '""'
    assert cv.visible("(not set)") == '"(not set)"'
    assert cv.visible("<5 chars abc>") == '"<5 chars abc>"'
    assert cv.visible("ünïcode ✓") == "ünïcode ✓"


def test_scrub_replaces_values_in_messages():
    assert cv.scrub(f"Error: bad {SECRET} here", [SECRET, "ab"]) == "Error: bad … here"


# -- interpolation -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("text, expected", [
    ("${A}", "alpha"),
    ("x${A}y${B}", "xalphaybeta"),
    ("$$", "$"),
    ("$${A}", "${A}"),
    ("cost $5", "cost $5"),
    ("$A", "$A"),
    ("${MISSING:-fallback}", "fallback"),
    ("${EMPTY:-fallback}", "fallback"),
    ("${EMPTY}", ""),
    ("${A:-unused}", "alpha"),
    ("trailing $", "trailing $"),
])
def test_interpolate(text, expected):
    assert cv.interpolate(text, {"A": "alpha", "B": "beta", "EMPTY": ""}) == expected


def test_interpolate_missing_names_the_variable_not_a_value():
    with pytest.raises(cv.MissingReference) as caught:
        cv.interpolate("${NOPE}-${ALSO}", {}, key="SENTRY_DSN")
    assert caught.value.missing == ["NOPE", "ALSO"]
    assert "${NOPE}" in str(caught.value) and "SENTRY_DSN" in str(caught.value)


@pytest.mark.parametrize("text", ["${", "abc ${A", "${1BAD}", "${A-B}"])
def test_interpolate_malformed(text):
    with pytest.raises(SettingsError, match=r"\$\$ for a literal"):
        cv.interpolate(text, {"A": "x"}, key="K")


# -- declared settings ----------------------------------------------------------------------------------------


def test_declared_inline_settings_are_strings_heroku_stores(project):
    loaded = settings.load()
    result = cv.declared(loaded, "live", environ={"SENTRY_DSN": "https://key@sentry.example/1"})
    assert dict(result.values) == {
        "DEBUG": "false", "WORKERS": "2", "RATIO": "0.5", "SENTRY_DSN": "https://key@sentry.example/1", "PRICE": "$5",
    }
    assert result.removed == ("OLD_FLAG",)
    assert result.source == "heroku-tools.yml (environments.live.settings)"


def test_declared_missing_reference_is_an_error_before_anything(project):
    with pytest.raises(cv.MissingReference) as caught:
        cv.declared(settings.load(), "live", environ={})
    text = caught.value.render()
    assert "${SENTRY_DSN} is not set in this environment (needed by SENTRY_DSN); nothing was changed" in text
    assert "export SENTRY_DSN=" in text


def test_declared_from_a_yaml_file_with_a_settings_block(project):
    result = cv.declared(settings.load(), "uat", environ={})
    assert dict(result.values) == {"DEBUG": "true", "GREETING": "hello world"}
    assert result.source == "config/uat.yml"


def test_declared_from_a_dotenv_file(project):
    result = cv.declared(settings.load(), "dev", environ={})
    assert dict(result.values) == {"DEBUG": "true", "GREETING": "hi there", "EMPTY": ""}


def test_declared_settings_file_errors(project):
    (project / "config" / "uat.yml").write_text("settings:\n  DEBUG: [1, 2]\n")
    with pytest.raises(SettingsError, match=r"config/uat.yml, line 2: settings.DEBUG: expected a string"):
        cv.declared(settings.load(), "uat")
    (project / "config" / "uat.yml").write_text("GOOD: 1\n'BAD KEY': 2\n")
    with pytest.raises(SettingsError, match=r"config/uat.yml, line 2: 'BAD KEY' is not a usable config var name"):
        cv.declared(settings.load(), "uat")
    (project / "config" / "uat.yml").unlink()
    with pytest.raises(SettingsError, match=r"environment uat: settings file 'config/uat.yml' does not exist"):
        cv.declared(settings.load(), "uat")
    (project / "config" / "dev.env").write_text("A='unterminated\n")
    with pytest.raises(SettingsError, match=r"config/dev.env, line 1: A: unterminated"):
        cv.declared(settings.load(), "dev")


def test_no_settings_declared(project):
    (project / "heroku-tools.yml").write_text("environments:\n  - {label: x, app_name: my-x, branch: main}\n")
    with pytest.raises(cv.ConfigError, match="x declares no settings"):
        cv.declared(settings.load(), "x")


def test_resolve_names_environments_declared_settings_and_files(project):
    loaded = settings.load()
    assert cv.resolve(loaded, "live")[0] == "environment"
    kind, declared = cv.resolve(loaded, "@uat", environ={})
    assert kind == "settings" and declared.name == "@uat" and declared.values["DEBUG"] == "true"
    kind, from_file = cv.resolve(loaded, "config/dev.env", environ={})
    assert kind == "settings" and from_file.values["GREETING"] == "hi there"
    with pytest.raises(UnknownEnvironment, match="unknown environment 'uta'; did you mean 'uat'"):
        cv.resolve(loaded, "uta")
    with pytest.raises(cv.ConfigError, match="'nope.yml' is neither an environment"):
        cv.resolve(loaded, "nope.yml")


# -- diff ---------------------------------------------------------------------------------------------------


def test_diff_statuses_add_ons_and_ignore():
    a = snap("uat", {"SAME": "1", "DIFF": "a", "ONLY_A": "x", "DATABASE_URL": "pg://a", "SENTRY_ENVIRONMENT": "uat",
                     "REDIS_URL": "r://a", "CACHE_URL": "c"}, managed={"CACHE_URL": "memcachier"})
    b = snap("live", {"SAME": "1", "DIFF": "b", "ONLY_B": "y", "DATABASE_URL": "pg://b", "SENTRY_ENVIRONMENT": "live"},
             ignore=("SENTRY_*",))
    result = cv.diff(a, b)
    by_key = {e.key: e for e in result.entries}
    assert by_key["SAME"].status is cv.Status.EQUAL
    assert by_key["DIFF"].status is cv.Status.DIFFERENT
    assert by_key["ONLY_A"].status is cv.Status.ONLY_A and by_key["ONLY_B"].status is cv.Status.ONLY_B
    assert by_key["DATABASE_URL"].status is cv.Status.ADDON and by_key["DATABASE_URL"].managed_by == "add-on"
    assert by_key["REDIS_URL"].status is cv.Status.ADDON  # on one side only: still not drift
    assert by_key["CACHE_URL"].status is cv.Status.ADDON and by_key["CACHE_URL"].managed_by == "memcachier"
    assert by_key["SENTRY_ENVIRONMENT"].status is cv.Status.IGNORED
    assert [e.key for e in result.drift] == ["DIFF", "ONLY_A", "ONLY_B"]
    assert not result.matches
    # drift first, then equal, add-on and ignored
    assert [e.status for e in result.entries][:3] == [cv.Status.DIFFERENT, cv.Status.ONLY_A, cv.Status.ONLY_B]


def test_diff_matches_when_only_add_on_and_ignored_vars_differ():
    a = snap("uat", {"X": "1", "DATABASE_URL": "a", "BUILD": "1"})
    b = snap("live", {"X": "1", "DATABASE_URL": "b", "BUILD": "2"})
    result = cv.diff(a, b, ignore=["BUILD"])
    assert result.matches
    assert cv.summary(result) == "uat and live match: 1 var equal; not compared: 1 set by add-ons, 1 ignored"


def test_render_diff_is_aligned_masked_and_summarised():
    a = snap("uat", {"SECRET_KEY": SECRET, "DEBUG": "true", "ONLY_A": "x", "DATABASE_URL": "pg://uat-secret"})
    b = snap("live", {"SECRET_KEY": SECRET + "!", "DEBUG": "true", "ONLY_B": "y", "DATABASE_URL": "pg://live"},
             managed={"DATABASE_URL": "heroku-postgresql"})
    masker = cv.Masker(KEY)
    text = cv.render_diff(cv.diff(a, b), masker)
    assert SECRET not in text and "pg://" not in text
    lines = text.splitlines()
    assert lines[0] == ("Comparing uat (my-app-uat) with live (my-app-live) "
                        "(values masked: length and fingerprint; --show-values to reveal)")
    assert lines[1].split() == ["KEY", "uat", "live"]
    body = lines[2:-1]
    assert [line[0] for line in body] == ["!", "<", ">", "=", "~"]
    # the second column starts at the same place on every row
    starts = {line.index(cell) for line, cell in zip(body, [masker.mask(SECRET), masker.mask("x"), "(not set)",
                                                             masker.mask("true"), "add-on"], strict=True)}
    assert len(starts) == 1
    assert "~ DATABASE_URL" in text and "add-on heroku-postgresql" in text
    assert lines[-1] == (
        "3 differences: 1 different, 1 only in uat, 1 only in live; 1 equal; not compared: 1 set by add-ons"
    )


def test_render_diff_with_values_and_colour():
    a, b = snap("uat", {"A": "one\ntwo"}), snap("live", {"A": "three"})
    text = cv.render_diff(cv.diff(a, b), cv.Masker(KEY), reveal=True)
    assert '"one\\ntwo"' in text and "three" in text and "values shown" in text
    painted = cv.render_diff(cv.diff(a, b), cv.Masker(KEY), paint=lambda text, *styles: f"[{text}]")
    assert "[! A" in painted


def test_diff_json_masks_unless_asked():
    a, b = snap("uat", {"A": SECRET}), snap("live", {"A": SECRET, "B": "x"})
    data = cv.diff_json(cv.diff(a, b), cv.Masker(KEY))
    assert SECRET not in json.dumps(data)
    assert data["match"] is False and data["counts"]["only_b"] == 1 and data["counts"]["equal"] == 1
    entry = next(v for v in data["vars"] if v["key"] == "A")
    assert entry["a"] == entry["b"] == {"length": len(SECRET), "fingerprint": cv.Masker(KEY).fingerprint(SECRET)}
    shown = cv.diff_json(cv.diff(a, b), cv.Masker(KEY), reveal=True)
    assert next(v for v in shown["vars"] if v["key"] == "A")["a"]["value"] == SECRET


def test_diff_against_declared_settings_manages_only_what_they_list():
    app = snap("live", {"DEBUG": "false", "OLD_FLAG": "1", "HAND_SET": "x"})
    declared = cv.Snapshot(name="@live", kind="settings", values={"DEBUG": "false", "NEW": "1"},
                           removed=("OLD_FLAG",))
    result = cv.diff(app, declared)
    assert {e.key: e.status for e in result.entries} == {
        "OLD_FLAG": cv.Status.ONLY_A, "NEW": cv.Status.ONLY_B, "DEBUG": cv.Status.EQUAL,
        "HAND_SET": cv.Status.UNDECLARED,
    }
    assert [e.key for e in result.drift] == ["OLD_FLAG", "NEW"]
    assert cv.summary(result).endswith("; 1 equal; not compared: 1 not declared in @live")
    text = cv.render_diff(result, cv.Masker(KEY))
    assert "? HAND_SET" in text and "(removed)" in text
    # the other way round too; and two declarations compare as they are
    assert cv.diff(declared, app).count(cv.Status.UNDECLARED) == 1
    other = cv.Snapshot(name="file", kind="settings", values={"HAND_SET": "x"})
    assert cv.diff(declared, other).count(cv.Status.UNDECLARED) == 0


def test_trailing_newlines_are_never_taken_for_the_end_of_a_pattern():
    with pytest.raises(cv.ConfigError, match="not a usable config var name"):
        cv.parse_assignments(["A\n=1"])
    assert cv.dotenv_value("0\n") == '"0\\n"'
    assert cv.visible("abc\n") == '"abc\\n"'


# -- plan ---------------------------------------------------------------------------------------------------


def test_plan_push_signs_and_one_set_one_unset():
    current = snap("live", {"SAME": "1", "CHANGE": "old", "GONE": "x", "EXTRA": "e", "DATABASE_URL": "pg",
                            "SENTRY_ENVIRONMENT": "live"},
                   managed={"DATABASE_URL": "heroku-postgresql"}, ignore=("SENTRY_*",))
    declared = cv.Declared(values={"SAME": "1", "CHANGE": "new", "NEW": "n", "DATABASE_URL": "mine"},
                           removed=("GONE", "NEVER_THERE"), source="file")
    result = cv.plan_push(current, declared)
    signs = {e.key: cv.PLAN_SIGNS[e.action] for e in result.entries}
    assert signs == {"NEW": "+", "CHANGE": "!", "GONE": "-", "DATABASE_URL": "~", "EXTRA": "?",
                     "SAME": "=", "NEVER_THERE": "="}
    assert result.to_set == {"NEW": "n", "CHANGE": "new"}
    assert result.to_unset == ["GONE"]
    assert result.describe() == "1 to add, 1 to change, 1 to remove"
    assert result.describe(done=True) == "1 added, 1 changed, 1 removed"
    text = cv.render_plan(result, cv.Masker(KEY))
    assert "+ NEW" in text and "- GONE" in text and "? EXTRA" in text and "~ DATABASE_URL" in text
    assert "1 to add, 1 to change, 1 to remove: 1 release;" in text  # sets and removals together
    assert "old" not in text.replace("(", " ").split() and "mine" not in text


def test_plan_with_nothing_to_do():
    result = cv.plan_push(snap("live", {"A": "1"}), cv.Declared(values={"A": "1"}))
    assert not result.changes and result.describe() == "no changes"


# -- apply --------------------------------------------------------------------------------------------------


def test_apply_is_one_request_setting_and_removing_then_a_check():
    """One PATCH (one release): sets and removals (null) together; Heroku's answer is checked."""
    heroku = FakeHeroku({"app": {"A": "1", "GONE": "x", "ALSO": "y"}})
    applied = cv.apply(FakeApi(heroku), "app", {"A": "2", "B": SECRET}, ["GONE", "ALSO"])
    assert heroku.calls == [("api:patch", "app", {"A": "2", "B": SECRET, "GONE": None, "ALSO": None}),
                            ("releases", "app")]
    assert applied.versions == (11,) and heroku.apps["app"] == {"A": "2", "B": SECRET}


def test_apply_failure_nothing_applied():
    heroku = FakeHeroku({"app": {"A": "1", "A0": "x"}})
    heroku.failures["api:patch"] = (failure(), False)
    with pytest.raises(cv.ApplyFailed) as caught:
        cv.apply(FakeApi(heroku), "app", {"A": "2", "B": SECRET}, ["A0"], recover="heroku-tools config.push live")
    err = caught.value
    assert err.applied == [] and err.not_applied == ["A", "B", "A0"]
    text = err.render()
    assert text.startswith("changing the config vars of app failed: Config vars could not be updated right now.")
    assert "nothing was applied on app" in text and "not applied: A, B, A0" in text
    assert "$ heroku-tools config.push live" in text
    assert SECRET not in text and err.__cause__ is None
    assert [call[0] for call in heroku.calls] == ["api:patch", "api:config-vars"]  # one request, then the read-back


def test_apply_failure_with_part_of_the_change_made_reports_what_was_applied():
    """Whatever the app holds after a failed request (read back) is what the report says."""
    heroku = FakeHeroku({"app": {"A": "1", "GONE": "x"}})
    heroku.failures["api:patch"] = (failure(), "sets")
    with pytest.raises(cv.ApplyFailed) as caught:
        cv.apply(FakeApi(heroku), "app", {"A": "2", "B": SECRET}, ["GONE"])
    assert caught.value.applied == ["A", "B"] and caught.value.not_applied == ["GONE"]
    text = caught.value.render()
    assert "applied on app: A, B" in text and "not applied: GONE" in text and SECRET not in text


def test_apply_failure_after_the_change_went_through_is_read_back():
    heroku = FakeHeroku({"app": {"A": "1"}})
    heroku.failures["api:patch"] = (failure(message=f"socket hang up near {SECRET}"), True)
    with pytest.raises(cv.ApplyFailed) as caught:
        cv.apply(FakeApi(heroku), "app", {"A": "2", "B": SECRET})
    assert caught.value.applied == ["A", "B"] and caught.value.not_applied == []
    assert SECRET not in caught.value.render()


def test_apply_failure_when_reading_back_fails_too():
    heroku = FakeHeroku({"app": {"A": "1"}})
    heroku.failures["api:patch"] = (failure(), False)
    heroku.failures["api:config-vars"] = (failure(message="network down"), False)
    with pytest.raises(cv.ApplyFailed) as caught:
        cv.apply(FakeApi(heroku), "app", {"A": SECRET})
    text = caught.value.render()
    assert "unknown: reading app's config back failed too (network down)" in text and SECRET not in text


def test_apply_success_reported_but_values_unchanged_is_caught():
    heroku = FakeHeroku({"app": {"A": "1"}})
    heroku.drop_silently.add("B")
    with pytest.raises(cv.ApplyFailed, match="Heroku reported success, but 1 of the changes to app are not there: B"):
        cv.apply(FakeApi(heroku), "app", {"A": "2", "B": "3"})


# -- .env files ---------------------------------------------------------------------------------------------


def test_dotenv_rendering_quotes_only_when_needed():
    text = cv.render_dotenv({"B": "two words", "A": "plain", "C": "it's", "D": "a\nb", "E": ""}, "head\nline")
    assert text == "# head\n# line\nA=plain\nB='two words'\nC=\"it's\"\nD=\"a\\nb\"\nE=''\n"


def test_dotenv_parser_reads_what_python_dotenv_reads():
    text = textwrap.dedent("""\
        # comment
        export A=1
        B = spaced  # trailing comment
        C='single $x \\' q'
        D="double \\"q\\" \\n nl \\\\ bs"
        E="multi
        line"
        F=a#not-a-comment
        """)
    assert cv.parse_dotenv(text) == {
        "A": "1", "B": "spaced", "C": "single $x ' q", "D": 'double "q" \n nl \\ bs', "E": "multi\nline",
        "F": "a#not-a-comment",
    }


@pytest.mark.parametrize("text, message", [
    ("# comment\n\nA=1\n\n  B='unterminated\nC=3\n", "config/dev.env, line 5: B: unterminated 'quoted value"),
    ("A=1\nB=\"closed\" junk\n", "config/dev.env, line 2: B: unexpected text after the closing quote"),
    ("A=1\n\nLONELY\n", "config/dev.env, line 3: expected '=' after LONELY"),
    ("A=1\n=nokey\n", "config/dev.env, line 2: expected KEY=value"),
    ("'A B'=1\n", "config/dev.env: 'A B' is not a usable config var name"),
])
def test_dotenv_errors_name_the_file_line_and_key_never_the_value(project, text, message):
    """python-dotenv reads the file; an unreadable line is still "file, line N" (blank lines counted)."""
    (project / "config" / "dev.env").write_text(text)
    with pytest.raises(SettingsError) as caught:
        cv.declared(settings.load(), "dev")
    assert caught.value.message.startswith(message)
    assert "unterminated\n" not in caught.value.message and "junk" not in caught.value.message


printable = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=40
)
names = st.from_regex(r"[A-Z_][A-Z0-9_]{0,12}", fullmatch=True)


@hsettings(max_examples=300, deadline=None)
@given(st.dictionaries(names, printable, max_size=8))
def test_dotenv_round_trip_through_our_parser(values):
    assert cv.parse_dotenv(cv.render_dotenv(values, "header")) == values


@hsettings(max_examples=300, deadline=None)
@given(st.dictionaries(names, printable, max_size=8))
def test_dotenv_round_trip_through_python_dotenv(values):
    dotenv = pytest.importorskip("dotenv")
    read = dotenv.dotenv_values(stream=io.StringIO(cv.render_dotenv(values, "header")), interpolate=False)
    assert dict(read) == values


def test_python_dotenv_default_interpolation_only_touches_braced_references():
    dotenv = pytest.importorskip("dotenv")
    values = {"A": "pa$word", "B": "$HOME", "C": "x $ y"}
    assert dict(dotenv.dotenv_values(stream=io.StringIO(cv.render_dotenv(values)))) == values


@pytest.fixture
def permissive_umask():
    old = os.umask(0o000)  # the mode must not depend on the umask
    yield
    os.umask(old)


def test_write_private_is_owner_only_and_refuses_to_overwrite(tmp_path, permissive_umask):
    path = cv.write_private(tmp_path / ".env", "A=1\n")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and path.read_text() == "A=1\n"
    with pytest.raises(cv.ConfigError, match="exists: pass --force"):
        cv.write_private(path, "A=2\n")
    assert path.read_text() == "A=1\n"
    path.chmod(0o644)
    cv.write_private(path, "A=3\n", force=True)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and path.read_text() == "A=3\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".env"]  # no temporary file left


def test_pull_text_leaves_add_on_vars_out():
    s = snap("dev", {"DATABASE_URL": "pg://x", "A": "1"}, managed={"DATABASE_URL": "heroku-postgresql"})
    text, left_out = cv.pull_text(s)
    assert left_out == ["DATABASE_URL"] and "pg://" not in text and "\nA=1\n" in text
    text, left_out = cv.pull_text(s, include_addons=True)
    assert left_out == [] and "DATABASE_URL=pg://x" in text


def test_addon_vars_from_config_vars_and_attachments():
    heroku = FakeHeroku({}, addons={"app": [postgres("app"), Addon(
        name="redis-1", service="heroku-redis", plan=None, state=None, config_vars=("REDIS_URL", "REDIS_TLS_URL"),
        raw={"attachments": [{"name": "CACHE", "app": {"name": "app"}}, {"name": "OTHER", "app": {"name": "x"}}]},
    )]})
    assert cv.addon_vars(heroku, "app") == {
        "DATABASE_URL": "heroku-postgresql", "REDIS_URL": "heroku-redis", "REDIS_TLS_URL": "heroku-redis",
        "CACHE_URL": "heroku-redis",
    }


# -- the tasks, in process, on a fake Heroku ----------------------------------------------------------------------


@pytest.fixture
def fake(project, monkeypatch):
    heroku = FakeHeroku(
        {"my-app-live": {"DEBUG": "false", "SECRET_KEY": SECRET, "OLD_FLAG": "1", "DATABASE_URL": "pg://live"},
         "my-app-uat": {"DEBUG": "true", "SECRET_KEY": SECRET + "-uat", "DATABASE_URL": "pg://uat"},
         "my-app-dev": {"DEBUG": "true"}},
        addons={"my-app-live": [postgres("my-app-live")], "my-app-uat": [postgres("my-app-uat")]},
    )
    monkeypatch.setattr(Session, "from_settings", classmethod(
        lambda cls, s: cls(s, Git.from_settings(s, cwd=s.root), heroku, FakeApi(heroku))))
    monkeypatch.setenv(cv.FINGERPRINT_ENV, "unit")
    monkeypatch.setenv("NO_COLOR", "1")
    return heroku


def run_task(argv: list[str], capsys) -> tuple[int, str, str]:
    program = HerokuToolsProgram(namespace=Collection(config_tasks), version="0")
    try:
        program.run(["heroku-tools", *argv])
        code = 0
    except SystemExit as exc:
        code = exc.code or 0
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_diff_exit_codes(fake, capsys):
    code, out, err = run_task(["config.diff", "uat", "live"], capsys)
    assert code == 1 and "! DEBUG" in out and "! SECRET_KEY" in out and "< OLD_FLAG" not in out
    assert "> OLD_FLAG" in out and "~ DATABASE_URL" in out and SECRET not in out + err
    code, out, _ = run_task(["config.diff", "live", "live"], capsys)
    assert code == 0 and out.splitlines()[-1].startswith("live and live match")
    code, out, err = run_task(["config.diff", "live", "nowhere"], capsys)
    assert (code, out) == (2, "") and err.startswith("unknown environment 'nowhere'")
    code, _, err = run_task(["config.diff", "uat", "live", "--ignore", "DEBUG", "--ignore", "SECRET_*",
                             "--ignore", "OLD_*"], capsys)
    assert code == 0, err


def test_diff_error_from_heroku_exits_2(fake, capsys):
    fake.failures["config"] = (cli_failure("config", "Couldn't find that app."), False)
    code, out, err = run_task(["config.diff", "uat", "live"], capsys)
    assert code == 2 and "Couldn't find that app." in err


def test_diff_json_and_env_against_file(fake, capsys):
    code, out, _ = run_task(["config.diff", "dev", "config/dev.env", "--json"], capsys)
    data = json.loads(out)
    assert code == 1 and data["b"] == {"name": "config/dev.env", "kind": "settings", "app": None,
                                       "source": "config/dev.env"}
    assert {v["key"]: v["status"] for v in data["vars"]} == {"DEBUG": "equal", "GREETING": "only_b", "EMPTY": "only_b"}


def test_set_on_an_unprotected_environment_needs_the_code_too(fake, capsys):
    """Every change asks: uat is not protected, and still needs the code or --confirm (hardening issue)."""
    code, out, err = run_task(["config.set", "uat", "NEW=1", f"SECRET_KEY={SECRET}x", "--dry-run"], capsys)
    assert code == 0 and "+ NEW" in out and "! SECRET_KEY" in out and "dry run" in err
    assert not any(call[0] == "api:patch" for call in fake.calls)
    code, out, err = run_task(["config.set", "uat", "NEW=1", f"SECRET_KEY={SECRET}x"], capsys)
    assert code == 1 and "refusing to set NEW, SECRET_KEY on uat (my-app-uat) without confirmation" in err
    assert "pass --confirm my-app-uat" in err and not any(call[0] == "api:patch" for call in fake.calls)
    code, out, err = run_task(["config.set", "uat", "NEW=1", f"SECRET_KEY={SECRET}x", "--confirm", "my-app-uat"],
                              capsys)
    assert code == 0, err
    sets = [call for call in fake.calls if call[0] == "api:patch"]
    assert sets == [("api:patch", "my-app-uat", {"NEW": "1", "SECRET_KEY": SECRET + "x"})]
    assert SECRET not in out + err


def test_set_on_a_protected_environment_needs_the_code(fake, capsys):
    code, out, err = run_task(["config.set", "live", "DEBUG=true"], capsys)
    assert code == 1 and "without confirmation" in err
    code, out, err = run_task(["config.set", "live", "DEBUG=true", "--confirm", "my-app-uat"], capsys)
    assert code == 1 and "does not match the app being changed (my-app-live)" in err
    assert not any(call[0] == "api:patch" for call in fake.calls)
    code, out, err = run_task(["config.set:live,DEBUG=true,confirm=my-app-live"], capsys)
    assert code == 0 and fake.apps["my-app-live"]["DEBUG"] == "true"


def test_set_refuses_add_on_vars(fake, capsys):
    code, _, err = run_task(["config.set", "uat", "DATABASE_URL=pg://mine"], capsys)
    assert code == 1 and "DATABASE_URL (set by heroku-postgresql) is managed by an add-on" in err


def test_unset_and_nothing_to_do(fake, capsys):
    code, out, err = run_task(["config.unset", "dev", "NOPE"], capsys)
    assert code == 0 and "nothing to change" in err
    code, out, err = run_task(["config.unset", "dev", "DEBUG", "NOPE"], capsys)
    assert code == 1 and "refusing to remove DEBUG from dev (my-app-dev) without confirmation" in err
    code, out, err = run_task(["config.unset", "dev", "DEBUG", "NOPE", "--confirm", "my-app-dev"], capsys)
    assert code == 0
    assert [c for c in fake.calls if c[0] == "api:patch"] == [("api:patch", "my-app-dev", {"DEBUG": None})]


def test_push_plan_confirm_and_apply(fake, capsys, monkeypatch):
    monkeypatch.setenv("SENTRY_DSN", "https://k@sentry/1")
    code, out, err = run_task(["config.push", "live", "--dry-run"], capsys)
    assert code == 0 and "dry run" in err
    assert "+ RATIO" in out and "- OLD_FLAG" in out and "? SECRET_KEY" in out and "= DEBUG" in out
    code, out, err = run_task(["config.push", "live", "--confirm", "my-app-live", "--json"], capsys)
    data = json.loads(out)
    assert code == 0 and data["applied"] is True and data["releases"] == [11]  # one release: sets and removals
    assert data["to_unset"] == ["OLD_FLAG"] and "+ RATIO" in err
    (patch,) = [c for c in fake.calls if c[0] == "api:patch"]
    assert patch[2]["OLD_FLAG"] is None and patch[2]["RATIO"] == "0.5"
    code, out, err = run_task(["config.push", "live", "--confirm", "my-app-live"], capsys)
    assert code == 0 and "already matches" in err


def test_push_missing_reference_changes_nothing(fake, capsys, monkeypatch):
    monkeypatch.delenv("SENTRY_DSN", raising=False)
    code, out, err = run_task(["config.push", "live", "--confirm", "my-app-live"], capsys)
    assert code == 1 and "${SENTRY_DSN} is not set" in err and fake.calls == []


def test_pull_task(fake, capsys, project):
    code, out, err = run_task(["config.pull", "live", "-o", "live.env"], capsys)
    assert code == 0 and "left out, set by add-ons: DATABASE_URL" in err
    written = cv.parse_dotenv((project / "live.env").read_text())
    assert written == {"DEBUG": "false", "SECRET_KEY": SECRET, "OLD_FLAG": "1"}
    code, out, err = run_task(["config.pull", "live", "-o", "-"], capsys)
    assert code == 0 and f"SECRET_KEY={SECRET}" in out


# -- the rest of the line: KEY=VALUE words after ENV --------------------------------------------------------------


def rewritten(tokens: list[str]) -> list[str]:
    out, help_for = rewrite(tokens, Collection(config_tasks))
    assert help_for is None
    return out


def test_rest_of_the_line_goes_to_the_iterable_parameter():
    assert rewritten(["config.set", "uat", "A=1", "B=two words", "--dry-run", "C=3"]) == [
        "config.set", "uat", "--var=A=1", "--var=B=two words", "--dry-run", "--var=C=3"]
    assert rewritten(["config.set", "--env", "uat", "A=1"]) == ["config.set", "--env", "uat", "--var=A=1"]
    assert rewritten(["config.set", "--confirm", "app", "uat", "A=1"]) == [
        "config.set", "--confirm", "app", "uat", "--var=A=1"]
    assert rewritten(["config.unset", "uat", "A", "B"]) == ["config.unset", "uat", "--key=A", "--key=B"]
    assert rewritten(["config.diff", "uat", "live"]) == ["config.diff", "uat", "live"]


def test_rest_in_colon_syntax():
    assert rewritten(["config.set:uat,A=1,B=x\\,y,confirm=app"]) == [
        "config.set", "--env=uat", "--var=A=1", "--var=B=x,y", "--confirm=app"]
    assert rewritten(["config.unset:uat,A,B"]) == ["config.unset", "--env=uat", "--key=A", "--key=B"]


def test_pull_warns_when_git_would_track_the_file(fake, capsys, project):
    import subprocess

    assert not would_track(settings.load(), project / ".env")  # not a git work tree
    subprocess.run(["git", "init", "-q", str(project)], check=True)
    code, out, err = run_task(["config.pull", "dev"], capsys)
    assert code == 0 and ".env is not ignored by git: add it to .gitignore" in err
    (project / ".gitignore").write_text(".env\n")
    code, out, err = run_task(["config.pull", "dev", "--force"], capsys)
    assert code == 0 and "not ignored by git" not in err
