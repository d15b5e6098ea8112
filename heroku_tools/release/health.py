"""Whether a release serves: the health check after every deploy, promotion and rollback.

Heroku judges a release by its release phase's exit code alone, and a web
dyno counts as started once it binds ``$PORT``: a web process that crashes on
boot, or a page that answers 500 on the new schema, is still a "successful"
release, and without preboot the site is down until someone notices. So
after each release the tool looks for itself, as a person would, through
what Heroku exposes to any client:

* the dynos (``GET /apps/{app}/dynos``): every web dyno ``up`` on the new
  release's version, as ``heroku ps:wait`` judges it. A crashed dyno restarts
  within milliseconds, so one poll can miss the crash: a dyno whose
  ``updated_at`` moved since it was seen up, and the log's ``State changed
  ... to crashed`` lines of a dyno since it was listed on the new release
  (log lines name the dyno, not its release), count as crashes too;
* the paths (``health: {path: ...}``) at the app's ``web_url``, over HTTPS
  with the trust the heroku CLI has (``NODE_EXTRA_CA_CERTS``), answering as
  expected ``successes`` times in a row — and, where the settings name a
  header or body text carrying the release, answering with the new version
  (with preboot the old code keeps answering for minutes);
* the router (the log, read through a log session): no H10, H12 or H13 once
  the new dynos are up.

A crash or a router error ends the check at once (the release cannot be
called healthy any more); otherwise it ends healthy, or unhealthy at
``timeout``. The decision what to do with an unhealthy release is
:mod:`~heroku_tools.release.recovery`'s.
"""
from __future__ import annotations

import datetime
import http.client
import re
import socket
import ssl
import time
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from ..heroku_api import PlatformAPI, PlatformAPIError
from ..output import Console
from ..settings import Health
from ..trust import ssl_context

#: Router errors that make a release unhealthy: app crashed (or boot timeout), request timeout, connection closed.
ROUTER_ERRORS = ("H10", "H12", "H13")
#: Heroku's router gives up on a request after 30 s (H12): a probe never waits longer.
ROUTER_TIMEOUT = 30.0
_ROUTER_LINE = re.compile(r"heroku\[router\]: at=error code=(H\d+) desc=\"([^\"]*)\"(?:.*?path=\"([^\"]*)\")?")
_DYNO_LINE = re.compile(r"heroku\[((\w+)\.\d+)\]: (.*)")
_EXITED = re.compile(r"Process exited with status (\d+)")
_CRASHED = re.compile(r"State changed from \w+ to crashed")
_NEVER = datetime.datetime.max.replace(tzinfo=datetime.timezone.utc)


@dataclass(frozen=True)
class Answer:
    """One probe's answer: the status (None when there was none), and why it does not count, if it does not."""

    path: str
    status: int | None
    seconds: float
    problem: str | None = None
    #: The answer came from the code of another release (the release header or text said so).
    other_release: bool = False


@dataclass
class HealthReport:
    """How the check ended: ``healthy``, ``unhealthy`` or ``skipped`` (``why`` says why it was skipped)."""

    status: str
    version: int | None = None
    probes: int = 0
    errors: list[str] = field(default_factory=list)
    why: str = ""
    #: The one-line cause for the final message: ``H10: web crashed, exit 3``.
    cause: str = ""

    @property
    def healthy(self) -> bool:
        return self.status != "unhealthy"

    def as_json(self) -> dict:
        return {"status": self.status, "probes": self.probes, "errors": list(self.errors)}


def skipped(why: str, version: int | None = None) -> HealthReport:
    return HealthReport("skipped", version, why=why)


def skip_reason(health: Health, api: PlatformAPI, app: str, *, asked: bool = True) -> str | None:
    """Why no check runs (``--no-health-check``, the setting, no web process), or None: it runs.

    "Has a web process" is the formation's answer after the release: a web
    dyno scaled above zero, as the Procfile's ``web`` line makes it.
    """
    if not asked:
        return "--no-health-check"
    if not health.enabled:
        return "health: {enabled: false} in the settings"
    web = sum(int(item.get("quantity") or 0) for item in api.formation(app) if item.get("type") == "web")
    return None if web else f"{app} runs no web process"


