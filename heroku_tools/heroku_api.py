"""Calls straight to the Heroku Platform API, with the heroku CLI's own host, token and CA bundle.

Two reasons not to go through the CLI. What the CLI never prints: the full
commit sha of a release lives only on its slug (``GET /apps/{app}/slugs/{id}``).
And time: a CLI start-up costs about a second, which a deploy's pre-flight
(a dozen reads, made concurrently here) and its maintenance window (the
switch itself, and the polls for the new release) cannot afford. The
credentials and host are the CLI's: ``HEROKU_HOST`` resolved by the CLI's
own rules, the token from ``HEROKU_API_KEY``, ``~/.netrc`` or ``heroku
auth:token``, and the extra CA bundle the CLI trusts (``NODE_EXTRA_CA_CERTS``).
And secrecy: config var values written through the API (``PATCH
/apps/{app}/config-vars``, a JSON body) never appear on a command line,
where every user of the machine can read them. Every other change still
goes through the heroku CLI.
"""
from __future__ import annotations

import http.client
import json
import logging
import netrc
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping

from .errors import HerokuToolsError
from .heroku import Heroku
from .trust import ssl_context

log = logging.getLogger("heroku_tools")

ACCEPT = "application/vnd.heroku+json; version=3"


class PlatformAPIError(HerokuToolsError):
    """A Platform API call failed; ``status`` is the HTTP status (0: unreachable, or an answer that is not JSON).

    ``reason`` is what Heroku said (its error ``message``), without the method and path.
    """

    def __init__(self, message: str, status: int = 0, *, reason: str | None = None):
        super().__init__(message)
        self.status = status
        self.reason = reason or message


ALLOWED_HOST_SUFFIXES = ("heroku.com", "herokai.com", "herokuspace.com", "herokudev.com")


def api_base_url(environ: dict | None = None) -> str:
    """The API base the heroku CLI would use, per its ``HEROKU_HOST`` rules."""
    host = (environ if environ is not None else os.environ).get("HEROKU_HOST", "").strip()
    if not host:
        return "https://api.heroku.com"
    hostname = urllib.parse.urlsplit(host).hostname if host.startswith("http") else host
    allowed = hostname and (
        hostname.endswith(ALLOWED_HOST_SUFFIXES) or "localhost" in host or "127.0.0.1" in host
    )
    if not allowed:
        return "https://api.heroku.com"
    return host.rstrip("/") if host.startswith("http") else f"https://api.{host}"


