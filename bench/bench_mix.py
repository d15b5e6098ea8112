"""Benchmark: maintenance seconds over a realistic mix of deploys, heroku-tools vs the original flow.

    .venv/bin/python bench/bench_mix.py [--keep DIR] [--output FILE]

Two identical projects on one sandbox (the sample app, dev app with Postgres,
preboot off) get the same four changes, each deployed by git push to dev —
project A by ``heroku-tools deploy``, project B by the original tool's flow
(modelled in ``bench_deploy.py``, ``--original-flow``; it asks "run
migrations?" and "maintenance page?" and takes its defaults, which follow
whether a migration file changed):

1. **no migration** (a docs change);
2. **additive migration, release phase migrates** (Procfile ``release:
   python manage.py migrate``; a new model);
3. **additive migration, no migrating release phase, preboot off**;
4. **RemoveField** (incompatible: the running code selects the column).

Every build takes at least 5 s (collectstatic sleeps during the build), so a
window that includes the build shows it. For each deploy: maintenance seconds
(the ``PATCH /apps/<app>`` on → off in the sandbox's request log), the build
(the push request to the maintenance page; heroku-tools' page must come up
only after it), the window's overhead over release + migrations (heroku-tools:
the page on → ``waiting for the new release`` plus migrate's end → page off),
and the total. Goals (issue 11), printed beside the figures and never
asserted: 0 s of maintenance where the decision table says none (1 and 2);
the push window excludes the build; the incompatible window no longer than
release + migrations; maintenance seconds over the mix ≤ 25% of the
original flow's.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

from bench_deploy import ORIGINAL_PROMPTS, Bench, interactive, maintenance_window, original_argv  # noqa: E402

SLOW_BUILD = """
# Builds take at least 5 s (collectstatic runs in the build with SOURCE_VERSION set).
if os.environ.get("SOURCE_VERSION"):
    import time as _time

    _time.sleep(5)
"""
MIGRATING = "web: python manage.py runserver 0.0.0.0:$PORT\nrelease: python manage.py migrate --noinput\n"
CHECKING = "web: python manage.py runserver 0.0.0.0:$PORT\nrelease: python manage.py check --deploy --fail-level ERROR\n"
WIDGET = """from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("customers", "0001_initial")]
    operations = [
        migrations.CreateModel(name="Widget", fields=[
            ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False)),
            ("legacy", models.TextField(null=True)),
        ]),
    ]
