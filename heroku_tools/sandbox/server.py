"""The sandbox's HTTPS server: Platform API, data API, git and admin routes on one port.

Run as ``python -m heroku_tools.sandbox.server --state DIR`` (the ``sandbox up``
task and :class:`heroku_tools.sandbox.Sandbox` do that). One TLS port answers the
Platform API (``HEROKU_HOST``), the Postgres data API (``HEROKU_DATA_HOST`` =
the same host), particleboard's ``GET /account``, git's smart HTTP, release-phase
streams and backup downloads; a second TLS port is the ``heroku run`` rendezvous,
a third the router that serves each app's ``web_url`` from its formation's dynos.
Every request and JSON response is appended to ``requests.jsonl`` so tests can
check what the real CLI asked for and validate each answer against the Platform
API schema.
"""
from __future__ import annotations

import argparse
import base64
import importlib
import json
import os
import pkgutil
import signal
import ssl
import sys
import threading
import time
import traceback
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from . import api
from .certs import ensure_certificates
from .formation import FormationManager
from .postgres import PostgresCluster
from .releasing import stop_release_phases
from .runtime import remove_leftover_dynos
from .rendezvous import RendezvousServer
from .router import Router
from .routing import HANDLED, Request, Response, match, read_request_body
from .state import ApiError, State


NOT_FOUND_MESSAGE = (
    "The requested API endpoint was not found. Are you using the right HTTP verb (i.e. `GET` vs. `POST`), "
    "and did you specify your intended version with the `Accept` header?"
)


def load_api_modules() -> None:
    """Import every module of :mod:`heroku_tools.sandbox.api` so their routes register."""
    for info in pkgutil.iter_modules(api.__path__):
        importlib.import_module(f"{api.__name__}.{info.name}")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "heroku-tools-sandbox"

    def log_message(self, format, *args):  # noqa: A002 - signature from the base class
        pass  # requests are recorded in requests.jsonl instead

    # -- body ----------------------------------------------------------------
    def read_body(self) -> bytes:
        return read_request_body(self.rfile, self.headers)

    # -- dispatch ------------------------------------------------------------
    def handle_any(self) -> None:
        sandbox: SandboxServer = self.server.sandbox
        request_id = str(uuid.uuid4())
        parsed = urllib.parse.urlsplit(self.path)
        path = parsed.path
        query = dict(urllib.parse.parse_qsl(parsed.query, keep_blank_values=True))
        route, params, path_exists = match(self.command, path)
        # git streams the request body itself; everything else is read up front.
        body = b"" if route is not None and getattr(route.func, "raw_body", False) else self.read_body()
        req = Request(self.command, path, query, self.headers, body, params, sandbox, self)
        entry = {
            "time": time.time(),
            "method": self.command,
            "path": path,
            "query": query,
            "headers": {k: v for k, v in self.headers.items() if k.lower() != "authorization"},
            "body": _json_or_text(body),
        }
        try:
            latency = sandbox.state.data.get("latency_ms", 0)
            if latency and not path.startswith("/_sandbox"):
                time.sleep(latency / 1000)
            if route is None:
                raise ApiError(404, "not_found", NOT_FOUND_MESSAGE)
            if route.auth and not sandbox.authorized(self.headers.get("Authorization")):
                raise ApiError(401, "unauthorized", "Invalid credentials provided.")
            result = route.func(req)
        except ApiError as error:
            result = Response(error.status, error.body())
        except Exception:  # noqa: BLE001 - a bug in the sandbox must answer, not hang the CLI
            traceback.print_exc(file=sys.stderr)
            result = Response(500, {"id": "internal_server_error", "message": "Internal server error."})
        if result is HANDLED:
            entry["status"] = "streamed"
            sandbox.log_request(entry)
            return
        if not isinstance(result, Response):
            result = Response(200, result)
        entry["status"] = result.status
        entry["response"] = result.body if result.raw is None else None
        entry["route"] = route.template if route else None
        sandbox.log_request(entry)
        self.send_result(result, request_id)

    def send_result(self, result: Response, request_id: str) -> None:
        self.send_response(result.status)
        self.send_header("Request-Id", request_id)
        for key, value in result.headers.items():
            self.send_header(key, value)
        if result.raw is None:
            payload = b"" if result.body is None and result.status == 204 else json.dumps(result.body).encode()
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        elif isinstance(result.raw, (bytes, bytearray)):
            self.send_header("Content-Type", result.content_type)
            self.send_header("Content-Length", str(len(result.raw)))
            self.end_headers()
            self.wfile.write(result.raw)
        else:
            self.send_header("Content-Type", result.content_type)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.send_chunks(result.raw)
            return
        self.wfile.flush()

    def send_chunks(self, chunks) -> None:
        """Stream ``chunks`` with chunked encoding; a client that goes away ends the stream (and its generator)."""
        try:
            for chunk in chunks:
                if chunk:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except (ConnectionError, ssl.SSLError, OSError):
            self.close_connection = True
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = do_HEAD = handle_any


