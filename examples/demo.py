#!/usr/bin/env python
"""The heroku-tools demo: code up dev → uat → live, data down live → uat, anonymised.

Run it with ``./dev demo`` (or ``inv demo``). Everything happens against the
sandbox, a local Heroku that the real heroku CLI and git talk to, so no Heroku
account is needed and nothing leaves this machine:

1. start the sandbox under ``.heroku-tools/sandbox`` (reusing a running one);
2. create ``sampleapp-dev``, ``sampleapp-uat`` and ``sampleapp-live``, each with
   a ``heroku-postgresql`` database (apps that exist are left alone);
3. put them in the ``sampleapp`` pipeline: development, staging, production;
4. copy ``examples/sampleapp`` into a git repository (``master``, and ``dev``
   one commit ahead) with an ``origin``;
5. ``heroku-tools deploy dev``: the report, the inferred options, migrations
   and collectstatic in ONE one-off dyno, the ``dev/vN`` tag;
6. show the release and config vars, then seed and query the database in a
   one-off dyno with ``heroku run --exit-code``;
7. ``heroku-tools deploy uat`` with a release note, which becomes the tag's
   message (``git show uat/vN``);
8. ``heroku-tools deploy live``: live is ``pipeline: true``, so uat's slug is
   promoted — live then runs the very commit uat runs;
9. ``heroku-tools config.diff uat live``, values masked;
10. ``heroku-tools backups.restore live uat``: a fresh backup of live streamed
    through the deny-by-default anonymiser into uat in one transaction — the
    first customer is shown on live, then on uat;
11. a config change made with the heroku CLI directly, then
    ``heroku-tools history uat`` and ``history live``;
12. ``heroku-tools ci`` as a CI job runs it: a commit on dev, checked out as a
    detached HEAD, deployed along its route (``routes:`` in the sample's
    ``heroku-tools.yml``) with no code, no note and no prompt, under the
    environment's lock; a branch without a route deploys nothing.

Every step prints the command it runs. The heroku CLI and git run with a
demo HOME (``.heroku-tools/demo-home``), so your own ``~/.gitconfig`` and
heroku login are never touched. The sandbox keeps running afterwards: point
your shell at it with ``eval "$(heroku-tools sandbox up)"`` and explore, or pass
``--stop``.
"""
from __future__ import annotations

import argparse
import json
import os
import secrets
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLEAPP = ROOT / "examples" / "sampleapp"
WORK = ROOT / ".heroku-tools"
SANDBOX_DIR = WORK / "sandbox"
DEMO_HOME = WORK / "demo-home"
DEMO_REPO = WORK / "demo-repo"
#: The demo repository's ``origin``: release tags are pushed there, so they outlive the rebuilt repository.
DEMO_ORIGIN = WORK / "demo-origin.git"
HEROKU_TOOLS = Path(sys.executable).parent / "heroku-tools"

PIPELINE = "sampleapp"
#: (app, pipeline stage, environment label in heroku-tools.yml)
APPS = [
    ("sampleapp-dev", "development", "dev"),
    ("sampleapp-uat", "staging", "uat"),
    ("sampleapp-live", "production", "live"),
]
#: Fixed identity and dates: the demo's commits get the same shas on every run,
#: so pushing again is a no-op rather than a rejected non-fast-forward.
GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "Demo Developer",
    "GIT_AUTHOR_EMAIL": "demo@example.com",
    "GIT_COMMITTER_NAME": "Demo Developer",
    "GIT_COMMITTER_EMAIL": "demo@example.com",
}
#: Shipped on dev only, one commit ahead of master: what a feature branch adds.
DEV_ONLY = Path("customers/management/commands/customer_stats.py")

sys.path.insert(0, str(ROOT))
from heroku_tools.sandbox import Sandbox, SandboxError  # noqa: E402

USE_COLOUR = sys.stdout.isatty() and os.environ.get("NO_COLOR", "") in ("", "0")


def colour(code: str, text: str) -> str:
    return f"\033[{code}m{text}\033[0m" if USE_COLOUR else text


class StepFailed(Exception):
    pass


