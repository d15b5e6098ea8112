"""The health check and the rollback decision, without Heroku.

The probes go to a real HTTP server on 127.0.0.1 (statuses, redirects, slow
answers, the release header); the dynos, the log and the releases come from
:class:`FakeHeroku`/:class:`FakeApi`, so every decision — healthy, a crash
between two polls, a router error, a timeout, a safe or unsafe rollback — is
checked on cue and in milliseconds.
"""
from __future__ import annotations

import datetime
import http.server
import threading
import time

import pytest

from heroku_tools.errors import SettingsError
from heroku_tools.output import Console
from heroku_tools.release.deployed import Deployed
from heroku_tools.release.health import HealthReport, check, probe, skip_reason
from heroku_tools.release.journal import Outcome
from heroku_tools.release.options import DeployOptions
from heroku_tools.release.recovery import Unhealthy, check_release, check_rollback, rollback_safety
from heroku_tools.release.rollback import RollbackPlan
from heroku_tools.session import Session
from heroku_tools.settings import Environment, Health, parse
from heroku_tools.tasks.deploy import outcome_fields

from _support.fakes import FakeApi, FakeHeroku
from test_deploy_unit import make_plan, release
from test_downtime import MIGRATING, schema

QUICK = dict(interval=0.01, timeout=0.5, successes=2)


class Site:
    """A real HTTP server: ``answers[path]`` is ``(status, headers, body)`` or a callable returning one."""

    def __init__(self):
        self.answers: dict = {}
        self.hits: list[str] = []
        site = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                site.hits.append(self.path)
                answer = site.answers.get(self.path, (404, {}, "not found"))
                status, headers, body = answer() if callable(answer) else answer
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body.encode())))
                self.end_headers()
                self.wfile.write(body.encode())

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        # polled often: shutdown waits out one poll, and every test closes its site
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def site():
    server = Site()
    yield server
    server.close()


def quiet() -> tuple[Console, list[str]]:
    said: list[str] = []
    return Console(report=said.append, say=said.append, warn=said.append, stream=said.append), said


def ago(seconds: float) -> str:
    """An ISO time ``seconds`` ago, as Heroku writes them."""
    return (datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=seconds)).isoformat()


def log_line(dyno: str, message: str, *, source: str = "heroku", seconds_ago: float = 0.0) -> str:
    return f"{ago(seconds_ago)} {source}[{dyno}]: {message}"


# -- settings ---------------------------------------------------------------------------------


SETTINGS = """\
health:
    path: /health/
    timeout: 30
environments:
    - label: live
      app_name: acme-live
      branch: master
      health: {successes: 5, path: [/health/, /shop/], rollback: false}
    - label: uat
      app_name: acme-uat
      branch: master
    - label: dev
      app_name: acme-dev
      branch: dev
      health: {enabled: false}
commands: {}
"""


def test_health_settings_are_top_level_with_each_environment_over_them():
    settings = parse(SETTINGS, source="heroku-tools.yml")
    live, uat, dev = (settings.environment(label).health for label in ("live", "uat", "dev"))
    assert live == Health(paths=("/health/", "/shop/"), path_set=True, timeout=30.0, successes=5, rollback=False)
    assert uat == Health(paths=("/health/",), path_set=True, timeout=30.0)
    assert not dev.enabled and dev.timeout == 30.0
    assert parse(SETTINGS.split("environments:")[0].replace("health:\n    path: /health/\n    timeout: 30\n", "")
                 + "environments:" + SETTINGS.split("environments:")[1]).environment("uat").health == Health()


@pytest.mark.parametrize("block, message", [
    ("health: {path: health}", "line 1: health.path: expected paths starting with /, such as /health/, got 'health'"),
    ("health: {status: 600}", "line 1: health.status: expected an HTTP status such as 200, or a list of them"),
    ("health: {timeout: 0}", "line 1: health.timeout: expected a number of seconds above 0, at most 3600, got 0"),
    ("health: {successes: true}", "health.successes: expected a number of answers in a row from 1 to 100"),
    ("health: {timout: 5}", "line 1: health: unknown key 'timout'; did you mean 'timeout'?"),
    ("health: [/]", "line 1: health: expected a mapping such as {path: /health/, timeout: 60}, got a list"),
    ("health: {release_text: v}", "health.release_text: expected text with {version} where the release version goes"),
])
def test_health_settings_mistakes_name_the_file_line_and_key(block, message):
    with pytest.raises(SettingsError) as error:
        parse(block + "\n" + SETTINGS.split("\n", 3)[3], source="heroku-tools.yml")
    assert message in str(error.value)
    assert str(error.value).startswith("heroku-tools.yml, line")


