"""Benchmark: a deploy with migrations, heroku-tools vs the original tool's sequential flow.

    .venv/bin/python bench/bench_deploy.py [--runs 5] [--keep DIR] [--output FILE]

Everything runs against a sandbox (a local Heroku) with the real heroku CLI,
in a throwaway directory. Two identical projects are built
(``tests/_support/project.py``: the sample Django app, a bare origin, dev/uat/live apps
with Postgres, live deployed by pipeline promotion from uat) and brought to
the same state: every app runs the first commit, migrated. Then the same
change lands in both (a new migration and an edited static file) and is
deployed twice:

* **dev**, by git push: migrations + collectstatic;
* **live**, by pipeline promotion from uat (uat deployed first, unmeasured):
  migrations (a promotion copies a slug whose static files are collected).

Project A is deployed with ``heroku-tools deploy ENV --note TEXT`` under a pty
(pexpect; the note is given so no editor opens): the code is typed when
``Type NNNNNN`` appears. Project B is deployed by the
original tool's flow, modelled in this file (``--original-flow``, see
:func:`original_flow`) and run the same way. For each:

* seconds from process start to the (first) prompt: the median of the real
  deploy and ``--runs`` runs that stop at the prompt (a wrong code), with the
  token in ``HEROKU_API_KEY`` and, for heroku-tools, with a ``~/.netrc`` login
  instead (a developer's terminal: one ``heroku auth:token`` call), each round
  interleaved with one baseline CLI call so a busy machine favours neither;
* heroku CLI processes started: a shim named ``heroku`` first on ``PATH``
  logs each start, then execs the real CLI (git's credential helper, itself
  ``heroku git:credentials``, is counted and shown apart);
* one-off dynos started: ``POST /apps/<app>/dynos`` in the sandbox's request log;
* the maintenance window: from the ``PATCH /apps/<app>`` turning maintenance
  on to the one turning it off (request log), and what it spans;
* total wall time.

The baseline is one heroku CLI call (``heroku releases --json -a APP``,
median of ``--runs``) in the same run: the prompt goal is 1.5× that. The
window goal is promotion (or push) plus migrations: the promotion call, plus
``heroku run`` from its start to the end of the migrate command.

The table goes to stdout, then the figures as JSON (last line); ``--output
FILE`` also writes them, with both flows' transcripts. The goals are printed,
never asserted: the exit status is 0 whenever both flows ran.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

PROMPT_GOAL = 1.5
MARKER = re.compile(r"heroku-tools step (\d+)/(\d+): (\S+)")
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


# =============================================================================
# The original tool's flow (yunojuno heroku-tools 0.3.3, `deploy_application`)
# =============================================================================
#
# Run as `bench_deploy.py --original-flow LABEL --steps migrate,collectstatic`
# in the project directory. Pre-prompt work, as the original's code did it,
# sequentially: read the latest Deploy/Promote release among the last 10 with
# a plain HTTP GET (requests, token from the environment: no CLI call); read the
# config vars (is DISABLE_COLLECTSTATIC set?); for a pipeline environment read
# the upstream app's releases too (its deployed commit is what ships), else
# `git rev-parse BRANCH`; `git diff --name-only` and `git log --oneline
# --no-merges` between the two. Then its prompts: "run migrations?" (default:
# a changed path contains /migrations/), "maintenance page?", and the PIN.
# After it: `heroku maintenance:on`, `heroku pipelines:promote -a UPSTREAM` or
# `git push URL BRANCH:master`, one `heroku run` per post-deploy command,
# exit status ignored (heroku CLI 11 rejects the original's
# `heroku run CMD --app A` when CMD has flags, so `heroku run -a A -- CMD`,
# still without `-x`), `heroku maintenance:off`, a release read, `git tag -a
# VERSION`. The post-deploy commands are the ones heroku-tools chose for the
# same change, so both flows do the same work.


def _echo(text: str = "") -> None:
    print(text, flush=True)


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], check=True, capture_output=True, text=True).stdout


def _prompt(question: str, default: bool) -> bool:
    answer = input(question + (" [Y/n]: " if default else " [y/N]: "))
    return answer == "" or answer.lower().startswith("y") if default else answer.lower().startswith("y")


def _heroku(*args: str) -> None:
    # sarge.run(..., async=True), output echoed line by line, status checked
    # only for the command itself (``heroku run`` without -x exits 0 anyway)
    process = subprocess.Popen(["heroku", *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for line in process.stdout:
        _echo(line.rstrip())
    if process.wait():
        raise SystemExit(f"Error running Heroku command 'heroku {' '.join(args)}'")


def _commit_of(release: dict) -> str:
    words = release["description"].split(" ")
    return words[3] if words[0] == "Promote" else words[1]


class OriginalFlow:
    """One run of the original's ``deploy_application`` for the environment ``label``, step by step."""

    def __init__(self, label: str, steps: list[str]):
        import requests  # the bench's own dependency, as the original's; only this mode needs it
        import yaml

        settings = yaml.safe_load(Path("heroku-tools.yml").read_text())
        envs = settings["environments"]
        env = next(e for e in envs if e["label"] == label)
        self.label, self.steps = label, steps
        self.app, self.branch, self.pipeline = env["app_name"], env.get("branch") or "master", bool(env.get("pipeline"))
        self.upstream = envs[envs.index(env) + 1]["app_name"] if self.pipeline else None
        self.commands = {"migrate": "python manage.py migrate", "collectstatic": "python manage.py collectstatic --noinput",
                         **settings.get("commands", {})}
        self.api = os.environ["HEROKU_HOST"].rstrip("/")
        self.requests = requests
        self.auth = requests.auth.HTTPBasicAuth("", os.environ["HEROKU_API_KEY"])
        self.verify = os.environ.get("NODE_EXTRA_CA_CERTS") or True

    def call_api(self, path: str, range_header: str | None = None):
        headers = {"Accept": "application/vnd.heroku+json; version=3"}
        if range_header:
            headers["Range"] = range_header
        response = self.requests.get(self.api + path, auth=self.auth, headers=headers, verify=self.verify)
        response.raise_for_status()
        return response.json()

    def latest_deployment(self, name: str) -> dict:
        for release in self.call_api(f"/apps/{name}/releases", "version;max=10,order=desc"):
            if release["description"].split(" ")[0] in ("Promote", "Deploy"):
                return release
            _echo(f"Ignoring release: {release['description']}")
        raise SystemExit("No deployments found in API response.")

    # -- before the prompts ----------------------------------------------------------------
    def report_changes(self, remote_hash: str, local_hash: str) -> list[str]:
        """The files and commits about to ship, printed; returns the files."""
        files = sorted(f for f in _git("diff", "--name-only", f"{remote_hash}..{local_hash}").split("\n") if f)
        log = _git("log", "--oneline", "--no-merges", f"{remote_hash}..{local_hash}")
        commits = [c for c in log.strip().split("\n") if c]
        _echo(f"\nComparing {remote_hash}..{local_hash}\n")
        _echo("The following files have changed since the last deployment:\n")
        _echo("".join(f"  * {f}\n" for f in files) or "  (no change)")
        _echo("The following commits will be included in this deployment:\n")
        _echo("".join(f"  [{c[:7]}] {c[8:]}\n" for c in commits) or "  (no change)")
        return files

    def report_options(self, collectstatic_enabled: bool) -> None:
        _echo("\nSummary of deployment options:\n")
        _echo(f"  Git branch:    {self.branch}\n  Target env:    {self.label} ({self.app})")
        _echo(f"  Pipeline:      True\n  Promote:       {self.upstream}" if self.pipeline else
              f"  Run buildpack: True\n  Collectstatic: {collectstatic_enabled}")
        _echo("\n  ----- Post-deployment commands ------\n")
        for step in self.steps:
            _echo(f"  {step}: {self.commands[step]}")

    # -- after the PIN ---------------------------------------------------------------------
    def ship(self) -> None:
        if self.pipeline:
            _echo(f"Promoting upstream app: {self.upstream}")
            _heroku("pipelines:promote", "--app", self.upstream)
        else:
            _echo("Pushing to git remote")
            git_url = f"{self.api}/{self.app}.git"  # the original: git@heroku.com:APP.git, built locally too
            subprocess.run(["git", "push", git_url, f"{self.branch}:master"], check=True)

    def carry_out(self, maintenance: bool, local_hash: str) -> None:
        if maintenance:
            _echo("Putting up maintenance page")
            _heroku("maintenance:on", "--app", self.app)
        self.ship()
        for step in self.steps:
            _echo(f"Running {step} command")
            _heroku("run", "-a", self.app, "--", self.commands[step])
        if maintenance:
            _echo("Pulling down maintenance page")
            _heroku("maintenance:off", "--app", self.app)
        release = self.latest_deployment(self.app)
        _echo("Applying git tag")
        tagged = subprocess.run(["git", "tag", "-a", str(release["version"]), "-m",
                                 f"Deployed to {self.app} by {release['user']['email']}", local_hash],
                                capture_output=True, text=True)
        if tagged.returncode:
            _echo(f"(tag {release['version']} not applied: {tagged.stderr.strip()})")
        _echo(f"Release {release['version']} [{_commit_of(release)}] of {self.app}")

    def run(self) -> int:
        import random  # the original's PIN

        release = self.latest_deployment(self.app)
        collectstatic_enabled = "DISABLE_COLLECTSTATIC" not in self.call_api(f"/apps/{self.app}/config-vars")
        remote_hash = _commit_of(release)
        local_hash = _commit_of(self.latest_deployment(self.upstream)) if self.pipeline else _git("rev-parse", self.branch)[:7]
        if local_hash == remote_hash:
            _echo("Heroku application is up-to-date, aborting deployment.")
            return 0
        files = self.report_changes(remote_hash, local_hash)
        run_migrate = _prompt("Do you want to run migrations?", "/migrations/" in "".join(files))
        self.report_options(collectstatic_enabled)
        maintenance = _prompt("Do you want to put up the maintenance page?", run_migrate)
        pin = f"{random.randint(0, 999999):06d}"
        if input(f"Type in the code shown to continue [{pin}]: ") != pin:
            _echo("PIN incorrect.")
            return 0
        self.carry_out(maintenance, local_hash)
        return 0


