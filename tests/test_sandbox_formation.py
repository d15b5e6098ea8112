"""The sandbox runs each release's formation and its router serves ``web_url`` as Heroku's does.

A small Django project is pushed with real git and driven with the real heroku
CLI; requests go to its ``web_url`` over HTTPS, verified with the sandbox's CA.
Outcomes are read from the answers, ``heroku ps``, ``heroku logs`` and the
dyno list. This module's sandbox runs the formation (the suite's shared one
does not) with Heroku's delays × 0.1: crash cool-offs of 2, 4, 8 s…, an 18 s
preboot switch (the preboot tests shorten it), H12 after 3 s. One app serves
the whole module, built once: each test leaves it serving for the next, and
the preboot tests come last. The sample app's own pages are read where
``heroku-tools deploy`` ships it (``test_health_e2e.py``).
"""
from __future__ import annotations

import contextlib
import json
import re
import shutil
import ssl
import subprocess
import threading
import time
import urllib.request
import uuid

import pytest
from _support.gitrepo import GitRepo, django_project
from _support.home import make_home
from _support.web import SteadyLoad, get

from heroku_tools.sandbox import Sandbox
from heroku_tools.sandbox.formation import cool_off

pytestmark = [pytest.mark.sandbox, pytest.mark.usefixtures("schema_conformance")]

VIEWS = '''
import os
import time
from pathlib import Path

from django.http import HttpResponse, JsonResponse
from django.urls import path

FORWARDED = ("X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Port", "X-Request-Id", "X-Request-Start", "Via")


def home(request):
    print(f"serving {request.path} for {request.headers.get('X-Request-Id')}", flush=True)
    return JsonResponse({
        "release": os.environ.get("HEROKU_RELEASE_VERSION"),
        "dyno": os.environ.get("DYNO"),
        "secure": request.is_secure(),
        "host": request.get_host(),
        "headers": {name: request.headers.get(name) for name in FORWARDED},
    })


def slow(request):
    time.sleep(30)
    return HttpResponse("too late")


def hold(request):
    """Answers once the file ``until`` exists, having said it started by creating ``started``."""
    Path(request.GET["started"]).touch()
    until, deadline = Path(request.GET["until"]), time.monotonic() + 60
    while not until.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    return HttpResponse("held")


urlpatterns = [path("", home), path("slow", slow), path("hold", hold)]
'''

BOOT_CHECK = '''
import os
import sys

# A web process that cannot boot, as one missing a config var it needs.
if os.environ.get("CRASH_ON_BOOT") and os.environ.get("DYNO", "").startswith("web."):
    print("CRASH_ON_BOOT is set: exiting", flush=True)
    sys.exit(3)
'''


def project_files(marker: str = "first") -> dict[str, str]:
    files = django_project(
        release="echo release phase ran",
        settings_extra='import boot_check; ALLOWED_HOSTS = [".localhost"]; ROOT_URLCONF = "site_urls"; '
                       'SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https"); SECURE_SSL_REDIRECT = True',
    )
    files.update({
        "Procfile": "web: python manage.py runserver 0.0.0.0:$PORT --noreload\nrelease: echo release phase ran\n"
                    "worker: python -c \"import time; print('worker up', flush=True); time.sleep(3600)\"\n",
        "site_urls.py": VIEWS,
        "boot_check.py": BOOT_CHECK,
        "marker.txt": f"{marker}\n",
    })
    return files


@pytest.fixture(scope="module")
def sandbox(formation_sandbox) -> Sandbox:
    """The worker's sandbox that runs the formation, Heroku's delays × 0.1 (see ``conftest.py``)."""
    return formation_sandbox


