"""The router: every app's ``web_url`` served over HTTPS on 127.0.0.1, as Heroku's router serves ``herokuapp.com``.

An app's ``web_url`` is ``https://<app>-<hex>.herokuapp.localhost:<port>/``:
``*.localhost`` names are this machine (RFC 6761), so nothing needs adding to
``/etc/hosts``; the certificate (``*.herokuapp.localhost``) is the sandbox's,
signed by its CA (:mod:`heroku_tools.sandbox.certs`). Each request goes to a
web dyno that is ``up`` (:meth:`FormationManager.route
<heroku_tools.sandbox.formation.FormationManager.route>`) with the headers
Heroku's router adds (``X-Forwarded-For``, ``-Proto``, ``-Port``,
``X-Request-Id``, ``X-Request-Start``, ``Via``), because Django projects made
for Heroku redirect to HTTPS and log by them. Otherwise it answers as Heroku
does: the maintenance page (503) while maintenance is on, the application
error page (503) with ``H10`` (crashed), ``H12`` (no answer in 30 s),
``H13`` (connection closed without an answer), ``H14`` (no web dyno) or
``H20`` (none booted in 75 s). Every request leaves a ``heroku[router]`` line
in the app's log, as ``heroku logs`` shows Heroku's.
"""
from __future__ import annotations

import http.client
import re
import ssl
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from .certs import APPS_DOMAIN
from .routing import read_request_body

#: Seconds a request waits for a web dyno to boot before ``H20`` (Heroku's router: 75; not scaled).
BOOT_WAIT = 75.0
#: Seconds a dyno has to start answering before ``H12`` (Heroku: 30; scaled).
REQUEST_TIMEOUT = 30.0
#: Seconds an idle client connection is kept open.
IDLE_TIMEOUT = 60.0
VIA = "1.1 vegur"
#: Headers of one connection, never passed on (RFC 9110 §7.6.1).
HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade"}
_REQUEST_ID = re.compile(r"^[A-Za-z0-9+=/\-]{20,200}$")

ERRORS = {
    "H10": "App crashed",
    "H12": "Request timeout",
    "H13": "Connection closed without response",
    "H14": "No web processes running",
    "H20": "App boot timeout",
}


def _page(title: str, heading: str, text: str) -> bytes:
    return (
        '<!DOCTYPE html>\n<html>\n<head>\n<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<meta charset=\"utf-8\">\n<title>{title}</title>\n</head>\n<body>\n"
        f"<h1>{heading}</h1>\n<p>{text}</p>\n</body>\n</html>\n"
    ).encode()


APPLICATION_ERROR = _page(
    "Application Error", "Application error",
    "An error occurred in the application and your page could not be served. If you are the application owner, "
    "check your logs for details. You can do this from the Heroku CLI with the command <code>heroku logs --tail</code>",
)
MAINTENANCE = _page("Offline for Maintenance", "Offline for Maintenance",
                    "This app is undergoing maintenance right now. Please check back later.")
NO_SUCH_APP = _page("Heroku | No such app", "There's nothing here, yet.",
                    "Build something amazing")


def web_url(label: str, port: int) -> str:
    """The URL the router serves an app at, from its host label (``<app>-<hex>``)."""
    return f"https://{label}.{APPS_DOMAIN}:{port}/"


def host_label(url: str | None) -> str | None:
    """``<app>-<hex>`` of a ``web_url`` (the router's or Heroku's)."""
    host = urllib.parse.urlsplit(url or "").hostname or ""
    return host.split(".", 1)[0] or None


class RouterHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = IDLE_TIMEOUT

    def log_message(self, format, *args):  # noqa: A002 - signature from the base class
        pass  # requests are written to the app's log as router lines instead

    def handle(self) -> None:
        """Serve the connection's requests; a client that goes away (mid-handshake, too) just ends it."""
        try:
            super().handle()
        except (ssl.SSLError, ConnectionError, TimeoutError):
            self.close_connection = True

    def handle_any(self) -> None:
        router: Router = self.server.router
        started = time.monotonic()
        hostname = (self.headers.get("Host") or "").rsplit(":", 1)[0].lower()
        app = router.find_app(hostname)
        body = read_request_body(self.rfile, self.headers)
        if app is None:
            self.answer(404, NO_SUCH_APP)
            return
        sent = self.headers.get("X-Request-Id") or ""
        line = Line(self.command, self.path, hostname, sent if _REQUEST_ID.match(sent) else str(uuid.uuid4()),
                    self.client_address[0])
        if app.get("maintenance"):
            line.code, line.desc, line.status = "H80", "Maintenance mode", 503
            self.answer(503, MAINTENANCE)
            router.log(app, line.render("info"))
            return
        manager = router.sandbox.formation
        dyno, code = manager.route(app["id"], BOOT_WAIT)
        if dyno is None:
            self.fail(router, app, line, code)
            return
        try:
            line.dyno = dyno.name
            self.forward(router, app, dyno, body, line, started)
        finally:
            manager.done(dyno)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = handle_any

    def forward(self, router: Router, app: dict, dyno, body: bytes, line: Line, started: float) -> None:
        """Pass the request to ``dyno`` and its answer back, streaming; ``H12``/``H13`` when there is none."""
        connection = http.client.HTTPConnection("127.0.0.1", dyno.port, timeout=router.scaled(REQUEST_TIMEOUT))
        try:
            connection.connect()
            line.connect = _ms(time.monotonic() - started)
            sent_at = time.monotonic()
            connection.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
            for key, value in self.forwarded_headers(line, router.port, len(body)):
                connection.putheader(key, value)
            connection.endheaders(body or None)
            response = connection.getresponse()
        except TimeoutError:
            line.service = _ms(time.monotonic() - started)
            self.fail(router, app, line, "H12")
            return
        except (ConnectionError, http.client.HTTPException, OSError):
            self.fail(router, app, line, "H13")
            return
        try:
            line.status = response.status
            line.bytes = self.relay(response)
            line.service = _ms(time.monotonic() - sent_at)
        except (TimeoutError, ConnectionError, http.client.HTTPException, OSError):
            self.close_connection = True  # the answer was cut short: the client sees the connection end
        finally:
            connection.close()
        router.log(app, line.render("info"))

    def forwarded_headers(self, line: Line, port: int, length: int) -> list[tuple[str, str]]:
        """The client's headers (hop-by-hop ones left out) plus those Heroku's router adds."""
        added = {"x-forwarded-for", "x-forwarded-proto", "x-forwarded-port", "x-request-id", "x-request-start", "via",
                 "content-length", "expect"}  # the body is read whole first: the dyno has nothing to expect
        headers = [(k, v) for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP | added]
        client = self.headers.get("X-Forwarded-For")
        headers += [
            ("X-Forwarded-For", f"{client}, {line.fwd}" if client else line.fwd),
            ("X-Forwarded-Proto", "https"),
            ("X-Forwarded-Port", str(port)),
            ("X-Request-Id", line.request_id),
            ("X-Request-Start", str(int(time.time() * 1000))),
            ("Via", VIA),
            ("Connection", "close"),
        ]
        if length or self.command in ("POST", "PUT", "PATCH"):
            headers.append(("Content-Length", str(length)))
        return headers

    def relay(self, response: http.client.HTTPResponse) -> int:
        """Send the dyno's answer on to the client; the number of body bytes sent."""
        self.send_response_only(response.status, response.reason)
        for key, value in response.getheaders():
            if key.lower() not in HOP_BY_HOP:
                self.send_header(key, value)
        self.send_header("Via", VIA)
        bodiless = self.command == "HEAD" or response.status in (204, 304) or response.status < 200
        chunked = not bodiless and response.getheader("Content-Length") is None
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        total = 0
        while not bodiless and (chunk := response.read1(65536)):
            total += len(chunk)
            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk) if chunked else chunk)
        if chunked:
            self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()
        return total

    def fail(self, router: Router, app: dict, line: Line, code: str) -> None:
        """The application error page, and the router's error line."""
        line.code, line.desc, line.status = code, ERRORS[code], 503
        line.bytes = 0 if line.dyno else None
        self.answer(503, APPLICATION_ERROR)
        router.log(app, line.render("error"))

    def answer(self, status: int, page: bytes) -> None:
        self.send_response_only(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(page)))
        self.send_header("Cache-Control", "no-cache, no-store")
        self.send_header("Via", VIA)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(page)
        self.wfile.flush()


def _ms(seconds: float) -> str:
    return f"{max(0, round(seconds * 1000))}ms"


class Line:
    """One ``heroku[router]`` log line, filled in as the request goes."""

    def __init__(self, method: str, path: str, host: str, request_id: str, fwd: str):
        self.method, self.path, self.host, self.request_id, self.fwd = method, path, host, request_id, fwd
        self.code = self.desc = None
        self.dyno = self.connect = self.service = ""
        self.status: int | None = None
        self.bytes: int | None = None

    def render(self, level: str) -> str:
        fields = [f"at={level}"]
        if self.code:
            fields += [f"code={self.code}", f'desc="{self.desc}"']
        fields += [f"method={self.method}", f'path="{self.path}"', f"host={self.host}",
                   f"request_id={self.request_id}", f'fwd="{self.fwd}"', f"dyno={self.dyno}",
                   f"connect={self.connect}", f"service={self.service}", f"status={self.status}",
                   f"bytes={'' if self.bytes is None else self.bytes}",
                   "protocol=https"]
        return " ".join(fields)


class Router:
    """The router's TLS listener on 127.0.0.1, in a thread of its own."""

    def __init__(self, sandbox, port: int = 0):
        self.sandbox = sandbox
        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), RouterHandler)
        self.httpd.daemon_threads = True
        # The TLS handshake happens in each request's thread, so a slow client never holds up the others.
        self.httpd.socket = sandbox.ssl_context.wrap_socket(self.httpd.socket, server_side=True,
                                                            do_handshake_on_connect=False)
        self.httpd.router = self
        self.port = self.httpd.server_address[1]
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.2},
                                        name="router", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self.httpd.shutdown()
            self._thread.join(10)
            self._thread = None
        self.httpd.server_close()

    def scaled(self, seconds: float) -> float:
        return self.sandbox.formation.scaled(seconds)

    def find_app(self, hostname: str) -> dict | None:
        """The app whose ``web_url`` names ``hostname``."""
        label, _, domain = hostname.partition(".")
        if domain != APPS_DOMAIN:
            return None
        state = self.sandbox.state
        with state.lock:
            return next((app for app in state.data["apps"].values() if host_label(app.get("web_url")) == label), None)

    def log(self, app: dict, line: str) -> None:
        self.sandbox.state.logs.emit(app["id"], "heroku", "router", line)

    def adopt(self, state) -> None:
        """Point every app's ``web_url`` at this router (apps made by an older sandbox, or a new port)."""
        with state.mutate() as data:
            for app in data["apps"].values():
                app["web_url"] = web_url(host_label(app.get("web_url")) or app["name"], self.port)
