"""The sandbox's Platform API resources, driven by the real heroku CLI.

Each test checks the outcome (sandbox state, CLI output and exit code), and
every answer the sandbox gave during it is validated against the Platform API
schema (``schema_conformance``).
"""
from __future__ import annotations

import json
import re
import stat
import urllib.error

import pytest

from _support.seed import release_slug

pytestmark = [pytest.mark.sandbox, pytest.mark.usefixtures("schema_conformance")]

WEB_AND_WORKER = {"web": "gunicorn app.wsgi", "worker": "celery -A app worker"}


def releases_of(sandbox, app: str) -> list[dict]:
    return sandbox.api("GET", f"/apps/{app}/releases")


def test_apps_create_names_and_initial_release(sandbox, heroku, app_name):
    created = heroku.json("apps:create", app_name, "--no-remote", "--json")
    assert created["name"] == app_name
    assert created["git_url"] == f"{sandbox.base_url}/{app_name}.git"
    assert created["owner"]["email"] == "developer@example.com"
    assert [(r["version"], r["description"], r["slug"]) for r in releases_of(sandbox, app_name)] == [(1, "Initial release", None)]
    assert sandbox.api("GET", f"/apps/{app_name}/formation") == []

    taken = heroku("apps:create", app_name, "--no-remote", check=False)
    assert taken.returncode == 2
    assert f"Name {app_name} is already taken" in taken.stderr

    invalid = heroku("apps:create", "Not_Valid", "--no-remote", check=False)
    assert invalid.returncode == 2
    assert "Name must start with a letter" in invalid.stderr

    generated = heroku.json("apps:create", "--no-remote", "--json")
    assert re.match(r"^[a-z][a-z0-9-]{1,28}[a-z0-9]$", generated["name"])
    assert generated["name"] in {app["name"] for app in sandbox.state()["apps"].values()}


def test_apps_destroy_forgets_the_app(sandbox, heroku, app_name):
    created = sandbox.api("POST", "/apps", {"name": app_name})
    pipeline = sandbox.api("POST", "/pipelines", {"name": f"{app_name[:26]}-p"})
    sandbox.api("POST", "/pipeline-couplings", {"app": app_name, "pipeline": pipeline["id"], "stage": "staging"})
    heroku("apps:destroy", "-a", app_name, "--confirm", app_name)
    state = sandbox.state()
    assert created["id"] not in state["apps"] and created["id"] not in state["releases"]
    assert all(c["app"]["id"] != created["id"] for c in state["couplings"].values())
    gone = heroku("apps:info", "-a", app_name, check=False)
    assert gone.returncode == 2 and "Couldn't find that app." in gone.stderr


def test_apps_info_json(sandbox, heroku, app_name):
    sandbox.api("POST", "/apps", {"name": app_name, "region": "eu"})
    info = heroku.json("apps:info", "-a", app_name, "--json")
    assert info["app"]["name"] == app_name
    assert info["app"]["region"]["name"] == "eu"
    assert [c["role"] for c in info["collaborators"]] == ["owner"]
    assert info["collaborators"][0]["user"]["email"] == info["app"]["owner"]["email"]
    assert info["pipeline_coupling"] is None
    assert info["addons"] == [] and info["dynos"] == []