def original_flow(label: str, steps: list[str]) -> int:
    return OriginalFlow(label, steps).run()


# =============================================================================
# The bench
# =============================================================================


def median(values):
    return statistics.median(values) if values else None


class Bench:
    def __init__(self, base: Path, runs: int, *, formation: bool = False, time_scale: float = 1.0):
        from heroku_tools.sandbox import Sandbox, find_pinned_heroku

        self.base = base
        self.runs = runs
        real = find_pinned_heroku()
        if not real or not real.exists():
            raise SystemExit("the pinned heroku CLI is not installed: run `npm ci` in the repository root")
        self.real_heroku = real
        self.sandbox = Sandbox(base / "sandbox", heroku_bin=real, formation=formation, time_scale=time_scale).start()
        self.home = base / "home"
        self.home.mkdir()
        (self.home / ".gitconfig").write_text(
            "[user]\n\tname = Bench Deployer\n\temail = bench@example.com\n[init]\n\tdefaultBranch = main\n"
        )
        self.shim_dir = base / "shim"
        self.shim_dir.mkdir()
        self.shim_log = base / "heroku-starts.log"
        shim = self.shim_dir / "heroku"
        shim.write_text(
            "#!/bin/sh\n"
            'printf \'%s\\t%s\\n\' "$(date +%s.%N)" "$*" >> "${HEROKU_SHIM_LOG:-/dev/null}"\n'
            f'exec "{real}" "$@"\n'
        )
        shim.chmod(0o755)
        env = self.sandbox.cli_env(self.home)
        env["PATH"] = f"{self.shim_dir}{os.pathsep}{env['PATH']}"
        env["HEROKU_SHIM_LOG"] = str(self.shim_log)
        env.pop("NO_COLOR", None)
        env["GIT_EDITOR"] = "false"  # an editor opened by mistake fails at once instead of waiting
        self.env = env
        # A developer's terminal: logged in with ~/.netrc, no HEROKU_API_KEY.
        self.netrc_home = base / "netrc-home"
        shutil.copytree(self.home, self.netrc_home)
        host = f"127.0.0.1:{self.sandbox.port}"
        (self.netrc_home / ".netrc").write_text(
            f"machine {host}\n  login bench@example.com\n  password {self.sandbox.api_key}\n"
        )
        (self.netrc_home / ".netrc").chmod(0o600)
        self.netrc_env = {**env, "HOME": str(self.netrc_home), "HEROKU_NETRC_WRITE": "true"}
        self.netrc_env.pop("HEROKU_API_KEY")

    def stop(self):
        self.sandbox.stop()

    # -- counting --------------------------------------------------------------
    def starts(self) -> list[tuple[float, str]]:
        if not self.shim_log.exists():
            return []
        rows = []
        for line in self.shim_log.read_text().splitlines():
            stamp, _, argv = line.partition("\t")
            rows.append((float(stamp), argv))
        return rows

    def mark(self):
        """(shim log rows, sandbox requests) so far: what a measurement starts after."""
        return len(self.starts()), len(self.sandbox.requests())

    def since(self, mark):
        return self.starts()[mark[0]:], self.sandbox.requests()[mark[1]:]

    # -- baseline --------------------------------------------------------------
    def one_cli_call(self, app: str, cwd: Path, count: int) -> list[float]:
        """Seconds for ``heroku releases --json -a APP`` (the real CLI, not the shim)."""
        times = []
        for _ in range(count):
            started = time.perf_counter()
            subprocess.run([str(self.real_heroku), "releases", "--json", "-a", app], cwd=cwd, env=self.env,
                           stdin=subprocess.DEVNULL, capture_output=True, check=True)
            times.append(time.perf_counter() - started)
        return times


