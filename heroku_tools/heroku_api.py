"""Read-only calls straight to the Heroku Platform API, for what the CLI never prints.

The full commit sha of a release lives only on its slug (``GET
/apps/{app}/slugs/{id}``), and no heroku command shows it. Rather than guess from
a 7-character description, deploy reads the slug with the same credentials and
host the CLI uses: ``HEROKU_HOST`` resolved by the CLI's own rules, the token from
``heroku auth:token`` (or ``HEROKU_API_KEY``), and the extra CA bundle the CLI
trusts (``NODE_EXTRA_CA_CERTS``). Only GETs: every change still goes through the
heroku CLI.
"""
from __future__ import annotations

import json
import netrc
import os
import ssl
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable

from .errors import HerokuToolsError
from .heroku import Heroku


class PlatformAPIError(HerokuToolsError):
    """A Platform API read failed; ``status`` is the HTTP status (0: unreachable)."""

    def __init__(self, message: str, status: int = 0):
        super().__init__(message)
        self.status = status


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


def ssl_context(environ: dict | None = None) -> ssl.SSLContext:
    """The system's trust store plus the extra CA bundle the heroku CLI trusts.

    ``NODE_EXTRA_CA_CERTS`` is how a company proxy's CA (or a local Heroku)
    is trusted by the CLI; reading it here keeps Python's view of Heroku's
    hosts — the API, signed backup URLs — the same as the CLI's.
    """
    environ = os.environ if environ is None else environ
    context = ssl.create_default_context()
    extra = environ.get("NODE_EXTRA_CA_CERTS")
    if extra and os.path.exists(extra):
        context.load_verify_locations(cafile=extra)
    return context


class PlatformAPI:
    """A minimal, read-only Platform API client sharing the CLI's host and token."""

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

    def get(self, path: str, *, accept: str = "application/vnd.heroku+json; version=3", headers: dict | None = None):
        request = urllib.request.Request(
            self.base_url + path,
            headers={
                "Authorization": f"Bearer {self.token}",
                "Accept": accept,
                "User-Agent": "heroku-tools",
                **(headers or {}),
            },
        )
        try:
            with urllib.request.urlopen(request, context=self._context, timeout=self.timeout) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            try:
                message = json.loads(error.read()).get("message", error.reason)
            except ValueError:
                message = error.reason
            raise PlatformAPIError(f"Heroku API GET {path} failed ({error.code}): {message}", status=error.code) from None
        except (urllib.error.URLError, OSError) as error:
            raise PlatformAPIError(f"could not reach the Heroku API at {self.base_url}: {error}") from None

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

    def feature(self, app: str, name: str) -> dict:
        return self.get(f"/apps/{urllib.parse.quote(app)}/features/{urllib.parse.quote(name)}")

    def get_range(self, path: str, range_header: str):
        return self.get(path, headers={"Range": range_header})


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
