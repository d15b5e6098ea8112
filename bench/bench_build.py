"""Benchmark: how long a ``git push`` build takes in the sandbox, cold and warm, beside ``--reuse-env``.

    .venv/bin/python bench/bench_build.py [--runs 3] [--keep DIR] [--output FILE] [--no-real-project]

A sandbox is started in a throwaway directory with an empty build cache of its
own (``HEROKU_TOOLS_BUILD_CACHE``, pip's download cache included), so the
first build is as cold as a new machine's. For the sample app
(``examples/sampleapp``: Django, dj-database-url, psycopg; Python 3.11) and,
when its mirror is present, Wagtail's bakery demo (the real project of
``tests/test_sandbox_real_project.py``: Wagtail, uWSGI compiled from source,
boto3, google-cloud-storage...; Python 3.12.1; with a Postgres add-on, which
its release phase migrates) it times each ``git push`` from its start to
``Verifying deploy... done`` (the build: Python, dependencies,
collectstatic, slug) and to its end (the release phase included):

* **cold**: the first build, into the empty cache (Python environment made,
  pip installed, every dependency downloaded and installed);
* **warm, same app**: a new commit that leaves the dependencies alone (the
  cached environment is reused), median of ``--runs``;
* **warm, new app**: a second app with the same dependency files;
* **reuse-env**: the same push to a sandbox switched to ``--reuse-env``
  (nothing installed; the sandbox's own Python), median of ``--runs`` — the
  same-run baseline. A project whose requirements heroku-tools' own
  environment lacks fails there (its collectstatic cannot import them), which
  is the point of building faithfully; the table says so.

Figures go to stdout as a table, then as JSON (last line); ``--output FILE``
writes the JSON too. Nothing is asserted: the exit status is 0 when the
sample app's builds ran.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from heroku_tools.sandbox import Sandbox, find_pinned_heroku  # noqa: E402

SAMPLE = ROOT / "examples" / "sampleapp"
MIRROR = Path(os.environ.get("HEROKU_TOOLS_MIRRORS", "/work/.mirror")) / "wagtail+bakerydemo" / "repo"
REAL_COMMIT = "8e2b625755d8942412d5b7627b146a795933b8b2"  # pinned as in tests/test_sandbox_real_project.py
REAL_CONFIG = {"DJANGO_SETTINGS_MODULE": "bakerydemo.settings.production", "DJANGO_SECRET_KEY": "bench-" + "x" * 50}


def median(pushes: list[dict]) -> dict:
    return {
        "build": round(statistics.median(p["build"] for p in pushes), 2),
        "push": round(statistics.median(p["push"] for p in pushes), 2),
        "ok": all(p["ok"] for p in pushes),
    }


class Bench:
    """One sandbox, its CLI environment, and the pushes being timed."""

    def __init__(self, base: Path):
        self.base = base
        home = base / "home"
        home.mkdir(parents=True)
        (home / ".gitconfig").write_text("[user]\n\tname = Bench\n\temail = bench@example.com\n[init]\n\tdefaultBranch = main\n")
        os.environ["HEROKU_TOOLS_BUILD_CACHE"] = str(base / "build-cache")  # the server inherits it: a cold cache
        self.sandbox = Sandbox(base / "sandbox", heroku_bin=find_pinned_heroku()).start()
        self.env = self.sandbox.cli_env(home)
        self.apps = 0

    def git(self, repo: Path, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["git", *args], cwd=repo, env=self.env, capture_output=True, text=True, check=False)

    def new_app(self, prefix: str, config: dict | None = None) -> str:
        """A new app; with ``config``, a Postgres database too (a real project's release phase migrates it)."""
        self.apps += 1
        name = f"{prefix}-{self.apps}-{os.getpid() % 10000}"
        self.sandbox.api("POST", "/apps", {"name": name})
        if config:
            self.sandbox.api("POST", f"/apps/{name}/addons", {"plan": {"name": "heroku-postgresql"}})
            self.sandbox.api("PATCH", f"/apps/{name}/config-vars", config)
        return name

    def push(self, repo: Path, app: str) -> dict:
        """Seconds from ``git push`` to the end of the build and to its own end, and whether it was accepted."""
        started = time.perf_counter()
        process = subprocess.Popen(["git", "push", "--force", f"{self.sandbox.base_url}/{app}.git", "HEAD:main"],
                                   cwd=repo, env=self.env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE, text=True)
        built = None
        for line in process.stderr:
            if built is None and ("Verifying deploy" in line):
                built = time.perf_counter() - started
        ok = process.wait() == 0
        total = time.perf_counter() - started
        return {"build": round(built or total, 2), "push": round(total, 2), "ok": ok}

    def touch(self, repo: Path, round_: int) -> None:
        """A new commit that leaves the dependencies alone."""
        (repo / "BENCH.txt").write_text(f"round {round_}\n")
        self.git(repo, "add", "BENCH.txt")
        self.git(repo, "commit", "-q", "-m", f"Bench round {round_}")

    def measure(self, repo: Path, prefix: str, runs: int, config: dict | None = None) -> dict:
        """Cold, warm (same app, median of ``runs``; a new app) and ``--reuse-env`` (median) pushes of ``repo``."""
        app = self.new_app(prefix, config)
        self.sandbox.configure(reuse_env=False)
        cold = self.push(repo, app)
        warm = []
        for round_ in range(runs):
            self.touch(repo, round_)
            warm.append(self.push(repo, app))
        other = self.push(repo, self.new_app(prefix, config))
        self.sandbox.configure(reuse_env=True)
        reuse_app, reused = self.new_app(prefix, config), []
        for round_ in range(runs):
            self.touch(repo, runs + round_)
            reused.append(self.push(repo, reuse_app))
        self.sandbox.configure(reuse_env=False)
        return {"cold": cold, "warm_same_app": median(warm), "warm_new_app": other, "reuse_env": median(reused)}

    def close(self) -> None:
        self.sandbox.stop()


def sample_repo(base: Path, bench: Bench) -> Path:
    repo = base / "sampleapp"
    shutil.copytree(SAMPLE, repo, ignore=shutil.ignore_patterns("__pycache__", "staticfiles", "*.sqlite3"))
    bench.git(repo, "init", "-q", "-b", "main")
    bench.git(repo, "add", "-A")
    bench.git(repo, "commit", "-q", "-m", "Sample app")
    return repo


def real_repo(base: Path, bench: Bench) -> Path | None:
    if not (MIRROR / "HEAD").exists():
        return None
    repo = base / "bakerydemo"
    bench.git(base, "init", "-q", "-b", "main", str(repo))
    if bench.git(repo, "fetch", "-q", str(MIRROR), REAL_COMMIT).returncode:
        return None
    bench.git(repo, "checkout", "-q", "-B", "main", "FETCH_HEAD")
    return repo


def report(results: dict) -> None:
    columns = (("cold", "cold"), ("warm_same_app", "warm, same app"), ("warm_new_app", "warm, new app"), ("reuse_env", "--reuse-env"))

    def cell(push: dict) -> str:
        return f"{push['build']:.1f} / {push['push']:.1f} s{'' if push['ok'] else ' ✗'}"

    print("seconds to the end of the build / of the push (release phase included)")
    print(f"{'project':<26}" + "".join(f"{title:>20}" for _, title in columns))
    for project, figures in results.items():
        print(f"{project:<26}" + "".join(f"{cell(figures[key]):>20}" for key, _ in columns))
    print("✗: the push was rejected (with --reuse-env: the project needs packages heroku-tools' own environment lacks)")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="pushes per warm and --reuse-env median")
    parser.add_argument("--keep", metavar="DIR", help="work in DIR and keep it (default: a temporary directory)")
    parser.add_argument("--output", metavar="FILE", help="also write the figures as JSON to FILE")
    parser.add_argument("--no-real-project", action="store_true", help="only the sample app")
    args = parser.parse_args(argv)
    base = Path(args.keep or tempfile.mkdtemp(prefix="bench-build-"))
    bench = Bench(base)
    results = {}
    try:
        results["sample app"] = bench.measure(sample_repo(base, bench), "bench-sample", args.runs)
        real = None if args.no_real_project else real_repo(base, bench)
        if real is not None:
            results["bakerydemo (real project)"] = bench.measure(real, "bench-real", args.runs, REAL_CONFIG)
        elif not args.no_real_project:
            print(f"(no mirror of wagtail/bakerydemo at {MIRROR}: the real project is left out)")
    finally:
        bench.close()
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
    report(results)
    print(json.dumps(results))
    if args.output:
        Path(args.output).write_text(json.dumps(results, indent=2) + "\n")
    return 0 if results["sample app"]["cold"]["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