def test_config_values_round_trip_exactly(sandbox, heroku, app_name):
    sandbox.api("POST", "/apps", {"name": app_name})
    values = {
        "SPACES": "two  words ",
        "QUOTES": """it's "quoted" """,
        "EQUALS": "a=b=c",
        "DOLLARS": "$HOME and ${PATH} `cmd`",
        "NEWLINE": "line one\nline two",
        "UNICODE": "ünïcødé ✓ 日本",
    }
    result = heroku("config:set", *(f"{k}={v}" for k, v in values.items()), "-a", app_name)
    assert ", ".join(values) in result.stderr and "done, v2" in result.stderr
    assert heroku.json("config", "-a", app_name, "--json") == values
    assert heroku("config:get", "EQUALS", "-a", app_name).stdout == "a=b=c\n"
    newest = releases_of(sandbox, app_name)[-1]
    assert newest["description"] == f"Set {', '.join(values)} config vars"
    assert sandbox.api("GET", f"/apps/{app_name}/releases/{newest['version']}/config-vars") == values

    unset = heroku("config:unset", "NEWLINE", "DOLLARS", "-a", app_name)
    assert "done, v3" in unset.stderr
    assert releases_of(sandbox, app_name)[-1]["description"] == "Remove NEWLINE, DOLLARS config vars"
    remaining = sandbox.api("GET", f"/apps/{app_name}/config-vars")
    assert remaining == {k: v for k, v in values.items() if k not in ("NEWLINE", "DOLLARS")}


def test_releases_range_and_info(sandbox, heroku, app_name):
    sandbox.api("POST", "/apps", {"name": app_name})
    for n in range(3):
        sandbox.api("PATCH", f"/apps/{app_name}/config-vars", {"N": str(n)})
    newest_two = heroku.json("releases", "-a", app_name, "--json", "-n", "2")
    assert [r["version"] for r in newest_two] == [4, 3]
    assert newest_two[0]["current"] is True and newest_two[1]["current"] is False

    info = heroku("releases:info", "v3", "-a", app_name)
    assert "Release v3" in info.stdout
    assert "Set N config vars" in info.stdout
    assert re.search(r"N:\s+1\b", info.stdout), info.stdout

    missing = heroku("releases:info", "v99", "-a", app_name, check=False)
    assert missing.returncode == 2 and "Couldn't find that release." in missing.stderr


def test_rollback_restores_slug_and_config(sandbox, heroku, app_name):
    sandbox.api("POST", "/apps", {"name": app_name})
    deployed = release_slug(sandbox, app_name, WEB_AND_WORKER, commit="a" * 40)
    sandbox.api("PATCH", f"/apps/{app_name}/config-vars", {"COLOUR": "blue"})  # v3
    release_slug(sandbox, app_name, {"web": "gunicorn v2"}, commit="b" * 40)  # v4
    sandbox.api("PATCH", f"/apps/{app_name}/config-vars", {"COLOUR": "red", "EXTRA": "1"})  # v5

    result = heroku("releases:rollback", "v3", "-a", app_name)
    assert f"Rolling back {app_name} to v3... done, v6" in result.stderr

    newest = releases_of(sandbox, app_name)[-1]
    assert (newest["version"], newest["description"], newest["current"]) == (6, "Rollback to v3", True)
    assert newest["slug"] == deployed["slug"]
    assert sandbox.api("GET", f"/apps/{app_name}/config-vars") == {"COLOUR": "blue"}


def test_maintenance_on_off_and_fault(sandbox, heroku, app_name):
    sandbox.api("POST", "/apps", {"name": app_name})
    heroku("maintenance:on", "-a", app_name)
    assert heroku("maintenance", "-a", app_name).stdout.strip() == "on"

    sandbox.arm_fault(app_name, "maintenance")
    failed = heroku("maintenance:off", "-a", app_name, check=False)
    assert failed.returncode != 0
    assert sandbox.api("GET", f"/apps/{app_name}")["maintenance"] is True

    heroku("maintenance:off", "-a", app_name)
    assert sandbox.api("GET", f"/apps/{app_name}")["maintenance"] is False


def test_features_enable_preboot(sandbox, heroku, app_name):
    sandbox.api("POST", "/apps", {"name": app_name})
    result = heroku("features:enable", "preboot", "-a", app_name)
    assert f"Enabling preboot for {app_name}... done" in result.stderr
    features = {f["name"]: f["enabled"] for f in heroku.json("features", "-a", app_name, "--json")}
    assert features == {"preboot": True, "http-session-affinity": False}  # labs (beta) features are not listed
    labs = {f["name"]: f["state"] for f in sandbox.api("GET", f"/apps/{app_name}/features")}
    assert labs["runtime-dyno-metadata"] == labs["log-runtime-metrics"] == "beta"


