"""Dependency environments: an app's packages installed as Heroku's Python buildpack installs them,
kept in a cache every sandbox of the user shares.

The buildpack installs ``requirements.txt`` with pip, ``poetry.lock`` with
Poetry and ``uv.lock`` with uv into ``/app/.heroku/python``, and throws that
away when the Python version, the package manager or the dependency files
change. The sandbox does the same install into a virtual environment named by
exactly those inputs — the interpreter, the package manager and its version,
and a hash of the dependency files (``-r``/``-c`` includes too) — so a second
build with the same inputs, in any app of any sandbox of this user, reuses it
at once. The slug links to it as ``.heroku/python``.

Cache layout (``$HEROKU_TOOLS_BUILD_CACHE``, else
``$XDG_CACHE_HOME/heroku-tools/build`` or ``~/.cache/heroku-tools/build``)::

    envs/<name>        -> ../store/<name>.<random>   the published environment
    store/<name>.<random>/                            a virtual environment
    tools/             uv and Poetry, installed from the package index
    locks/<name>.lock  one builder per name at a time
    pip/ uv/ poetry/   the installers' download caches

Virtual environments cannot move (their scripts name their own path), so an
environment is built where it will stay, under a random name, and published by
renaming a symbolic link onto ``envs/<name>``: readers see a complete
environment or none, and a build that fails or is killed leaves nothing anyone
uses (its leftovers are removed by the next build of that name). Two builds of
the same name wait for each other on a lock instead of installing twice.

Installers use this machine's own configuration (``pip.conf``, ``PIP_*``,
``UV_*``): that is how the user reaches their package index. Nothing is
fetched from anywhere else.
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .pythons import Interpreter

#: Installer versions pinned by heroku-buildpack-python (``requirements/*.txt``, 2026).
PIP_VERSION = "26.2.1"
SETUPTOOLS_VERSION = "70.3.0"  # installed beside pip for Python 3.10 to 3.12 only
UV_VERSION = "0.12.5"
POETRY_VERSION = "2.4.1"

#: Bumped when the layout or the install steps change, so old environments are not reused.
FORMAT = 1
READY = ".heroku-tools-environment.json"

#: The dependency files of each package manager, as the buildpack chooses it.
MANAGER_FILES = {"pip": ("requirements.txt",), "poetry": ("poetry.lock", "pyproject.toml"), "uv": ("uv.lock", "pyproject.toml")}
#: The install commands, as the buildpack announces them.
COMMANDS = {"pip": "pip install -r requirements.txt", "poetry": "poetry sync --only main", "uv": "uv sync --locked --no-default-groups"}
_INCLUDE = re.compile(r"^\s*(?:-r|-c|--requirement|--constraint)[\s=]+(\S+)")
_LOCAL = re.compile(r"^\s*(?:(?:-e|--editable)[\s=]+)?(?:\.{1,2}(?:/|$)|/|file:)")


class InstallError(Exception):
    """Dependencies could not be installed; the message is what the buildpack says."""


def cache_root(environ: dict | None = None) -> Path:
    """Where environments are kept: ``$HEROKU_TOOLS_BUILD_CACHE`` or the user's cache directory."""
    environ = os.environ if environ is None else environ
    if environ.get("HEROKU_TOOLS_BUILD_CACHE"):
        return Path(environ["HEROKU_TOOLS_BUILD_CACHE"])
    base = environ.get("XDG_CACHE_HOME") or Path(environ.get("HOME") or Path.home()) / ".cache"
    return Path(base) / "heroku-tools" / "build"


# -- what to install ----------------------------------------------------------------------------
def package_manager(build_dir: Path) -> str:
    """``pip``, ``poetry``, ``uv`` or ``pipenv``: exactly one package manager file, as the buildpack requires."""
    if (build_dir / "Pipfile").is_file() and not (build_dir / "Pipfile.lock").is_file():
        raise InstallError("Error: No 'Pipfile.lock' found!\nA 'Pipfile' file was found, however, the associated 'Pipfile.lock' wasn't.")
    found = [name for name, lock in (("pipenv", "Pipfile.lock"), ("pip", "requirements.txt"), ("poetry", "poetry.lock"), ("uv", "uv.lock"))
             if (build_dir / lock).is_file()]
    if len(found) == 1:
        return found[0]
    if not found:
        raise InstallError(
            "Error: Couldn't find any supported Python package manager files.\n"
            "A Python app on Heroku must have either a 'requirements.txt', 'Pipfile.lock', 'poetry.lock' or 'uv.lock'\n"
            "package manager file in the root directory of its source code. If your app has no dependencies,\n"
            "then create an empty 'requirements.txt' file."
        )
    raise InstallError(
        f"Error: Multiple Python package manager files were found.\nExactly one should be present; found: {', '.join(found)}."
    )


