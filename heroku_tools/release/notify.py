"""Tell people about deployments: Slack-compatible and JSON webhooks, sent beside the work.

Each environment lists its targets in ``heroku-tools.yml``::

    - label: live
      app_name: my-app-live
      notify:
        - slack: ${SLACK_WEBHOOK_URL}
        - webhook: https://ci.example.com/hooks/deploys
          headers: {Authorization: "Bearer ${DEPLOY_HOOK_TOKEN}"}

A deploy, promotion or rollback sends an :class:`Event` when it starts,
succeeds and fails. The rules, each for a reason:

* ``${NAME}`` is expanded from the process environment when the environment is
  deployed to, not when the settings load, so the variable only live's
  notifications need never stops anyone deploying dev; unset, it is a settings
  error naming the file, line and key, raised before anything changes;
* sending happens on background threads, one per target (so a target gets its
  events in order), never in front of the deploy's own work; at the end the
  deploy waits at most :data:`TIMEOUT` seconds in all for what is still
  outstanding, then goes on;
* a target that times out, refuses the connection or answers anything but 2xx
  costs a warning line, never the deploy; the warning names the target by its
  host only, because a webhook URL's path is the secret.
"""
from __future__ import annotations

import json
import os
import queue
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from .._version import __version__
from ..errors import SettingsError
from ..models import Commit
from ..settings import Environment, NotifyTarget, variables

from .plan import DeployPlan
from .rollback import RollbackPlan

#: Seconds a notification may take, and the most a deploy waits for them at its end.
TIMEOUT = 5.0


# -- targets ----------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """A :class:`~heroku_tools.settings.NotifyTarget` with its ``${NAME}`` references expanded."""

    kind: str
    url: str = field(repr=False)
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)

    @property
    def host(self) -> str:
        """How the target is named to the user: its host (and port), never the secret path."""
        return urllib.parse.urlsplit(self.url).netloc.rpartition("@")[2]

    def __str__(self) -> str:
        return f"{self.host} ({self.kind})"


def resolve(env: Environment, environ: Mapping[str, str] | None = None) -> tuple[Target, ...]:
    """``env``'s targets, expanded from ``environ`` (default ``os.environ``).

    Raises :class:`~heroku_tools.errors.SettingsError` for an unset variable or a
    value that is not an http(s) URL; the message names where the target was
    written and the variable, never the value.
    """
    environ = os.environ if environ is None else environ
    return tuple(_resolve(target, environ) for target in env.notify)


def _resolve(target: NotifyTarget, environ: Mapping[str, str]) -> Target:
    def expand(text: str) -> str:
        try:
            return variables.interpolate(text, environ, key=str(target.origin))
        except variables.MissingReference as error:
            raise SettingsError(
                f"{error.message}; nothing was changed",
                recover=[*(f"export {name}=...   # the value your team keeps for it, e.g. in CI secrets"
                           for name in error.missing), "or remove this notify target"],
            ) from None

    url = expand(target.url)
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        names = variables.references(target.url)
        where = f" (from {', '.join('$' + name for name in names)})" if names else ""
        raise SettingsError(
            f"{target.origin}: the {target.kind} URL{where} is not an http(s) URL (not shown: it may be a secret)"
        )
    return Target(target.kind, url, {name: expand(value) for name, value in target.headers.items()})


# -- events -----------------------------------------------------------------------


