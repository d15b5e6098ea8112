"""The heroku CLI runner: every heroku command the library runs, each a thin method building an argv.

The CLI is quiet and non-interactive here: no telemetry, update checks, colour
or prompts, ``HEROKU_APP`` dropped and ``-a APP`` on every per-app call, so a
forgotten app never silently targets whatever the current directory points at.
``--json`` output is parsed into :mod:`heroku_tools.models` objects::

    heroku = Heroku.from_settings(settings)
    current = next(r for r in heroku.releases("my-app-live") if r.current)
    heroku.run("my-app-live", ["python", "manage.py", "migrate"], stream=print)

Failures raise :class:`~heroku_tools.errors.CommandError` (or the more specific
:class:`~heroku_tools.errors.NotLoggedIn`, :class:`~heroku_tools.errors.AppNotFound`,
:class:`~heroku_tools.errors.RemoteCommandFailed`) carrying argv, status and output,
with the CLI's own ``Error:`` line as the message.
"""
from __future__ import annotations

import json
import re
import shlex
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .errors import AppNotFound, CommandError, NotLoggedIn, RemoteCommandFailed
from .models import (
    Account,
    Addon,
    App,
    Dyno,
    Feature,
    Pipeline,
    PromotionTarget,
    Release,
    Transfer,
)
from .runner import (
    QUIET_ENV,
    LineCallback,
    Result,
    Runner,
    configured_bin,
    first_error_line,
)
from .settings import Settings

ENV_VAR = "HEROKU_TOOLS_HEROKU"

#: The CLI's telemetry, analytics and update checks, all off (reference §2.3).
CLI_ENV = {
    **QUIET_ENV,
    "DISABLE_TELEMETRY": "true",
    "HEROKU_SKIP_ANALYTICS": "1",
    "HEROKU_DISABLE_AUTOUPDATE": "1",
    "HEROKU_SKIP_NEW_VERSION_CHECK": "true",
}

_NEW_VERSION = re.compile(r"\bdone, v(\d+)\b")
_LOGGED_OUT = (
    "Invalid credentials provided",
    "The token provided to HEROKU_API_KEY is invalid",
    "not logged in",
    "Error ID: unauthorized",
)


