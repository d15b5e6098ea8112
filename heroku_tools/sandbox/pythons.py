"""Which Python a build uses: the version the app asks for, as Heroku's Python buildpack reads it,
and an interpreter of that version found on this machine.

The buildpack (``lib/python_version.sh``) looks, in order, at ``runtime.txt``
(``python-3.12.1``, deprecated), ``.python-version`` (``3.12`` or
``3.12.1``), then the major version of the app's previous build ("sticky"
versions), then its default. A major version means its newest patch release;
a full version means exactly that one. Versions older than 3.10 are refused
(end of life), newer than 3.14 are unknown.

Heroku downloads the interpreter; the sandbox downloads nothing and looks for
one already here: ``python3.X`` on ``PATH`` (pyenv's shims skipped, they are
not interpreters), pyenv's versions (``$PYENV_ROOT`` or ``~/.pyenv``) and uv's
managed Pythons (``$UV_PYTHON_INSTALL_DIR`` or ``~/.local/share/uv/python``).
When none matches, the nearest is used with a warning in the build output, or
the build fails when the sandbox is strict.
"""
from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

#: The buildpack's default major version and supported range (heroku-buildpack-python, 2026).
DEFAULT_MAJOR = "3.14"
OLDEST_MINOR, NEWEST_MINOR = 10, 14

_VERSION = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)(?:\.(0|[1-9]\d*))?$")
_RUNTIME_TXT = re.compile(r"^python-(\S+)$")
_PYTHON_NAME = re.compile(r"^python3\.(\d+)$")
_UV_DIR = re.compile(r"^cpython-(\d+\.\d+\.\d+)-")


class VersionError(ValueError):
    """The app's Python version request is malformed or unsupported; the message is the buildpack's."""


@dataclass(frozen=True)
class Request:
    """A Python version request: ``3.12`` (newest patch) or ``3.12.1`` (exactly), and where it came from."""

    version: str
    origin: str  # runtime.txt, .python-version, cached or default

    @property
    def parts(self) -> tuple[int, ...]:
        return tuple(int(p) for p in self.version.split("."))

    @property
    def exact(self) -> bool:
        return len(self.parts) == 3

    def step_line(self) -> str:
        """The buildpack's first line about the version."""
        if self.origin == "default":
            return f"No Python version was specified. Using the buildpack default: Python {self.version}"
        if self.origin == "cached":
            return f"No Python version was specified. Using the same major version as the last build: Python {self.version}"
        return f"Using Python {self.version} specified in {self.origin}"


@dataclass(frozen=True)
class Interpreter:
    """A Python interpreter on this machine."""

    version: tuple[int, int, int]
    path: Path

    @property
    def dotted(self) -> str:
        return ".".join(map(str, self.version))

    def matches(self, request: Request) -> bool:
        return self.version[: len(request.parts)] == request.parts


# -- the request ---------------------------------------------------------------------------------
def _version_lines(path: Path) -> list[str]:
    """Non-empty lines not starting with ``#``, trimmed, as the buildpack reads version files."""
    text = path.read_text(encoding="utf-8", errors="replace")
    return [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]


def read_request(build_dir: Path, cached: str | None = None) -> Request:
    """The version the app asks for, by the buildpack's precedence; raises :class:`VersionError`."""
    runtime_txt = build_dir / "runtime.txt"
    if runtime_txt.is_file():
        found = _RUNTIME_TXT.match(" ".join(_version_lines(runtime_txt)))
        if not found or not _VERSION.match(found.group(1)):
            raise VersionError("Error: Invalid Python version in runtime.txt.\nThe version must be of the form python-3.X or python-3.X.Y.")
        return _checked(Request(found.group(1), "runtime.txt"))
    python_version = build_dir / ".python-version"
    if python_version.is_file():
        versions = _version_lines(python_version)
        if len(versions) != 1 or not _VERSION.match(versions[0]):
            found = ", ".join(versions) or "nothing"
            raise VersionError(
                f"Error: Invalid Python version in .python-version.\nExpected one version such as {DEFAULT_MAJOR}; found {found}."
            )
        return _checked(Request(versions[0], ".python-version"))
    if cached and _VERSION.match(cached):
        return _checked(Request(".".join(cached.split(".")[:2]), "cached"))
    return Request(DEFAULT_MAJOR, "default")