def test_an_environments_health_mistake_names_its_own_line():
    text = SETTINGS.replace("health: {enabled: false}", "health: {enabled: maybe}")
    with pytest.raises(SettingsError, match=r"line 15: environments.dev.health.enabled: expected true or false"):
        parse(text, source="heroku-tools.yml")


@pytest.mark.parametrize("health, status, healthy", [
    (Health(), 404, True),  # no path set: a 404 at / still proves the app serves
    (Health(), 500, False),
    (Health(paths=("/health/",), path_set=True), 302, True),
    (Health(paths=("/health/",), path_set=True), 404, False),
    (Health(paths=("/health/",), path_set=True, status=(204,)), 200, False),
    (Health(status=(200, 204)), 204, True),
])
def test_the_expected_status(health, status, healthy):
    assert health.expects(status) is healthy


# -- one probe, against a real server -----------------------------------------------------------


def test_a_probe_judges_the_status_and_follows_no_redirect(site):
    site.answers = {"/": (404, {}, "nope"), "/health/": (301, {"Location": "/elsewhere/"}, ""),
                    "/boom/": (500, {}, "Server Error")}
    strict = Health(paths=("/health/",), path_set=True)
    assert probe(site.url, path="/", version=4, health=Health(), timeout=2).problem is None
    redirect = probe(site.url + "health/", path="/health/", version=4, health=strict, timeout=2)
    assert (redirect.status, redirect.problem) == (301, None)
    assert "/elsewhere/" not in site.hits
    boom = probe(site.url + "boom/", path="/boom/", version=4, health=Health(), timeout=2)
    assert (boom.status, boom.problem) == (500, "/boom/ answered 500 (expected any status below 500)")


def test_a_probe_with_no_answer_says_why(site):
    site.close()
    answer = probe(site.url, path="/", version=4, health=Health(), timeout=1)
    assert answer.status is None and answer.problem.startswith("no answer:")


def test_a_probe_asks_for_the_new_release_when_the_settings_name_where_it_shows(site):
    site.answers = {"/": (200, {"X-Release": "v41"}, "<p>release v41</p>")}
    by_header = Health(release_header="X-Release")
    by_text = Health(release_text="release v{version}")
    old = probe(site.url, path="/", version=42, health=by_header, timeout=2)
    assert old.other_release and old.problem == "X-Release: v41, not v42: the old code still answers"
    assert probe(site.url, path="/", version=42, health=by_text, timeout=2).other_release
    assert probe(site.url, path="/", version=41, health=by_header, timeout=2).problem is None
    assert probe(site.url, path="/", version=41, health=by_text, timeout=2).problem is None


# -- the check: dynos, probes, log --------------------------------------------------------------


def fake_app(site: Site | None, *, version: int = 42, web: int = 1) -> tuple[FakeHeroku, FakeApi]:
    heroku = FakeHeroku(releases=[release(version - 1), release(version, slug="slug-2", current=True)])
    heroku.version = version
    return heroku, FakeApi(heroku, web_url=site.url if site else "https://example.invalid/", web=web)


def test_healthy_after_the_answers_in_a_row_on_every_path(site):
    site.answers = {"/health/": (200, {}, "ok"), "/shop/": (302, {"Location": "/login/"}, "")}
    _, api = fake_app(site)
    console, said = quiet()
    health = Health(paths=("/health/", "/shop/"), path_set=True, **QUICK)
    report = check(api, "acme-live", 42, health, console=console)
    assert report.as_json() == {"status": "healthy", "probes": 4, "errors": []}
    assert site.hits == ["/health/", "/shop/"] * 2
    assert said[0].startswith("==> health check of v42: /health/, /shop/ at http://127.0.0.1:")
    assert "GET /shop/ → 302" in said[-2] and said[-2].endswith("✓ 2/2")


