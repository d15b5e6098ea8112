"""Which Python a build asks for and which interpreter it gets: pure units on real files.

The precedence and the refusals are heroku-buildpack-python's (``lib/python_version.sh``):
``runtime.txt``, then ``.python-version``, then the last build's major version, then the default.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from heroku_tools.sandbox.environments import InstallError, package_manager, requirement_files
from heroku_tools.sandbox.pythons import DEFAULT_MAJOR, Interpreter, Request, VersionError, choose, find_interpreters, read_request


def write(directory: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (directory / name).parent.mkdir(parents=True, exist_ok=True)
        (directory / name).write_text(text)
    return directory


@pytest.mark.parametrize(
    ("files", "cached", "expected"),
    [
        ({"runtime.txt": "python-3.12.1\n", ".python-version": "3.13\n"}, None, ("3.12.1", "runtime.txt")),
        ({".python-version": "# the app's Python\n\n  3.13  \n"}, "3.11.7", ("3.13", ".python-version")),
        ({}, "3.11.7", ("3.11", "cached")),
        ({}, None, (DEFAULT_MAJOR, "default")),
    ],
    ids=["runtime.txt first", ".python-version second", "sticky", "default"],
)
def test_the_requested_version_follows_the_buildpack_precedence(tmp_path, files, cached, expected):
    request = read_request(write(tmp_path, files), cached=cached)
    assert (request.version, request.origin) == expected


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"runtime.txt": "3.12\n"}, "Invalid Python version in runtime.txt"),
        ({".python-version": "3.12\n3.13\n"}, "Invalid Python version in .python-version"),
        ({".python-version": "python-3.12\n"}, "Invalid Python version in .python-version"),
        ({".python-version": "3.9\n"}, "The requested Python version has reached end-of-life"),
        ({"runtime.txt": "python-3.15.0\n"}, "The requested Python version 3.15 isn't recognised"),
    ],
)
def test_malformed_and_unsupported_versions_are_refused(tmp_path, files, message):
    with pytest.raises(VersionError, match=message):
        read_request(write(tmp_path, files))


def test_step_lines_say_where_the_version_came_from():
    assert Request("3.12", ".python-version").step_line() == "Using Python 3.12 specified in .python-version"
    assert Request(DEFAULT_MAJOR, "default").step_line() == (
        f"No Python version was specified. Using the buildpack default: Python {DEFAULT_MAJOR}"
    )


def interpreters(*versions: str) -> list[Interpreter]:
    return [Interpreter(tuple(int(p) for p in v.split(".")), Path(f"/opt/python{v}/bin/python3")) for v in versions]


@pytest.mark.parametrize(
    ("wanted", "available", "chosen", "matches"),
    [
        ("3.12", ("3.11.9", "3.12.1", "3.12.7", "3.13.0"), "3.12.7", True),  # a major version: its newest patch
        ("3.12.1", ("3.12.1", "3.12.7"), "3.12.1", True),  # an exact version: exactly it
        ("3.12.3", ("3.12.1", "3.12.7", "3.13.0"), "3.12.1", False),  # the same minor's nearest patch
        ("3.14", ("3.11.9", "3.13.0", "3.13.2"), "3.13.2", False),  # nearest minor, newest patch
        ("3.12", ("3.11.9", "3.13.0"), "3.11.9", False),  # equally near: the older
    ],
)
def test_choose_takes_a_match_else_the_nearest(wanted, available, chosen, matches):
    interpreter, matched = choose(Request(wanted, ".python-version"), interpreters(*available))
    assert (interpreter.dotted, matched) == (chosen, matches)


def test_choose_without_interpreters():
    assert choose(Request("3.12", "default"), []) == (None, False)


def fake_python(path: Path, version: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\necho {version}\n")
    path.chmod(0o755)
    return path


def test_interpreters_come_from_path_pyenv_and_uv_but_not_shims(tmp_path):
    on_path = fake_python(tmp_path / "bin" / "python3.12", "3.12.4")
    fake_python(tmp_path / "pyenv" / "shims" / "python3.13", "3.13.9")  # a shim is not an interpreter
    pyenv = fake_python(tmp_path / "pyenv" / "versions" / "3.11.5" / "bin" / "python3", "3.11.5")
    uv = fake_python(tmp_path / "uv" / "cpython-3.13.1-linux-x86_64-gnu" / "bin" / "python3", "3.13.1")
    fake_python(tmp_path / "pyenv" / "versions" / "3.8.10" / "bin" / "python3", "3.8.10")  # end of life: ignored
    environ = {
        "PATH": os.pathsep.join([str(tmp_path / "bin"), str(tmp_path / "pyenv" / "shims")]),
        "HOME": str(tmp_path / "home"),
        "PYENV_ROOT": str(tmp_path / "pyenv"),
        "UV_PYTHON_INSTALL_DIR": str(tmp_path / "uv"),
    }

    found = find_interpreters(environ)

    assert [(i.dotted, i.path) for i in found] == [("3.13.1", uv), ("3.12.4", on_path), ("3.11.5", pyenv)]


def test_the_package_manager_is_the_one_lock_file_and_includes_are_followed(tmp_path):
    write(tmp_path, {"requirements.txt": "-r requirements/base.txt\nDjango\n",
                     "requirements/base.txt": "-c constraints.txt\n-r base.txt\nsix\n", "requirements/constraints.txt": ""})
    assert package_manager(tmp_path) == "pip"
    root = tmp_path.resolve()
    assert requirement_files(tmp_path) == [
        root / "requirements.txt", root / "requirements" / "base.txt", root / "requirements" / "constraints.txt",
    ]
    write(tmp_path, {"uv.lock": ""})
    with pytest.raises(InstallError, match="Multiple Python package manager files were found"):
        package_manager(tmp_path)
    with pytest.raises(InstallError, match="Couldn't find any supported Python package manager files"):
        package_manager(write(tmp_path / "empty", {"app.py": ""}))
