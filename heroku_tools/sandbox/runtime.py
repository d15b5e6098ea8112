"""How the sandbox runs an app's code: the world each dyno gets.

On Heroku every dyno — the release phase's, a ``heroku run``'s, a web
process — starts from the release's slug in a filesystem of its own that
disappears with it, runs its command with ``bash -c`` in ``/app`` (also its
``HOME``), with the Python the build installed (``/app/.heroku/python``) first
on ``PATH``, the app's config vars and ``DYNO`` naming it. :class:`DynoWorld`
is that here: a copy of the slug's files under ``<sandbox>/dynos/<id>/app``
(copy-on-write where the filesystem can, else a plain copy), the environment,
and the command line; :meth:`DynoWorld.remove` throws the copy away.

The build installs dependencies into an environment shared through the build
cache (:mod:`heroku_tools.sandbox.environments`), which the slug links to as
``.heroku/python``; a dyno's copy keeps that link, so dynos share installed
packages (read them, do not install into them). With ``sandbox up
--reuse-env`` there is no such environment: the sandbox's own Python comes
first on ``PATH``, as before this was faithful.

As Heroku's stack image does, a dyno has the PostgreSQL client (``psql``,
``pg_restore``: the sandbox cluster's own binaries, found as
:mod:`heroku_tools.sandbox.postgres` finds them) and ``curl`` on ``PATH``, and
trusts the platform's HTTPS endpoints (signed backup URLs): ``SSL_CERT_FILE``
and ``CURL_CA_BUNDLE`` name the system's CA bundle with the sandbox's CA added.
"""
from __future__ import annotations

import functools
import os
import random
import ssl
import shutil
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from .postgres import PostgresError, find_bin_dir
from .state import State

#: Where a dyno finds the programs of the stack image (bash, git, psql, pg_restore, curl...).
SYSTEM_PATH = ("/usr/local/bin", "/usr/bin", "/bin")


def slug_path(state: State, slug_id: str) -> Path:
    return state.slug_dir(slug_id) / "app"


def reuse_env(state: State) -> bool:
    """Whether dynos use the sandbox's own Python environment (``sandbox up --reuse-env``)."""
    return bool(state.data.get("settings", {}).get("reuse_env"))


@functools.lru_cache(maxsize=1)
def postgres_bin() -> tuple[str, ...]:
    """The PostgreSQL client's directory, as the stack image has it (none if this machine has no PostgreSQL)."""
    try:
        return (str(find_bin_dir()),)
    except PostgresError:
        return ()


def search_path(state: State, app_dir: Path) -> str:
    """``PATH`` in a dyno: the slug's Python (or, reusing, the sandbox's), the PostgreSQL client, the system's."""
    first = str(Path(sys.executable).parent) if reuse_env(state) else str(app_dir / ".heroku" / "python" / "bin")
    return os.pathsep.join((first, *postgres_bin(), *SYSTEM_PATH))


def ca_bundle(state: State) -> Path | None:
    """The system's CA certificates plus the sandbox's CA, written once: what a dyno trusts."""
    ca = state.directory / "tls" / "ca.pem"
    if not ca.is_file():
        return None
    bundle = state.directory / "tls" / "dyno-ca-bundle.pem"
    system = ssl.get_default_verify_paths().cafile
    content = (Path(system).read_bytes().rstrip(b"\n") + b"\n" if system and os.path.isfile(system) else b"") \
        + ca.read_bytes()
    if not bundle.is_file() or bundle.read_bytes() != content:
        partial = bundle.with_suffix(f".{os.getpid()}.tmp")
        partial.write_bytes(content)
        partial.replace(bundle)
    return bundle


def dyno_environment(state: State, app: dict, dyno_name: str | None, app_dir: Path, release: dict | None = None,
                     extra: dict | None = None) -> dict:
    """What a dyno of ``app`` (or, with no name, its build) sees: the platform's variables, then the config vars.

    ``HOME`` and ``PYTHONPATH`` are the app's directory, as ``/app`` is on
    Heroku; ``HEROKU_RELEASE_VERSION`` and ``HEROKU_SLUG_COMMIT`` are the dyno
    metadata of ``release`` (the current release unless given).
    """
    env = {
        "PATH": search_path(state, app_dir),
        "HOME": str(app_dir),
        "LANG": "C.UTF-8",
        "PYTHONUNBUFFERED": "true",
        "PYTHONPATH": str(app_dir),
        "PORT": "5000",
        "TERM": "dumb",
    }
    if dyno_name:
        env["DYNO"] = dyno_name
    bundle = ca_bundle(state)
    if bundle is not None:
        env["SSL_CERT_FILE"] = env["CURL_CA_BUNDLE"] = str(bundle)
    release = release or state.current_release(app)
    if release:
        env["HEROKU_RELEASE_VERSION"] = f"v{release['version']}"
        if release.get("_commit"):
            env["HEROKU_SLUG_COMMIT"] = release["_commit"]
    env.update(state.config(app))
    env.update(extra or {})
    return env


def dyno_name(process_type: str, taken: set[str] | None = None) -> str:
    """``run.2048``: Heroku names one-off and release dynos with four random digits, unique per app."""
    taken = taken or set()
    while True:
        name = f"{process_type}.{random.randint(1000, 9999)}"
        if name not in taken:
            return name


def copy_tree(source: Path, target: Path) -> None:
    """``source`` to ``target``, sharing blocks where the filesystem can (reflinks), links kept as links."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if not source.is_dir():
        target.mkdir()  # a slug with no files (created through the API, never uploaded)
        return
    flag = "-c" if sys.platform == "darwin" else "--reflink=auto"
    copied = subprocess.run(["cp", "-R", "-P", "-p", flag, str(source), str(target)], capture_output=True, check=False)
    if copied.returncode != 0:
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(source, target, symlinks=True)


@dataclass
class DynoWorld:
    """One dyno's own files, environment and command line (see the module's docstring)."""

    directory: Path
    env: dict
    argv: list[str]

    @property
    def app_dir(self) -> Path:
        return self.directory / "app"

    @classmethod
    def create(cls, state: State, app: dict, slug_id: str, dyno_id: str, name: str, command: str,
               release: dict | None = None, extra: dict | None = None) -> DynoWorld:
        """Copy the slug for dyno ``dyno_id`` and describe how to run ``command`` in it."""
        directory = state.directory / "dynos" / dyno_id
        copy_tree(slug_path(state, slug_id), directory / "app")
        env = dyno_environment(state, app, name, directory / "app", release, extra)
        return cls(directory, env, ["bash", "-c", command])

    def remove(self) -> None:
        """Throw the dyno's files away, in the background (a big slug takes a moment)."""
        threading.Thread(target=shutil.rmtree, args=(self.directory,), kwargs={"ignore_errors": True}, daemon=True).start()


def remove_leftover_dynos(state: State) -> None:
    """Files of dynos a stopped sandbox left behind: none of them runs any more."""
    for path in (state.directory / "dynos").glob("*"):
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