def _json_or_text(body: bytes):
    if not body:
        return None
    try:
        return json.loads(body)
    except ValueError:
        return f"<{len(body)} bytes>"


class SandboxServer:
    """Owns the state, the TLS listeners and the Postgres cluster of one sandbox."""

    def __init__(self, state_dir: Path, port: int = 0, rendezvous_port: int = 0, router_port: int = 0):
        self.state_dir = Path(state_dir)
        self.state = State(self.state_dir)
        self.ca_pem, cert_pem, key_pem = ensure_certificates(self.state_dir / "tls")
        self.ssl_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.ssl_context.load_cert_chain(cert_pem, key_pem)
        ports = self.state.data["ports"]
        self.httpd = ThreadingHTTPServer(("127.0.0.1", port or ports.get("https", 0)), Handler)
        self.httpd.daemon_threads = True
        self.httpd.socket = self.ssl_context.wrap_socket(self.httpd.socket, server_side=True)
        self.httpd.sandbox = self
        self.port = self.httpd.server_address[1]
        self.base_url = f"https://127.0.0.1:{self.port}"
        self._log_lock = threading.Lock()
        self.log_path = self.state_dir / "requests.jsonl"
        #: ``heroku logs`` sessions by id, and how many streams are open (see :mod:`.api.logs`).
        self.log_sessions: dict = {}
        self.log_streams = 0
        #: Set when the server is stopping: tailed log streams end.
        self.closing = threading.Event()
        load_api_modules()
        self.rendezvous = RendezvousServer(self, rendezvous_port or ports.get("rendezvous", 0))
        #: The formation's dynos, and the router that serves each app's ``web_url`` from them.
        self.formation = FormationManager(self.state)
        self.router = Router(self, router_port or ports.get("router", 0))
        self.router.adopt(self.state)
        self.postgres = PostgresCluster(self.state_dir / "postgres")
        with self.state.mutate() as data:
            data["ports"] = {"https": self.port, "rendezvous": self.rendezvous.port, "router": self.router.port}

    def authorized(self, header: str | None) -> bool:
        if not header:
            return False
        scheme, _, credential = header.partition(" ")
        if scheme.lower() == "bearer":
            return credential == self.state.data["api_key"]
        if scheme.lower() == "basic":
            try:
                _, _, password = base64.b64decode(credential).decode().partition(":")
            except ValueError:
                return False
            return password == self.state.data["api_key"]
        return False

    def log_request(self, entry: dict) -> None:
        with self._log_lock, self.log_path.open("a") as fh:
            fh.write(json.dumps(entry) + "\n")

    def serve_forever(self) -> None:
        self.rendezvous.start()
        self.router.start()
        try:
            self.httpd.serve_forever(poll_interval=0.2)
        finally:
            self.router.stop()
            self.formation.shutdown()
            self.rendezvous.stop()
            stop_release_phases()
            remove_leftover_dynos(self.state)
            self.postgres.stop()

    def shutdown(self) -> None:
        self.closing.set()
        threading.Thread(target=self.httpd.shutdown, daemon=True).start()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="heroku-tools-sandbox")
    parser.add_argument("--state", required=True, type=Path)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--rendezvous-port", type=int, default=0)
    parser.add_argument("--reuse-env", action="store_true", help="dynos use this Python environment; nothing is installed")
    parser.add_argument("--strict", action="store_true", help="fail builds the sandbox cannot make as Heroku would")
    parser.add_argument("--router-port", type=int, default=0)
    parser.add_argument("--formation", action="store_true", help="run the Procfile's process types after each release")
    parser.add_argument("--time-scale", type=float, default=1.0, help="multiply the platform's delays (tests)")
    args = parser.parse_args(argv)
    # The state holds the API key, every app's config vars and backups of its data: this user's only.
    os.umask(0o077)
    server = SandboxServer(args.state, args.port, args.rendezvous_port, args.router_port)
    server.state.configure(reuse_env=args.reuse_env, strict=args.strict, formation=args.formation,
                           time_scale=args.time_scale)
    server.formation.apply_settings()
    signal.signal(signal.SIGTERM, lambda *_: server.shutdown())
    signal.signal(signal.SIGINT, lambda *_: server.shutdown())
    (args.state / "server.pid").write_text(str(os.getpid()))
    print(json.dumps({"port": server.port, "rendezvous_port": server.rendezvous.port}), flush=True)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
