"""What the git and heroku runners share: running one executable through ``sh``, quietly.

Every call gets an environment built afresh from ``os.environ`` plus the
runner's overrides (``sh``'s ``_env`` replaces the environment, and a dict baked
once would go stale), pipes rather than a pty (a pty brings pagers, colour and
truncated output), stdin at end-of-file so nothing can wait for an answer, and
untruncated errors. A failure becomes one :class:`~heroku_tools.errors.CommandError`.
"""
from __future__ import annotations

import contextlib
import logging
import os
import shlex
import shutil
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import sh

from .errors import CommandError, ToolNotFound

log = logging.getLogger("heroku_tools")
# sh logs every command it starts, arguments and all (config var values included), as soon
# as debug logging is on (``--debug``); the runner logs its own line, secrets masked, instead.
logging.getLogger("sh").setLevel(logging.WARNING)

#: Called with each line of output (stdout and stderr) of a streamed command; True stops the command.
LineCallback = Callable[[str], "bool | None"]

#: No pager, no colour, no prompts: the output is parsed, and no one is there to answer.
QUIET_ENV = {"NO_COLOR": "1", "TERM": "dumb"}


@dataclass(frozen=True)
class Result:
    """A finished command: its argv (without the executable), exit status and output."""

    argv: tuple[str, ...]
    exit_code: int
    stdout: str
    stderr: str


class Runner:
    """Runs one executable (``tool``) with a clean environment.

    :param bin: the executable (name on ``PATH`` or path); default: ``$<env_var>``, else ``tool``.
    :param env: variables added to ``os.environ`` for every call (e.g. a sandbox's);
        a ``None`` value removes that variable.
    :param cwd: working directory of every call (default: the current one).
    """

    tool = ""
    env_var = ""
    base_env: ClassVar[Mapping[str, str]] = QUIET_ENV
    dropped_env: ClassVar[tuple[str, ...]] = ()
    install_hint = ""

    def __init__(self, bin: str | os.PathLike | None = None, *, env: Mapping[str, str | None] | None = None, cwd=None):
        self.bin = str(bin or os.environ.get(self.env_var) or self.tool)
        self.env = dict(env or {})
        self.cwd = str(cwd) if cwd is not None else None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(bin={self.bin!r}, cwd={self.cwd!r})"

    def environment(self) -> dict[str, str]:
        """``os.environ`` as it is now, the quiet settings, then ``env`` (``None`` unsets a variable)."""
        env = {**os.environ, **self.base_env, **self.env}
        for name in self.dropped_env:
            env.pop(name, None)
        return {name: value for name, value in env.items() if value is not None}

    def prefix(self) -> list[str]:
        """Arguments placed before every command's own."""
        return []

    def execute(
        self,
        args: Sequence[str],
        *,
        ok: Iterable[int] = (0,),
        stream: LineCallback | None = None,
        shown: Sequence[str] | None = None,
        input: bytes | None = None,
        keep_stdout: bool = True,
    ) -> Result:
        """Run ``bin prefix args``; raise :meth:`error` unless the status is in ``ok``.

        ``stream`` receives each output line as it arrives (long steps such as a
        push); if it returns True the command is terminated (its consumer has
        failed). ``shown`` is the argv to put in messages when ``args`` hold
        secrets. ``input`` is the command's stdin (default: none, at end of file);
        ``keep_stdout=False`` leaves stdout out of the result (a stream of data
        the callback consumes: kept, it would all be held in memory).
        """
        args = [str(arg) for arg in args]
        argv = (*self.prefix(), *args)
        shown_argv = [self.tool, *(shown or args)]
        if any("\0" in arg for arg in argv):
            raise CommandError(f"`{shlex.join(shown_argv)}` was not run: an argument holds a NUL byte, which no "
                               "command line can carry", argv=shown_argv, exit_code=-1)
        env = self.environment()
        command = self._command(env)
        log.debug("running %s", shlex.join([self.bin, *(shown or argv)]))
        out: list[str] = []
        err: list[str] = []
        kwargs = {}
        if stream is not None:
            kwargs = {"_out": _collect(out if keep_stdout else None, stream), "_err": _collect(err, stream)}
        try:
            with sigint_deferred() as interrupted:
                with _ctrl_c_blocked():
                    running = command(
                        *argv,
                        _bg=True,
                        _bg_exc=False,
                        _tty_out=False,
                        _in=input if input is not None else "",
                        _env=env,
                        _cwd=self.cwd,
                        _truncate_exc=False,
                        _return_cmd=True,
                        _ok_code=list(ok),
                        _decode_errors="replace",
                        _preexec_fn=_child_takes_ctrl_c,
                        **kwargs,
                    )
                if interrupted:
                    # The terminal's Ctrl-C reached the process group before this child was in it.
                    running.process.signal(signal.SIGINT)
                    raise KeyboardInterrupt
                done = _wait(running, interrupted)
            exit_code, stdout, stderr = done.exit_code, done.stdout, done.stderr
        except sh.ErrorReturnCode as exc:
            exit_code, stdout, stderr = exc.exit_code, exc.stdout, exc.stderr
        except sh.ForkException as exc:  # the child could not exec: too long a command line, and the like
            reason = str(exc).strip().splitlines()[-1].split("] ", 1)[-1]
            size = sum(len(arg.encode()) + 1 for arg in argv)
            raise CommandError(f"`{shlex.join(shown_argv)}` could not be started: {reason} "
                               f"(its arguments are {size:,} bytes)", argv=shown_argv, exit_code=-1) from None
        except OSError as exc:  # found but not executable, and the like
            raise self.not_found(f"{self.bin!r} could not be run ({exc.strerror})") from None
        if stream is not None:
            stdout, stderr = "".join(out), "".join(err)
        else:
            stdout, stderr = _text(stdout), _text(stderr)
        result = Result(tuple(args), exit_code, stdout, stderr)
        if exit_code not in ok:
            raise self.error(result, shown=shown)
        return result

    def _command(self, env: Mapping[str, str]) -> sh.Command:
        """The executable, looked up on the PATH the command will run with."""
        found = shutil.which(self.bin, path=env.get("PATH"))
        try:
            return sh.Command(found or self.bin)
        except sh.CommandNotFound:
            where = "on PATH" if os.sep not in self.bin else "there"
            raise self.not_found(f"looked for {self.bin!r} {where}") from None

    def not_found(self, what: str) -> ToolNotFound:
        return ToolNotFound(f"{self.tool} was not found ({what}): {self.install_hint}")

    def error(self, result: Result, *, shown: Sequence[str] | None = None) -> CommandError:
        """The error for a failed ``result``; subclasses recognise their tool's messages."""
        argv = [self.tool, *(shown or result.argv)]
        reason = first_error_line(result.stderr, result.stdout) or f"exit status {result.exit_code}"
        return CommandError(
            f"`{shlex.join(argv)}` failed: {reason}",
            argv=argv,
            exit_code=result.exit_code,
            stdout=result.stdout,
            stderr=result.stderr,
        )