def wait_for(predicate, timeout: float = 60.0, message="timed out waiting"):
    """``predicate()`` once true; ``message`` (or what calling it returns: said only on failure) after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(0.1)
    raise AssertionError(message() if callable(message) else message)


def dynos(sandbox, app: str, process_type: str = "web") -> list[dict]:
    return [d for d in sandbox.api("GET", f"/apps/{app}/dynos") if d["type"] == process_type]


def current_version(sandbox, app: str) -> int:
    return next(r for r in sandbox.api("GET", f"/apps/{app}/releases") if r["current"])["version"]


def wait_up(sandbox, app: str, quantity: int = 1, timeout: float = 90.0) -> list[dict]:
    """Every web dyno ``up`` on the current release, as ``heroku ps:wait`` judges it."""
    def settled():
        version, web = current_version(sandbox, app), dynos(sandbox, app)
        return len(web) == quantity and all(d["state"] == "up" and d["release"]["version"] >= version for d in web) and web
    return wait_for(settled, timeout, lambda: f"{app}'s web dynos did not come up: {dynos(sandbox, app)}")


#: The preboot tests' time scale: Heroku's 3-minute switch in 9 s (it also waits for the new dynos to boot), and
#: 1.5 s for the old dynos' requests in flight at the switch to be answered (each takes milliseconds here).
PREBOOT_SCALE = 0.05


@contextlib.contextmanager
def time_scale(sandbox, factor: float):
    """The sandbox's delays × ``factor`` for a while, then as they were."""
    scale = sandbox.settings["time_scale"]
    sandbox.configure(time_scale=factor)
    try:
        yield
    finally:
        sandbox.configure(time_scale=scale)


def log_lines(sandbox, app: str, dyno: str, source: str | None = None) -> list[str]:
    """The app's last 1,500 log lines of ``dyno``, read through a log session as ``heroku logs`` reads them.

    For waits, and for lines the CLI only prints: each ``heroku logs`` also sits out the 3 s reconnect
    timer its event source sets when the stream ends, four seconds a call. The CLI itself shows the router's
    and the dynos' lines in ``test_web_url_serves…``, the H14, restart and crash tests, and the restart gap.
    """
    session = sandbox.api("POST", f"/apps/{app}/log-sessions",
                          {"lines": 1500, "dyno": dyno, **({"source": source} if source else {})})
    context = ssl.create_default_context(cafile=str(sandbox.ca_file))
    with urllib.request.urlopen(session["logplex_url"], context=context, timeout=60) as stream:
        events = stream.read().decode()
    return [line.removeprefix("data: ") for line in events.splitlines() if line.startswith("data: ")]


class Deployed:
    """An app of the sandbox with the project pushed, and the git repository it came from."""

    def __init__(self, sandbox, tmp_path_factory, name: str):
        self.sandbox, self.name = sandbox, name
        self.env = sandbox.cli_env(make_home(tmp_path_factory.mktemp("home")))
        self.cli("apps:create", name, "--no-remote")
        self.repo = GitRepo(tmp_path_factory.mktemp("repo"), self.env)
        self.push("first")

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        result = subprocess.run(["heroku", *args], env=self.env, capture_output=True, text=True,
                                stdin=subprocess.DEVNULL, timeout=180, check=False)
        assert result.returncode == 0, f"heroku {' '.join(args)}: {result.stderr}"
        return result

    def push(self, marker: str) -> None:
        self.repo.commit(f"Deploy {marker}", project_files(marker))
        pushed = self.repo.push(f"{self.sandbox.base_url}/{self.name}.git", "main")
        assert pushed.returncode == 0, pushed.stderr

    @property
    def url(self) -> str:
        return self.sandbox.web_url(self.name)

    def get(self, path: str = "/", **kwargs):
        return get(self.url, self.sandbox.ca_file, path, **kwargs)


@pytest.fixture(scope="module")
def served(sandbox, tmp_path_factory) -> Deployed:
    """The module's app (one build for the module): each test leaves it serving, one web dyno up on the release
    it then runs, until the preboot tests at the end of the module (:func:`prebooted`)."""
    deployed = Deployed(sandbox, tmp_path_factory, f"served-{uuid.uuid4().hex[:6]}")
    wait_up(sandbox, deployed.name)
    return deployed


@pytest.fixture(scope="module")
def prebooted(served) -> Deployed:
    """The module's app with preboot on, for the tests at the end of the module (the last leaves it crashing)."""
    served.cli("features:enable", "preboot", "-a", served.name)
    return served


# -- the router serves the app ------------------------------------------------------------------------------


