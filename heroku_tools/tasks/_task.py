"""The task decorator every collection uses, and the one table of flags they share.

:func:`task` is ``invoke.task`` with three differences, each for a reason:

* a :class:`~heroku_tools.errors.HerokuToolsError` ends the run with one
  message and its exit status (``invoke.Exit``), never a traceback, under
  stock ``inv`` and ``fab`` as under ``heroku-tools``;
* a parameter named in :data:`HELP` gets that help text unless the task
  gives its own, so ``--dry-run`` or ``--confirm`` read the same everywhere;
* short flags are never assigned by position in the alphabet (Invoke's
  default, which gives ``-c`` to ``--confirm`` on one task and to
  ``--collectstatic`` on another): only the flags in :data:`SHORT_FLAGS`
  have one, the same on every task.
"""
from __future__ import annotations

import functools
import inspect

import invoke
from invoke import Exit

from ..errors import HerokuToolsError

#: Help for the parameters many tasks share.
HELP = {
    "env": "environment label from heroku-tools.yml (live, uat, dev, ...)",
    "confirm": "the app's name, instead of typing the confirmation code (for CI)",
    "dry_run": "show what would happen and stop; nothing is changed",
    "json": "print the outcome as JSON on stdout (everything else goes to stderr)",
    "show_values": "show the values themselves instead of their length and fingerprint",
    "note": "the release note (its first line is the title); default: your editor opens on a terminal",
    "note_file": "read the release note from this file",
    "no_note": "no release note, and no editor",
    "output": "the file to write",
    "directory": "sandbox state directory (default: $HEROKU_TOOLS_SANDBOX or .heroku-tools/sandbox)",
}

#: The only short flags, the same on every task that has the parameter.
SHORT_FLAGS = {"output": "o", "dry_run": "n", "json": "j", "note": "m"}


class _Task(invoke.Task):
    """An Invoke task whose short flags come from :data:`SHORT_FLAGS` only."""

    def arg_opts(self, name, default, taken_names):
        opts = super().arg_opts(name, default, taken_names)
        if name in SHORT_FLAGS:
            opts["names"] = [opts["names"][0], SHORT_FLAGS[name]]
        return opts


def task(*args, **kwargs):
    """``invoke.task`` with the shared help, the shared short flags, and library errors as ``Exit``.

    Used as Invoke's is: bare (``@task``), with arguments (``@task(help={...})``),
    or called on a function (``task(body, name="boom")``).
    """
    if len(args) == 1 and callable(args[0]) and not isinstance(args[0], invoke.Task):
        return _make(args[0], **kwargs)
    return lambda body: _make(body, *args, **kwargs)


def _make(body, *args, help=None, **kwargs) -> invoke.Task:
    names = list(inspect.signature(body).parameters)[1:]
    shared = {name: HELP[name] for name in names if name in HELP}
    kwargs.setdefault("auto_shortflags", False)
    kwargs.setdefault("klass", _Task)
    return invoke.task(*args, help={**shared, **(help or {})}, **kwargs)(exits_cleanly(body))


def exits_cleanly(body):
    """Wrap a task body so library errors become ``Exit(message, code)``.

    ``functools.wraps`` keeps the signature Invoke reads the task's arguments
    from (``inspect.signature`` follows ``__wrapped__``) and the docstring.
    """

    @functools.wraps(body)
    def wrapper(c, *args, **kwargs):
        try:
            return body(c, *args, **kwargs)
        except HerokuToolsError as exc:
            raise Exit(exc.render(), code=exc.code) from exc

    return wrapper