class Heroku(Runner):
    """The heroku CLI; see :class:`~heroku_tools.runner.Runner` for ``bin``, ``env`` and ``cwd``."""

    tool = "heroku"
    env_var = ENV_VAR
    base_env = CLI_ENV
    dropped_env = ("HEROKU_APP",)
    install_hint = (
        "install the Heroku CLI (https://devcenter.heroku.com/articles/heroku-cli, or `npm install heroku` "
        "in the project), or set heroku.bin in heroku-tools.yml or $HEROKU_TOOLS_HEROKU to its path"
    )

    @classmethod
    def from_settings(cls, settings: Settings, **kwargs) -> Heroku:
        return cls(configured_bin(settings.heroku_bin, settings.root, ENV_VAR), **kwargs)

    def error(self, result: Result, *, shown: Sequence[str] | None = None) -> CommandError:
        argv = ["heroku", *(shown or result.argv)]
        fields = {"argv": argv, "exit_code": result.exit_code, "stdout": result.stdout, "stderr": result.stderr}
        reason = first_error_line(result.stderr, result.stdout)
        if (result.argv[:1] == ("auth:whoami",) and result.exit_code == 100) or any(
            text in result.stderr for text in _LOGGED_OUT
        ):
            return NotLoggedIn(
                f"not logged in to Heroku ({reason or 'no credentials'}): run `heroku login`, or set HEROKU_API_KEY",
                **fields,
            )
        if "Couldn't find that app" in result.stderr:
            app = _flag(result.argv, "-a")
            return AppNotFound(f"Heroku app {app!r} not found, or this account cannot access it", **fields)
        return super().error(result, shown=shown)

    def _json(self, *args: str) -> Any:
        result = self.execute(args)
        try:
            return json.loads(result.stdout)
        except ValueError:
            raise CommandError(
                f"`heroku {' '.join(args)}` printed something that is not JSON: {result.stdout[:200]!r}",
                argv=["heroku", *args],
                exit_code=result.exit_code,
                stdout=result.stdout,
                stderr=result.stderr,
            ) from None

    # -- account ---------------------------------------------------------------
    def whoami(self) -> Account:
        """Who the CLI is logged in as; :class:`~heroku_tools.errors.NotLoggedIn` if no one."""
        return Account(self.execute(["auth:whoami"]).stdout.strip())

    def auth_token(self) -> str:
        """The API token, for calling the Platform API directly on hot read-only paths."""
        return self.execute(["auth:token"]).stdout.strip()

    # -- apps and releases -----------------------------------------------------
    def app_info(self, app: str) -> App:
        return App.from_json(self._json("apps:info", "--json", "-a", app))

    def releases(self, app: str, num: int = 15) -> list[Release]:
        """The latest ``num`` releases, newest first."""
        return [Release.from_json(r) for r in self._json("releases", "--json", "-n", str(num), "-a", app)]

    def release_info(self, app: str, version: int | None = None) -> Release:
        """Release ``version`` (default: the latest)."""
        args = ["releases:info", *([f"v{version}"] if version is not None else []), "--json", "-a", app]
        return Release.from_json(self._json(*args))

    def rollback(self, app: str, version: int | None = None) -> int | None:
        """Roll code and config back to ``version`` (default: the previous release); the new version."""
        args = ["releases:rollback", *([f"v{version}"] if version is not None else []), "-a", app]
        return _new_version(self.execute(args).stderr)

    def releases_retry(self, app: str) -> int | None:
        """Copy the latest release into a new one and run its release phase again; the new version."""
        return _new_version(self.execute(["releases:retry", "-a", app]).stderr)

    # -- config vars (written through the Platform API: heroku_api.PlatformAPI.update_config_vars) --
    def config(self, app: str) -> dict[str, str]:
        return self._json("config", "--json", "-a", app)

    # -- maintenance, features, dynos ------------------------------------------
    def maintenance(self, app: str) -> bool:
        return self.execute(["maintenance", "-a", app]).stdout.strip() == "on"

    def maintenance_on(self, app: str) -> None:
        self.execute(["maintenance:on", "-a", app])

    def maintenance_off(self, app: str) -> None:
        self.execute(["maintenance:off", "-a", app])

    def features(self, app: str) -> list[Feature]:
        return [Feature.from_json(f) for f in self._json("features", "--json", "-a", app)]

    def feature_enable(self, app: str, name: str) -> None:
        self.execute(["features:enable", name, "-a", app])

    def feature_disable(self, app: str, name: str) -> None:
        self.execute(["features:disable", name, "-a", app])

    def ps(self, app: str) -> list[Dyno]:
        return [Dyno.from_json(d) for d in self._json("ps", "--json", "-a", app)]

    def ps_scale(self, app: str, formation: Mapping[str, int | str]) -> None:
        """Scale process types: ``{"web": 2, "worker": "1:Standard-1X"}``."""
        self.execute(["ps:scale", *(f"{kind}={quantity}" for kind, quantity in formation.items()), "-a", app])

    # -- one-off dynos ---------------------------------------------------------
    def run(
        self,
        app: str,
        command: Sequence[str] | str,
        *,
        exit_code: bool = True,
        check: bool = True,
        stream: LineCallback | None = None,
        size: str | None = None,
        input: bytes | None = None,
        keep_output: bool = True,
    ) -> Result:
        """Run ``command`` in a one-off dyno and wait for it.

        ``input`` becomes the dyno's stdin (the CLI ends it with ``\x04``);
        ``keep_output=False`` passes the dyno's output to ``stream`` only (a
        stream of data: kept, it would all be held in memory), and ``stream``
        returning True hangs up on the dyno, which Heroku then stops.

        ``command`` is an argv list (quoted with :func:`shlex.join`) or a shell
        line used as is; either way it goes after ``--`` as ONE argument, so none
        of its words can be taken for a flag of ``heroku run``. With ``exit_code``
        (``--exit-code``) the remote status comes back as ``Result.exit_code``,
        and ``check`` raises :class:`~heroku_tools.errors.RemoteCommandFailed` if it
        is not 0. Without it Heroku reports 0 whatever happened: only for steps
        whose result does not matter.
        """
        line = command if isinstance(command, str) else shlex.join(command)
        args = ["run", *(["-x"] if exit_code else []), "--no-tty", *(["-s", size] if size else []), "-a", app]
        watched = _DynoWatch(stream)
        try:
            result = self.execute([*args, "--", line], ok=range(256), stream=watched, input=input,
                                  keep_stdout=keep_output)
        except KeyboardInterrupt:
            raise self._stop(app, watched) from None
        status = result.exit_code
        if status == 0:
            return result
        if "heroku-command-exit-status" in result.stderr or "No exit code returned" in result.stderr:
            raise RemoteCommandFailed(
                f"`{line}` on {app}: the dyno ended without reporting an exit status "
                "(a command ending with `exit N` does this); treat it as failed",
                argv=["heroku", *result.argv],
                exit_code=status,
                stdout=result.stdout,
                stderr=result.stderr,
            )
        if exit_code and f"Process exited with code {status}" in result.stderr:
            if check:
                raise RemoteCommandFailed(
                    f"`{line}` exited with status {status} on {app}",
                    argv=["heroku", *result.argv],
                    exit_code=status,
                    stdout=result.stdout,
                    stderr=result.stderr,
                )
            return result
        raise self.error(result)

    def _stop(self, app: str, watched: _DynoWatch) -> DynoInterrupted:
        """After Ctrl-C: the dyno would go on without its CLI (a migration, say), so stop it; what happened."""
        watched.interrupted = True  # the CLI's own stack trace as it dies is not for the user
        if watched.dyno is None:
            return DynoInterrupted("the one-off dyno had not started yet")
        try:
            self.execute(["ps:stop", watched.dyno, "-a", app])
        except CommandError as error:
            if "Couldn't find that dyno" in error.message:  # Heroku stops a dyno whose CLI hung up: it is gone already
                return DynoInterrupted(f"the one-off dyno {watched.dyno} was stopped (it ended with its connection)")
            return DynoInterrupted(f"the one-off dyno {watched.dyno} may still be running: stopping it failed "
                                   f"({error.message}); check `heroku ps -a {app}`")
        return DynoInterrupted(f"the one-off dyno {watched.dyno} was stopped")

    def run_detached(self, app: str, command: Sequence[str] | str, *, size: str | None = None) -> str | None:
        """Start ``command`` in a detached dyno (its status is never known); the dyno's name."""
        line = command if isinstance(command, str) else shlex.join(command)
        args = ["run:detached", *(["-s", size] if size else []), "-a", app, "--", line]
        result = self.execute(args)
        match = re.search(r"\b(run\.\d+)\b", result.stderr + result.stdout)
        return match.group(1) if match else None

    # -- pipelines -------------------------------------------------------------
    def pipelines_info(self, name: str) -> Pipeline:
        return Pipeline.from_info(self._json("pipelines:info", name, "--json"))

    def pipeline_promote(self, app: str, to: Sequence[str] | None = None) -> list[PromotionTarget]:
        """Promote ``app``'s current slug downstream (or to the apps in ``to``); how each target ended.

        A failed target raises :class:`~heroku_tools.errors.CommandError` naming it.
        """
        args = ["pipelines:promote", "-a", app, *(["--to", ",".join(to)] if to else [])]
        result = self.execute(args, ok=range(256))
        targets = _promotion_targets(result.stdout)
        if result.exit_code:
            failed = [t for t in targets if not t.succeeded]
            if not failed:
                raise self.error(result)
            detail = "; ".join(f"{t.app}: {t.status}" + (f" ({t.error})" if t.error else "") for t in failed)
            raise CommandError(
                f"promotion of {app} failed: {detail}",
                argv=["heroku", *result.argv],
                exit_code=result.exit_code,
                stdout=result.stdout,
                stderr=result.stderr,
            )
        return targets

    # -- add-ons and Postgres --------------------------------------------------
    def addons(self, app: str) -> list[Addon]:
        return [Addon.from_json(a) for a in self._json("addons", "--json", "-a", app)]

    def pg_info(self, app: str, database: str | None = None) -> dict[str, dict[str, str]]:
        """``pg:info`` as ``{"DATABASE_URL": {"Plan": ..., "Status": ...}, ...}``."""
        args = ["pg:info", *([database] if database else []), "-a", app]
        return _sections(self.execute(args).stdout)

    def pg_backups(self, app: str) -> list[Transfer]:
        """Backups, restores and copies, as ``pg:backups`` lists them."""
        return _transfers(self.execute(["pg:backups", "-a", app]).stdout)

    def pg_backups_capture(
        self, app: str, database: str | None = None, *, stream: LineCallback | None = None
    ) -> str | None:
        """Capture a backup and wait for it, streaming the CLI's progress; its name (``b003``)."""
        args = ["pg:backups:capture", *([database] if database else []), "-a", app]
        result = self.execute(args, stream=stream)
        match = re.search(r"\bto ([a-z]\d{3,})\b", result.stderr)
        return match.group(1) if match else None

    def pg_backups_url(self, app: str, backup: str | None = None) -> str:
        """A signed, short-lived download URL of ``backup`` (default: the latest)."""
        args = ["pg:backups:url", *([backup] if backup else []), "-a", app]
        return self.execute(args).stdout.strip()

    def pg_backups_download(self, app: str, backup: str | None = None, output: str | Path = "latest.dump") -> Path:
        args = ["pg:backups:download", *([backup] if backup else []), "-a", app, "-o", str(output)]
        self.execute(args)
        return Path(self.cwd or ".") / output

    def pg_backups_restore(self, backup: str, app: str, confirm: str, database: str = "DATABASE_URL") -> None:
        """Restore ``backup`` (``b002``, ``other-app::b002`` or a URL) into ``app``'s ``database``.

        ``confirm`` must be the app's name: without ``--confirm`` and no TTY the
        CLI prints its prompt, restores nothing and exits 0.
        """
        self.execute(["pg:backups:restore", backup, database, "-a", app, "--confirm", confirm])

    def pg_reset(self, app: str, confirm: str, database: str = "DATABASE_URL") -> None:
        """Empty ``app``'s ``database``; ``confirm`` must be the app's name."""
        self.execute(["pg:reset", database, "-a", app, "--confirm", confirm])

    # -- git -------------------------------------------------------------------
    def git_remote(self, app: str, remote: str = "heroku") -> str | None:
        """Add (or update) the git remote ``remote`` for ``app`` in ``cwd``; its URL."""
        out = self.execute(["git:remote", "-a", app, "-r", remote]).stdout
        match = re.search(r"\bto (\S+)", out)
        return match.group(1) if match else None