def interactive(argv, *, cwd, env, prompts, answer, timeout=600):
    """Run ``argv`` under a pty; answer each prompt; timestamp every output line.

    ``prompts`` is a list of regexes, in order; ``answer(index, match)`` returns the
    text to type (None: stop there with Ctrl-D and let the process end).
    Returns (start wall time, [(seconds since start, prompt index)], [(wall, line)], exit status).
    """
    import pexpect

    wall0 = time.time()
    started = time.perf_counter()
    child = pexpect.spawn(argv[0], argv[1:], cwd=str(cwd), env=env, encoding="utf-8", timeout=timeout,
                          dimensions=(50, 200))
    seen, lines = [], []
    buffer = ""
    stopped = False
    for index, pattern in enumerate(prompts):
        child.expect(pattern)
        elapsed = time.perf_counter() - started
        seen.append((elapsed, index))
        buffer += child.before + child.after
        text = answer(index, child.match)
        if text is None:
            child.sendeof()
            stopped = True
            break
        child.sendline(text)
    for line in buffer.splitlines():
        lines.append((None, ANSI.sub("", line).rstrip("\r")))
    if not stopped:
        while True:
            try:
                line = child.readline()
            except pexpect.TIMEOUT:
                break
            if not line:
                break
            lines.append((time.time(), ANSI.sub("", line).rstrip("\r\n")))
    child.expect(pexpect.EOF)
    child.close()
    return wall0, seen, lines, child.exitstatus if child.exitstatus is not None else -(child.signalstatus or 0)


