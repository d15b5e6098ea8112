"""heroku-tools: Fabric/Invoke tasks that ship Django apps on Heroku, dev → uat → live.

The public API, for a project's own fabfile or tasks.py::

    from heroku_tools import Session, deploy, restore

    session = Session.load()                      # ./heroku-tools.yml
    deploy(session, "uat", confirm_app="my-app-uat")
    restore(session, "live", "uat", confirm_app="my-app-uat")

Everything else is reachable by module (:mod:`heroku_tools.release`,
:mod:`heroku_tools.configvars`, :mod:`heroku_tools.backups`, ...); the task
collections are in :mod:`heroku_tools.tasks`.
"""

from ._version import __version__
from .backups import restore
from .errors import HerokuToolsError
from .git import Git
from .heroku import Heroku
from .output import Console
from .release import deploy, promote, rollback
from .session import Session
from .settings import load
from .tasks import task

__all__ = [
    "Console", "Git", "Heroku", "HerokuToolsError", "Session", "deploy", "load", "promote", "restore", "rollback",
    "task", "__version__",
]