def test_ps_scale(sandbox, heroku, app_name):
    sandbox.api("POST", "/apps", {"name": app_name})
    release_slug(sandbox, app_name, {**WEB_AND_WORKER, "release": "true"}, files={"Procfile": "release: true\n"})

    scaled = heroku("ps:scale", "web=2", "worker=1:Standard-1X", "-a", app_name)
    assert "now running web at 2:Basic, worker at 1:Standard-1X" in scaled.stderr
    # The release phase has run, so the formation has ``release`` (at zero), as on Heroku.
    assert heroku("ps:scale", "-a", app_name).stdout.strip() == "release=0:Basic web=2:Basic worker=1:Standard-1X"

    missing = heroku("ps:scale", "clock=1", "-a", app_name, check=False)
    assert missing.returncode == 2
    assert "Couldn't find that process type (clock)." in missing.stderr
    formation = {f["type"]: (f["quantity"], f["size"]) for f in sandbox.api("GET", f"/apps/{app_name}/formation")}
    assert formation == {"release": (0, "Basic"), "web": (2, "Basic"), "worker": (1, "Standard-1X")}


def test_auth_token_and_whoami(sandbox, heroku):
    assert heroku("auth:token").stdout.strip() == sandbox.api_key
    assert heroku("auth:whoami").stdout.strip() == "developer@example.com"


def test_slug_upload_and_release_from_slug(sandbox, app_name):
    """``POST /apps/{app}/slugs`` + blob upload + ``POST /releases {"slug"}``, as the API offers."""
    sandbox.api("POST", "/apps", {"name": app_name})
    release = release_slug(
        sandbox, app_name, {"web": "python -m http.server"}, commit="c" * 40,
        files={"Procfile": "web: python -m http.server\n"},
    )
    assert (release["version"], release["description"], release["status"]) == (2, "Deploy ccccccc", "succeeded")
    slug = sandbox.api("GET", f"/apps/{app_name}/slugs/{release['slug']['id']}")
    assert slug["commit"] == "c" * 40 and slug["size"] > 0
    procfile = sandbox.directory / "slugs" / slug["id"] / "app" / "Procfile"
    assert procfile.read_text() == "web: python -m http.server\n"
    assert sandbox.api("GET", f"/apps/{app_name}")["slug_size"] == slug["size"]


def test_rollback_refuses_a_failed_release(sandbox, app_name):
    sandbox.api("POST", "/apps", {"name": app_name})
    sandbox.arm_fault(app_name, "release")
    failed = release_slug(sandbox, app_name, {"web": "x", "release": "true"}, files={"Procfile": "release: true\n"})
    assert failed["status"] == "failed" and failed["eligible_for_rollback"] is False
    with pytest.raises(urllib.error.HTTPError) as refused:
        sandbox.api("POST", f"/apps/{app_name}/releases", {"release": failed["id"]})
    assert refused.value.code == 422
    assert json.loads(refused.value.read())["id"] == "invalid_params"


def test_the_sandbox_state_is_this_users_only(sandbox, heroku, app_name):
    """The state holds the API key, config vars and backups: a 0700 directory, files 0600 (hardening issue)."""
    heroku("apps:create", app_name, "--no-remote")
    heroku("config:set", "SECRET=s3cr3t", "-a", app_name)
    assert stat.S_IMODE(sandbox.directory.stat().st_mode) == 0o700
    for name in ("state.json", "requests.jsonl", "server.log"):
        assert stat.S_IMODE((sandbox.directory / name).stat().st_mode) == 0o600, name
    made_by_the_server = [path for path in sandbox.directory.rglob("*")
                          if path.is_dir() and path.parent == sandbox.directory and path.name != "postgres"]
    assert made_by_the_server and all(stat.S_IMODE(path.stat().st_mode) == 0o700 for path in made_by_the_server)