class PlatformAPI:
    """A minimal Platform API client sharing the CLI's host and token.

    Reads, and the writes that must not pay a heroku CLI start-up or must not
    put a value on a command line: the maintenance switch, the formation and
    preboot around a deploy's window, and config vars.
    """

    def __init__(self, token: str | Callable[[], str], environ: dict | None = None, timeout: float = 30):
        self._token = token
        self.environ = dict(environ if environ is not None else os.environ)
        self.base_url = api_base_url(self.environ)
        self.timeout = timeout
        self._context = ssl_context(self.environ)

    @classmethod
    def for_cli(cls, heroku: Heroku) -> PlatformAPI:
        """The API as ``heroku`` (the CLI runner) reaches it: its host, its CA bundle, its token."""
        return cls(lambda: api_token(heroku))

    @property
    def token(self) -> str:
        if callable(self._token):
            self._token = self._token()
        return self._token

    def get(self, path: str, *, accept: str = ACCEPT, headers: dict | None = None):
        return self.request("GET", path, accept=accept, headers=headers)

    def patch(self, path: str, body: Mapping):
        """``PATCH path`` with ``body`` as JSON; the answer, parsed."""
        return self.request("PATCH", path, body=body)

    def request(self, method: str, path: str, *, body: Mapping | None = None, accept: str = ACCEPT,
                headers: dict | None = None):
        """One call; the answer's JSON. Failures are :class:`PlatformAPIError`, never showing ``body``."""
        data = None if body is None else json.dumps(body).encode("utf-8")
        request = urllib.request.Request(
            self.base_url + path,
            method=method,
            data=data,
            headers={
                "Authorization": f"Bearer {self.token}",
                "Accept": accept,
                "User-Agent": "heroku-tools",
                **({"Content-Type": "application/json"} if data is not None else {}),
                **(headers or {}),
            },
        )
        log.debug("Platform API: %s %s", method, path)
        try:
            with urllib.request.urlopen(request, context=self._context, timeout=self.timeout) as response:
                answer = response.read()
        except urllib.error.HTTPError as error:
            reason = _error_message(error)
            raise PlatformAPIError(f"Heroku API {method} {path} failed ({error.code}): {reason}",
                                   status=error.code, reason=reason) from None
        except (urllib.error.URLError, OSError) as error:
            raise PlatformAPIError(f"could not reach the Heroku API at {self.base_url}: {error}") from None
        try:
            return json.loads(answer or b"null")
        except ValueError:
            raise PlatformAPIError(f"Heroku API {method} {path}: the answer is not JSON",
                                   reason="the answer is not JSON") from None

    def slug(self, app: str, slug_id: str) -> dict:
        return self.get(f"/apps/{urllib.parse.quote(app)}/slugs/{urllib.parse.quote(slug_id)}")

    def slug_commit(self, app: str, slug_id: str) -> str | None:
        """The full commit sha a slug was built from (None when Heroku does not know it)."""
        return self.slug(app, slug_id).get("commit")

    # -- the reads deploy's pre-flight needs, concurrently and without a CLI start-up each
    def account(self) -> dict:
        return self.get("/account")

    def app(self, app: str) -> dict:
        return self.get(f"/apps/{urllib.parse.quote(app)}")

    def releases(self, app: str, limit: int = 10) -> list[dict]:
        """The newest ``limit`` releases, newest first (the CLI's own Range header)."""
        return self.get_range(f"/apps/{urllib.parse.quote(app)}/releases", f"version ..; max={limit}, order=desc")

    def config_vars(self, app: str) -> dict[str, str]:
        return self.get(f"/apps/{urllib.parse.quote(app)}/config-vars") or {}

    def update_config_vars(self, app: str, changes: Mapping[str, str | None]) -> dict[str, str]:
        """Set and remove (``None``) config vars in ONE request, one release; the app's config vars after it.

        The values travel in the request body over TLS, never on a command line.
        """
        return self.patch(f"/apps/{urllib.parse.quote(app)}/config-vars", dict(changes)) or {}

    def formation(self, app: str) -> list[dict]:
        return self.get(f"/apps/{urllib.parse.quote(app)}/formation") or []

    def scale(self, app: str, quantities: dict[str, int]) -> list[dict]:
        """One formation batch update: ``{"worker": 0}``."""
        updates = [{"type": kind, "quantity": quantity} for kind, quantity in quantities.items()]
        return self.patch(f"/apps/{urllib.parse.quote(app)}/formation", {"updates": updates})

    def dynos(self, app: str) -> list[dict]:
        """``GET /apps/{app}/dynos``: each dyno's ``type``, ``state``, ``release.version`` and ``updated_at``."""
        return self.get(f"/apps/{urllib.parse.quote(app)}/dynos") or []

    def log(self, app: str, lines: int = 1500) -> list[str]:
        """The app's latest log lines, as ``heroku logs`` reads them: a log session, then its ``logplex_url``.

        The lines come as server-sent events (``data: <line>``) or as plain text; both are read.
        """
        session = self.request("POST", f"/apps/{urllib.parse.quote(app)}/log-sessions",
                               body={"lines": lines, "tail": False})
        text = self.text(session["logplex_url"])
        return [line.removeprefix("data:").strip() for line in text.splitlines()
                if line.strip() and not line.startswith(":")]

    def set_feature(self, app: str, name: str, enabled: bool) -> dict:
        return self.patch(f"/apps/{urllib.parse.quote(app)}/features/{urllib.parse.quote(name)}", {"enabled": enabled})

    def maintenance_on(self, app: str) -> None:
        self._maintenance(app, True)

    def maintenance_off(self, app: str) -> None:
        self._maintenance(app, False)

    def _maintenance(self, app: str, on: bool) -> None:
        """``PATCH /apps/{app}`` — what ``heroku maintenance:on/off`` sends, without Node's start-up inside the window.

        The app Heroku answers with must show the new state: a switch is never assumed.
        """
        answer = self.patch(f"/apps/{urllib.parse.quote(app)}", {"maintenance": on})
        if not isinstance(answer, dict) or answer.get("maintenance") is not on:
            raise PlatformAPIError(f"maintenance mode of {app} did not turn {'on' if on else 'off'}")

    def download(self, url: str, sink) -> tuple[int, int | None]:
        """Copy a signed download URL (a backup) into ``sink``: ``(bytes received, Content-Length or None)``."""
        request = urllib.request.Request(url, headers={"User-Agent": "heroku-tools"})
        received, length = 0, None
        try:
            with urllib.request.urlopen(request, context=self._context, timeout=self.timeout) as response:
                length = response.headers.get("Content-Length")
                while chunk := response.read(1 << 20):
                    sink.write(chunk)
                    received += len(chunk)
        except http.client.IncompleteRead as short:  # the connection closed before Content-Length: the caller says so
            sink.write(short.partial)
            received += len(short.partial)
        except (urllib.error.URLError, OSError) as error:
            raise PlatformAPIError(f"the download failed after {received:,} bytes: {error}") from None
        return received, int(length) if length and length.isdigit() else None

    def text(self, url: str, *, timeout: float | None = None) -> str:
        """A plain-text resource Heroku hands out by URL (a release phase's output stream), read whole."""
        request = urllib.request.Request(url, headers={"User-Agent": "heroku-tools", "Accept": "text/plain"})
        try:
            with urllib.request.urlopen(request, context=self._context, timeout=timeout or self.timeout) as response:
                return response.read().decode("utf-8", "replace")
        except (urllib.error.URLError, OSError) as error:
            raise PlatformAPIError(f"could not read {urllib.parse.urlsplit(url).path}: {error}") from None

    def feature(self, app: str, name: str) -> dict:
        return self.get(f"/apps/{urllib.parse.quote(app)}/features/{urllib.parse.quote(name)}")

    def get_range(self, path: str, range_header: str):
        return self.get(path, headers={"Range": range_header})


