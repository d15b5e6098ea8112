"""The user's cache directory: where heroku-tools keeps what must never land in a project.

A project's working tree is the user's: a file heroku-tools left there makes
the next deploy refuse a dirty tree, and a backup left there is one ``git
add .`` from being committed. Downloads and other artefacts go under the
platform's user cache directory instead (``$XDG_CACHE_HOME``, else
``~/.cache``; ``~/Library/Caches`` on macOS), in directories only the user
can read.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path


def user_cache_dir(*parts: str) -> Path:
    """``<user cache>/heroku-tools/<parts...>``, created with mode 0700 (each level heroku-tools creates)."""
    if os.environ.get("XDG_CACHE_HOME"):
        base = Path(os.environ["XDG_CACHE_HOME"])
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches"
    else:
        base = Path.home() / ".cache"
    path = base / "heroku-tools"
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    for part in parts:
        path = path / part
        path.mkdir(mode=0o700, exist_ok=True)
    return path
