"""heroku-tools' own development tasks (``inv --list``).

Every tool runs from this interpreter's environment (``sys.executable -m ...``),
so a system-wide pytest, ruff or sphinx is never picked up by accident. The
``./dev`` script creates that environment and calls these tasks.
"""
from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

from invoke import Collection, Exit, Task, task

ROOT = Path(__file__).resolve().parent
PYTHON = shlex.quote(sys.executable)


def _quote(args) -> str:
    return " ".join(shlex.quote(str(arg)) for arg in args)


def _short_flags(**flags: str) -> type[Task]:
    """A Task class giving the named parameters these short flags (``-x`` as pytest has it)."""

    class ShortFlagTask(Task):
        def arg_opts(self, name, default, taken_names):
            opts = super().arg_opts(name, default, set(taken_names) | set(flags.values()))
            if name in flags:
                opts["names"] = [opts["names"][0], flags[name]]
            return opts

    return ShortFlagTask


#: Parallel test workers (pytest-xdist). The suite mostly waits on subprocesses
#: (the heroku CLI, git, PostgreSQL), so more workers than cores pay: measured on
#: 2 cores in docs/development.rst.
TEST_WORKERS = 4


@task(
    klass=_short_flags(exitfirst="x", keyword="k", workers="n"),
    help={
        "args": "extra arguments passed to pytest verbatim (quote them: -a '-vv tests/test_x.py')",
        "exitfirst": "stop at the first failure (pytest -x)",
        "keyword": "only tests matching this expression (pytest -k)",
        "verbose": "one line per test (pytest -v)",
        "workers": f"parallel workers, each with its own sandbox and HOME (default {TEST_WORKERS}); "
        "0: one process, tests in order (for debugging, pdb)",
    },
)
def test(c, args="", exitfirst=False, keyword=None, verbose=False, workers=TEST_WORKERS):
    """Run the test suite with pytest (sandbox, real heroku CLI, PostgreSQL), in parallel."""
    # --dist loadfile: a module's tests share one worker, so a module-scoped project is built once;
    # modules are handed out in the order tests/conftest.py sorts them (slowest first).
    options = ["-n", str(workers), "--dist", "loadfile", "--no-loadscope-reorder"] if workers else ["-n", "0"]
    if exitfirst:
        options.append("-x")
    if keyword:
        options += ["-k", keyword]
    if verbose:
        options.append("-v")
    with c.cd(str(ROOT)):
        c.run(" ".join(part for part in (f"{PYTHON} -m pytest", _quote(options), args) if part), pty=False)


@task(help={"fix": "apply ruff's safe fixes"})
def lint(c, fix=False):
    """Check the code with ruff."""
    with c.cd(str(ROOT)):
        c.run(f"{PYTHON} -m ruff check {'--fix ' if fix else ''}.")


@task(
    help={
        "builder": "Sphinx builder (default html)",
        "output": "output directory (default docs/_build/<builder>)",
    },
)
def docs(c, builder="html", output=None):
    """Build the documentation; any Sphinx warning fails the build."""
    target = output or f"docs/_build/{builder}"
    with c.cd(str(ROOT)):
        colour = "" if sys.stdout.isatty() else "--no-color "
        c.run(f"{PYTHON} -m sphinx -W --keep-going {colour}-b {shlex.quote(builder)} docs {shlex.quote(target)}")
    print(f"Documentation: {ROOT / target / 'index.html'}" if builder == "html" else f"Output: {target}")


@task(help={"args": "extra arguments for examples/demo.py (e.g. '--reset')"})
def demo(c, args=""):
    """Run the demo: a local Heroku sandbox, three apps, a pipeline, a deploy."""
    with c.cd(str(ROOT)):
        c.run(f"{PYTHON} examples/demo.py {args}".rstrip(), pty=False)


@task(help={"pattern": "only benchmark files whose name contains this"})
def bench(c, pattern=""):
    """Run every benchmark script under bench/ (bench_*.py; the other modules there are their helpers)."""
    scripts = sorted(path for path in (ROOT / "bench").glob("bench_*.py") if pattern in path.name)
    if not scripts:
        print("No benchmarks found under bench/ (see bench/README.md).")
        return
    failed = []
    for script in scripts:
        print(f"== {script.relative_to(ROOT)}", flush=True)
        result = c.run(f"{PYTHON} {shlex.quote(str(script))}", warn=True, pty=False)
        if result.exited != 0:
            failed.append(script.name)
    if failed:
        raise Exit(f"benchmarks failed: {', '.join(failed)}", code=1)


ns = Collection(test, lint, docs, demo, bench)
# Echo each command; in bold only on a terminal, so CI logs stay plain.
_ECHO = "\033[1;37m$ {command}\033[0m" if sys.stdout.isatty() and not os.environ.get("NO_COLOR") else "$ {command}"
ns.configure({"run": {"echo": True, "echo_format": _ECHO}})