def _wait(running, interrupted: HeldCtrlC):
    """Wait for a child run by ``sh``; a Ctrl-C held by :func:`sigint_deferred` is raised here as
    KeyboardInterrupt, at once (it cuts the poll's sleep short), where nothing can swallow it — also when the
    child ended meanwhile, as a KeyboardInterrupt raised where it landed would have been.

    The child is polled, not waited for with a timeout: ``sh`` returns from such a wait before its output
    threads are done. The polls start a millisecond apart and back off, so that the many short commands
    (git's) are not each held up by the interval that suits a long one.
    """
    pause = 0.001
    while not interrupted and running.process.is_alive()[0]:
        interrupted.sleep(pause)
        pause = min(pause * 2, 0.05)
    if interrupted:
        raise KeyboardInterrupt
    try:
        done = running.wait()
    except sh.ErrorReturnCode:
        if interrupted:
            raise KeyboardInterrupt from None
        raise
    if interrupted:
        raise KeyboardInterrupt
    return done


class HeldCtrlC:
    """The Ctrl-Cs that came while :func:`sigint_deferred` held them (true if any), and the one place where one
    is raised the moment it comes: :meth:`sleep`, in the wait's own frame.

    Raised at once matters: the child got the same Ctrl-C from the terminal and may print its own dying words
    (the heroku CLI's stack trace), which the caller silences once it sees the KeyboardInterrupt.
    """

    def __init__(self):
        self.signals: list[int] = []
        self._sleeping = False

    def __bool__(self) -> bool:
        return bool(self.signals)

    def __call__(self, signum, frame) -> None:
        self.signals.append(signum)
        if self._sleeping:
            self._sleeping = False
            raise KeyboardInterrupt

    def sleep(self, seconds: float) -> None:
        self._sleeping = True
        try:
            time.sleep(seconds)
        finally:
            self._sleeping = False


@contextlib.contextmanager
def _ctrl_c_blocked() -> Iterator[None]:
    """Keep Ctrl-C away from this thread while ``sh`` forks.

    The forked child runs Python before it execs the command (Python's own after-fork hooks, then ``sh``'s
    set-up), with this program's Ctrl-C handler: a Ctrl-C handled there raises KeyboardInterrupt in a copy
    of this program, which prints a traceback to the terminal, or escapes ``sh`` and goes on running the
    tool as a second copy. Blocked, a Ctrl-C waits in the child until :func:`_child_takes_ctrl_c`, just
    before the exec; in this process it goes to another thread, or waits until the fork is done.
    """
    before = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, before)