@dataclass(frozen=True)
class Event:
    """What a notification says; :meth:`payload` is the generic webhook's JSON body.

    ``release`` is the version the change makes: the expected one in a
    ``started`` event (``None`` for a rollback, which Heroku numbers), the
    real one once it ``succeeded``. In a ``failed`` event it is the version
    the change was making, which may not exist: ``error`` says where it stopped.
    """

    #: ``deploy``, ``promotion`` or ``rollback``.
    action: str
    #: ``started``, ``succeeded`` or ``failed``.
    outcome: str
    environment: str
    app: str
    release: int | None
    #: The commit running before (``None`` when unknown) and the one going out.
    commit_from: str | None
    commit_to: str | None
    #: Newest first: the commits a deploy ships, or those a rollback takes away.
    commits: tuple[Commit, ...]
    deployer: str
    note: str | None = None
    tag: str | None = None
    #: The app a promotion copies its slug from.
    source_app: str | None = None
    #: The release a rollback goes back to.
    rollback_to: int | None = None
    #: Seconds from the start, in ``succeeded`` and ``failed`` events.
    duration: float | None = None
    #: What went wrong, in a ``failed`` event (the message the user saw).
    error: str | None = None

    def finished(self, outcome: str, duration: float, **changes) -> Event:
        """This event's ending: ``succeeded`` or ``failed`` after ``duration`` seconds."""
        return replace(self, outcome=outcome, duration=round(duration, 1), **changes)

    def payload(self) -> dict:
        """The generic webhook's JSON body (documented in ``docs/notifications.rst``)."""
        return {
            "action": self.action,
            "outcome": self.outcome,
            "environment": self.environment,
            "app": self.app,
            "release": self.release,
            "tag": self.tag,
            "commit_range": {"from": self.commit_from, "to": self.commit_to},
            "commits": [{"sha": commit.sha, "subject": commit.subject} for commit in self.commits],
            "deployer": self.deployer,
            "note": self.note,
            "source_app": self.source_app,
            "rollback_to": self.rollback_to,
            "duration_seconds": self.duration,
            "error": self.error,
        }

    def slack(self) -> dict:
        """A Slack-compatible incoming webhook body: one ``text`` in Slack's mrkdwn."""
        where = f"*{_escape(self.environment)}* ({_escape(self.app)})"
        version = f"v{self.release}" if self.release is not None else "a new release"
        sha = f"`{self.commit_to[:7]}`" if self.commit_to else "unknown code"
        doing = {
            "deploy": f"deploying {sha} to {where}",
            "promotion": f"promoting {sha} from {_escape(self.source_app or '?')} to {where}",
            "rollback": f"rolling {where} back to v{self.rollback_to} ({sha})",
        }[self.action]
        who = _escape(self.deployer)
        if self.outcome == "started":
            count = len(self.commits)
            lines = [f":rocket: {who} is {doing} as {version}"
                     + (f" ({count} commit{'s' if count != 1 else ''})" if self.action != "rollback" else "")]
        elif self.outcome == "succeeded":
            tag = f", tagged `{_escape(self.tag)}`" if self.tag else ""
            lines = [f":white_check_mark: {who} finished {doing}: {version}{tag}, in {self.duration:.0f}s"]
        else:
            lines = [f":x: {who} failed {doing} after {self.duration:.0f}s: {_escape(self.error or 'unknown error')}"]
        if self.note and self.outcome != "failed":
            lines += ["> " + _escape(line) for line in self.note.splitlines()]
        if self.outcome == "succeeded" and self.commits:
            if self.action == "rollback":
                lines.append("Taken away by the rollback:")
            shown = self.commits[:10]
            lines += [f"• `{c.short}` {_escape(c.subject)}" for c in shown]
            if len(self.commits) > len(shown):
                lines.append(f"• … and {len(self.commits) - len(shown)} more")
        return {"text": "\n".join(lines)}


def deploy_event(plan: DeployPlan, note: str | None) -> Event:
    """The ``started`` event of a deploy or promotion of ``plan``."""
    deployed = plan.deployed
    return Event(
        action="promotion" if plan.method == "promote" else "deploy",
        outcome="started",
        environment=plan.env.label,
        app=plan.env.app_name,
        release=plan.next_version,
        commit_from=deployed.commit or deployed.reported_sha,
        commit_to=plan.target_commit,
        commits=tuple(plan.commits),
        deployer=plan.deployer,
        note=note or None,
        source_app=plan.source_app,
    )