HT_PROMPT = [r"Type (\d{6}) to "]
ORIGINAL_PROMPTS = [r"Do you want to run migrations\? \[[yYnN]/[yYnN]\]: ",
                    r"Do you want to put up the maintenance page\? \[[yYnN]/[yYnN]\]: ",
                    r"Type in the code shown to continue \[(\d{6})\]: "]


def maintenance_window(requests, app):
    """Server times of the PATCHes turning maintenance on and off."""
    def patch(value):
        return next((r["time"] for r in requests if r["method"] == "PATCH" and r["path"] == f"/apps/{app}"
                     and isinstance(r.get("body"), dict) and r["body"].get("maintenance") is value), None)
    return patch(True), patch(False)


def dynos(requests, app):
    return [r for r in requests if r["method"] == "POST" and r["path"] == f"/apps/{app}/dynos"]


def summarise_starts(rows):
    credential = [argv for _, argv in rows if argv.startswith("git:credentials")]
    commands = [argv for _, argv in rows if not argv.startswith("git:credentials")]
    return {"total": len(rows), "commands": commands, "credential_helper": len(credential)}


def _diff(a, b):
    return round(b - a, 3) if a is not None and b is not None else None


def segments(lines, requests, app, *, move, check, run, step_line, off):
    """Where the maintenance window went, in the same terms for both flows.

    ``move``/``check``/``run``/``off`` are the prefixes of the lines each flow prints
    when it starts the promotion or push, the check that the release is live
    (heroku-tools only), the dyno(s) and maintenance off; ``step_line(text)``
    names the step a line starts, if any.
    """
    events = [(t, text.strip()) for t, text in lines if t is not None]

    def at(prefixes, after=0.0):
        return next((t for t, text in events if text.startswith(prefixes) and t >= after), None)

    t_move, t_run, t_off = at(move), at(run), at(off)
    t_check = at(check) if check else None
    steps = [(t, step_line(text)) for t, text in events if step_line(text)]
    t_migrate = next((t for t, name in steps if name == "migrate"), None)
    t_after = next((t for t, name in steps if t_migrate is not None and t > t_migrate), None)
    on, off_patch = maintenance_window(requests, app)
    result = {
        "maintenance_on_to_move_s": _diff(on, t_move),
        "promotion_or_push_s": _diff(t_move, t_check or t_run),
        "release_check_s": _diff(t_check, t_run) if t_check else 0.0,
        # from starting `heroku run` (the first one, in the original flow) to the end of migrate
        "run_to_migrations_end_s": _diff(t_run, t_after or t_off),
        "migrate_command_s": _diff(t_migrate, t_after or t_off),
        "later_steps_s": _diff(t_after, t_off) if t_after else 0.0,
        "maintenance_off_startup_s": _diff(t_off, off_patch),
    }
    return result


