"""Pipelines and promotions in the sandbox, driven by the real heroku CLI.

Source apps get released code through the slug API (``seed.release_slug``)
rather than a git push, which keeps these tests quick. Every answer the
sandbox gave is validated against the Platform API schema.
"""
from __future__ import annotations

import pytest

from _support.seed import release_slug

pytestmark = [pytest.mark.sandbox, pytest.mark.usefixtures("schema_conformance")]

COMMIT = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture
def pipeline(sandbox, app_name):
    """A pipeline ``<app>-p`` with development, staging and production apps (made via the API)."""
    account = sandbox.api("GET", "/account")
    created = sandbox.api("POST", "/pipelines", {"name": f"{app_name[:26]}-p", "owner": {"id": account["id"], "type": "user"}})
    apps = {}
    for stage, suffix in (("development", "dev"), ("staging", "stg"), ("production", "prd")):
        name = f"{app_name[:26]}-{suffix}"
        apps[stage] = sandbox.api("POST", "/apps", {"name": name})["name"]
        sandbox.api("POST", "/pipeline-couplings", {"app": name, "pipeline": created["id"], "stage": stage})
    return {"pipeline": created, **apps}


def newest_release(sandbox, app: str) -> dict:
    return sandbox.api("GET", f"/apps/{app}/releases")[-1]


def test_create_add_and_info(sandbox, heroku, app_name):
    dev, stg = f"{app_name[:26]}-dev", f"{app_name[:26]}-stg"
    for name in (dev, stg):
        sandbox.api("POST", "/apps", {"name": name})
    pipeline = f"{app_name[:26]}-p"

    created = heroku("pipelines:create", pipeline, "-a", dev, "--stage", "development")
    assert f"Adding {dev} to {pipeline} pipeline as development... done" in created.stderr
    heroku("pipelines:add", pipeline, "-a", stg, "--stage", "staging")

    info = heroku.json("pipelines:info", pipeline, "--json")
    assert info["pipeline"]["name"] == pipeline
    assert info["pipeline"]["owner"]["type"] == "user"
    assert {app["name"]: app["pipelineCoupling"]["stage"] for app in info["apps"]} == {dev: "development", stg: "staging"}

    coupling = heroku.json("apps:info", "-a", stg, "--json")["pipeline_coupling"]
    assert (coupling["pipeline"]["name"], coupling["stage"]) == (pipeline, "staging")


def test_promote_to_next_stage(sandbox, heroku, pipeline):
    dev, stg, prd = pipeline["development"], pipeline["staging"], pipeline["production"]
    source = release_slug(sandbox, dev, {"web": "gunicorn app.wsgi"}, commit=COMMIT)
    production_before = sandbox.api("GET", f"/apps/{prd}/releases")

    result = heroku("pipelines:promote", "-a", dev)
    assert "Starting promotion to staging..." in result.stdout
    assert "Promotion successful" in result.stdout
    assert f"{stg}: succeeded" in result.stdout

    promoted = newest_release(sandbox, stg)
    assert promoted["description"] == f"Promote {dev} v{source['version']} {COMMIT[:7]}"
    assert promoted["current"] is True
    assert promoted["slug"]["id"] != source["slug"]["id"]
    slug = sandbox.api("GET", f"/apps/{stg}/slugs/{promoted['slug']['id']}")
    assert slug["commit"] == COMMIT and slug["process_types"] == {"web": "gunicorn app.wsgi"}
    assert sandbox.api("GET", f"/apps/{prd}/releases") == production_before


def test_promote_to_one_app_streams_the_release_phase(sandbox, heroku, pipeline):
    stg, prd = pipeline["staging"], pipeline["production"]
    release_slug(
        sandbox,
        stg,
        {"web": "gunicorn app.wsgi", "release": "echo migrating $HEROKU_RELEASE_VERSION"},
        commit=COMMIT,
        files={"Procfile": "web: gunicorn app.wsgi\nrelease: echo migrating $HEROKU_RELEASE_VERSION\n"},
    )

    result = heroku("pipelines:promote", "-a", stg, "--to", prd)
    assert f"Starting promotion to apps: {prd}..." in result.stdout
    assert "Running release command..." in result.stdout
    assert "migrating v2" in result.stdout
    assert f"{prd}: succeeded" in result.stdout

    promoted = newest_release(sandbox, prd)
    assert (promoted["version"], promoted["status"], promoted["current"]) == (2, "succeeded", True)
    assert promoted["output_stream_url"]


def test_promotion_fault_fails_the_target_and_changes_nothing(sandbox, heroku, pipeline):
    dev, stg = pipeline["development"], pipeline["staging"]
    release_slug(sandbox, dev, {"web": "gunicorn app.wsgi"}, commit=COMMIT)
    before = sandbox.api("GET", f"/apps/{stg}/releases")
    sandbox.arm_fault(stg, "promotion")

    result = heroku("pipelines:promote", "-a", dev, check=False)
    assert result.returncode == 1
    assert f"{stg}: failed" in result.stdout
    assert "the release could not be created" in result.stdout
    assert "Promotion to some apps failed" in result.stderr
    assert sandbox.api("GET", f"/apps/{stg}/releases") == before


def test_failed_release_phase_fails_the_promotion_target(sandbox, heroku, pipeline):
    stg, prd = pipeline["staging"], pipeline["production"]
    command = 'test "$STAGE" != production'
    release_slug(sandbox, stg, {"web": "w", "release": command}, commit=COMMIT, files={"Procfile": f"release: {command}\n"})
    sandbox.api("PATCH", f"/apps/{prd}/config-vars", {"STAGE": "production"})  # v2

    result = heroku("pipelines:promote", "-a", stg, check=False)
    assert result.returncode == 1
    assert f"{prd}: failed" in result.stdout
    failed = newest_release(sandbox, prd)
    assert (failed["version"], failed["status"], failed["current"]) == (3, "failed", False)
    assert sandbox.api("GET", f"/apps/{prd}/releases/2")["current"] is True
