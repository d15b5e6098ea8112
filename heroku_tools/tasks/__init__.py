"""heroku-tools' task collections, one module per concern, and what they share.

A project composes the collections it wants in its own fabfile or tasks.py::

    from invoke import Collection
    from heroku_tools import tasks

    ns = Collection(tasks.sandbox, my_task)

``ns`` here is the root collection the ``heroku-tools`` program serves. Task
modules decorate with :func:`~heroku_tools.tasks._task.task` rather than
``invoke.task`` (one message instead of a traceback, shared help and short
flags); a fabfile's own tasks can use it too.
"""
from __future__ import annotations

from invoke import Collection

from . import backups, ci, config, deploy, history, init, migrations, promote, rollback, sandbox, unlock
from ._task import HELP, SHORT_FLAGS, exits_cleanly, task

__all__ = ["HELP", "SHORT_FLAGS", "exits_cleanly", "ns", "task",
           "backups", "ci", "config", "deploy", "history", "init", "migrations", "promote", "rollback", "sandbox",
           "unlock"]

ns = Collection(backups, ci, config, deploy, history, init, migrations, promote, rollback, sandbox, unlock)