def ht_step(text):
    match = MARKER.search(text)
    return match.group(3) if match else None


def original_step(text):
    match = re.match(r"Running (\S+) command$", text)
    return match.group(1) if match else None


# -- the scenario -------------------------------------------------------------------


def prepare(project):
    """Every app runs the first commit, migrated (deployed by heroku-tools, unmeasured)."""
    for label in ("dev", "uat", "live"):
        project.tools("deploy", label, "--confirm", project.apps[label], check=True)


def change(project, number, model):
    """The change to ship: a migration and a static file, on dev, pushed to origin."""
    from _support.project import new_model_migration

    project.git("checkout", "-q", "dev")
    css = (project.path / "static" / "css" / "site.css").read_text()
    project.commit(f"Add {model}, restyle", {
        **new_model_migration(number, "0001_initial", model),
        "static/css/site.css": css + f"\n/* {model} */\n.{model.lower()} {{ color: #333; }}\n",
    })
    project.git("push", "-q", "origin", "dev")


def merge_to_master(project):
    project.git("checkout", "-q", "master")
    project.git("merge", "-q", "--ff-only", "dev")
    project.git("push", "-q", "origin", "master")


def ht_argv(label):
    # The note is given, so the report is followed by the prompt, not by an editor.
    return [str(Path(sys.executable).parent / "heroku-tools"), "deploy", label, "--note", "Bench: Coupon, restyle"]


