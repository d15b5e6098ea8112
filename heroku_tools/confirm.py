"""The typed confirmation code that guards every change to a remote app.

A random six-digit code is shown and must be typed back; reading it forces the
user to look at the report above it, which "y/N" never did. ``--confirm APP``
replaces the prompt for CI, and must name the very app being changed, so a
pasted command line cannot hit the wrong environment. Nothing else skips it.

:func:`confirm_change` is the one rule every command that changes an app
follows: on every environment, protected or not; without a terminal, only
``--confirm APP`` will do; never under ``--dry-run`` (which changes nothing,
so its callers stop before asking).
"""
from __future__ import annotations

import secrets
import sys
from typing import TextIO
from collections.abc import Callable

from .errors import HerokuToolsError
from .output import Console
from .settings import Environment


class ConfirmationRefused(HerokuToolsError):
    """The user did not type the code, or ``--confirm`` named another app."""


def generate_code() -> str:
    """Six random digits, leading zeros allowed."""
    return f"{secrets.randbelow(1_000_000):06d}"


def confirm_change(
    env: Environment,
    action: str,
    *,
    confirm_app: str | None = None,
    console: Console = Console(),
    read: Callable[[str], str] | None = None,
) -> None:
    """Return when the change to ``env``'s app is confirmed; :class:`ConfirmationRefused` otherwise.

    The rule for every command that changes an app (config, deploy, promote,
    rollback, restore, maintenance): the code is asked for on every
    environment — an unprotected one is still someone's app — or
    ``confirm_app`` must name ``env``'s app; with no terminal and no
    ``confirm_app`` the change is refused. ``action`` says what will happen,
    naming the environment and its app: ``"push 3 config var changes to live
    (my-app-live)"``. The prompt goes to ``console.prompt`` (stdout unless the
    console says otherwise: a ``--json`` run asks on stderr).

    A database environment (a developer's own database) has no app name: its
    label is what ``--confirm`` must name (``--confirm local``).
    """
    name = env.label if env.is_database else env.app_name
    confirm(name, action, confirm_app=confirm_app, stdout=console.prompt, read=read,
            what="the database environment being changed" if env.is_database else "the app being changed")


def confirm(
    app_name: str,
    action: str,
    *,
    confirm_app: str | None = None,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    read: Callable[[str], str] | None = None,
    what: str = "the app being changed",
) -> None:
    """Return when the change to ``app_name`` is confirmed; raise otherwise.

    :param action: what will happen, e.g. ``"deploy to live (my-app-live)"``.
    :param confirm_app: the value of ``--confirm``; must equal ``app_name``.
    :param what: what ``app_name`` is, for the message when ``--confirm`` names something else.
    """
    if confirm_app is not None:
        if confirm_app != app_name:
            raise ConfirmationRefused(
                f"--confirm {confirm_app} does not match {what} ({app_name}); nothing was changed.",
                recover=f"re-run with --confirm {app_name} if {app_name} is really the target",
            )
        return
    stdin = stdin or sys.stdin
    stdout = stdout or sys.stdout
    if read is None and not stdin.isatty():
        raise ConfirmationRefused(
            f"refusing to {action} without confirmation: no terminal to type the code on; nothing was changed.",
            recover=f"re-run in a terminal, or pass --confirm {app_name}",
        )
    code = generate_code()
    prompt = f"Type {code} to {action}: "
    try:
        if read is None:
            stdout.write(prompt)
            stdout.flush()
            answer = stdin.readline()
        else:
            answer = read(prompt)
    except KeyboardInterrupt:
        stdout.write("\n")
        raise ConfirmationRefused(f"interrupted at the confirmation code; nothing was changed on {app_name}.") from None
    if answer.strip() != code:
        raise ConfirmationRefused(
            f"the code did not match; nothing was changed on {app_name}.",
            recover="run the command again and type the code shown",
        )
