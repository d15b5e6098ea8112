"""The git runner: every git command the library runs, each a thin method building an argv.

Runs locally through ``sh`` (never ``c.run``, which under ``fab -H`` runs on the
remote host), with no pager, no colour and no credential prompts, so output is
complete and parseable and a missing credential fails instead of hanging::

    git = Git(cwd=project)
    if not git.is_clean():
        ...
    git.push("heroku", "main:refs/heads/main", stream=print)
"""
from __future__ import annotations

import shlex
from collections.abc import Mapping
from typing import ClassVar

from .errors import CommandError
from .models import Commit, WorkingTree
from .runner import QUIET_ENV, LineCallback, Result, Runner, configured_bin
from .settings import Settings

ENV_VAR = "HEROKU_TOOLS_GIT"


class Git(Runner):
    """Git in ``cwd`` (default: the current directory); see :class:`~heroku_tools.runner.Runner`."""

    tool = "git"
    env_var = ENV_VAR
    base_env: ClassVar[Mapping[str, str]] = {
        **QUIET_ENV, "GIT_PAGER": "cat", "GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "", "SSH_ASKPASS": "",
    }
    install_hint = "install git, or set git.bin in heroku-tools.yml or $HEROKU_TOOLS_GIT to its path"

    @classmethod
    def from_settings(cls, settings: Settings, **kwargs) -> Git:
        return cls(configured_bin(settings.git_bin, settings.root, ENV_VAR), **kwargs)

    def prefix(self) -> list[str]:
        return ["--no-pager", "-c", "color.ui=never"]

    def error(self, result: Result, *, shown=None) -> CommandError:
        """Say why a push was refused: the remote's ``!`` line or git's ``[rejected]`` line."""
        error = super().error(result, shown=shown)
        if result.argv[:1] == ("push",):
            lines = [line.strip() for line in result.stderr.splitlines()]
            remote = [line[len("remote:"):].strip(" !") for line in lines if line.startswith("remote:") and "!" in line]
            rejected = [line.lstrip("! ") for line in lines if "rejected]" in line]
            reasons = [text for text in remote if text][:1] or rejected[:1]
            if reasons:
                error.message = f"`git {shlex.join(shown or result.argv)}` was rejected: {reasons[0]}"
        return error

    def _out(self, *args: str) -> str:
        return self.execute(args).stdout.strip()

    # -- revisions -----------------------------------------------------------
    def rev_parse(self, ref: str) -> str:
        """The full sha of the commit ``ref`` names; a clear error if it names none."""
        result = self.execute(["rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}"], ok=(0, 1))
        if result.exit_code:
            raise CommandError(
                f"git: {ref!r} is not a commit in this repository",
                argv=["git", *result.argv],
                exit_code=result.exit_code,
                stderr=result.stderr,
            )
        return result.stdout.strip()

    def commit_exists(self, sha: str) -> bool:
        """Whether ``sha`` is a commit present locally (a deployed sha may not be: fetch first)."""
        return self.execute(["cat-file", "-e", f"{sha}^{{commit}}"], ok=(0, 1, 128)).exit_code == 0

    def current_branch(self) -> str | None:
        """The checked-out branch, or ``None`` on a detached HEAD."""
        result = self.execute(["symbolic-ref", "--quiet", "--short", "HEAD"], ok=(0, 1))
        return result.stdout.strip() or None

    def branch_exists(self, branch: str) -> bool:
        return self.execute(["show-ref", "--verify", "--quiet", f"refs/heads/{branch}"], ok=(0, 1)).exit_code == 0

    def ahead_behind(self, branch: str, upstream: str) -> tuple[int, int]:
        """How many commits ``branch`` has that ``upstream`` lacks, and the reverse."""
        out = self._out("rev-list", "--left-right", "--count", f"{branch}...{upstream}")
        ahead, behind = out.split()
        return int(ahead), int(behind)

    def log(self, revisions: str, *, no_merges: bool = False) -> list[Commit]:
        """Commits in ``revisions`` (e.g. ``abc123..main``), newest first: sha and subject."""
        args = ["log", "--format=%H%x00%s", *(["--no-merges"] if no_merges else []), revisions, "--"]
        commits = []
        for line in self._out(*args).splitlines():
            sha, _, subject = line.partition("\0")
            commits.append(Commit(sha, subject))
        return commits

    def changed_files(self, a: str, b: str) -> list[str]:
        """Paths that differ between commits ``a`` and ``b``."""
        out = self.execute(["diff", "--name-only", "-z", "--no-renames", a, b, "--"]).stdout
        return [path for path in out.split("\0") if path]

    # -- working tree --------------------------------------------------------
    def status_porcelain(self) -> WorkingTree:
        """Staged, unstaged and untracked paths (``git status --porcelain``)."""
        out = self.execute(["status", "--porcelain=v1", "-z", "--untracked-files=all"]).stdout
        staged, unstaged, untracked = [], [], []
        entries = iter(out.split("\0"))
        for entry in entries:
            if not entry:
                continue
            code, path = entry[:2], entry[3:]
            if code == "??":
                untracked.append(path)
                continue
            if code[0] in "RC":  # a rename's source path follows as its own entry
                next(entries, None)
            if code[0] not in " ?":
                staged.append(path)
            if code[1] not in " ?":
                unstaged.append(path)
        return WorkingTree(tuple(staged), tuple(unstaged), tuple(untracked))

    def is_clean(self) -> bool:
        return self.status_porcelain().clean

    def would_track(self, path: str) -> bool:
        """Whether ``path`` lies in this work tree and is not ignored: one ``git add .`` from being committed."""
        return self.execute(["check-ignore", "-q", "--", str(path)], ok=(0, 1, 128)).exit_code == 1

    # -- remotes -------------------------------------------------------------
    def remote_url(self, remote: str) -> str | None:
        """The URL of ``remote``, or ``None`` if there is no such remote."""
        result = self.execute(["remote", "get-url", remote], ok=(0, 2))
        if result.exit_code:
            return None
        return result.stdout.strip() or None

    def fetch(self, remote: str = "origin", *refspecs: str, tags: bool = True) -> None:
        self.execute(["fetch", "--quiet", *(["--tags"] if tags else []), remote, *refspecs])

    def push(self, remote: str, refspec: str, *, force: bool = False, stream: LineCallback | None = None) -> str:
        """Push ``refspec`` to ``remote`` (a name or URL), streaming its output; returns that output."""
        args = ["push", *(["--force"] if force else []), remote, refspec]
        result = self.execute(args, stream=stream)
        return result.stdout + result.stderr

    # -- tags ----------------------------------------------------------------
    def tag(self, name: str, commit: str, message: str) -> None:
        """Create the annotated tag ``name`` on ``commit``.

        ``--cleanup=whitespace`` keeps lines starting with ``#`` (a release note's
        ``#123 fixed``), which git's default clean-up would drop as comments.
        """
        self.execute(["tag", "--annotate", "--cleanup=whitespace", "--message", message, name, commit])

    def tag_commit(self, name: str) -> str | None:
        """The commit the tag ``name`` points at, or ``None`` if there is no such tag."""
        result = self.execute(["rev-parse", "--verify", "--quiet", f"refs/tags/{name}^{{commit}}"], ok=(0, 1))
        return result.stdout.strip() or None

    def push_tag(self, remote: str, name: str, *, stream: LineCallback | None = None) -> None:
        self.execute(["push", remote, f"refs/tags/{name}"], stream=stream)

