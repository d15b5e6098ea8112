"""What crosses the operator's machine per restore: in a one-off dyno of the target against ``--here``.

Through the sandbox and the real heroku CLI: the sample app on live and uat,
live seeded with ``--customers`` customers (and their orders) straight in SQL,
one backup of live, then ``heroku-tools backups.restore live uat`` twice from
that backup — in a dyno (the default), then ``--here``. For each: the bytes the
tool counts as having crossed this machine (its last line), and for the dyno
path what the sandbox's rendezvous relayed between the CLI and the dyno (both
ways: the engine and its parameters down, progress and the verdict up). The
sandbox's dynos are local processes, so the dyno's own download of the backup
and its load into uat's database happen here too — but not through the
operator's side (the heroku CLI and heroku-tools), which is what is counted.

Goal (issue 13): the dyno path ≤ 1% of ``--here``'s bytes for a Heroku target.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import psycopg
from bench_deploy import Bench
from _support.project import Project

GOAL_SHARE = 0.01
ENGINE = "heroku-tools-engine"
DATA = """\
data:
    rules: anonymise.yml
    secret: bench-secret-0123456789abcdef0123456789abcdef
"""
SEED = """
INSERT INTO customers_customer (first_name, last_name, email, phone, address, date_of_birth, notes, created_at)
SELECT 'First' || i, 'Last' || i, 'person' || i || '@example.com', '+44 7700 ' || lpad(i::text, 6, '0'),
       i || ' High Street, Bristol', date '1970-01-01' + (i % 15000), 'Called about order ' || i, now()
FROM generate_series(1, %(n)s) i;
INSERT INTO customers_order (customer_id, product_id, quantity, amount, placed_at)
SELECT c.id, NULL, 1 + c.id % 3, (c.id % 500) + 0.99, now() FROM customers_customer c;
"""


def measure(base: Path, customers: int = 200_000) -> dict:
    """Both restores of one backup of live into uat; the bytes each moved through this machine."""
    bench = Bench(base, 1)
    try:
        project = Project(base / "project", bench.env, "rbp").create_repo()
        project.create_apps(labels=("live", "uat"), pipeline=False)
        apps = project.apps
        urls = {label: bench.sandbox.api("GET", f"/apps/{apps[label]}/config-vars")["DATABASE_URL"]
                for label in ("live", "uat")}
        # uat runs the sample app's code: the engine runs on its slug's python
        subprocess.run(["git", "push", "-q", bench.sandbox.api("GET", f"/apps/{apps['uat']}")["git_url"],
                        "HEAD:refs/heads/master"], cwd=project.path, env=bench.env, check=True, capture_output=True)
        for url in urls.values():
            subprocess.run([sys.executable, "manage.py", "migrate", "--noinput"], cwd=project.path,
                           env={**bench.env, "DATABASE_URL": url}, check=True, capture_output=True)
        with psycopg.connect(urls["live"]) as conn:
            conn.execute(SEED.replace("%(n)s", str(int(customers))))
        settings = project.path / "heroku-tools.yml"
        settings.write_text(settings.read_text() + DATA)
        captured = project.tools("backups.capture", "live", "--json", check=True)
        backup = json.loads(captured.stdout.strip().splitlines()[-1])["backup"]
        results = {"customers": customers, "backup": backup}
        for path, extra in (("dyno", ()), ("here", ("--here",))):
            done = project.tools("backups.restore", "live", "uat", "--backup", backup, "--confirm", apps["uat"],
                                 *extra, check=True, timeout=1800)
            counted = re.search(r"\(([\d,]+) bytes\) crossed this machine", done.stderr + done.stdout)
            results[path] = {"counted_bytes": int(counted.group(1).replace(",", "")) if counted else None}
        relayed = [json.loads(line) for line in (Path(bench.sandbox.directory) / "dynos.jsonl").read_text().splitlines()
                   if ENGINE in line]
        if relayed:
            results["dyno"]["relayed_bytes"] = relayed[-1]["stdin_bytes"] + relayed[-1]["stdout_bytes"]
        return results
    finally:
        bench.stop()


def report(results: dict) -> None:
    dyno, here = results["dyno"]["counted_bytes"], results["here"]["counted_bytes"]
    print()
    print(f"bytes through the operator's side, live ({results['customers']:,} customers and their orders, backup "
          f"{results['backup']}) → uat:")
    print(f"  in a one-off dyno of uat   {dyno:>14,} bytes counted by heroku-tools; "
          f"{results['dyno'].get('relayed_bytes', 0):,} relayed by the rendezvous")
    print(f"  --here                     {here:>14,} bytes counted by heroku-tools (the backup down, the data up)")
    print("  (the dyno path's bytes are a fixed cost — the engine, ~92 kB, and a few kB of progress and verdict — "
          "while --here's grow with the data)")
    share = dyno / here if here else 0.0
    print(f"goal: the dyno path ≤ {GOAL_SHARE:.0%} of --here's bytes: {share:.2%} — "
          f"{'met' if share <= GOAL_SHARE else 'MISSED'}")