def requirement_files(build_dir: Path, name: str = "requirements.txt") -> list[Path]:
    """``requirements.txt`` and every file it includes with ``-r``/``-c``, recursively, once each."""
    seen: list[Path] = []
    pending = [(build_dir / name).resolve()]
    while pending:
        path = pending.pop(0)
        if path in seen or not path.is_file():
            continue
        seen.append(path)
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            found = _INCLUDE.match(line)
            if found:
                pending.append((path.parent / found.group(1)).resolve())
    return seen


def _requires_local_paths(files: list[Path]) -> bool:
    """Whether pip would install something from the app's own tree (``-e .``, ``./lib``)."""
    return any(_LOCAL.match(line) for path in files for line in path.read_text(errors="replace").splitlines())


def _tree_digest(build_dir: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in build_dir.rglob("*") if p.is_file() and not p.is_symlink()):
        digest.update(str(path.relative_to(build_dir)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


@dataclass
class Plan:
    """One environment to provide: its inputs, and the name they hash to."""

    interpreter: Interpreter
    manager: str
    build_dir: Path
    files: dict[str, str] = field(default_factory=dict)  # dependency file (relative) -> sha256
    extra: dict[str, str] = field(default_factory=dict)

    @classmethod
    def for_app(cls, interpreter: Interpreter, build_dir: Path, config: dict) -> Plan:
        manager = package_manager(build_dir)
        if manager == "pipenv":
            raise InstallError("Error: the sandbox cannot install Pipfile.lock (Pipenv) projects.\n"
                               "Start it with `heroku-tools sandbox up --reuse-env` to use its own environment instead.")
        paths = requirement_files(build_dir) if manager == "pip" else [build_dir / n for n in MANAGER_FILES[manager]]
        files = {_relative(p, build_dir): hashlib.sha256(p.read_bytes()).hexdigest() for p in paths if p.is_file()}
        extra = {}
        if config.get("PIP_EXTRA_INDEX_URL") and manager == "pip":
            extra["PIP_EXTRA_INDEX_URL"] = config["PIP_EXTRA_INDEX_URL"]
        if manager == "pip" and _requires_local_paths(paths):
            extra["tree"] = _tree_digest(build_dir)  # the app's own code is installed: never shared
        return cls(interpreter, manager, build_dir, files, extra)

    @property
    def tool_version(self) -> str:
        return {"pip": PIP_VERSION, "poetry": POETRY_VERSION, "uv": UV_VERSION}[self.manager]

    @property
    def name(self) -> str:
        inputs = {"format": FORMAT, "python": str(self.interpreter.path), "version": self.interpreter.dotted,
                  "manager": self.manager, "tool": self.tool_version, "files": self.files, "extra": self.extra}
        digest = hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()[:16]
        return f"py{self.interpreter.dotted}-{self.manager}-{digest}"

    def command_text(self) -> str:
        """The install command as the buildpack announces it."""
        return COMMANDS[self.manager]


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)


# -- the cache ----------------------------------------------------------------------------------
@contextlib.contextmanager
def _exclusive(lock: Path) -> Iterator[None]:
    """Hold ``lock`` (an advisory file lock) for the block: one builder per name, across processes."""
    lock.parent.mkdir(parents=True, exist_ok=True)
    with lock.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def published(link: Path, probe: str = "bin/python") -> Path | None:
    """``link`` if it names a complete directory whose ``probe`` (an interpreter, a tool) still exists."""
    if link.is_symlink() and (link / READY).is_file() and (link / probe).exists():
        return link
    return None


def _remove_leftovers(store: Path, name: str, keep: Path | None) -> None:
    """Unpublished builds of ``name`` (failed, killed, or replaced): nobody uses them."""
    keep = keep.resolve() if keep else None
    for leftover in store.glob(f"{name}.*"):
        if leftover.resolve() != keep:
            shutil.rmtree(leftover, ignore_errors=True)


def provide(root: Path, name: str, build: Callable[[Path], dict], probe: str = "bin/python") -> tuple[Path, bool]:
    """The published directory ``name`` under ``root``, built by ``build(path)`` unless it exists.

    Returns ``(path, reused)``. ``build`` fills the directory it is given and
    returns metadata; on any exception the directory is removed and the
    exception goes on, publishing nothing.
    """
    link = root / "envs" / name
    if published(link, probe):
        return link, True
    with _exclusive(root / "locks" / f"{name}.lock"):
        if published(link, probe):  # another build finished it while this one waited
            return link, True
        store = root / "store"
        store.mkdir(parents=True, exist_ok=True)
        _remove_leftovers(store, name, None)
        target = store / f"{name}.{secrets.token_hex(4)}"
        try:
            meta = build(target)
            (target / READY).write_text(json.dumps({**meta, "name": name, "created": time.time()}, indent=1))
        except BaseException:
            shutil.rmtree(target, ignore_errors=True)
            raise
        staged = link.parent / f".{name}.{secrets.token_hex(4)}"
        link.parent.mkdir(parents=True, exist_ok=True)
        staged.symlink_to(os.path.relpath(target, link.parent))
        os.replace(staged, link)  # atomic: the old link or the new one, never none
    return link, False


# -- running the installers -------------------------------------------------------------------
def bundled_pip(interpreter: Path) -> Path | None:
    """The pip wheel ``interpreter`` bundles for ``ensurepip`` (pip runs from it), if it has one."""
    probe = "import ensurepip, pathlib; print(*pathlib.Path(ensurepip.__file__).parent.glob('_bundled/pip-*.whl'))"
    try:
        found = subprocess.run([str(interpreter), "-c", probe], capture_output=True, text=True, timeout=30, check=False).stdout.split()
    except (OSError, subprocess.TimeoutExpired):
        return None
    return Path(found[0]) if found else None


def installer_environment(root: Path, venv: Path, base: dict) -> dict:
    """The environment installers run in: this machine's (its pip/uv configuration, its compilers), the new venv first on PATH."""
    env = {k: v for k, v in base.items() if k not in ("PYTHONHOME", "PYTHONPATH", "VIRTUAL_ENV", "PIP_REQUIRE_VIRTUALENV")}
    system = base.get("PATH") or os.pathsep.join(("/usr/local/bin", "/usr/bin", "/bin"))
    env.update(
        PATH=f"{venv / 'bin'}{os.pathsep}{system}",
        VIRTUAL_ENV=str(venv),
        PIP_CACHE_DIR=str(root / "pip"),
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        PIP_NO_INPUT="1",
        PYTHONUNBUFFERED="1",
    )
    return env


def stream(argv: list, cwd: Path, env: dict, emit: Callable[[str], None], hide: str | None = None) -> int:
    """Run ``argv``, passing each line of its output (stdout and stderr) to ``emit``; its exit status.

    ``hide`` is a path prefix removed from the lines, as the buildpack strips its
    own ``site-packages`` path from pip's messages.
    """
    process = subprocess.Popen([str(a) for a in argv], cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    pattern = re.compile(rf" in {re.escape(hide)}/lib/python[0-9.]+/site-packages") if hide else None
    for raw in process.stdout:
        line = raw.decode(errors="replace").rstrip()
        emit(pattern.sub("", line) if pattern else line)
    return process.wait()


class Installer:
    """Builds the environment of one :class:`Plan`, reporting in the buildpack's words.

    ``out`` is the build's output (``step``, ``detail``); ``base_env`` the
    environment of the sandbox, whose installer configuration is the user's.
    """

    def __init__(self, plan: Plan, root: Path, base_env: dict, out):
        self.plan, self.root, self.base_env, self.out = plan, root, base_env, out

    def provide(self) -> tuple[Path, bool]:
        """The environment, built unless the cache has it; ``(path, reused)``. Raises :class:`InstallError`."""
        path, reused = provide(self.root, self.plan.name, self._build)
        if reused:
            python = self.plan.interpreter.dotted
            self.out.step("Restoring cache")
            self.out.step(f"Using cached install of Python {python}")
            self.out.step(f"Installing dependencies using '{self.plan.command_text()}'")
            self.out.detail(f"Unchanged: reusing the environment the sandbox built for Python {python} and these files ({path.name})")
        return path, reused

    def _run(self, argv: list, venv: Path, env: dict | None = None) -> int:
        return stream(argv, self.plan.build_dir, env or installer_environment(self.root, venv, self.base_env),
                      self.out.detail, hide=str(venv))

    def _build(self, venv: Path) -> dict:
        plan = self.plan
        self.out.step(f"Installing Python {plan.interpreter.dotted}")
        if self._run([plan.interpreter.path, "-m", "venv", "--without-pip", venv], venv) != 0:
            raise InstallError(f"Error: Unable to create a virtual environment with {plan.interpreter.path}.")
        self._install_installer(venv)
        getattr(self, f"_install_{plan.manager}")(venv)
        return {"python": plan.interpreter.dotted, "interpreter": str(plan.interpreter.path), "manager": plan.manager,
                "tool": plan.tool_version, "files": plan.files, "app_dir": str(plan.build_dir)}

    def _install_installer(self, venv: Path) -> None:
        """pip (and setuptools up to Python 3.12) at the buildpack's versions, as the buildpack installs them.

        Like the buildpack, pip is run from the wheel Python bundles (``ensurepip/_bundled``),
        which is much quicker than ``ensurepip``; an interpreter without it (Debian's) gets
        them through the sandbox's own pip instead. uv and Poetry themselves are installed with it.
        """
        packages, shown = [f"pip=={PIP_VERSION}"], f"pip {PIP_VERSION}"
        if self.plan.interpreter.version[:2] <= (3, 12):
            packages.append(f"setuptools=={SETUPTOOLS_VERSION}")
            shown += f" and setuptools {SETUPTOOLS_VERSION}"
        if self.plan.manager == "pip":
            self.out.step(f"Installing {shown}")
        wheel = bundled_pip(self.plan.interpreter.path)
        runner = [venv / "bin" / "python", wheel / "pip"] if wheel else [sys.executable, "-m", "pip", "--python", venv / "bin" / "python"]
        if self._run([*runner, "install", "--quiet", *packages], venv) != 0:
            raise InstallError("Error: Unable to install pip.\n\nIn some cases, this happens due to a temporary issue with\n"
                               "the network connection or Python Package Index (PyPI).")

    def _install_pip(self, venv: Path) -> None:
        self.out.step(f"Installing dependencies using '{self.plan.command_text()}'")
        argv = [venv / "bin" / "pip", "install", "-r", "requirements.txt", "--exists-action=w", "--no-input",
                "--progress-bar", "off", f"--src={venv / 'src'}"]
        if self._run(argv, venv) != 0:
            raise InstallError("Error: Unable to install dependencies using pip.\n\nSee the log output above for more information.")

    def _tool(self, tool: str, version: str, venv: Path) -> Path:
        """uv or Poetry from the package index, in the cache's ``tools`` (once per version)."""
        probe = "bin/uv" if tool == "uv" else "bin/poetry"
        python = self.plan.interpreter.dotted
        name = f"tool-{tool}-{version}" + ("" if tool == "uv" else f"-py{python}")
        label = "uv" if tool == "uv" else "Poetry"

        def build(target: Path) -> dict:
            self.out.step(f"Installing {label} {version}")
            if tool == "uv":
                argv = [venv / "bin" / "python", "-m", "pip", "install", "--quiet", "--target", target, f"uv=={version}"]
            else:
                if self._run([self.plan.interpreter.path, "-m", "venv", target], venv) != 0:
                    raise InstallError(f"Error: Unable to install {label}.")
                argv = [target / "bin" / "python", "-m", "pip", "install", "--quiet", f"poetry=={version}"]
            if self._run(argv, venv) != 0:
                raise InstallError(f"Error: Unable to install {label}.\n\nIn some cases, this happens due to a temporary issue with\n"
                                   "the network connection or Python Package Index (PyPI).")
            return {"tool": tool, "version": version}

        path, reused = provide(self.root, name, build, probe=probe)
        if reused:
            self.out.step(f"Using cached {label} {version}")
        return path / probe

    def _install_uv(self, venv: Path) -> None:
        uv = self._tool("uv", UV_VERSION, venv)
        env = installer_environment(self.root, venv, self.base_env)
        env.update(UV_PROJECT_ENVIRONMENT=str(venv), UV_PYTHON=str(venv / "bin" / "python"), UV_PYTHON_DOWNLOADS="never",
                   UV_CACHE_DIR=str(self.root / "uv"), UV_LINK_MODE="hardlink", NO_COLOR="1")
        self.out.step(f"Installing dependencies using '{self.plan.command_text()}'")
        argv = [uv, "sync", "--locked", "--no-default-groups", "--no-install-project", "--compile-bytecode", "--no-progress"]
        if self._run(argv, venv, env) != 0:
            raise InstallError("Error: Unable to install dependencies using uv.\n\nSee the log output above for more information.")

    def _install_poetry(self, venv: Path) -> None:
        poetry = self._tool("poetry", POETRY_VERSION, venv)
        env = installer_environment(self.root, venv, self.base_env)
        env.update(POETRY_VIRTUALENVS_CREATE="false", POETRY_CACHE_DIR=str(self.root / "poetry"))
        self.out.step(f"Installing dependencies using '{self.plan.command_text()}'")
        argv = [poetry, "sync", "--only", "main", "--no-root", "--compile", "--no-ansi", "--no-interaction"]
        if self._run(argv, venv, env) != 0:
            raise InstallError("Error: Unable to install dependencies using Poetry.\n\nSee the log output above for more information.")