def check(api: PlatformAPI, app: str, version: int, health: Health, *, since: str | None = None,
          console: Console = Console(), probe: Callable[..., Answer] | None = None,
          clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> HealthReport:
    """Watch release ``version`` of ``app`` until it is healthy, shows a crash or router error, or ``timeout`` passes.

    ``since`` (ISO time; default now) is when the release was made: the log
    is read from then — a dyno's crash lines from when it is listed on the
    release, router errors from when every new web dyno is up. ``probe`` is
    :func:`probe` with the CLI's trust (tests pass their own).
    """
    info = api.app(app)
    base = info.get("web_url") or f"https://{app}.herokuapp.com/"
    probe = probe or _prober(api)
    watch = _Watch(app, version, health, _when(since), console)
    console.say(f"==> health check of v{version}: {watch.goal(base)}")
    if info.get("maintenance"):
        console.warn(f"maintenance is on for {app}: its router answers every request with the maintenance page, so "
                     "only the dynos and the log are checked")
    deadline = clock() + health.timeout
    while True:
        crashed = watch.dynos(api.dynos(app))
        fatal = watch.log(_log(api, app)) or (crashed and watch.crash(crashed))
        if fatal:
            return watch.unhealthy(fatal)
        if watch.ready:
            answers = [] if info.get("maintenance") else [
                probe(urllib.parse.urljoin(base, path), path=path, version=version, health=health,
                      timeout=min(ROUTER_TIMEOUT, health.timeout)) for path in health.paths]
            if watch.answered(answers):
                return watch.healthy()
        if clock() >= deadline:
            return watch.unhealthy(watch.timed_out())
        sleep(health.interval)


class _Watch:
    """What the check has seen so far: the dynos' last states, the streak of good answers, the probes sent."""

    def __init__(self, app: str, version: int, health: Health, since: datetime.datetime, console: Console):
        self.app, self.version, self.health, self.since, self.console = app, version, health, since, console
        self.ready_at: datetime.datetime | None = None
        self.seen_up: dict[str, str] = {}
        self.waiting = "no web dyno listed yet"
        self.last_problem: str | None = None
        self.streak = 0
        self.probes = 0
        #: The last exit status each web dyno's log shows since the release.
        self.exits: dict[str, str] = {}
        #: When each web dyno was first listed on the new release: its log lines count from then (a dyno
        #: of the release before, same name, may still crash in between).
        self.listed: dict[str, datetime.datetime] = {}
        #: The crash was seen only as a restart between two polls (``updated_at`` moved), not as ``crashed``.
        self.between = False

    def goal(self, base: str) -> str:
        paths = ", ".join(self.health.paths)
        version = " carrying the new version" if self.health.release_header or self.health.release_text else ""
        return (f"{paths} at {base} answering {self.health.expected}{version}, {self.health.successes} time(s) in a "
                f"row, within {self.health.timeout:g}s")

    @property
    def ready(self) -> bool:
        return self.ready_at is not None

    def dynos(self, dynos: list[dict]) -> str | None:
        """Note the web dynos' states; the dyno that crashed (seen, or between two polls), if one did."""
        web = [dyno for dyno in dynos if dyno.get("type") == "web"]
        for dyno in web:
            name, state = dyno.get("name", "web"), dyno.get("state")
            on_new = _version(dyno) >= self.version
            if on_new:
                self.listed.setdefault(name, datetime.datetime.now(datetime.timezone.utc))
            before = self.seen_up.get(name)
            restarted = before is not None and (state != "up" or dyno.get("updated_at") != before)
            if on_new and (state == "crashed" or restarted):
                self.between = state != "crashed"
                return name
            if on_new and state == "up":
                self.seen_up[name] = dyno.get("updated_at") or ""
        pending = [f"{dyno.get('name')} {dyno.get('state')} on v{_version(dyno)}" for dyno in web
                   if dyno.get("state") != "up" or _version(dyno) < self.version]
        if web and not pending:
            if self.ready_at is None:
                self.ready_at = datetime.datetime.now(datetime.timezone.utc)
                self.console.stream(f"every web dyno is up on v{self.version}: probing")
            return None
        self.ready_at = None
        waiting = ", ".join(pending) if web else f"no web dyno listed for {self.app}"
        if waiting != self.waiting:
            self.console.stream(f"waiting: {waiting}")
        self.waiting = waiting
        return None

    def crash(self, name: str) -> str:
        """The cause for a crash seen in the dynos, with the exit status the log gave."""
        status = self.exits.get(name)
        between = " (it restarted between two polls)" if self.between else ""
        return "H10: web crashed" + (f", exit {status}" if status else "") + between

    def log(self, lines: list[str]) -> str | None:
        """A crash of a web dyno since the release, or a router error since the dynos came up, as the cause."""
        exits = self.exits
        for line in lines:
            when = _time(line)
            if when is None or when < self.since:
                continue
            dyno = _DYNO_LINE.search(line)
            if dyno and dyno.group(2) == "web":
                exited = _EXITED.search(dyno.group(3))
                if exited:
                    exits[dyno.group(1)] = exited.group(1)
                elif _CRASHED.search(dyno.group(3)) and when >= self.listed.get(dyno.group(1), _NEVER):
                    status = exits.get(dyno.group(1))
                    return "H10: web crashed" + (f", exit {status}" if status else "")
            router = _ROUTER_LINE.search(line)
            if router and router.group(1) in ROUTER_ERRORS and self.ready_at is not None and when >= self.ready_at:
                path = f" on {router.group(3)}" if router.group(3) else ""
                return f"{router.group(1)}: {router.group(2)}{path}"
        return None

    def answered(self, answers: list[Answer]) -> bool:
        """Count one round of probes; True once ``successes`` rounds in a row were all good."""
        self.probes += len(answers)
        bad = [answer for answer in answers if answer.problem]
        self.streak = 0 if bad else self.streak + 1
        for answer in answers:
            shown = answer.status if answer.status is not None else "no answer"
            verdict = f"  ✗ {answer.problem}" if answer.problem else f"  ✓ {self.streak}/{self.health.successes}"
            self.console.stream(f"GET {answer.path} → {shown} ({answer.seconds:.2f}s){verdict}")
        if bad:
            self.last_problem = bad[0].problem
        return self.streak >= self.health.successes

    def healthy(self) -> HealthReport:
        self.console.say(f"v{self.version} of {self.app} is healthy ({self.probes} probe(s))")
        return HealthReport("healthy", self.version, self.probes)

    def unhealthy(self, cause: str) -> HealthReport:
        self.console.warn(f"v{self.version} of {self.app} is unhealthy: {cause}")
        errors = [cause] + ([self.last_problem] if self.last_problem and self.last_problem not in cause else [])
        return HealthReport("unhealthy", self.version, self.probes, errors, cause=cause)

    def timed_out(self) -> str:
        limit = f"{self.health.timeout:g}s"
        if not self.ready:
            return f"not up within {limit}: {self.waiting}"
        return f"not healthy within {limit}: {self.last_problem or 'too few good answers in a row'}"


def probe(url: str, *, path: str, version: int, health: Health, timeout: float, context: ssl.SSLContext | None = None,
          ) -> Answer:
    """One ``GET url`` (redirects are answers, not followed), judged by ``health``."""
    parts = urllib.parse.urlsplit(url)
    started = time.monotonic()
    connection = _connection(parts, timeout, context)
    try:
        connection.request("GET", (parts.path or "/") + (f"?{parts.query}" if parts.query else ""),
                           headers={"User-Agent": "heroku-tools health check", "Accept": "*/*"})
        response = connection.getresponse()
        body = response.read(1 << 20).decode("utf-8", "replace")
    except (OSError, http.client.HTTPException) as error:
        return Answer(path, None, time.monotonic() - started, f"no answer: {error or type(error).__name__}")
    finally:
        connection.close()
    seconds = time.monotonic() - started
    if not health.expects(response.status):
        return Answer(path, response.status, seconds, f"{path} answered {response.status} (expected {health.expected})")
    other = _other_release(health, response.headers, body, version)
    if other:
        return Answer(path, response.status, seconds, other, other_release=True)
    return Answer(path, response.status, seconds)


class _LoopbackHTTP(http.client.HTTPConnection):
    """HTTP to a ``*.localhost`` name: the socket to 127.0.0.1, the name itself in ``Host``."""

    def connect(self) -> None:
        self.sock = socket.create_connection(("127.0.0.1", self.port), self.timeout)


class _LoopbackHTTPS(http.client.HTTPSConnection):
    """HTTPS to a ``*.localhost`` name: the socket to 127.0.0.1, the name itself for SNI, the certificate and ``Host``."""

    def connect(self) -> None:
        raw = socket.create_connection(("127.0.0.1", self.port), self.timeout)
        self.sock = self._context.wrap_socket(raw, server_hostname=self.host)


def _connection(parts: urllib.parse.SplitResult, timeout: float,
                context: ssl.SSLContext | None) -> http.client.HTTPConnection:
    """A connection to the URL's host. ``*.localhost`` names are this machine (RFC 6761), as browsers and curl
    resolve them; most systems' resolvers do not, so the socket goes to 127.0.0.1 under the name."""
    host = parts.hostname or "localhost"
    if parts.scheme != "https":
        return (_LoopbackHTTP if _loopback(host) else http.client.HTTPConnection)(host, parts.port, timeout=timeout)
    kind = _LoopbackHTTPS if _loopback(host) else http.client.HTTPSConnection
    return kind(host, parts.port, timeout=timeout, context=context or ssl.create_default_context())


def _loopback(host: str) -> bool:
    return host == "localhost" or host.endswith(".localhost")


def _prober(api: PlatformAPI) -> Callable[..., Answer]:
    """:func:`probe` trusting what the heroku CLI trusts (the system's CAs and ``NODE_EXTRA_CA_CERTS``)."""
    context = ssl_context(api.environ)
    return lambda url, **kwargs: probe(url, context=context, **kwargs)


def _other_release(health: Health, headers: Mapping[str, str], body: str, version: int) -> str | None:
    """Why the answer is not the new release's (preboot's old code still answering), when the settings can tell."""
    if health.release_header:
        value = (headers.get(health.release_header) or "").strip()
        if value.lstrip("v") != str(version):
            return f"{health.release_header}: {value or '(none)'}, not v{version}: the old code still answers"
    if health.release_text and health.release_text.format(version=version) not in body:
        return f"the body does not say {health.release_text.format(version=version)!r}: the old code still answers"
    return None


def _log(api: PlatformAPI, app: str) -> list[str]:
    """The app's recent log; an unreadable log is no evidence either way (the dynos and probes still decide)."""
    try:
        return api.log(app)
    except PlatformAPIError:
        return []


def _version(dyno: dict) -> int:
    return int((dyno.get("release") or {}).get("version") or 0)


def _time(line: str) -> datetime.datetime | None:
    """The timestamp a log line starts with (``2024-05-12T10:00:00.123456+00:00``), None if it has none."""
    return _parse(line.split(" ", 1)[0])


def _parse(text: str) -> datetime.datetime | None:
    try:
        when = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=datetime.timezone.utc)


def _when(since: str | None) -> datetime.datetime:
    return (since and _parse(since)) or datetime.datetime.now(datetime.timezone.utc)
