"""How the sandbox runs an app's code: builds, the release phase and one-off dynos.

Installing an app's dependencies is out of scope: commands run with the
sandbox's own Python environment first on ``PATH``, in a directory holding the
release's slug (the pushed commit's files), with the app's config vars as the
environment, as a dyno would see them.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

from .state import State


def slug_path(state: State, slug_id: str) -> Path:
    return state.slug_dir(slug_id) / "app"


def current_slug_path(state: State, app: dict) -> Path | None:
    release = state.current_release(app)
    if not release or not release["slug"]:
        return None
    return slug_path(state, release["slug"]["id"])


def dyno_environment(state: State, app: dict, dyno_name: str = "run.1", extra: dict | None = None) -> dict:
    """The environment a dyno of ``app`` sees: config vars plus Heroku's dyno metadata."""
    python_bin = str(Path(sys.executable).parent)
    env = {
        "PATH": f"{python_bin}{os.pathsep}/usr/local/bin:/usr/bin:/bin",
        "HOME": str(state.directory / "home"),
        "LANG": "C.UTF-8",
        "PYTHONUNBUFFERED": "1",
        "DYNO": dyno_name,
        "PORT": "5000",
        "TERM": "dumb",
    }
    release = state.current_release(app)
    if release:
        env["HEROKU_RELEASE_VERSION"] = f"v{release['version']}"
        if release.get("_commit"):
            env["HEROKU_SLUG_COMMIT"] = release["_commit"]
    env.update(state.config(app))
    env.update(extra or {})
    Path(env["HOME"]).mkdir(parents=True, exist_ok=True)
    return env
