"""The library's errors: one family, each shown to the user as one message.

Everything heroku-tools raises on purpose derives from :class:`HerokuToolsError`.
Tasks turn it into ``invoke.Exit(message, code)`` (see :func:`heroku_tools.tasks.task`)
and the ``heroku-tools`` program catches it, so a failure is one line on stderr
and an exit status, never a traceback.
"""
from __future__ import annotations

import contextlib
import difflib
import shlex
from collections.abc import Iterable, Iterator, Sequence
from contextvars import ContextVar

#: The task the ``heroku-tools`` program is running (``deploy``, ``backups.capture``), so that a message
#: can name the command the user typed; None elsewhere (a fabfile, ``inv``, a library call).
current_task: ContextVar[str | None] = ContextVar("current_task", default=None)


class HerokuToolsError(Exception):
    """Base class: ``message`` is what the user sees, ``code`` the exit status.

    An error that leaves something behind says so: ``state`` lines describe
    where things stand (the release an app runs, whether maintenance is on),
    ``recover`` lines are the exact commands to get out of it. :meth:`render`
    puts the three together as the text the user is shown.
    """

    code = 1

    def __init__(
        self,
        message: str,
        code: int | None = None,
        *,
        state: str | Iterable[str] = (),
        recover: str | Iterable[str] = (),
    ):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.state = [state] if isinstance(state, str) else list(state)
        self.recover = [recover] if isinstance(recover, str) else list(recover)

    def __str__(self) -> str:
        return self.message

    def render(self) -> str:
        """The message, then the state left behind, then how to recover."""
        lines = [self.message]
        if self.state:
            lines += ["State now:", *(f"  - {line}" for line in self.state)]
        if self.recover:
            lines += ["To recover:", *(f"  $ {line}" for line in self.recover)]
        return "\n".join(lines)


class SettingsError(HerokuToolsError):
    """``heroku-tools.yml`` (or the ``heroku_tools`` configuration) is not valid."""


class UnknownEnvironment(SettingsError):
    """An environment label that the settings do not define."""


class NotAnApp(SettingsError):
    """A database environment (``database_url:``) named where a Heroku app is needed.

    Raised where every operation resolves a label (:meth:`~heroku_tools.settings.Settings.environment`),
    before anything runs; the message names the task when the program knows it.
    """

    def __init__(self, label: str):
        task = current_task.get()
        needs = f"`{task}` needs an app" if task else "this needs a Heroku app"
        super().__init__(f"{label} is a database, not a Heroku app: {needs}; nothing was done. "
                         f"A database environment is only ever the target of a restore.",
                         recover=f"heroku-tools backups.restore SOURCE {label}   # the one task that takes it")
        self.label = label


class ToolNotFound(HerokuToolsError):
    """The ``heroku`` or ``git`` executable could not be found."""


class CommandError(HerokuToolsError):
    """A ``git`` or ``heroku`` command failed.

    Carries everything needed to diagnose it: the ``argv`` that ran, its
    ``exit_code``, ``stdout`` and ``stderr`` (text). ``message`` is the one line
    worth showing; ``details`` the full picture, for logs and ``--debug``.
    """

    def __init__(self, message: str, *, argv: Sequence[str], exit_code: int, stdout: str = "", stderr: str = ""):
        super().__init__(message)
        self.argv = list(argv)
        self.exit_code = exit_code
        self.stdout = stdout
        self.stderr = stderr

    @property
    def command(self) -> str:
        return shlex.join(self.argv)

    @property
    def details(self) -> str:
        parts = [f"$ {self.command}", f"exit status {self.exit_code}"]
        if self.stdout.strip():
            parts += ["--- stdout", self.stdout.rstrip()]
        if self.stderr.strip():
            parts += ["--- stderr", self.stderr.rstrip()]
        return "\n".join(parts)


class NotLoggedIn(CommandError):
    """The heroku CLI has no valid credentials (not logged in, or a bad API key)."""


class AppNotFound(CommandError):
    """Heroku does not know the app, or this account cannot see it."""


class RemoteCommandFailed(CommandError):
    """A one-off dyno (``heroku run --exit-code``) finished with a non-zero status."""


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """``"; did you mean 'uat'?"`` when ``word`` is close to one of ``choices``, else ``""``."""
    close = difflib.get_close_matches(str(word), list(choices), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


@contextlib.contextmanager
def before_any_change(what: str, again: str, state: str = "nothing was changed") -> Iterator[None]:
    """Ctrl-C while an operation only reads (its plan, its pre-flight) is one clear message, not a silent exit.

    Invoke ends a run on Ctrl-C with status 1 and nothing said; the user
    deserves to know that nothing changed, and the command to run again.
    """
    try:
        yield
    except KeyboardInterrupt:
        raise HerokuToolsError(f"interrupted (Ctrl-C) {what}", state=state, recover=again) from None
