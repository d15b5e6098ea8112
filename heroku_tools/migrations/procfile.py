"""The Procfile at a commit: its process types, and whether its release phase runs ``migrate``.

Heroku runs the ``release:`` command before a new release serves. When that
command runs Django's ``migrate``, the deploy must not run it again, and
the migrations run while the old code still serves. The answer is yes, no,
or unknown (``release: ./release.sh``: what a script does is not read).
"""
from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field

from ..git import Git

_PROCESS = re.compile(r"^([A-Za-z0-9_-]+):\s*(.*)$")
#: Commands that neither migrate nor hide anything: they do not make the answer unknown.
_HARMLESS = frozenset({"echo", "true", ":", "printf", "env", "sleep", "date", "set", "export", "cd"})
_WRAPPERS = frozenset({"exec", "time", "nice", "env"})
_PYTHONS = re.compile(r"^(?:.*/)?python[0-9.]*$")


@dataclass(frozen=True)
class Procfile:
    """The process types (``{"web": "gunicorn ...", "release": "..."}``) and the release phase's verdict.

    ``release_migrates`` is True, False, or None (cannot be told);
    ``release_line`` is the Procfile line, for reports; ``reason`` says why.
    """

    processes: dict[str, str] = field(default_factory=dict)
    release_migrates: bool | None = False
    release_line: str | None = None
    reason: str = "no Procfile: no release phase"
    found: bool = True

    @property
    def release(self) -> str | None:
        return self.processes.get("release")


def parse_procfile(text: str) -> Procfile:
    """Read a Procfile's text (``type: command`` lines; blank lines and ``#`` comments skipped)."""
    processes: dict[str, str] = {}
    lines: dict[str, str] = {}
    for line in text.splitlines():
        found = _PROCESS.match(line.strip())
        if found and not line.lstrip().startswith("#"):
            processes[found.group(1)] = found.group(2).strip()
            lines[found.group(1)] = line.strip()
    if "release" not in processes:
        return Procfile(processes, False, None, "the Procfile has no release: line")
    migrates, reason = runs_migrate(processes["release"])
    return Procfile(processes, migrates, lines["release"], reason)


def read_procfile(git: Git, commit: str, path: str = "Procfile") -> Procfile:
    """The Procfile at ``commit``; ``found=False`` (no release phase) when the commit has none."""
    sha = git.rev_parse(commit)
    result = git.execute(["cat-file", "-e", f"{sha}:{path}"], ok=(0, 1, 128))
    if result.exit_code:
        return Procfile(found=False, reason=f"no {path} at {sha[:7]}: no release phase")
    text = git.execute(["cat-file", "blob", f"{sha}:{path}"]).stdout
    return parse_procfile(text)


def runs_migrate(command: str) -> tuple[bool | None, str]:
    """Whether a release command runs Django's ``migrate``: True, False or None (cannot be told), and why."""
    try:
        commands = _commands(command)
    except ValueError:
        return None, f"cannot read the release command `{command}`"
    verdicts = [_simple_command(words) for words in commands]
    if any(migrates is True for migrates, _ in verdicts):
        return True, "the release phase runs migrate"
    unknown = [why for migrates, why in verdicts if migrates is None]
    if unknown:
        return None, unknown[0]
    return False, "the release phase does not run migrate"


def _commands(command: str) -> list[list[str]]:
    """The simple commands of a shell line, split at ``&&``, ``||``, ``;`` and ``|`` outside quotes."""
    lexer = shlex.shlex(command, posix=True, punctuation_chars=";&|")
    lexer.whitespace_split = True
    commands: list[list[str]] = [[]]
    for token in lexer:
        if token and set(token) <= set(";&|"):
            commands.append([])
        else:
            commands[-1].append(token)
    return [words for words in commands if words]


def _simple_command(words: list[str]) -> tuple[bool | None, str]:
    shown = shlex.join(words)
    words = _unwrapped(words)
    if not words:
        return False, ""
    if words[0] in ("sh", "bash") and len(words) >= 3 and words[1] == "-c":
        return runs_migrate(words[2])
    subcommand = _django_subcommand(words)
    if subcommand is not None:
        return subcommand == "migrate" and not _only_checks(words), ""
    if words[0] in _HARMLESS:
        return False, ""
    return None, f"the release phase runs `{shown}`, which is not read: whether it migrates cannot be told"


def _unwrapped(words: list[str]) -> list[str]:
    """The command without ``VAR=value`` prefixes and wrappers such as ``exec`` or ``newrelic-admin run-program``."""
    while words and ("=" in words[0] and not words[0].startswith("-") or words[0] in _WRAPPERS):
        words = words[1:]
    if words[:2] == ["newrelic-admin", "run-program"]:
        return _unwrapped(words[2:])
    return words


def _django_subcommand(words: list[str]) -> str | None:
    """``migrate`` for ``python manage.py migrate``, ``django-admin migrate``, ``./manage.py migrate``..."""
    if _PYTHONS.match(words[0]):
        words = words[1:]
        if words[:2] == ["-m", "django"]:
            return _first_argument(words[2:])
    if words and (words[0].endswith("manage.py") or words[0] == "django-admin"):
        return _first_argument(words[1:])
    return None


def _first_argument(words: list[str]) -> str:
    return next((word for word in words if not word.startswith("-")), "")


def _only_checks(words: list[str]) -> bool:
    """``migrate --check`` and ``--plan`` apply nothing."""
    return any(word in ("--check", "--plan") for word in words)


def release_summary(procfile: Procfile) -> str:
    """One line for a report: the release line and what it means for migrations."""
    if procfile.release_line is None:
        return procfile.reason
    return f"`{procfile.release_line}`: {procfile.reason}"
