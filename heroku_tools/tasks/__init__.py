"""heroku-tools' task collections, one module per concern, and what they share.

A project composes the collections it wants in its own fabfile or tasks.py::

    from invoke import Collection
    from heroku_tools import tasks

    ns = Collection(tasks.sandbox, my_task)

``ns`` here is the root collection the ``heroku-tools`` program serves. Task
modules decorate with :func:`task` rather than ``invoke.task``, so a library
error ends the run with one message and an exit status under stock ``inv`` and
``fab`` too, never a traceback.
"""
from __future__ import annotations

import functools

import invoke
from invoke import Collection, Exit

from ..errors import HerokuToolsError


def task(*args, **kwargs):
    """``invoke.task``, with :class:`~heroku_tools.errors.HerokuToolsError` turned into ``invoke.Exit``.

    Used as Invoke's is: bare (``@task``), with arguments (``@task(help={...})``),
    or called on a function (``task(body, name="boom")``).
    """
    if len(args) == 1 and callable(args[0]) and not isinstance(args[0], invoke.Task):
        return invoke.task(exits_cleanly(args[0]), **kwargs)

    def decorate(body):
        return invoke.task(*args, **kwargs)(exits_cleanly(body))

    return decorate


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


# Imported last: each collection module takes `task` from this one.
from . import backups, config, deploy, history, promote, rollback, sandbox  # noqa: E402

ns = Collection(backups, config, deploy, history, promote, rollback, sandbox)