def original_argv(label, steps):
    return [sys.executable, str(Path(__file__).resolve()), "--original-flow", label, "--steps", ",".join(steps)]


def prompt_series(bench, ht, orig, label, steps):
    """Seconds to the prompt, ``--runs`` times, interleaved with the baseline CLI call.

    Each round runs one ``heroku releases --json``, heroku-tools with the token in
    ``HEROKU_API_KEY``, heroku-tools logged in with ``~/.netrc``, and the original
    flow; each stops at its prompt (a wrong code, or end of input), so nothing
    changes. Interleaving keeps a busy machine from favouring one of them.
    """
    series = {"cli_call": [], "ht_key": [], "ht_netrc": [], "original": [], "ht_netrc_cli_starts": []}
    for _ in range(bench.runs):
        series["cli_call"] += bench.one_cli_call(ht.apps[label], ht.path, 1)
        _, seen, _, _ = interactive(ht_argv(label), cwd=ht.path, env=bench.env, prompts=HT_PROMPT,
                                    answer=lambda i, m: "wrong")
        series["ht_key"].append(seen[0][0])
        mark = bench.mark()
        _, seen, _, _ = interactive(ht_argv(label), cwd=ht.path, env=bench.netrc_env, prompts=HT_PROMPT,
                                    answer=lambda i, m: "wrong")
        series["ht_netrc"].append(seen[0][0])
        series["ht_netrc_cli_starts"].append(len(bench.since(mark)[0]))
        _, seen, _, _ = interactive(original_argv(label, steps), cwd=orig.path, env=bench.env,
                                    prompts=ORIGINAL_PROMPTS[:1], answer=lambda i, m: None)
        series["original"].append(seen[0][0])
    return {name: [round(x, 3) for x in values] for name, values in series.items()}


def measure(bench, project, label, argv, prompts, answer, *, move, check, run, step_line, off):
    """One real deploy under a pty: prompt time, CLI starts, dynos, maintenance window, total."""
    mark = bench.mark()
    started = time.perf_counter()
    wall0, seen, lines, status = interactive(argv, cwd=project.path, env=bench.env, prompts=prompts, answer=answer)
    total = time.perf_counter() - started
    if status != 0:
        print("\n".join(text for _, text in lines))
        raise SystemExit(f"{' '.join(argv)} exited {status}")
    starts, requests = bench.since(mark)
    app = project.apps[label]
    on, off_patch = maintenance_window(requests, app)
    return {
        "prompt_s": round(seen[0][0], 3),
        "cli_before_prompt": [argv for t, argv in starts if t < wall0 + seen[0][0]],
        "cli": summarise_starts(starts),
        "dynos": len(dynos(requests, app)),
        "maintenance_s": _diff(on, off_patch),
        "segments": segments(lines, requests, app, move=move, check=check, run=run, step_line=step_line, off=off),
        "total_s": round(total, 3),
        "output": [text for _, text in lines],
    }


def measure_ht(bench, project, label):
    return measure(bench, project, label, ht_argv(label), HT_PROMPT, lambda i, m: m.group(1),
                   move=("==> promoting", "==> pushing"), check="==> waiting for the new release",
                   run="==> running", step_line=ht_step, off="==> maintenance off")


def measure_original(bench, project, label, steps):
    return measure(bench, project, label, original_argv(label, steps), ORIGINAL_PROMPTS,
                   lambda i, m: m.group(1) if i == 2 else "",
                   move=("Promoting upstream app", "Pushing to git remote"), check=None,
                   run="Running ", step_line=original_step, off="Pulling down maintenance page")