def test_web_url_serves_the_app_over_https_with_the_headers_herokus_router_adds(sandbox, heroku, served):
    info = heroku.json("apps:info", "-a", served.name, "--json")["app"]
    assert re.fullmatch(rf"https://{served.name}-[0-9a-f]{{12}}\.herokuapp\.localhost:{sandbox.router_port}/",
                        info["web_url"])

    answer = served.get("/", headers={"X-Request-Id": "client-chosen-request-id-0123456789"})

    assert answer.status == 200, answer.body
    page = json.loads(answer.body)
    assert page["release"] == f"v{current_version(sandbox, served.name)}" and page["dyno"] == "web.1"
    assert page["secure"] is True  # SECURE_SSL_REDIRECT did not redirect: X-Forwarded-Proto said https
    headers = page["headers"]
    assert headers["X-Forwarded-Proto"] == "https" and headers["X-Forwarded-Port"] == str(sandbox.router_port)
    assert headers["X-Forwarded-For"] == "127.0.0.1" and headers["Via"] == "1.1 vegur"
    assert headers["X-Request-Id"] == "client-chosen-request-id-0123456789" and headers["X-Request-Start"].isdigit()
    assert answer.headers["via"] == "1.1 vegur"

    ps = heroku("ps", "-a", served.name).stdout
    assert re.search(r"^web\.1: up ", ps, re.MULTILINE), ps
    logged = heroku("logs", "-a", served.name, "-n", "1500").stdout
    assert re.search(r'heroku\[router\]: at=info method=GET path="/" host=' + re.escape(page["host"].split(":")[0])
                     + r' request_id=client-chosen-request-id-0123456789 fwd="127\.0\.0\.1" dyno=web\.1 '
                     r'connect=\d+ms service=\d+ms status=200 bytes=\d+ protocol=https', logged), logged
    assert "app[web.1]: serving / for client-chosen-request-id-0123456789" in logged
    assert "heroku[web.1]: State changed from starting to up" in logged


def test_curl_reaches_web_url_by_name_with_the_sandbox_ca(sandbox, served):
    curl = shutil.which("curl")
    if curl is None:
        pytest.skip("curl is not installed")
    result = subprocess.run([curl, "--silent", "--show-error", "--cacert", str(sandbox.ca_file), served.url],
                            capture_output=True, text=True, timeout=60, check=False)
    if result.returncode == 6:
        pytest.skip(f"this curl does not resolve *.localhost itself: {result.stderr}")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["dyno"] == "web.1"


def test_maintenance_mode_answers_503_with_the_maintenance_page(sandbox, heroku, served):
    heroku("maintenance:on", "-a", served.name)
    try:
        answer = served.get("/")
    finally:
        heroku("maintenance:off", "-a", served.name)

    assert answer.status == 503 and "Offline for Maintenance" in answer.body
    assert any('at=info code=H80 desc="Maintenance mode" method=GET path="/"' in line and "status=503" in line
               for line in log_lines(sandbox, served.name, "router"))
    assert served.get("/").status == 200


def test_scaled_to_zero_the_router_answers_h14_and_scaled_up_it_serves_again(sandbox, heroku, served):
    heroku("ps:scale", "web=0", "-a", served.name)
    wait_for(lambda: not dynos(sandbox, served.name))
    try:
        answer = served.get("/")
        assert answer.status == 503 and "Application error" in answer.body
        assert "No dynos on" in heroku("ps", "-a", served.name).stdout
    finally:
        heroku("ps:scale", "web=1", "-a", served.name)
    logged = heroku("logs", "-a", served.name, "-n", "1500").stdout
    assert any('heroku[router]: at=error code=H14 desc="No web processes running"' in line and "status=503" in line
               for line in logged.splitlines()), logged
    assert "app[api]: Scaled to web@0:Basic by user developer@example.com" in logged
    assert "heroku[web.1]: State changed from up to down" in logged
    wait_up(sandbox, served.name)
    assert served.get("/").status == 200


def test_a_dyno_silent_for_30_seconds_gets_h12(sandbox, served):
    answer = served.get("/slow")  # the view sleeps 30 s; the router gives up after 30 s × the time scale

    assert answer.status == 503 and "Application error" in answer.body
    assert any('at=error code=H12 desc="Request timeout" method=GET path="/slow"' in line and "dyno=web.1" in line
               for line in log_lines(sandbox, served.name, "router"))


def test_ps_restart_replaces_the_dyno_with_a_new_process(sandbox, heroku, served):
    before = wait_up(sandbox, served.name)[0]
    heroku("ps:restart", "--dyno-name", "web.1", "-a", served.name)
    after = wait_for(lambda: next((d for d in dynos(sandbox, served.name) if d["id"] != before["id"] and d["state"] == "up"),
                                  None))
    assert after["name"] == "web.1"
    logged = heroku("logs", "-a", served.name, "-n", "1500", "--dyno", "web.1").stdout
    restart = logged[logged.rindex("heroku[web.1]: Restarting"):]
    assert re.search(r"State changed from up to starting.*Stopping all processes with SIGTERM.*Process exited with "
                     r"status 143.*Starting process with command.*State changed from starting to up", restart, re.S), restart
    assert served.get("/").status == 200