"""
SCENARIOS = ("no migration", "additive, release phase migrates", "additive, no release phase, preboot off",
             "RemoveField")
PROMPT_GOAL_SHARE = 0.25


def migration(number: int, operations: str) -> str:
    return ("from django.db import migrations, models\n\n\n"
            "class Migration(migrations.Migration):\n"
            f"    dependencies = [(\"customers\", \"{number - 1:04d}_{_NAMES[number - 1]}\")]\n"
            f"    operations = [\n{operations}    ]\n")


_NAMES = {2: "widget", 3: "part", 4: "piece", 5: "drop_legacy"}


def create_model(number: int, model: str) -> dict[str, str]:
    return {f"customers/migrations/{number:04d}_{_NAMES[number]}.py": migration(number, (
        f"        migrations.CreateModel(name=\"{model}\", fields=[\n"
        "            (\"id\", models.BigAutoField(auto_created=True, primary_key=True, serialize=False)),\n"
        "        ]),\n"))}


CHANGES = [
    ("Docs only", {"docs/mix.md": "A change without a migration.\n"}),
    ("Parts, migrated by the release phase", {"Procfile": MIGRATING, **create_model(3, "Part")}),
    ("Pieces, migrated after the release", {"Procfile": CHECKING, **create_model(4, "Piece")}),
    ("Drop widget.legacy", {f"customers/migrations/0005_{_NAMES[5]}.py": migration(
        5, "        migrations.RemoveField(model_name=\"widget\", name=\"legacy\"),\n")}),
]


def prepare(project) -> None:
    """dev runs the first commit plus the Widget model, migrated; builds are slow from now on."""
    settings = (project.path / "sampleapp" / "settings.py").read_text()
    project.git("checkout", "-q", "dev")
    project.commit("Widgets; slow builds", {"customers/migrations/0002_widget.py": WIDGET,
                                            "sampleapp/settings.py": settings + SLOW_BUILD, "Procfile": CHECKING})
    project.git("push", "-q", "origin", "dev")
    project.tools("deploy", "dev", "--confirm", project.apps["dev"], "--no-note", check=True)


def timeline(lines, prefix):
    return next((t for t, text in lines if t is not None and text.strip().startswith(prefix)), None)


def deploy_ht(bench, project) -> dict:
    mark = bench.mark()
    argv = [str(Path(sys.executable).parent / "heroku-tools"), "deploy", "dev", "--confirm", project.apps["dev"],
            "--note", "Bench mix"]
    wall0, _, lines, status = interactive(argv, cwd=project.path, env=bench.env, prompts=[], answer=None)
    return _measured(bench, project, mark, wall0, lines, status, argv, release_wait="==> waiting for the new release",
                     off="==> maintenance off")


def deploy_original(bench, project, steps) -> dict:
    mark = bench.mark()
    argv = original_argv("dev", steps)
    wall0, _, lines, status = interactive(argv, cwd=project.path, env=bench.env, prompts=ORIGINAL_PROMPTS,
                                          answer=lambda i, m: m.group(1) if i == 2 else "")
    return _measured(bench, project, mark, wall0, lines, status, argv, release_wait=None, off=None)


def _measured(bench, project, mark, wall0, lines, status, argv, *, release_wait, off) -> dict:
    if status != 0:
        print("\n".join(text for _, text in lines))
        raise SystemExit(f"{' '.join(argv)} exited {status}")
    _, requests = bench.since(mark)
    app = project.apps["dev"]
    on, off_patch = maintenance_window(requests, app)
    push = next((r["time"] for r in requests if r["method"] == "POST" and r["path"] == f"/{app}.git/git-receive-pack"),
                None)
    ended = max((t for t, _ in lines if t is not None), default=wall0)
    result = {
        "maintenance_s": round(off_patch - on, 3) if on and off_patch else 0.0,
        "push_to_page_s": round(on - push, 3) if on and push else None,
        "total_s": round(ended - wall0, 3),
    }
    if release_wait and on and off_patch:
        waited, stepped_off = timeline(lines, release_wait), timeline(lines, off)
        if waited and stepped_off:
            result["release_and_migrate_s"] = round(stepped_off - waited, 3)
            result["overhead_s"] = round(result["maintenance_s"] - result["release_and_migrate_s"], 3)
    return result


def run(base: Path) -> dict:
    from _support.project import Project

    bench = Bench(base, 1)
    try:
        print(f"sandbox on {bench.sandbox.base_url}; two identical projects…", flush=True)
        ht = Project(base / "ht", bench.env, "mht").create_repo().create_apps(labels=("dev",), pipeline=False)
        orig = Project(base / "orig", bench.env, "mor").create_repo().create_apps(labels=("dev",), pipeline=False)
        for project in (ht, orig):
            prepare(project)
        results = []
        for scenario, (message, files) in zip(SCENARIOS, CHANGES, strict=True):
            for project in (ht, orig):
                project.git("checkout", "-q", "dev")
                project.commit(message, files)
                project.git("push", "-q", "origin", "dev")
            print(f"{scenario}: heroku-tools…", flush=True)
            measured_ht = deploy_ht(bench, ht)
            steps = ["migrate"] if any("/migrations/" in path for path in files) else []
            print(f"{scenario}: original flow…", flush=True)
            results.append({"scenario": scenario, "heroku_tools": measured_ht,
                            "original": deploy_original(bench, orig, steps)})
        return {"scenarios": results}
    finally:
        bench.stop()


def report(results: dict) -> None:
    rows = results["scenarios"]
    print()
    print(f"{'scenario':<42} {'tool':<13} {'maintenance':>12} {'push→page':>10} {'overhead':>9} {'total':>8}")
    for row in rows:
        for tool in ("heroku_tools", "original"):
            m = row[tool]
            print(f"{row['scenario']:<42} {tool.replace('_', '-'):<13} {m['maintenance_s']:>10.2f} s "
                  f"{_s(m.get('push_to_page_s')):>10} {_s(m.get('overhead_s')):>9} {m['total_s']:>6.1f} s")
    ht_total = sum(row["heroku_tools"]["maintenance_s"] for row in rows)
    orig_total = sum(row["original"]["maintenance_s"] for row in rows)
    share = ht_total / orig_total if orig_total else 0.0
    print()
    no_downtime = [row["heroku_tools"]["maintenance_s"] for row in rows[:2]]
    print(f"goal: 0 s where the table says none (1, 2): {no_downtime} — {_met(max(no_downtime) == 0)}")
    after_build = [row["heroku_tools"].get("push_to_page_s") for row in rows[2:]]
    print(f"goal: the push window excludes the ≥5 s build: page up {after_build} s after the push began — "
          f"{_met(all(value is not None and value >= 5 for value in after_build))}")
    overhead = rows[3]["heroku_tools"].get("overhead_s")
    print(f"goal: incompatible window ≤ release + migrations: overhead {_s(overhead)} — "
          f"{_met(overhead is not None and overhead <= 0.5)} (≤ 0.5 s: the API switch itself)")
    print(f"goal: maintenance over the mix ≤ {PROMPT_GOAL_SHARE:.0%} of the original's: {ht_total:.2f} s vs "
          f"{orig_total:.2f} s = {share:.0%} — {_met(share <= PROMPT_GOAL_SHARE)}")


def _s(value) -> str:
    return "—" if value is None else f"{value:.2f} s"


def _met(ok: bool) -> str:
    return "met" if ok else "MISSED"


def carried_out(args, prefix: str, run, report) -> int:
    """``run(base)`` in a working directory (``--keep DIR``, else a temporary one removed after), then
    ``report`` its figures, print them as JSON and write them to ``--output``: each scenario bench's main."""
    base = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix=prefix))
    base.mkdir(parents=True, exist_ok=True)
    try:
        results = run(base)
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
    report(results)
    print(json.dumps(results))
    if args.output:
        Path(args.output).write_text(json.dumps(results, indent=2))
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", help="keep the working directory here")
    parser.add_argument("--output", help="also write the figures as JSON to this file")
    return carried_out(parser.parse_args(argv), "bench-mix-", run, report)


if __name__ == "__main__":
    sys.exit(main())
