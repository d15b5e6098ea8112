"""The ``heroku-tools`` command: an Invoke program over the library's collections.

::

    heroku-tools deploy live          # GNU style
    heroku-tools deploy:live          # Fabric 1 style, same thing
    heroku-tools --config ci.yml deploy live

Differences from a stock Invoke program, each for a reason:

* ``task:arg`` is accepted (:class:`~heroku_tools.colon.ColonSyntax`), and
  ``task --help`` shows the task's help;
* the project's ``invoke.yaml`` in the current directory is read (a bundled
  namespace otherwise never sets a project location);
* ``-f/--config PATH`` names the heroku-tools settings file rather than an
  Invoke runtime file (``$INVOKE_RUNTIME_CONFIG`` still names one of those);
* a library error anywhere prints one message and exits 1 (or its code),
  without a traceback.
"""
from __future__ import annotations

import os
import sys

import colorama
from invoke import Program
from invoke.parser import Argument

from ._version import __version__
from .colon import ColonSyntax
from .errors import HerokuToolsError, current_task
from .output import error
from .settings import ENV_VAR, FILENAME, NAMESPACE
from .tasks import ns


class HerokuToolsProgram(ColonSyntax, Program):
    def core_args(self) -> list[Argument]:
        settings_file = Argument(
            names=("config", "f"),
            help=f"heroku-tools settings file (default: ./{FILENAME} or ${ENV_VAR}).",
        )
        return [settings_file if arg.name == "config" else arg for arg in super().core_args()]

    def parse_collection(self) -> None:
        super().parse_collection()
        self.config.set_project_location(os.getcwd())
        self.config.load_project()

    def update_config(self, merge: bool = True) -> None:
        settings_file = self.args.config.value
        self.args.config.set_value(None, cast=False)  # not an Invoke runtime file here
        try:
            super().update_config(merge=False)
        finally:
            self.args.config.set_value(settings_file, cast=False)
        if settings_file:
            overrides = dict(self.config._overrides)
            overrides[NAMESPACE] = {**overrides.get(NAMESPACE, {}), "config": os.path.abspath(settings_file)}
            self.config.load_overrides(overrides, merge=False)
        if merge:
            self.config.merge()

    def execute(self) -> None:
        """Run the parsed tasks; with one task, messages can name it (:data:`~heroku_tools.errors.current_task`)
        by its shortest name: ``deploy`` rather than ``deploy.deploy``, the collection's default task."""
        task = min([self.tasks[0].name, *self.tasks[0].aliases], key=len) if len(self.tasks) == 1 else None
        token = current_task.set(task)
        try:
            super().execute()
        finally:
            current_task.reset(token)

    def run(self, argv=None, exit: bool = True) -> None:
        colorama.just_fix_windows_console()
        try:
            super().run(argv, exit)
        except HerokuToolsError as exc:
            error(exc.render())
            if exit:
                sys.exit(exc.code)
        except BrokenPipeError:
            # The reader went away (`heroku-tools --list | head`): no traceback for that.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            if exit:
                sys.exit(1)


program = HerokuToolsProgram(name="heroku-tools", binary="heroku-tools", namespace=ns, version=__version__)