def _error_message(error: urllib.error.HTTPError) -> str:
    """Heroku's own ``message`` of an error answer, else the HTTP reason."""
    try:
        message = json.loads(error.read()).get("message")
    except (ValueError, AttributeError, OSError):
        message = None
    return str(message or error.reason)


def api_token(heroku: Heroku) -> str:
    """The token the heroku CLI uses, found the way the CLI finds it.

    ``HEROKU_API_KEY`` wins; then the ``~/.netrc`` entry for the CLI's API
    host (read directly: a ``heroku auth:token`` start-up costs as much as the
    rest of a deploy's pre-flight); then ``heroku auth:token`` itself, which
    also covers a keychain login.
    """
    environ = heroku.environment()
    return environ.get("HEROKU_API_KEY") or netrc_token(environ) or heroku.auth_token()


def netrc_token(environ: dict) -> str | None:
    """The password of ``machine <api host>`` in ``$HOME/.netrc``, if there is one."""
    path = os.path.join(environ.get("HOME") or os.path.expanduser("~"), ".netrc")
    if not os.path.isfile(path):
        return None
    parts = urllib.parse.urlsplit(api_base_url(environ))
    host = parts.netloc if parts.port else parts.hostname
    try:
        entry = netrc.netrc(path).authenticators(host)
    except (netrc.NetrcParseError, OSError):
        return None
    return entry[2] if entry and entry[2] else None