def steps_of(result):
    """The post-push commands heroku-tools ran (from its step markers)."""
    return [name for name in map(ht_step, result["output"]) if name]


def run(base: Path, runs: int) -> dict:
    from _support.project import Project

    bench = Bench(base, runs)
    try:
        print(f"sandbox on {bench.sandbox.base_url}; setting up two identical projects…", flush=True)
        ht = Project(base / "ht", bench.env, "bht").create_repo().create_apps()
        orig = Project(base / "orig", bench.env, "bor").create_repo().create_apps()
        for project in (ht, orig):
            prepare(project)
            change(project, 2, "Coupon")
        results = {"runs": runs}
        # What heroku-tools will run, so the original flow runs the same commands.
        planned = {"dev": ["migrate", "collectstatic"], "live": ["migrate"]}
        for label, title in (("dev", "dev (git push, migrations + collectstatic)"),
                             ("live", "live (promotion from uat, migrations)")):
            if label == "live":
                print("deploying uat (unmeasured)…", flush=True)
                for project in (ht, orig):
                    merge_to_master(project)
                    project.tools("deploy", "uat", "--confirm", project.apps["uat"], check=True)
            print(f"{title}: prompt times ×{runs}…", flush=True)
            series = prompt_series(bench, ht, orig, label, planned[label])
            print(f"{title}: heroku-tools deploy…", flush=True)
            measured_ht = measure_ht(bench, ht, label)
            steps = steps_of(measured_ht)
            print(f"{title}: original flow ({', '.join(steps)})…", flush=True)
            measured_orig = measure_original(bench, orig, label, steps)
            results[label] = {"steps": steps, "prompts": series, "heroku_tools": measured_ht,
                              "original": measured_orig}
        return results
    finally:
        bench.stop()


# -- the report ------------------------------------------------------------------


def fmt(value):
    return "—" if value is None else f"{value:.2f} s"


