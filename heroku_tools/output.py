"""Console output: colour only on a terminal, chatter on stderr.

Colour is decided here, per stream (``isatty()`` and ``NO_COLOR``), rather than
by ``colorama.init()``, which would wrap ``sys.stdout`` and strip escape codes
whenever it is not a TTY, even on Linux. The entry point calls
``colorama.just_fix_windows_console()`` once; nothing else touches colorama's state.

Data a user may capture (``eval "$(heroku-tools sandbox up)"``) goes to stdout;
progress, warnings and streamed command output go to stderr.
"""
from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TextIO

from colorama import Fore, Style


def colour_enabled(stream: TextIO | None = None) -> bool:
    """Whether ``stream`` (default stderr) should get colour: a TTY, and ``NO_COLOR`` unset."""
    stream = stream or sys.stderr
    if os.environ.get("NO_COLOR"):
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def paint(text: str, *styles: str, stream: TextIO | None = None) -> str:
    """``text`` wrapped in colorama ``styles`` if ``stream`` gets colour."""
    if not styles or not colour_enabled(stream):
        return text
    return "".join(styles) + text + Style.RESET_ALL


def stdout_paint(text: str, *styles: str) -> str:
    """:func:`paint` for text going to stdout (reports, tables): colour only on a terminal."""
    return paint(text, *styles, stream=sys.stdout)


def say(message: str, *styles: str, stream: TextIO | None = None) -> None:
    """Print ``message`` (to stderr by default), coloured when that is a terminal."""
    stream = stream or sys.stderr
    write_line(paint(message, *styles, stream=stream), stream)


def write_line(text: str, stream: TextIO) -> None:
    """``text`` and its newline in one write: lines said while a command's output streams in from another
    thread (a dyno's steps, a build) stay whole instead of running into each other."""
    stream.write(f"{text}\n")
    stream.flush()


def info(message: str) -> None:
    say(message, Fore.CYAN)


def success(message: str) -> None:
    say(message, Fore.GREEN)


def warn(message: str) -> None:
    say(message, Fore.YELLOW)


def error(message: str) -> None:
    say(message, Fore.RED, Style.BRIGHT)


def line_printer(prefix: str = "", *, stream: TextIO | None = None) -> Callable[[str], None]:
    """A callback for the runners' ``stream=``: prints each line dimmed, after ``prefix``."""

    def show(line: str) -> None:
        target = stream or sys.stderr
        write_line(paint(f"{prefix}{line}", Style.DIM, stream=target), target)

    return show


Say = Callable[[str], None]


@dataclass(frozen=True)
class Console:
    """Where an operation's words go: the one output argument every library operation takes.

    ``report`` gets the plan shown before the confirmation code (stdout; a
    CI's ``--json`` run sends it to stderr so stdout holds only the JSON);
    ``say`` the progress lines (``==> pushing…``); ``warn`` what went wrong
    but did not stop the operation; ``stream`` the output of the commands it
    runs (a push's build log, a dyno's output), line by line; ``prompt`` the
    stream the confirmation code is asked on (``None``: stdout). A fabfile
    passes its own callbacks to collect or silence any of them.
    """

    report: Say = print
    say: Say = info
    warn: Say = warn
    stream: Say = field(default_factory=lambda: line_printer("    "))
    prompt: TextIO | None = None

    @classmethod
    def for_json(cls) -> Console:
        """Everything on stderr, the confirmation prompt too: stdout is left to the JSON outcome."""
        return cls(report=lambda text: print(text, file=sys.stderr, flush=True), prompt=sys.stderr)