def _checked(request: Request) -> Request:
    """Refuse end-of-life and unknown major versions, as the buildpack does."""
    major, minor = request.parts[:2]
    if major < 3 or (major == 3 and minor < OLDEST_MINOR):
        raise VersionError(
            f"Error: The requested Python version has reached end-of-life.\n"
            f"Python {major}.{minor} is no longer supported by the buildpack: use at least Python 3.{OLDEST_MINOR}."
        )
    if major > 3 or minor > NEWEST_MINOR:
        raise VersionError(
            f"Error: The requested Python version isn't recognised.\nThe requested Python version {major}.{minor} isn't recognised."
        )
    return request


# -- interpreters on this machine -------------------------------------------------------------------
_probed: dict[tuple[str, float], tuple[int, int, int] | None] = {}


def _probe(path: Path) -> tuple[int, int, int] | None:
    """The interpreter's version (asked once per file and modification time)."""
    try:
        key = (str(path), path.stat().st_mtime)
    except OSError:
        return None
    if key not in _probed:
        try:
            out = subprocess.run(
                [str(path), "-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"],
                capture_output=True, text=True, timeout=10, check=False,
            ).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            out = ""
        found = _VERSION.match(out)
        _probed[key] = tuple(int(p) for p in out.split(".")) if found and found.group(3) else None
    return _probed[key]


def _candidates(environ: dict) -> list[Path]:
    """Every path that may be a CPython 3 interpreter, most specific sources last."""
    paths = []
    for directory in environ.get("PATH", "").split(os.pathsep):
        if not directory or "shims" in Path(directory).parts:
            continue
        try:
            paths += sorted(p for p in Path(directory).iterdir() if _PYTHON_NAME.match(p.name))
        except OSError:
            continue
    home = Path(environ.get("HOME") or Path.home())
    pyenv = Path(environ.get("PYENV_ROOT") or home / ".pyenv") / "versions"
    paths += sorted(pyenv.glob("3.*/bin/python3"))
    data_home = Path(environ.get("XDG_DATA_HOME") or home / ".local" / "share")
    uv = Path(environ.get("UV_PYTHON_INSTALL_DIR") or data_home / "uv" / "python")
    paths += sorted(p / "bin" / "python3" for p in uv.glob("cpython-*") if _UV_DIR.match(p.name))
    return paths


def find_interpreters(environ: dict | None = None) -> list[Interpreter]:
    """CPython interpreters of the versions the buildpack supports on this machine, newest first, one per version."""
    found: dict[tuple[int, int, int], Interpreter] = {}
    for path in _candidates(dict(os.environ) if environ is None else environ):
        path = path.resolve()  # a virtualenv's python is a link to the interpreter it was made from
        if not path.is_file() or not os.access(path, os.X_OK):
            continue
        version = _probe(path)
        if version and version[0] == 3 and OLDEST_MINOR <= version[1]:
            found.setdefault(version, Interpreter(version, path))
    return sorted(found.values(), key=lambda i: i.version, reverse=True)


def choose(request: Request, interpreters: list[Interpreter]) -> tuple[Interpreter | None, bool]:
    """The interpreter for ``request`` and whether it matches; the nearest one when none does.

    A matching major version takes its newest patch. Otherwise the same minor
    version wins (the closest patch), then the nearest minor version, the older
    on a tie (code written for 3.12 is likelier to run on 3.11 than to avoid
    what 3.13 removed), newest patch first.
    """
    matching = [i for i in interpreters if i.matches(request)]
    if matching:
        return max(matching, key=lambda i: i.version), True
    if not interpreters:
        return None, False
    minor = request.parts[1]
    patch = request.parts[2] if request.exact else None

    def distance(interpreter: Interpreter) -> tuple:
        other_minor, other_patch = interpreter.version[1:]
        if other_minor == minor and patch is not None:
            return (0, abs(other_patch - patch), -other_patch)
        return (abs(other_minor - minor) or 0.5, other_minor > minor, -other_patch)

    return min(interpreters, key=distance), False
