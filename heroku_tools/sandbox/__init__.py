"""A local Heroku that the real heroku CLI and git talk to.

:class:`Sandbox` starts the server in the background (state under
``.heroku-tools/sandbox/`` by default, surviving restarts, ignored by git: the
directory holds a ``.gitignore`` of ``*``, so a sandbox started in a project
never dirties its working tree), says which
environment variables point the CLI and git at it, and gives tests a handle on
its state, its request log and its fault switches::

    with Sandbox(tmp_path / "sandbox") as sandbox:
        subprocess.run(["heroku", "apps:create", "demo"], env=sandbox.cli_env(home), check=True)
        assert sandbox.state()["apps"]

Builds install each app's dependencies as Heroku's Python buildpack does, into
environments cached for the user (``$HEROKU_TOOLS_BUILD_CACHE`` or
``~/.cache/heroku-tools/build``); ``Sandbox(..., reuse_env=True)`` (``sandbox up
--reuse-env``) makes dynos use this process's own Python instead, faster and
less faithful, and ``strict=True`` fails builds the sandbox cannot make as
Heroku would (a Python version not installed here). ``formation=True``
(``sandbox up``'s default) runs each release's process types and serves every
app's ``web_url`` through the router; ``time_scale`` shortens the platform's
delays (crash cool-offs, preboot, the router's timeout) for tests.

The library itself never asks whether it is talking to the sandbox: the same
code paths run against real Heroku.
"""
from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from .state import checked_time_scale

DEFAULT_DIRECTORY = Path(".heroku-tools") / "sandbox"

#: Quiet, non-interactive settings for the heroku CLI (see reference §2.3).
QUIET_CLI_ENV = {
    "DISABLE_TELEMETRY": "true",
    "HEROKU_SKIP_ANALYTICS": "1",
    "HEROKU_DISABLE_AUTOUPDATE": "1",
    "HEROKU_SKIP_NEW_VERSION_CHECK": "true",
    "NO_PROXY": "127.0.0.1,localhost",
}


class SandboxError(RuntimeError):
    """The sandbox could not be started, reached or stopped."""


def find_pinned_heroku() -> Path | None:
    """The heroku CLI pinned in package.json, installed under ``node_modules``.

    Looks in the current directory and its parents, then beside this package's
    source checkout; ``HEROKU_TOOLS_HEROKU`` names it explicitly.
    """
    explicit = os.environ.get("HEROKU_TOOLS_HEROKU")
    if explicit:
        return Path(explicit).resolve()
    starts = [Path.cwd(), *Path.cwd().parents, Path(__file__).resolve().parents[2]]
    for directory in starts:
        candidate = directory / "node_modules" / ".bin" / "heroku"
        if candidate.exists():
            return candidate
    found = shutil.which("heroku")
    return Path(found) if found else None


def ignore_in_git(directory: Path) -> None:
    """Make ``directory`` ignore itself, as pytest's cache does: a deploy refuses a dirty working tree."""
    ignore = directory / ".gitignore"
    if not ignore.exists():
        ignore.write_text("# Written by heroku-tools: the sandbox's state is never committed.\n*\n")