def test_two_web_dynos_share_the_requests(sandbox, heroku, served):
    heroku("ps:scale", "web=2", "-a", served.name)
    try:
        wait_up(sandbox, served.name, quantity=2)
        answered_by = {json.loads(served.get("/").body)["dyno"] for _ in range(4)}
        assert answered_by == {"web.1", "web.2"}
    finally:
        heroku("ps:scale", "web=1", "-a", served.name)
    wait_up(sandbox, served.name)


def test_a_worker_scaled_up_runs_beside_the_web_dyno(sandbox, heroku, served):
    heroku("ps:scale", "worker=1", "-a", served.name)
    try:
        worker = wait_for(lambda: next((d for d in dynos(sandbox, served.name, "worker") if d["state"] == "up"), None))
        assert worker["name"] == "worker.1"
        wait_for(lambda: any(line.endswith("app[worker.1]: worker up") for line in log_lines(sandbox, served.name, "worker")))
        assert re.search(r"^worker\.1: up ", heroku("ps", "-a", served.name).stdout, re.MULTILINE)
    finally:
        heroku("ps:scale", "worker=0", "-a", served.name)
    wait_for(lambda: not dynos(sandbox, served.name, "worker"))


def test_with_the_formation_switched_off_nothing_runs_and_the_router_answers_h14(sandbox, heroku, served):
    sandbox.configure(formation=False)
    try:
        assert served.get("/").status == 503
        assert [d["state"] for d in dynos(sandbox, served.name)] == ["up"]  # listed from the formation, not run
    finally:
        sandbox.configure(formation=True)  # every app's dynos start again
    wait_up(sandbox, served.name)
    assert served.get("/").status == 200


# -- crashes ------------------------------------------------------------------------------------------------


def test_crash_cool_offs_start_at_once_then_double_from_20_seconds_up_to_20_minutes():
    assert [cool_off(crashes) for crashes in range(1, 10)] == [0, 20, 40, 80, 160, 320, 640, 1200, 1200]


def test_a_web_process_that_crashes_on_boot_is_restarted_with_back_off_and_the_router_says_h10(
        sandbox, heroku, served):
    wait_up(sandbox, served.name)
    heroku("config:set", "CRASH_ON_BOOT=1", "-a", served.name)  # a release: the dyno restarts, and cannot boot
    try:
        crashed = wait_for(lambda: next((d for d in heroku.json("ps", "-a", served.name, "--json")
                                         if d["state"] == "crashed"), None))
        assert crashed["name"] == "web.1" and crashed["release"]["version"] == current_version(sandbox, served.name)
        answer = served.get("/")
        assert answer.status == 503 and "Application error" in answer.body

        def restarted_twice() -> str | None:
            logged = heroku("logs", "-a", served.name, "-n", "1500").stdout
            return logged if logged.count("heroku[web.1]: State changed from crashed to starting") >= 2 else None
        logged = wait_for(restarted_twice, message="the crashed dyno was not restarted twice")
        assert "app[web.1]: CRASH_ON_BOOT is set: exiting" in logged
        assert "heroku[web.1]: Process exited with status 3" in logged
        assert "heroku[web.1]: State changed from starting to crashed" in logged
        assert re.search(r'heroku\[router\]: at=error code=H10 desc="App crashed" method=GET path="/" host=\S+ '
                         r'request_id=[0-9a-f-]{36} fwd="127\.0\.0\.1" dyno= connect= service= status=503 bytes= '
                         r'protocol=https', logged), logged
    finally:
        heroku("config:unset", "CRASH_ON_BOOT", "-a", served.name)  # a new release resets the back-off and boots
    wait_up(sandbox, served.name)
    assert served.get("/").status == 200


# -- deploys: the restart gap, and preboot --------------------------------------------------------------------