def report(results: dict) -> None:
    for label in ("dev", "live"):
        figures = results[label]
        series, ht, orig = figures["prompts"], figures["heroku_tools"], figures["original"]
        cli = median(series["cli_call"])
        goal_prompt = PROMPT_GOAL * cli
        prompt_key = median([*series["ht_key"], ht["prompt_s"]])
        prompt_netrc = median(series["ht_netrc"])
        prompt_orig = median([*series["original"], orig["prompt_s"]])
        seg_ht, seg_or = ht["segments"], orig["segments"]
        window_goal = (seg_ht["promotion_or_push_s"] or 0) + (seg_ht["run_to_migrations_end_s"] or 0)
        window_goal_or = (seg_or["promotion_or_push_s"] or 0) + (seg_or["run_to_migrations_end_s"] or 0)
        how = "git push" if label == "dev" else "promotion from uat"
        print()
        print(f"{label}: {how}, post-push commands {' + '.join(figures['steps'])}; baseline: one heroku CLI "
              f"call (`heroku releases --json`), median of {len(series['cli_call'])} = {cli:.2f} s")

        def cli_count(flow):
            return f"{flow['cli']['total'] - flow['cli']['credential_helper']} (+{flow['cli']['credential_helper']})"

        rows = [
            ("seconds to the prompt, HEROKU_API_KEY (median)", fmt(prompt_key), fmt(prompt_orig),
             f"≤ {goal_prompt:.2f} s (1.5× CLI call)", _met(prompt_key <= goal_prompt)),
            ("seconds to the prompt, ~/.netrc login (median)", fmt(prompt_netrc), "— (key only)",
             f"≤ {goal_prompt:.2f} s (1.5× CLI call)", _met(prompt_netrc <= goal_prompt)),
            ("  as a multiple of one CLI call (key / netrc)",
             f"{prompt_key / cli:.2f}× / {prompt_netrc / cli:.2f}×", f"{prompt_orig / cli:.2f}×", "≤ 1.5×", ""),
            ("heroku CLI processes started (+ git credential helper)", cli_count(ht), cli_count(orig), "", ""),
            ("  of which before the prompt (key / netrc)",
             f"{len(ht['cli_before_prompt'])} / {max(series['ht_netrc_cli_starts'])}",
             str(len(orig["cli_before_prompt"])), "", ""),
            ("one-off dynos started", str(ht["dynos"]), str(orig["dynos"]), "1", _met(ht["dynos"] == 1)),
            ("maintenance window", fmt(ht["maintenance_s"]), fmt(orig["maintenance_s"]),
             f"≤ {window_goal:.2f} s (promotion + migrations)",
             _met(ht["maintenance_s"] is not None and ht["maintenance_s"] <= window_goal)),
            ("  promotion or push", fmt(seg_ht["promotion_or_push_s"]), fmt(seg_or["promotion_or_push_s"]), "", ""),
            ("  check that the new release is live", fmt(seg_ht["release_check_s"]), "— (none)", "", ""),
            ("  heroku run … end of migrations", fmt(seg_ht["run_to_migrations_end_s"]),
             fmt(seg_or["run_to_migrations_end_s"]), "", ""),
            ("    of which the migrate command", fmt(seg_ht["migrate_command_s"]), "—", "", ""),
            ("  later steps, maintenance still on", fmt(seg_ht["later_steps_s"]), fmt(seg_or["later_steps_s"]), "", ""),
            ("  maintenance:off start-up (call → PATCH)", fmt(seg_ht["maintenance_off_startup_s"]),
             fmt(seg_or["maintenance_off_startup_s"]), "", ""),
            ("  window − (promotion + migrations)", fmt(round(ht["maintenance_s"] - window_goal, 3)),
             fmt(round(orig["maintenance_s"] - window_goal_or, 3)), "≤ 0", ""),
            ("total wall time (process start → exit)", fmt(ht["total_s"]), fmt(orig["total_s"]), "", ""),
        ]
        _table(["metric", "heroku-tools", "original flow", "goal", "met?"], rows)
    print()
    print("Original flow: yunojuno heroku-tools 0.3.3's deploy, modelled in this file. Before its first prompt: "
          "sequential HTTP GETs (releases; config-vars; the upstream's releases for a promotion) with the token "
          "from the environment, and git rev-parse/diff/log; no heroku CLI call, no fetch, no clean-tree check. "
          "After the PIN: heroku maintenance:on, git push or heroku pipelines:promote, one `heroku run` per "
          "command (no -x: exit status unchecked), heroku maintenance:off, git tag.")
    print("Promotion + migrations = the promotion or push, plus `heroku run` from its start to the end of the "
          "migrate command; the rest of the window is overhead.")


def _met(ok: bool) -> str:
    return "yes" if ok else "NO"


def _table(header, rows):
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = lambda cells: "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"  # noqa: E731
    print(line(header))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print(line(row))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="repeats for the medians (CLI call, prompt times)")
    parser.add_argument("--keep", metavar="DIR", help="work in DIR and keep it (default: a temporary directory)")
    parser.add_argument("--output", metavar="FILE",
                        help="also write the figures and both flows' output, as JSON, to FILE")
    parser.add_argument("--original-flow", metavar="LABEL", help=argparse.SUPPRESS)
    parser.add_argument("--steps", default="", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.original_flow:
        return original_flow(args.original_flow, [s for s in args.steps.split(",") if s])

    if args.keep:
        base = Path(args.keep).resolve()
        base.mkdir(parents=True, exist_ok=False)
        results = run(base, args.runs)
    else:
        with tempfile.TemporaryDirectory(prefix="bench-deploy-") as tmp:
            results = run(Path(tmp), args.runs)
    report(results)
    figures = json.loads(json.dumps(results))
    for label in ("dev", "live"):
        for flow in ("heroku_tools", "original"):
            figures[label][flow].pop("output")
    text = json.dumps(figures, sort_keys=True)
    if args.output:
        Path(args.output).write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    print()
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