def rollback_event(plan: RollbackPlan, undone: Sequence[Commit], note: str | None) -> Event:
    """The ``started`` event of a rollback: ``undone`` are the commits it takes away."""
    return Event(
        action="rollback",
        outcome="started",
        environment=plan.env.label,
        app=plan.env.app_name,
        release=None,
        commit_from=plan.current_commit,
        commit_to=plan.target_commit,
        commits=tuple(undone),
        deployer=plan.deployer,
        note=note or None,
        rollback_to=plan.target.version,
    )


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# -- sending ----------------------------------------------------------------------


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A webhook that redirects is misconfigured: report the 3xx rather than follow it as a GET."""

    def redirect_request(self, *args, **kwargs):
        return None


_OPENER = urllib.request.build_opener(_NoRedirects)


def post(target: Target, event: Event, *, timeout: float = TIMEOUT) -> None:
    """POST ``event`` to ``target``; raise :class:`NotificationFailed` unless it answers 2xx in time."""
    body = event.slack() if target.kind == "slack" else event.payload()
    request = urllib.request.Request(
        target.url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json", "User-Agent": f"heroku-tools/{__version__}", **target.headers},
    )
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            response.read()
    except urllib.error.HTTPError as error:
        raise NotificationFailed(f"HTTP {error.code} {error.reason}".rstrip()) from None
    except urllib.error.URLError as error:
        reason = error.reason
        if isinstance(reason, TimeoutError):
            raise NotificationFailed(f"no answer within {timeout:g}s") from None
        raise NotificationFailed(getattr(reason, "strerror", None) or str(reason)) from None
    except TimeoutError:
        raise NotificationFailed(f"no answer within {timeout:g}s") from None
    except OSError as error:
        raise NotificationFailed(error.strerror or type(error).__name__) from None


class NotificationFailed(Exception):
    """A target did not take a notification; the message says why, without its URL."""


class Notifier:
    """Sends events to targets in the background; :meth:`close` waits a bounded time and warns.

    ::

        notifier = Notifier(resolve(env), warn=output.warn)
        notifier.send(event)                 # returns at once
        ...                                  # the deploy's own work
        notifier.send(event.finished("succeeded", seconds))
        notifier.close()                     # at most TIMEOUT seconds
    """

    def __init__(self, targets: Sequence[Target], *, timeout: float = TIMEOUT, warn: Callable[[str], None] = print):
        self.targets = tuple(targets)
        self.timeout = timeout
        self.warn = warn
        self._lock = threading.Lock()
        self._failures: list[tuple[Target, str]] = []
        self._workers: list[_Worker] = []

    def send(self, event: Event) -> None:
        """Queue ``event`` for every target; never blocks."""
        if not self._workers:
            self._workers = [_Worker(target, self) for target in self.targets]
        for worker in self._workers:
            with self._lock:
                worker.pending.append(event)
            worker.queue.put(event)

    def close(self) -> None:
        """Wait up to ``timeout`` seconds in all for outstanding sends; warn about each failure.

        A send still running after that is abandoned (its thread is a daemon,
        so it never holds the process open) and reported as not delivered.
        """
        deadline = time.monotonic() + self.timeout
        for worker in self._workers:
            worker.queue.put(None)
        try:
            for worker in self._workers:
                worker.join(max(0.0, deadline - time.monotonic()))
        except KeyboardInterrupt:
            pass
        with self._lock:
            failures = self._failures
            given_up = f"given up after waiting {self.timeout:g}s"
            for worker in self._workers:
                failures += [(worker.target, _failure(worker.target, event, given_up)) for event in worker.pending]
            self._failures, self._workers = [], []
        failures.sort(key=lambda failure: self.targets.index(failure[0]))  # stable: each target's in event order
        for _, failure in failures:
            self.warn(failure)

    def _done(self, worker: _Worker, event: Event, error: NotificationFailed | None) -> None:
        with self._lock:
            worker.pending.remove(event)
            if error is not None:
                self._failures.append((worker.target, _failure(worker.target, event, str(error))))


class Announcement:
    """A change announced from start to end: ``with`` it around the work.

    Entering sends the ``started`` event; :meth:`succeeded` the ending; leaving
    by any exception — a library error, Ctrl-C, a bug — sends ``failed`` with
    what went wrong, so no target is left believing a change is still under
    way. Leaving always waits (a bounded time) for the sends and warns about
    the targets that missed them.
    """

    def __init__(self, targets: Sequence[Target], event: Event, *, warn: Callable[[str], None] = print):
        self.notifier = Notifier(targets, warn=warn)
        self.event = event
        self.started = 0.0

    def __enter__(self) -> Announcement:
        self.started = time.monotonic()
        self.notifier.send(self.event)
        return self

    def succeeded(self, **changes) -> None:
        """Send the ``succeeded`` event, with what the change made (``release=``, ``tag=``)."""
        self.notifier.send(self.event.finished("succeeded", time.monotonic() - self.started, **changes))

    def __exit__(self, kind, error, traceback) -> bool:
        try:
            if error is not None:
                self.notifier.send(self.event.finished("failed", time.monotonic() - self.started, error=_reason(error)))
        finally:
            self.notifier.close()
        return False


def _reason(error: BaseException) -> str:
    """What the ``failed`` event says: the message the user saw, or what interrupted the change."""
    if isinstance(error, KeyboardInterrupt):
        return "interrupted (Ctrl-C)"
    return getattr(error, "message", None) or f"{type(error).__name__}: {error}"


def _failure(target: Target, event: Event, reason: str) -> str:
    return f"warning: {target} was not notified that the {event.action} {event.outcome}: {reason}"


class _Worker(threading.Thread):
    """One target's sender: its events go out one at a time, in order."""

    def __init__(self, target: Target, notifier: Notifier):
        super().__init__(name=f"notify {target.host}", daemon=True)
        self.target, self.notifier = target, notifier
        self.queue: queue.Queue[Event | None] = queue.Queue()
        #: Events queued or being sent (guarded by the notifier's lock).
        self.pending: list[Event] = []
        self.start()

    def run(self) -> None:
        while (event := self.queue.get()) is not None:
            try:
                post(self.target, event, timeout=self.notifier.timeout)
            except NotificationFailed as error:
                self.notifier._done(self, event, error)
            else:
                self.notifier._done(self, event, None)