# -- parsing helpers -------------------------------------------------------------


class DynoInterrupted(KeyboardInterrupt):
    """Ctrl-C during ``heroku run``: the message says what became of the dyno."""

    def __init__(self, note: str):
        super().__init__(note)
        self.note = note


class _DynoWatch:
    """Passes a one-off dyno's output on, noting the dyno's name from the CLI's progress line."""

    _NAME = re.compile(r"\b(run\.\d+)\b")

    def __init__(self, stream: LineCallback | None):
        self.stream = stream
        self.dyno: str | None = None
        self.interrupted = False

    def __call__(self, line: str) -> bool | None:
        if self.dyno is None and (found := self._NAME.search(line)) and line.lstrip().startswith("Running"):
            self.dyno = found.group(1)
        if self.stream is not None and not self.interrupted:
            return self.stream(line)
        return None


def _flag(argv: Sequence[str], flag: str) -> str | None:
    for index, arg in enumerate(argv[:-1]):
        if arg == flag:
            return argv[index + 1]
    return None


def _new_version(stderr: str) -> int | None:
    """``Setting A and restarting my-app... done, v13`` → 13."""
    match = _NEW_VERSION.search(stderr)
    return int(match.group(1)) if match else None


def _promotion_targets(stdout: str) -> list[PromotionTarget]:
    """``B: succeeded`` / ``B: failed`` lines (the error indented beneath) from ``pipelines:promote``."""
    targets: list[PromotionTarget] = []
    for line in stdout.splitlines():
        match = re.match(r"^(\S+): (succeeded|failed|pending|expired)\s*$", line)
        if match:
            targets.append(PromotionTarget(match.group(1), match.group(2)))
        elif targets and line.startswith((" ", "\t")) and line.strip():
            last = targets[-1]
            error = f"{last.error} {line.strip()}" if last.error else line.strip()
            targets[-1] = PromotionTarget(last.app, last.status, error)
    return targets