def test_a_500_is_unhealthy_at_the_timeout_and_a_bad_answer_breaks_the_streak(site):
    answers = iter([200, 500, 200, 500, 200, 500] * 50)
    site.answers = {"/": lambda: (next(answers), {}, "")}
    _, api = fake_app(site)
    report = check(api, "acme-live", 42, Health(**{**QUICK, "timeout": 0.3}), console=quiet()[0])
    assert report.status == "unhealthy"
    assert report.cause == "not healthy within 0.3s: / answered 500 (expected any status below 500)"
    assert report.probes >= 2


def test_a_crashed_web_dyno_ends_the_check_at_once_with_its_exit_status(site):
    _, api = fake_app(site)
    api.dyno_states[42] = "crashed"
    api.log_lines = [log_line("web.1", "Starting process with command `gunicorn app`"),
                     log_line("web.1", "Process exited with status 3"),
                     log_line("web.1", "State changed from starting to crashed")]
    started = time.monotonic()
    report = check(api, "acme-live", 42, Health(**{**QUICK, "timeout": 30}), since=ago(5), console=quiet()[0])
    assert time.monotonic() - started < 5
    assert (report.status, report.cause, report.probes) == ("unhealthy", "H10: web crashed, exit 3", 0)
    assert site.hits == []


def test_a_crash_between_two_polls_counts(site):
    """The dyno is ``up`` at every poll, but its ``updated_at`` moved: it crashed and restarted in between."""
    site.answers = {"/": (200, {}, "")}
    _, api = fake_app(site)
    polls = iter(["2026-01-01T00:00:00Z", "2026-01-01T00:00:05Z"])
    api.dynos = lambda app: [{"type": "web", "name": "web.1", "state": "up", "release": {"version": 42},
                              "updated_at": next(polls)}]
    report = check(api, "acme-live", 42, Health(**{**QUICK, "successes": 5}), console=quiet()[0])
    assert report.cause == "H10: web crashed (it restarted between two polls)"


def test_crash_lines_from_before_the_release_do_not_count(site):
    site.answers = {"/": (200, {}, "")}
    _, api = fake_app(site)
    api.log_lines = [log_line("web.1", "Process exited with status 1", seconds_ago=60),
                     log_line("web.1", "State changed from up to crashed", seconds_ago=60)]
    assert check(api, "acme-live", 42, Health(**QUICK), since=ago(5), console=quiet()[0]).status == "healthy"


def test_a_router_error_once_the_dynos_are_up_is_unhealthy(site):
    site.answers = {"/": (200, {}, "")}
    _, api = fake_app(site)
    router = 'at=error code=H12 desc="Request timeout" method=GET path="/slow/" host=x dyno=web.1 status=503'
    before = log_line("router", router.replace("H12", "H13"), seconds_ago=120)
    api.log = lambda app: [before] + ([log_line("router", router)] if site.hits else [])
    report = check(api, "acme-live", 42, Health(**{**QUICK, "successes": 50}), console=quiet()[0])
    assert report.cause == "H12: Request timeout on /slow/"


def test_waiting_for_the_new_release_times_out_naming_the_dynos(site):
    _, api = fake_app(site)
    api.dyno_states[42] = "starting"
    console, said = quiet()
    report = check(api, "acme-live", 42, Health(**{**QUICK, "timeout": 0.2}), console=console)
    assert report.cause == "not up within 0.2s: web.1 starting on v42"
    assert said.count("waiting: web.1 starting on v42") == 1
    assert site.hits == []


def test_with_preboot_the_check_waits_for_the_new_code_to_answer(site):
    served = {"version": 41}
    site.answers = {"/": lambda: (200, {"X-Release": f"v{served['version']}"}, "")}
    _, api = fake_app(site)
    calls = []

    def switching(app):
        calls.append(app)
        if len(calls) == 3:
            served["version"] = 42
        return FakeApi.dynos(api, app)

    api.dynos = switching
    report = check(api, "acme-live", 42, Health(release_header="X-Release", **QUICK), console=quiet()[0])
    assert report.status == "healthy" and report.probes == 4


def test_skipped_when_asked_set_off_or_without_a_web_process():
    _, api = fake_app(None)
    assert skip_reason(Health(), api, "acme-live", asked=False) == "--no-health-check"
    assert skip_reason(Health(enabled=False), api, "acme-live") == "health: {enabled: false} in the settings"
    assert skip_reason(Health(), api, "acme-live") is None
    api.web = 0
    assert skip_reason(Health(), api, "acme-live") == "acme-live runs no web process"


