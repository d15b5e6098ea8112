"""What is the user's alone: files only they can read, kept out of the project unless they ask.

A project's working tree is shared with git: a file heroku-tools left there
makes the next deploy refuse a dirty tree, and a backup or a ``.env`` left
there is one ``git add .`` from being committed. So downloads and other
artefacts go under the platform's user cache directory
(:func:`user_cache_dir`), and every file that holds data or secrets is
written with :func:`private_file`: mode 0600 from its creation, complete or
absent. Where the user names a path git would track, the caller warns
(:func:`would_track`).
"""
from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from .errors import HerokuToolsError
from .git import Git
from .settings import Settings


def user_cache_dir(*parts: str) -> Path:
    """``<user cache>/heroku-tools/<parts...>``, each level heroku-tools creates mode 0700.

    ``$XDG_CACHE_HOME``, else ``~/Library/Caches`` on macOS and ``~/.cache`` elsewhere.
    """
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


@contextlib.contextmanager
def private_file(path: str | os.PathLike, *, force: bool = False) -> Iterator[BinaryIO]:
    """Write ``path`` through a temporary 0600 file beside it, renamed over it when the block succeeds.

    No one else can read it at any moment, a reader never sees half of it,
    and a failure (Ctrl-C included) leaves nothing behind. Without ``force``
    an existing ``path`` is :class:`FileExistsError`.
    """
    path = Path(path)
    if path.exists() and not force:
        raise FileExistsError(path)
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)  # mkstemp's mode is 0600
    try:
        with os.fdopen(fd, "wb") as sink:
            yield sink
            sink.flush()
            os.fsync(sink.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def would_track(settings: Settings, path: str | os.PathLike) -> bool:
    """Whether ``path`` is in a git work tree and not ignored: one ``git add .`` from being committed."""
    path = Path(path).resolve()
    try:
        return Git.from_settings(settings, cwd=path.parent).would_track(path.name)
    except HerokuToolsError:
        return False