def _sections(text: str) -> dict[str, dict[str, str]]:
    """``=== NAME`` headed blocks of ``Key: value`` lines."""
    sections: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    for line in text.splitlines():
        if line.startswith("=== "):
            current = sections.setdefault(line[4:].strip().split(",")[0].strip(), {})
        elif current is not None and ":" in line and not line.startswith(" "):
            key, _, value = line.partition(":")
            current[key.strip()] = value.strip()
    return sections


_TRANSFER_ROW = re.compile(r"^([abcor]\d{3,})\s{2,}(.*)$")
_KINDS = {"Backups": "backup", "Restores": "restore", "Copies": "copy"}


def _transfers(text: str) -> list[Transfer]:
    """Rows of the ``=== Backups`` / ``=== Restores`` / ``=== Copies`` tables of ``pg:backups``."""
    transfers, kind = [], None
    for line in text.splitlines():
        if line.startswith("=== "):
            kind = _KINDS.get(line[4:].strip())
            continue
        match = _TRANSFER_ROW.match(line.strip())
        if kind and match:
            columns = re.split(r"\s{2,}", match.group(2).strip())
            created, status, size, database = (columns + [""] * 4)[:4]
            transfers.append(Transfer(match.group(1), kind, status, created or None, size or None, database or None))
    return transfers