# -- the rollback decision ----------------------------------------------------------------------


MIGRATE = DeployOptions.PUSH | DeployOptions.MIGRATE


@pytest.mark.parametrize("kind, options, safe", [
    (None, DeployOptions.PUSH, True),
    ("compatible", MIGRATE, True),
    ("locking", MIGRATE, True),
    ("incompatible", MIGRATE, False),
    ("unknown", MIGRATE, False),
    ("incompatible", DeployOptions.PUSH, True),  # --no-migrate: nothing was applied
])
def test_a_rollback_is_safe_only_when_the_old_code_works_on_the_schema_left(kind, options, safe):
    assert rollback_safety(make_plan(schema=schema(kind), options=options)).safe is safe


def test_a_migrating_release_phase_counts_as_applying():
    plan = make_plan(schema=schema("incompatible", MIGRATING), options=DeployOptions.PUSH)
    safety = rollback_safety(plan)
    assert not safety.safe
    assert safety.why == "shop.0002_change is incompatible, and the code before it cannot run on what it made"


def deploy_of(site: Site, *, kind: str | None = None, backup: str | None = None, **plan_values):
    """A finished deploy of v42 over v41 to acme-live, whose site answers by the release it runs."""
    heroku, api = fake_app(site)
    heroku._releases = [release(41, slug="slug-1"), release(42, slug="slug-2", current=True)]
    env = Environment(label="live", app_name="acme-live", branch="master", health=Health(**QUICK))
    session = Session(None, None, heroku, api)
    plan = make_plan(env=env, deployed=Deployed(release(41, slug="slug-1", current=True), None),
                     options=MIGRATE if kind else DeployOptions.PUSH, schema=schema(kind), **plan_values)
    outcome = Outcome(plan=plan, release=release(42, slug="slug-2"), backup=backup)
    site.answers = {"/": lambda: (500 if heroku.releases("acme-live", 1)[0].slug_id == "slug-2" else 200, {}, "")}
    return session, plan, outcome, heroku


def test_an_unhealthy_release_without_migrations_is_rolled_back_and_checked_again(site):
    session, plan, outcome, heroku = deploy_of(site)
    console, said = quiet()
    with pytest.raises(Unhealthy) as raised:
        check_release(session, plan, outcome, console)
    error = raised.value
    assert error.message == ("v42 was unhealthy (not healthy within 0.5s: / answered 500 (expected any status below "
                             "500)); rolled back to v41, which is healthy")
    assert ("rollback", "acme-live", 41) in heroku.calls
    assert error.state == ["acme-live runs v43, the code and config of v41"]
    assert error.outcome is outcome and outcome.rolled_back_to == 41
    fields = outcome_fields(outcome)
    assert fields["rolled_back_to"] == "v41" and fields["health"]["status"] == "unhealthy"
    assert "==> v42 is unhealthy and this deploy applied no migration: rolling back to v41" in said


def test_an_incompatible_migration_is_never_rolled_back_over(site):
    session, plan, outcome, heroku = deploy_of(site, kind="incompatible", backup="b012")
    with pytest.raises(Unhealthy) as raised:
        check_release(session, plan, outcome, quiet()[0])
    error = raised.value
    assert not any(call[0] == "rollback" for call in heroku.calls)
    assert ("maintenance_on", "acme-live") in heroku.calls
    assert error.message.startswith("v42 was unhealthy (not healthy within 0.5s: / answered 500")
    assert error.message.endswith("; not rolled back: shop.0002_change is incompatible, and the code before it "
                                  "cannot run on what it made")
    assert "MAINTENANCE IS ON for acme-live" in error.state
    fix, restore = error.recover
    assert fix.startswith("heroku-tools deploy live && heroku maintenance:off -a acme-live   # way out 1")
    assert restore.startswith("heroku pg:backups:restore b012 DATABASE_URL -a acme-live --confirm acme-live && "
                              "heroku releases:rollback v41 -a acme-live && heroku maintenance:off -a acme-live")
    assert outcome_fields(outcome)["rolled_back_to"] is None


