"""An isolated HOME: the heroku CLI writes into ``~/.gitconfig`` and ``~/.cache``, git reads its identity there."""
from __future__ import annotations

from pathlib import Path

GITCONFIG = "[user]\n\tname = Test User\n\temail = test@example.com\n"


def make_home(path: Path, gitconfig: str = GITCONFIG) -> Path:
    """``path`` made a HOME holding ``gitconfig`` as ``~/.gitconfig``; returns ``path``."""
    path.mkdir(parents=True, exist_ok=True)
    (path / ".gitconfig").write_text(gitconfig)
    return path


def project_env(sandbox, root: Path, **extra: str) -> dict[str, str]:
    """The environment a module's project runs in: the sandbox's, with a HOME of its own under ``root``."""
    return sandbox.cli_env(make_home(root / "home"), **extra)