def test_without_preboot_a_deploy_stops_the_old_dyno_before_the_new_one_boots(sandbox, heroku, served, tmp_path):
    app = served
    old = wait_up(sandbox, app.name)[0]
    started, until = tmp_path / "started", tmp_path / "until"
    held: list = []
    in_flight = threading.Thread(target=lambda: held.append(app.get(f"/hold?started={started}&until={until}")))
    with time_scale(sandbox, 1.0):  # the held request must outlast the push, not meet the router's timeout
        in_flight.start()
        wait_for(started.exists, message=lambda: f"the held request never reached the dyno: {held} "
                 f"{heroku('logs', '-a', app.name, '-n', '60').stdout}")  # the old dyno is serving this request
        app.push("restarted")
        in_flight.join(90)

    assert held and held[0].status == 503  # the old process was stopped under it
    new = wait_up(sandbox, app.name)[0]
    assert new["release"]["version"] > old["release"]["version"]
    assert json.loads(app.get("/").body)["release"] == f"v{new['release']['version']}"
    logged = heroku("logs", "-a", app.name, "-n", "1500").stdout
    assert any('code=H13 desc="Connection closed without response"' in line and 'path="/hold' in line
               for line in logged.splitlines())
    deploy = logged[logged.index(f"Release v{new['release']['version']} created"):]
    # The restart gap: the old process exits before the new one starts; no web dyno is up in between.
    assert re.search(r"heroku\[web\.1\]: Restarting\n.*?State changed from up to starting\n.*?Stopping all processes "
                     r"with SIGTERM\n.*?Process exited with status 143\n.*?heroku\[web\.1\]: Starting process with command",
                     deploy, re.S), deploy


def test_with_preboot_a_deploy_under_steady_requests_fails_none(sandbox, heroku, prebooted):
    app = prebooted
    old_version = wait_up(sandbox, app.name)[0]["release"]["version"]

    with time_scale(sandbox, PREBOOT_SCALE), SteadyLoad(app.url, sandbox.ca_file) as load:
        wait_for(lambda: len(load.answers) >= 5)
        app.push("prebooted")
        new_version = current_version(sandbox, app.name)
        # heroku ps shows the new dyno only, while the old one keeps serving.
        wait_for(lambda: [d["release"]["version"] for d in dynos(sandbox, app.name)] == [new_version])
        listed = heroku.json("ps", "-a", app.name, "--json")
        assert [d["release"]["version"] for d in listed if d["type"] == "web"] == [new_version]
        wait_for(lambda: any(json.loads(a.body).get("release") == f"v{new_version}" for a in load.answers
                             if a.status == 200), timeout=120, message="the new release never answered")
        served_after_switch = len(load.answers)
        wait_for(lambda: len(load.answers) >= served_after_switch + 5)

    assert load.answers and all(a.status == 200 for a in load.answers), [(a.status, a.body[:80]) for a in load.answers
                                                                          if a.status != 200]
    versions = [json.loads(a.body)["release"] for a in load.answers]
    switch = versions.index(f"v{new_version}")
    assert set(versions[:switch]) == {f"v{old_version}"} and set(versions[switch:]) == {f"v{new_version}"}

    def old_dyno_stopped() -> bool:
        logged = "\n".join(log_lines(sandbox, app.name, "web.1", "heroku"))
        return "Stopping all processes with SIGTERM" in logged[logged.rindex("Starting process with command"):]
    wait_for(old_dyno_stopped, message="the old web dyno was not stopped after the switch")


def test_with_preboot_a_release_that_crashes_serves_the_old_code_until_the_switch_then_h10(sandbox, heroku,
                                                                                            prebooted):
    app = prebooted  # the last test to use it: it is left crashing
    old_version = wait_up(sandbox, app.name)[0]["release"]["version"]

    with time_scale(sandbox, PREBOOT_SCALE), SteadyLoad(app.url, sandbox.ca_file, pause=0.2) as load:
        wait_for(lambda: len(load.answers) >= 3)
        heroku("config:set", "CRASH_ON_BOOT=1", "-a", app.name)
        wait_for(lambda: any(d["state"] == "crashed" for d in dynos(sandbox, app.name)))
        wait_for(lambda: any(a.status == 503 for a in load.answers), timeout=120, message="the switch never came")
        switched = len(load.answers)
        wait_for(lambda: len(load.answers) >= switched + 3)

    statuses = [a.status for a in load.answers]
    switch = statuses.index(503)
    assert set(statuses[switch:]) == {503}  # after the switch only the crashed release is routed to
    assert {json.loads(a.body)["release"] for a in load.answers[:switch]} == {f"v{old_version}"}
    assert any('code=H10 desc="App crashed"' in line for line in log_lines(sandbox, app.name, "router"))