def test_no_maintenance_leaves_the_page_off_and_says_so(site):
    session, plan, outcome, heroku = deploy_of(site, kind="unknown", maintenance_choice=False)
    with pytest.raises(Unhealthy) as raised:
        check_release(session, plan, outcome, quiet()[0])
    assert ("maintenance_on", "acme-live") not in heroku.calls
    assert "maintenance is off (--no-maintenance): acme-live is serving errors" in raised.value.state
    assert raised.value.recover[1].startswith("heroku pg:backups -a acme-live   # way out 2: no backup")


def test_no_rollback_checks_and_fails_without_rolling_back(site):
    session, plan, outcome, heroku = deploy_of(site, auto_rollback=False)
    with pytest.raises(Unhealthy, match=r"; not rolled back \(--no-rollback\)$") as raised:
        check_release(session, plan, outcome, quiet()[0])
    assert not any(call[0] == "rollback" for call in heroku.calls)
    assert raised.value.recover[0] == "heroku releases:rollback v41 -a acme-live   # back to the code that ran before"


def test_a_healthy_release_is_left_alone_and_a_skipped_one_says_why(site):
    session, plan, outcome, heroku = deploy_of(site)
    site.answers = {"/": (200, {}, "")}
    check_release(session, plan, outcome, quiet()[0])
    assert outcome.health.status == "healthy" and outcome.rolled_back_to is None
    skipped_plan = make_plan(env=plan.env, health_check=False)
    outcome = Outcome(plan=skipped_plan, release=release(42))
    check_release(session, skipped_plan, outcome, quiet()[0])
    assert outcome_fields(outcome)["health"] == {"status": "skipped", "probes": 0, "errors": []}


def test_with_maintenance_on_only_the_dynos_and_the_log_are_checked(site):
    _, api = fake_app(site)
    api.maintenance = True
    console, said = quiet()
    report = check(api, "acme-live", 42, Health(**QUICK), console=console)
    assert (report.status, report.probes, site.hits) == ("healthy", 0, [])
    assert "maintenance is on for acme-live" in said[1]


def test_health_report_json():
    assert HealthReport("unhealthy", 4, 3, ["H10: web crashed"]).as_json() == {
        "status": "unhealthy", "probes": 3, "errors": ["H10: web crashed"]}


def test_a_localhost_name_is_this_machine_as_browsers_and_curl_resolve_it(site):
    """RFC 6761: ``*.localhost`` is loopback; the request still names the host (``Host``), as a router needs."""
    hosts = []
    site.answers = {"/": lambda: (200, {}, "")}
    original = site.server.RequestHandlerClass.do_GET

    def recording(handler):
        hosts.append(handler.headers["Host"])
        original(handler)

    site.server.RequestHandlerClass.do_GET = recording
    port = site.server.server_address[1]
    answer = probe(f"http://shop-uat-0123456789ab.herokuapp.localhost:{port}/", path="/", version=1, health=Health(),
                   timeout=2)
    assert answer.problem is None
    assert hosts == [f"shop-uat-0123456789ab.herokuapp.localhost:{port}"]


def test_a_rollback_is_checked_too_and_an_unhealthy_one_stays(site):
    heroku, api = fake_app(site, version=43)
    site.answers = {"/": (500, {}, "")}
    plan = RollbackPlan(Environment(label="live", app_name="acme-live", branch="master", health=Health(**QUICK)),
                        release(42), release(41), None, None, None, "dev@example.com")
    with pytest.raises(Unhealthy) as raised:
        check_rollback(Session(None, None, heroku, api), plan, 43, quiet()[0])
    assert raised.value.message.startswith("v43 (the code of v41) is unhealthy (not healthy within 0.5s: / answered 500")
    assert not any(call[0] == "rollback" for call in heroku.calls)
    skipped = check_rollback(Session(None, None, heroku, api), plan, 43, quiet()[0], asked=False)
    assert skipped.as_json() == {"status": "skipped", "probes": 0, "errors": []}


def test_with_preboot_and_nothing_naming_the_release_the_check_says_what_it_cannot_tell(site):
    session, plan, outcome, heroku = deploy_of(site, preboot=True)
    site.answers = {"/": (200, {}, "")}
    console, said = quiet()
    check_release(session, plan, outcome, console)
    assert any(line.startswith("preboot is on: for about 3 minutes the old code answers the probes") for line in said)
