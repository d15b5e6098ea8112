"""Release notes: what a release is about, in the words of the person shipping it.

``deploy`` and ``promote`` take the note before the confirmation code, in one
of three ways:

* ``--note TEXT`` or ``--note-file FILE`` (scripts, CI): used as given, with
  git's whitespace clean-up (trailing spaces, runs of blank lines); an empty
  text means no note;
* ``--no-note``: none;
* otherwise, on a terminal, the user's editor opens on a note pre-filled with
  the commits since the deployed release. Lines starting with ``#`` are
  dropped, as ``git commit`` does; an empty note means no note (saying so),
  and an editor that exits with an error (``:cq`` in vim) cancels the deploy,
  as it cancels a commit. Without a terminal (CI, ``--json``) nothing is
  opened and nothing hangs: the deploy goes on without a note, and says so.

The editor is git's: ``git var GIT_EDITOR`` applies git's own order
(``$GIT_EDITOR``, ``core.editor``, ``$VISUAL`` unless ``TERM=dumb``,
``$EDITOR``, then ``vi``), and the command runs the way git runs it, through
``sh -c '<editor> "$@"'`` so ``code --wait`` or ``emacsclient -t`` work. The
note is written to ``.git/RELEASE_NOTE`` and kept there after editing, so a
mistyped confirmation code does not lose it: ``--note-file .git/RELEASE_NOTE``
reuses it.

The note becomes the message of the release tag (``git show live/v424``),
goes out with the notifications, and its first line is what ``history``
shows.
"""
from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path
from collections.abc import Callable
from typing import TextIO

from ..errors import HerokuToolsError
from ..git import Git
from .plan import DeployPlan

#: The file the editor opens, in the git directory (like ``COMMIT_EDITMSG``).
FILENAME = "RELEASE_NOTE"


class NoteCancelled(HerokuToolsError):
    """The editor failed or was quit with an error: the deploy is cancelled before any change."""


def from_options(note: str | None = None, note_file: str | None = None, no_note: bool = False) -> str | bool | None:
    """The ``--note`` / ``--note-file`` / ``--no-note`` flags as :func:`heroku_tools.release.operations.deploy`'s ``note``.

    The note's text, ``False`` for none, or ``None`` to ask (the editor, on a terminal).
    """
    given = [flag for flag, value in (("--note", note), ("--note-file", note_file), ("--no-note", no_note)) if value]
    if len(given) > 1:
        raise HerokuToolsError(f"{' and '.join(given)} contradict each other: give one of them")
    if no_note:
        return False
    if note_file:
        try:
            note = Path(note_file).expanduser().read_text(encoding="utf-8")
        except OSError as error:
            raise HerokuToolsError(f"--note-file {note_file}: {error.strerror or error}; nothing was changed") from None
    if note is None:
        return None
    return cleanup(note) or False


def cleanup(text: str, *, comments: bool = False) -> str:
    """``git stripspace``: no trailing spaces, no leading, trailing or repeated blank lines.

    With ``comments``, lines starting with ``#`` go too (``git stripspace --strip-comments``).
    """
    lines = [line.rstrip() for line in text.splitlines()]
    if comments:
        lines = [line for line in lines if not line.startswith("#")]
    kept: list[str] = []
    for line in lines:
        if line or (kept and kept[-1]):
            kept.append(line)
    return "\n".join(kept).strip("\n")


def first_line(note: str | None) -> str:
    """A note's title: its first line."""
    return note.splitlines()[0] if note else ""


def template(plan: DeployPlan) -> str:
    """What the editor opens on: the commits since the deployed release, and how the note is used."""
    env = plan.env
    tag = env.tag(plan.next_version)
    if plan.method == "promote":
        what = f"a promotion from {plan.source_app}"
    else:
        what = f"{plan.target_commit[:12]} from {plan.branch}"
    lines = ["", *(f"- {commit.subject}" for commit in plan.commits), ""]
    lines += [
        f"# Release note for {env.label} ({env.app_name}) v{plan.next_version}: {what}.",
        f"# It becomes the message of the tag {tag} (`git show {tag}`) and goes out",
        f"# with the notifications. Put a title on the first line: `heroku-tools history {env.label}`",
        "# shows it. The commits above are a starting point: reword or replace them.",
        "# Lines starting with '#' are dropped. An empty note means no note;",
        "# quitting the editor with an error (:cq in vim) cancels the deploy.",
    ]
    return "\n".join(lines) + "\n"


def editor(git: Git) -> str | None:
    """The editor git would use (``git var GIT_EDITOR``), or ``None`` when git finds none.

    The runners force ``TERM=dumb`` on git, which makes git ignore ``$VISUAL``:
    this call gets the user's own ``TERM`` back.
    """
    runner = Git(git.bin, env={**git.env, "TERM": os.environ.get("TERM")}, cwd=git.cwd)
    result = runner.execute(["var", "GIT_EDITOR"], ok=(0, 1, 128))
    return result.stdout.strip() or None


def path(git: Git) -> Path:
    """``.git/RELEASE_NOTE`` (wherever this worktree's git directory is)."""
    relative = git.execute(["rev-parse", "--git-path", FILENAME]).stdout.strip()
    return Path(git.cwd or ".", relative).resolve()


def ask(
    plan: DeployPlan,
    *,
    git: Git,
    say: Callable[[str], None] = print,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
) -> str | None:
    """The release note for ``plan`` from the user's editor; ``None`` for no note.

    Raises :class:`NoteCancelled` when the editor exits with an error.
    """
    stdin, stdout = stdin or sys.stdin, stdout or sys.stdout
    skip = "pass --note TEXT, --note-file FILE or --no-note to choose"
    if not (stdin.isatty() and stdout.isatty()):
        say(f"No terminal to open an editor on: no release note ({skip}).")
        return None
    command = editor(git)
    if command is None:
        say(f"No editor configured (TERM is dumb; set core.editor, VISUAL or EDITOR): no release note ({skip}).")
        return None
    note_file = path(git)
    note_file.write_text(template(plan), encoding="utf-8")
    say(f"Waiting for your editor ({command}) to close the release note…")
    status = subprocess.run(["sh", "-c", f'{command} "$@"', command, str(note_file)]).returncode
    if status != 0:
        found = " (command not found)" if status == 127 else ""
        raise NoteCancelled(
            f"the editor ({command}) exited with status {status}{found}: deploy cancelled; nothing was changed",
            recover=["run the command again; or pass --note TEXT, --note-file FILE or --no-note"],
        )
    note = cleanup(note_file.read_text(encoding="utf-8"), comments=True)
    note_file.write_text(note + "\n" if note else "", encoding="utf-8")
    if not note:
        say("The release note is empty: deploying without one.")
    return note or None


def reuse_hint(git: Git, command: str) -> str:
    """A recovery line: ``command`` again, with the note just written passed back in."""
    shown = os.path.relpath(path(git))
    return f"{command} --note-file {shlex.quote(shown)}   # the same, reusing the release note you wrote"