class Demo:
    def __init__(self, keep_going: bool = False):
        self.keep_going = keep_going
        self.results: list[tuple[str, bool, str, float]] = []
        self.sandbox: Sandbox | None = None
        self.env: dict[str, str] = {}
        self.app_info: dict[str, dict] = {}
        self._step: str | None = None

    # -- output -----------------------------------------------------------------
    def heading(self, number: int, text: str) -> None:
        self._step = f"{number}. {text}"
        print()
        print(colour("1;35", f"━━ {self._step}"), flush=True)

    def say(self, text: str) -> None:
        print(colour("2", f"   {text}"), flush=True)

    def run(
        self,
        *args: str,
        cwd: Path | None = None,
        check: bool = True,
        quiet: bool = False,
        env: dict | None = None,
    ) -> subprocess.CompletedProcess:
        """Run a command with the sandbox's environment, echoing it first.

        ``quiet`` commands (existence checks) are captured, not shown.
        """
        display = shlex.join(args)
        if not quiet:
            print(colour("1;36", f"$ {display}"), flush=True)
        started = time.monotonic()
        result = subprocess.run(
            args,
            check=False,
            cwd=cwd or DEMO_HOME,
            env={**self.env, **(env or {})},
            stdin=subprocess.DEVNULL,
            capture_output=quiet,
            text=True,
        )
        if check and result.returncode != 0:
            detail = (result.stderr or "").strip().splitlines()[-3:] if quiet else []
            raise StepFailed(f"`{display}` exited {result.returncode}" + ("".join(f"\n   {d}" for d in detail)))
        if not quiet and time.monotonic() - started > 3:
            self.say(f"({time.monotonic() - started:.1f}s)")
        return result

    def heroku_json(self, *args: str):
        """``heroku ... --json`` parsed, or None when the command fails (e.g. no such app)."""
        result = self.run("heroku", *args, quiet=True, check=False)
        if result.returncode != 0:
            return None
        return json.loads(result.stdout)

    def step(self, number: int, title: str, func) -> bool:
        self.heading(number, title)
        started = time.monotonic()
        try:
            func()
        except (StepFailed, SandboxError, OSError, ValueError) as exc:
            print(colour("1;31", f"✗ {exc}"), flush=True)
            self.results.append((title, False, str(exc).splitlines()[0], time.monotonic() - started))
            if not self.keep_going:
                raise
            return False
        self.results.append((title, True, "", time.monotonic() - started))
        return True

    # -- the steps ----------------------------------------------------------------
    def start_sandbox(self, reset: bool) -> None:
        # The formation on: web dynos serve web_url, so each deploy's health check sees the app answer.
        sandbox = Sandbox(SANDBOX_DIR, formation=True)
        if reset:
            if sandbox.stop():
                self.say("stopped the running sandbox")
            for path in (SANDBOX_DIR, DEMO_HOME, DEMO_REPO, DEMO_ORIGIN):
                shutil.rmtree(path, ignore_errors=True)
            self.say(f"wiped {SANDBOX_DIR.relative_to(ROOT)}, {DEMO_HOME.relative_to(ROOT)}")
        if sandbox.is_running():
            self.say(f"reusing the sandbox already running in {SANDBOX_DIR.relative_to(ROOT)} (pid {sandbox.pid()})")
            # builds install each app's dependencies and web dynos serve, as on Heroku
            sandbox.configure(reuse_env=False, strict=False, formation=True)
        else:
            self.say(f"starting a sandbox in {SANDBOX_DIR.relative_to(ROOT)} ...")
            sandbox.start()
        if not sandbox.heroku_bin or not Path(sandbox.heroku_bin).exists():
            raise StepFailed("the pinned heroku CLI is not installed: run `npm ci` (./dev does it for you)")
        self.sandbox = sandbox
        DEMO_HOME.mkdir(parents=True, exist_ok=True)
        gitconfig = DEMO_HOME / ".gitconfig"
        if not gitconfig.exists():
            gitconfig.write_text(
                "[user]\n\tname = Demo Developer\n\temail = demo@example.com\n"
                "[init]\n\tdefaultBranch = master\n[advice]\n\tdetachedHead = false\n"
            )
        self.env = sandbox.cli_env(
            DEMO_HOME, NO_COLOR="1", GIT_TERMINAL_PROMPT="0",
            # Keys the anonymiser's fakes; in real use it comes from the team's secret store.
            HEROKU_TOOLS_DATA_SECRET=os.environ.get("HEROKU_TOOLS_DATA_SECRET", "demo-only-secret-change-me"),
        )
        self.say(f"API and git at {sandbox.base_url}, HOME={DEMO_HOME.relative_to(ROOT)}")
        self.say("the environment that points the real heroku CLI and git at it:")
        for key in ("HEROKU_HOST", "HEROKU_DATA_HOST", "HEROKU_PARTICLEBOARD_URL", "NODE_EXTRA_CA_CERTS"):
            self.say(f"  {key}={sandbox.env[key]}")
        self.say("  HEROKU_API_KEY=… (the sandbox's token)")
        self.say("  GIT_CONFIG_*: git trusts its CA for its URL only and gets the key from `heroku git:credentials`")
        self.run("heroku", "--version")
        self.run("heroku", "auth:whoami")

    def create_apps(self) -> None:
        postgres_apps = {
            addon["app"]["name"]
            for addon in self.heroku_json("addons", "--json") or []
            if addon.get("addon_service", {}).get("name") == "heroku-postgresql"
        }
        for app, _stage, _label in APPS:
            info = self.heroku_json("apps:info", "-a", app, "--json")
            if info is not None:
                self.say(f"{app} exists: skipping apps:create")
                self.app_info[app] = info
            else:
                self.run("heroku", "apps:create", app, "--no-remote")
                # As on Heroku, settings come from config vars.
                self.run("heroku", "config:set", f"SECRET_KEY={secrets.token_urlsafe(40)}", "DEBUG=false", "-a", app)
                self.app_info[app] = {}
            if app in postgres_apps:
                self.say(f"{app} has a heroku-postgresql database: skipping addons:create")
            else:
                self.run("heroku", "addons:create", "heroku-postgresql", "-a", app)

    def create_pipeline(self) -> None:
        couplings = {app: (self.app_info.get(app) or {}).get("pipeline_coupling") for app, _, _ in APPS}
        exists = any(c and c["pipeline"]["name"] == PIPELINE for c in couplings.values())
        for app, stage, _label in APPS:
            coupling = couplings[app]
            if coupling:
                self.say(f"{app} is already in {coupling['pipeline']['name']} ({coupling['stage']}): skipping")
                continue
            if not exists and self.heroku_json("pipelines:info", PIPELINE, "--json") is None:
                self.run("heroku", "pipelines:create", PIPELINE, "-a", app, "-s", stage)
            else:
                self.run("heroku", "pipelines:add", PIPELINE, "-a", app, "-s", stage)
            exists = True
        self.run("heroku", "pipelines:info", PIPELINE)

    def prepare_repository(self) -> None:
        shutil.rmtree(DEMO_REPO, ignore_errors=True)
        shutil.copytree(
            SAMPLEAPP,
            DEMO_REPO,
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "staticfiles", "db.sqlite3"),
        )
        self.say(f"copied examples/sampleapp to {DEMO_REPO.relative_to(ROOT)}")
        dev_only = (DEMO_REPO / DEV_ONLY).read_bytes()
        (DEMO_REPO / DEV_ONLY).unlink()
        dated = {**GIT_IDENTITY, "GIT_AUTHOR_DATE": "2025-01-06T09:00Z", "GIT_COMMITTER_DATE": "2025-01-06T09:00Z"}
        self.run("git", "init", "--quiet", "--initial-branch=master", cwd=DEMO_REPO)
        self.run("git", "add", "--all", cwd=DEMO_REPO)
        self.run("git", "commit", "--quiet", "-m", "Sample Django project", cwd=DEMO_REPO, env=dated)
        self.run("git", "switch", "--quiet", "-c", "dev", cwd=DEMO_REPO)
        (DEMO_REPO / DEV_ONLY).write_bytes(dev_only)
        dated = {**dated, "GIT_AUTHOR_DATE": "2025-01-07T09:00Z", "GIT_COMMITTER_DATE": "2025-01-07T09:00Z"}
        self.run("git", "add", "--all", cwd=DEMO_REPO)
        self.run("git", "commit", "--quiet", "-m", "Add the customer_stats command", cwd=DEMO_REPO, env=dated)
        self.run("git", "log", "--oneline", "--graph", "--all", cwd=DEMO_REPO)
        if not DEMO_ORIGIN.exists():
            self.run("git", "init", "--quiet", "--bare", str(DEMO_ORIGIN), quiet=True)
        self.run("git", "remote", "add", "origin", str(DEMO_ORIGIN), cwd=DEMO_REPO, quiet=True)
        self.run("git", "fetch", "--quiet", "--tags", "origin", cwd=DEMO_REPO, quiet=True)
        # A previous run's CI step pushed a commit onto origin/dev: start from there, as a teammate would.
        for branch in ("master", "dev"):
            ahead = self.run("git", "merge-base", "--is-ancestor", branch, f"origin/{branch}",
                             cwd=DEMO_REPO, check=False, quiet=True)
            if ahead.returncode == 0:
                self.run("git", "switch", "--quiet", branch, cwd=DEMO_REPO, quiet=True)
                self.run("git", "merge", "--quiet", "--ff-only", f"origin/{branch}", cwd=DEMO_REPO, quiet=True)
        self.run("git", "switch", "--quiet", "dev", cwd=DEMO_REPO, quiet=True)

    def tools(self, *args: str, ok: tuple[int, ...] = (0,)) -> subprocess.CompletedProcess:
        """Run ``heroku-tools`` in the demo repository; ``ok`` lists the exit statuses that are fine."""
        result = self.run(str(HEROKU_TOOLS), *args, cwd=DEMO_REPO, check=False)
        if result.returncode not in ok:
            raise StepFailed(f"`heroku-tools {shlex.join(args)}` exited {result.returncode}")
        return result

    def deploy_dev(self) -> None:
        """The first deploy: everything is new, so migrate and collectstatic run, in one dyno."""
        self.run("git", "switch", "--quiet", "dev", cwd=DEMO_REPO)
        self.tools("deploy", "dev", "--no-note", "--confirm", "sampleapp-dev")

    def show_release(self) -> None:
        app = APPS[0][0]
        self.run("heroku", "releases", "-a", app)
        self.run("heroku", "config", "-a", app)

    def run_dyno(self) -> None:
        app = APPS[0][0]
        command = (
            "python manage.py loaddata products"
            " && python manage.py seed_customers --count 50"
            " && python manage.py customer_stats"
        )
        self.run("heroku", "run", "-x", "-a", app, "--", command)

    def deploy_uat(self) -> None:
        self.run("git", "switch", "--quiet", "master", cwd=DEMO_REPO)
        self.run("git", "merge", "--quiet", "--ff-only", "dev", cwd=DEMO_REPO)
        self.run("git", "push", "--quiet", "origin", "master", "dev", cwd=DEMO_REPO)
        self.tools(
            "deploy", "uat", "--confirm", "sampleapp-uat",
            "--note", "First uat release\n\nThe sample app, with its customers list, for the team to try.",
        )
        self.show_latest_tag("uat")

    def deploy_live(self) -> None:
        """live has ``pipeline: true``: it gets uat's slug by promotion, never a build of its own."""
        self.tools("deploy", "live", "--confirm", "sampleapp-live", "--note", "Customers list goes live")
        self.show_latest_tag("live")
        live = self.slug_commit("sampleapp-live")
        self.say(f"live runs {live[:12]}, the very commit uat runs ({self.slug_commit('sampleapp-uat')[:12]})")

    def show_latest_tag(self, label: str) -> None:
        tags = self.run("git", "tag", "--list", f"{label}/v*", "--sort=-version:refname", cwd=DEMO_REPO, quiet=True)
        if tags.stdout.split():
            self.run("git", "show", "--no-patch", tags.stdout.split()[0], cwd=DEMO_REPO)

    def slug_commit(self, app: str) -> str:
        releases = self.heroku_json("releases", "--json", "-n", "1", "-a", app) or []
        slug = (releases[0].get("slug") or {}).get("id") if releases else None
        return (self.sandbox.api("GET", f"/apps/{app}/slugs/{slug}") or {}).get("commit") or "?" if slug else "?"

    def config_diff(self) -> None:
        """uat and live drift apart the way real environments do; the diff shows how, values masked."""
        self.run("heroku", "config:set", "DEBUG=true", "FEATURE_NEW_CHECKOUT=on", "-a", "sampleapp-uat", quiet=True)
        self.run("heroku", "config:set", "WEB_CONCURRENCY=4", "-a", "sampleapp-live", quiet=True)
        self.say("exit status 1 means the environments differ: a CI job can fail on drift")
        self.tools("config.diff", "uat", "live", ok=(0, 1))

    def restore_live_to_uat(self) -> None:
        """Real customers on live; uat gets them anonymised, streamed in one transaction."""
        seed = (
            "python manage.py shell -c \"from django.core.management import call_command; "
            "from customers.models import Customer; "
            "Customer.objects.exists() or call_command('seed_customers', count=300)\""
        )
        self.run("heroku", "run", "-x", "-a", "sampleapp-live", "--", seed, quiet=True)
        first = (
            "python manage.py shell -c \"from customers.models import Customer as C; "
            "c = C.objects.order_by('id').first(); print(c.first_name, c.last_name, c.email, c.phone)\""
        )
        self.say("the first customer on live:")
        self.run("heroku", "run", "-x", "-a", "sampleapp-live", "--", first)
        self.tools("backups.restore", "live", "uat", "--confirm", "sampleapp-uat")
        self.say("the same customer on uat, after the restore:")
        self.run("heroku", "run", "-x", "-a", "sampleapp-uat", "--", first)

    def ci(self) -> None:
        """CI's turn: the route is the confirmation on dev; an unrouted branch is not an error."""
        self.run("git", "switch", "--quiet", "dev", cwd=DEMO_REPO)
        (DEMO_REPO / "docs").mkdir(exist_ok=True)
        note = DEMO_REPO / "docs" / "ci.md"
        before = note.read_text() if note.exists() else ""  # a later demo run starts from this one's CI commit
        runs = before.count("\n") + 1
        note.write_text(before + f"Deployed by `heroku-tools ci`, as a CI job runs it (demo run {runs}).\n")
        dated = {**GIT_IDENTITY, "GIT_AUTHOR_DATE": "2025-01-08T09:00Z", "GIT_COMMITTER_DATE": "2025-01-08T09:00Z"}
        self.run("git", "add", "--all", cwd=DEMO_REPO, quiet=True)
        self.run("git", "commit", "--quiet", "-m", "Note how CI deploys", cwd=DEMO_REPO, env=dated)
        self.run("git", "push", "--quiet", "origin", "dev", cwd=DEMO_REPO)
        self.say("CI checks the commit out as a detached HEAD and names the branch it was built from:")
        self.run("git", "checkout", "--quiet", "--detach", cwd=DEMO_REPO)
        self.tools("ci", "--branch", "dev")
        self.tools("ci", "--branch", "docs/typo")
        self.run("git", "switch", "--quiet", "dev", cwd=DEMO_REPO)

    def history(self) -> None:
        self.run("heroku", "config:set", "WELCOME_BANNER=Try the customers list", "-a", "sampleapp-uat")
        self.tools("history", "uat")
        self.tools("history", "live")

    # -- the whole demo ---------------------------------------------------------------
    def main(self, reset: bool, stop: bool) -> int:
        steps = [
            ("Start the local Heroku sandbox", lambda: self.start_sandbox(reset)),
            ("Create sampleapp-dev, -uat and -live, each with a Postgres database", self.create_apps),
            ("Put them in the sampleapp pipeline: development → staging → production", self.create_pipeline),
            ("Make a git repository of the sample project (master, and dev one commit ahead)", self.prepare_repository),
            ("heroku-tools deploy dev: the report, the code, one dyno for the steps, the tag", self.deploy_dev),
            ("The release it made, and the app's config vars", self.show_release),
            ("Seed and query dev's database in a one-off dyno (heroku run --exit-code)", self.run_dyno),
            ("heroku-tools deploy uat, with a release note: it becomes the tag's message", self.deploy_uat),
            ("heroku-tools deploy live: uat's slug promoted through the pipeline", self.deploy_live),
            ("heroku-tools config.diff uat live: what differs, values masked", self.config_diff),
            ("heroku-tools backups.restore live uat: live's data, anonymised on the way down", self.restore_live_to_uat),
            ("A config change by hand, then heroku-tools history uat and live", self.history),
            ("heroku-tools ci: a detached CI checkout of dev, deployed along its route without a prompt", self.ci),
        ]
        try:
            for number, (title, func) in enumerate(steps, 1):
                ok = self.step(number, title, func)
                if not ok and number == 1:
                    break
        except (StepFailed, SandboxError, OSError, ValueError):
            pass
        finally:
            if stop and self.sandbox:
                self.sandbox.stop()
        return self.summary(stop)

    def summary(self, stopped: bool) -> int:
        print()
        print(colour("1;35", "━━ Summary"))
        for title, ok, detail, seconds in self.results:
            mark = colour("1;32", "✓") if ok else colour("1;31", "✗")
            print(f" {mark} {seconds:5.1f}s  {title}" + (f"  ({detail})" if detail else ""))
        passed = sum(result[1] for result in self.results)
        print(f"demo: {passed} of {len(self.results)} steps succeeded")
        if self.sandbox and not stopped:
            print()
            print("The sandbox is still running. To use the heroku CLI against it from your shell,")
            print("in the repository's root:")
            print('    eval "$(.venv/bin/heroku-tools sandbox up)"')
            print(f"    heroku releases -a {APPS[0][0]}")
            print("Stop it with `.venv/bin/heroku-tools sandbox down` (or run `./dev demo --stop` next time).")
        return 0 if self.results and all(result[1] for result in self.results) else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reset", action="store_true", help="stop and wipe the sandbox first: start from nothing")
    parser.add_argument("--stop", action="store_true", help="stop the sandbox at the end")
    parser.add_argument("--keep-going", action="store_true", help="go on after a failed step")
    options = parser.parse_args(argv)
    return Demo(keep_going=options.keep_going).main(reset=options.reset, stop=options.stop)


if __name__ == "__main__":
    sys.exit(main())