def _child_takes_ctrl_c() -> None:
    """In the forked child, just before the exec: Ctrl-C as the command should meet it — ending it, unless
    this program ignores Ctrl-C — and unblocked, so that one which came during the fork ends the child here,
    as it would have ended the command."""
    if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


@contextlib.contextmanager
def sigint_deferred() -> Iterator[HeldCtrlC]:
    """Hold Ctrl-C while a child process is forked and waited for; what it yields says whether one came.

    A KeyboardInterrupt raised wherever the main thread happens to be can be
    swallowed: while ``sh`` forks, or inside a weak reference's callback as
    ``sh`` waits ("Exception ignored … KeyboardInterrupt"), and the run goes on
    — a restore in a dyno went on to commit after its Ctrl-C. Held here, the
    caller passes it on to a child that started after it and raises
    KeyboardInterrupt itself, from the wait (:func:`_wait`), so the failure
    policy sees it. Python runs signal handlers in the main thread only, so
    other threads (parallel reads) need nothing here, and neither does a
    program that ignores Ctrl-C; their forks are :func:`_ctrl_c_blocked`'s.
    """
    held = HeldCtrlC()
    ignored = signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    if ignored or threading.current_thread() is not threading.main_thread():
        yield held
        return
    previous = signal.signal(signal.SIGINT, held)
    try:
        yield held
    finally:
        signal.signal(signal.SIGINT, previous)


def configured_bin(configured: str | None, root: Path, env_var: str) -> str | None:
    """The executable to use: ``$env_var`` wins, then the setting.

    A relative path in the setting (``node_modules/.bin/heroku``) is relative to
    the project root, not to wherever the command happens to run.
    """
    explicit = os.environ.get(env_var)
    if explicit or not configured:
        return explicit or None
    if os.sep in configured and not Path(configured).is_absolute():
        return str(root / configured)
    return configured


def first_error_line(stderr: str, stdout: str = "") -> str:
    """The line of output that says what went wrong, without decoration or warnings.

    The heroku CLI prints `` ›   Error: Couldn't find that app.`` followed by
    continuation lines and an ``Error ID``, sometimes after `` ›   Warning: ...``
    blocks; git prints ``fatal: ...`` or ``error: ...``.
    """
    lines = [_undecorate(line) for line in stderr.splitlines()]
    for index, line in enumerate(lines):
        for marker in ("Error:", "fatal:", "error:", "ERROR:"):
            if line.startswith(marker):
                parts = [line[len(marker):].strip()]
                for following in lines[index + 1:]:
                    if not following or following.startswith(_NOT_CONTINUATION) or following.isupper():
                        break
                    parts.append(following.strip())
                return " ".join(part for part in parts if part)
    meaningful = [_undecorate(line) for line in _without_warnings(stderr.splitlines())]
    meaningful = [line for line in meaningful if line]
    if meaningful:
        return meaningful[-1]
    lines = [line.strip() for line in stdout.splitlines() if line.strip()]
    return lines[-1] if lines else ""


_NOT_CONTINUATION = ("Error ID:", "Warning:", "See more help", "Error:", "fatal:", "error:", "hint:")


def _undecorate(line: str) -> str:
    """Drop oclif's `` ›   `` / `` ▸ `` gutter and surrounding space."""
    line = line.strip()
    while line[:1] in ("›", "▸", "!"):
        line = line[1:].strip()
    return line


def _without_warnings(lines: list[str]) -> list[str]:
    """Drop oclif warning blocks: a ``Warning:`` line and the gutter lines continuing it."""
    kept, in_warning = [], False
    for line in lines:
        text = _undecorate(line)
        if text.startswith("Warning:"):
            in_warning = True
        elif in_warning and (not line.lstrip().startswith(("›", "▸")) or not text or text.startswith("Error")):
            in_warning = False
        if not in_warning:
            kept.append(line)
    return kept


def _collect(into: list[str] | None, stream: LineCallback) -> Callable[..., bool | None]:
    """sh's output callback: keep the line (unless ``into`` is None), pass it on; a True answer stops the command."""
    def callback(line: str, _stdin, process) -> bool | None:
        if into is not None:
            into.append(line)
        if stream(line.rstrip("\r\n")) is True:
            with contextlib.suppress(OSError):
                process.signal(signal.SIGTERM)  # sh hands over its process object (it keeps only a weak reference)
            return True
        return None

    return callback


def _text(value) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value or ""
