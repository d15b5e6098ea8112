"""The schema-conformance harness, and the sandbox's answers to a tour of CLI commands.

The first tests show the harness catches what it must (undeclared properties
of ``strictProperties`` objects, bad formats, bad list items, bad error
bodies) and skips what the schema does not describe. The last one runs a
representative set of real CLI commands and requires every answer to conform.
"""
from __future__ import annotations

import pytest

from _support.schema import RequestLog, check_responses, find_links, validate_logged_responses
from _support.seed import release_slug

APP_ID = "01234567-89ab-cdef-0123-456789abcdef"


def entry(method: str, path: str, response, status: int = 200) -> dict:
    return {"method": method, "path": path, "status": status, "response": response}


def release(**overrides) -> dict:
    body = {
        "addon_plan_names": [],
        "artifacts": [],
        "app": {"id": APP_ID, "name": "demo"},
        "created_at": "2024-05-12T10:00:00Z",
        "description": "Initial release",
        "id": APP_ID,
        "updated_at": "2024-05-12T10:00:00Z",
        "slug": None,
        "status": "succeeded",
        "user": {"id": APP_ID, "email": "dev@example.com"},
        "version": 1,
        "current": True,
        "output_stream_url": None,
        "eligible_for_rollback": True,
    }
    return {**body, **overrides}


def test_a_conforming_list_passes():
    assert validate_logged_responses([entry("GET", "/apps/demo/releases", [release()])]) == []


def test_undeclared_properties_of_strict_objects_are_errors():
    body = release(extra=1, user={"id": APP_ID, "email": "a@b.c", "name": "x"})
    errors = validate_logged_responses([entry("GET", "/apps/demo/releases/1", body)])
    assert any("undeclared properties ['extra']" in e for e in errors)
    assert any(e.split(": ", 2)[1].startswith("user") and "'name'" in e for e in errors)


def test_types_formats_and_enums_are_checked():
    body = [release(id="v1", created_at="yesterday", status="done", version="1")]
    errors = validate_logged_responses([entry("GET", "/apps/demo/releases", body)])
    assert len(errors) == 4, errors


def test_error_bodies_need_id_and_message():
    good = entry("GET", "/apps/nope", {"id": "not_found", "message": "Couldn't find that app.", "resource": "app"}, 404)
    bad = entry("GET", "/apps/nope", {"error": "nope"}, 404)
    assert validate_logged_responses([good]) == []
    assert len(validate_logged_responses([bad])) == 1


def test_paths_without_a_schema_link_are_skipped_and_reported():
    report = check_responses([
        entry("GET", "/client/v11/apps/demo/transfers", []),
        entry("GET", "/_sandbox/health", {"ok": True}),
        entry("GET", "/apps/demo/releases", [release()]),
    ])
    assert report.errors == [] and report.checked == 1
    assert report.skipped == ["GET /client/v11/apps/demo/transfers -> 200", "GET /_sandbox/health -> 200"]


def test_literal_hrefs_win_over_templates():
    assert [link.href for link in find_links("GET", "/users/~/pipeline-couplings")] == ["/users/~/pipeline-couplings"]


@pytest.mark.sandbox
def test_cli_tour_gets_only_conforming_answers(sandbox, heroku, app_name):
    log = RequestLog(sandbox)
    dev, stg = f"{app_name[:26]}-dev", f"{app_name[:26]}-stg"
    heroku("apps:create", dev, "--no-remote", "--json")
    sandbox.api("POST", "/apps", {"name": stg})
    release_slug(sandbox, dev, {"web": "gunicorn app.wsgi", "worker": "celery"}, commit="f" * 40)
    for args in (
        ("apps", "--json"),
        ("apps:info", "-a", dev, "--json"),
        ("config:set", "A=1", "-a", dev),
        ("config", "-a", dev, "--json"),
        ("releases", "-a", dev, "--json"),
        ("releases:info", "v1", "-a", dev),
        ("features", "-a", dev, "--json"),
        ("ps:scale", "web=1", "-a", dev),
        ("maintenance:on", "-a", dev),
        ("pipelines:create", f"{app_name[:26]}-p", "-a", dev, "--stage", "development"),
        ("pipelines:add", f"{app_name[:26]}-p", "-a", stg, "--stage", "staging"),
        ("pipelines:info", f"{app_name[:26]}-p", "--json"),
        ("pipelines:promote", "-a", dev),
        ("auth:token",),
    ):
        heroku(*args)
    report = log.assert_conform()
    routes = {e["route"] for e in log.entries() if isinstance(e.get("status"), int) and e["status"] < 300}
    assert {
        "/apps", "/apps/{app}", "/apps/{app}/config-vars", "/apps/{app}/releases", "/apps/{app}/releases/{release}",
        "/apps/{app}/features", "/apps/{app}/formation", "/apps/{app}/collaborators", "/pipelines",
        "/pipeline-couplings", "/pipelines/{pipeline}/pipeline-couplings", "/filters/apps", "/pipeline-promotions",
        "/pipeline-promotions/{promotion}/promotion-targets", "/apps/{app}/pipeline-couplings", "/oauth/authorizations",
    } <= routes
    assert report.checked >= 30