class Sandbox:
    """Start, stop and inspect one sandbox living in ``directory``.

    ``reuse_env``, ``strict``, ``formation`` and ``time_scale`` are how
    :meth:`start` runs it (see the module's docstring); starting a sandbox that
    already runs applies them to it. The formation is off unless asked for, so
    tests that need no HTTP pay for no web dynos.
    """

    def __init__(self, directory: Path | str | None = None, *, heroku_bin: Path | str | None = None,
                 reuse_env: bool = False, strict: bool = False, formation: bool = False, time_scale: float = 1.0):
        self.directory = Path(directory or os.environ.get("HEROKU_TOOLS_SANDBOX") or DEFAULT_DIRECTORY).resolve()
        self.heroku_bin = Path(heroku_bin) if heroku_bin else find_pinned_heroku()
        self.settings = {"reuse_env": reuse_env, "strict": strict, "formation": formation,
                         "time_scale": checked_time_scale(time_scale)}
        self._process: subprocess.Popen | None = None

    # -- lifecycle -----------------------------------------------------------
    @property
    def pid_file(self) -> Path:
        return self.directory / "server.pid"

    def pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text())
            os.kill(pid, 0)
            return pid
        except (OSError, ValueError):
            return None

    def is_running(self) -> bool:
        return self.pid() is not None and self._healthy()

    def start(self, timeout: float = 60.0) -> Sandbox:
        """Start the server unless it is already running (then apply this object's settings); wait until it answers."""
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.directory.chmod(0o700)  # the API key, config vars and backups inside are this user's only
        ignore_in_git(self.directory)  # a sandbox started by an older heroku-tools gets it too
        if self.is_running():
            try:
                self.configure(**self.settings)
            except urllib.error.HTTPError as error:
                raise SandboxError(
                    f"the sandbox running in {self.directory} cannot take settings ({error}): it is older than this "
                    "heroku-tools; restart it (`heroku-tools sandbox down`, then `up`)"
                ) from None
            return self
        self.pid_file.unlink(missing_ok=True)
        log = os.fdopen(os.open(self.directory / "server.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), "ab")
        flags = [f"--{name.replace('_', '-')}" for name, on in self.settings.items() if on is True]
        flags += ["--time-scale", str(self.settings["time_scale"])]
        process = subprocess.Popen(
            [sys.executable, "-m", "heroku_tools.sandbox.server", "--state", str(self.directory), *flags],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self._process = process
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise SandboxError(
                    f"the sandbox server exited with status {process.returncode}; "
                    f"see {self.directory / 'server.log'}"
                )
            if self.pid_file.exists() and self._healthy():
                return self
            time.sleep(0.1)
        process.terminate()
        raise SandboxError(f"the sandbox did not answer within {timeout:.0f}s; see {self.directory / 'server.log'}")

    def stop(self, timeout: float = 30.0) -> bool:
        """Stop the server (and its PostgreSQL); True if one was running."""
        pid = self.pid()
        if pid is None:
            return False
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            # A server this object started stays a zombie (still "alive" to kill 0) until reaped.
            if self._process is not None and self._process.poll() is not None:
                break
            try:
                os.kill(pid, 0)
            except OSError:
                break
            time.sleep(0.1)
        else:
            os.kill(pid, signal.SIGKILL)
        self.pid_file.unlink(missing_ok=True)
        return True

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- how to reach it -----------------------------------------------------
    def _state_file(self) -> dict:
        return json.loads((self.directory / "state.json").read_text())

    @property
    def port(self) -> int:
        return self._state_file()["ports"]["https"]

    @property
    def base_url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def router_port(self) -> int:
        """The port of the router that serves every app's ``web_url`` (``https://<app>-<hex>.herokuapp.localhost:PORT/``)."""
        return self._state_file()["ports"]["router"]

    def web_url(self, app: str) -> str:
        """``app``'s ``web_url``, as ``heroku apps:info`` shows it."""
        return self.api("GET", f"/apps/{app}")["web_url"]

    @property
    def api_key(self) -> str:
        return self._state_file()["api_key"]

    @property
    def ca_file(self) -> Path:
        return self.directory / "tls" / "ca.pem"

    @property
    def env(self) -> dict[str, str]:
        """The variables that point the real heroku CLI and git at this sandbox."""
        git_base = f"https://127.0.0.1:{self.port}"
        env = {
            "HEROKU_HOST": git_base,
            "HEROKU_DATA_HOST": "127.0.0.1",
            "HEROKU_PARTICLEBOARD_URL": git_base,
            "HEROKU_API_KEY": self.api_key,
            "NODE_EXTRA_CA_CERTS": str(self.ca_file),
            # git trusts the sandbox CA for this URL only, and asks the heroku
            # CLI's credential helper for the API key, as on Heroku. The empty
            # helper first resets the list: every heroku command also writes
            # this helper to ~/.gitconfig, and git would run each copy (~1 s).
            "GIT_CONFIG_COUNT": "3",
            "GIT_CONFIG_KEY_0": f"http.{git_base}/.sslCAInfo",
            "GIT_CONFIG_VALUE_0": str(self.ca_file),
            "GIT_CONFIG_KEY_1": f"credential.{git_base}.helper",
            "GIT_CONFIG_VALUE_1": "",
            "GIT_CONFIG_KEY_2": f"credential.{git_base}.helper",
            "GIT_CONFIG_VALUE_2": "!heroku git:credentials",
            "HEROKU_TOOLS_SANDBOX": str(self.directory),
            **QUIET_CLI_ENV,
        }
        bundle = self._git_ca_bundle()
        if bundle:
            env["GIT_SSL_CAINFO"] = str(bundle)
        if self.heroku_bin:
            env["PATH"] = f"{self.heroku_bin.parent}{os.pathsep}{os.environ.get('PATH', '')}"
        return env

    def _git_ca_bundle(self) -> Path | None:
        """A CA bundle for a shell that sets ``GIT_SSL_CAINFO``, which overrides git's per-URL setting.

        Unsetting it would break the user's other HTTPS remotes, so the sandbox
        exports a copy of that bundle with its own CA appended instead.
        """
        existing = os.environ.get("GIT_SSL_CAINFO")
        if not existing or not os.path.isfile(existing) or Path(existing) == self.directory / "tls" / "git-ca-bundle.pem":
            return None
        bundle = self.directory / "tls" / "git-ca-bundle.pem"
        content = Path(existing).read_bytes().rstrip(b"\n") + b"\n" + self.ca_file.read_bytes()
        if not bundle.exists() or bundle.read_bytes() != content:
            bundle.write_bytes(content)
        return bundle

    def exports(self) -> str:
        """Shell ``export`` lines, for ``eval "$(heroku-tools sandbox up)"``."""
        lines = []
        for key, value in self.env.items():
            if key == "PATH" and self.heroku_bin:
                lines.append(f'export PATH={shlex.quote(str(self.heroku_bin.parent))}:"$PATH"')
            else:
                lines.append(f"export {key}={shlex.quote(value)}")
        return "\n".join(lines) + "\n"

    def cli_env(self, home: Path | str | None = None, **extra: str) -> dict[str, str]:
        """A complete environment for running the heroku CLI or git against the sandbox.

        ``home`` isolates the CLI's writes to ``~/.gitconfig`` and its caches.
        ``GIT_SSL_CAINFO``/``GIT_SSL_CAPATH`` would override the per-URL
        ``http.<url>.sslCAInfo`` that makes git trust the sandbox: the path is
        dropped and the bundle replaced by one that adds the sandbox CA.
        """
        dropped = ("HEROKU_APP", "HEROKU_API_KEY", "GIT_SSL_CAINFO", "GIT_SSL_CAPATH")
        env = {k: v for k, v in os.environ.items() if k not in dropped}
        env.update(self.env)
        if home is not None:
            env["HOME"] = str(home)
        env.update(extra)
        return env

    # -- inspection and faults ------------------------------------------------
    def _ssl(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_file))

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.base_url}/_sandbox/health", context=self._ssl(), timeout=2) as r:
                return r.status == 200
        except (OSError, KeyError, ValueError, urllib.error.URLError):
            return False

    def api(self, method: str, path: str, body=None, *, headers: dict | None = None):
        """Call the sandbox's API (Platform or admin) and return the parsed JSON."""
        request = urllib.request.Request(
            f"{self.base_url}{path}",
            method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={
                "Authorization": f"Bearer {self.api_key}",
                "Accept": "application/vnd.heroku+json; version=3",
                "Content-Type": "application/json",
                **(headers or {}),
            },
        )
        with urllib.request.urlopen(request, context=self._ssl(), timeout=60) as response:
            payload = response.read()
        return json.loads(payload) if payload else None

    def state(self) -> dict:
        """A snapshot of everything the sandbox holds (apps, releases, add-ons, ...)."""
        return self.api("GET", "/_sandbox/state")

    def requests(self) -> list[dict]:
        """Every request the sandbox has answered, oldest first."""
        path = self.directory / "requests.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    def configure(self, **settings) -> dict:
        """Change how the running sandbox builds and runs dynos (``reuse_env``, ``strict``, ``formation``,
        ``time_scale``); the settings now."""
        applied = self.api("PUT", "/_sandbox/settings", settings)
        self.settings.update(applied)
        return applied

    def arm_fault(self, app: str, point: str, times: int = 1) -> None:
        """Make the next ``times`` ``point`` operations of ``app`` fail as Heroku's would."""
        self.api("POST", "/_sandbox/faults", {"app": app, "point": point, "times": times})

    def set_latency(self, milliseconds: int) -> None:
        """Delay every API answer by ``milliseconds``."""
        self.api("POST", "/_sandbox/latency", {"ms": milliseconds})

    def clear_faults(self) -> None:
        self.api("DELETE", "/_sandbox/faults")

    def status(self) -> dict:
        running = self.is_running()
        info = {"directory": str(self.directory), "running": running, "pid": self.pid()}
        if running:
            snapshot = self.state()
            info.update(
                url=self.base_url,
                router=f"https://*.herokuapp.localhost:{self.router_port}/",
                apps=sorted(app["name"] for app in snapshot["apps"].values()),
                pipelines=sorted(p["name"] for p in snapshot["pipelines"].values()),
                postgres=snapshot.get("postgres"),
                settings=snapshot.get("settings"),
            )
        return info
