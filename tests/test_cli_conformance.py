"""Every heroku argv the library can emit, checked against the installed CLI's own manifest.

Each method of :class:`heroku_tools.heroku.Heroku` is called against a fake
``heroku`` (a script that logs its argv and prints canned output), and each
logged argv is validated against ``oclif.manifest.json`` of the pinned CLI: the
command (or alias) exists, every flag exists for it, value flags have values,
booleans have none, no flag repeats, required flags are present, strict
commands get no extra positionals, and ``run`` puts the remote command after
``--`` as one argument. A wrong flag is caught here rather than by a user
(``heroku run ... --noinput`` exits 2 before doing anything).
"""
from __future__ import annotations

import inspect
import json
import sys
from pathlib import Path

import pytest

from heroku_tools.heroku import Heroku

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = ROOT / "node_modules" / "heroku" / "oclif.manifest.json"

RELEASE = {
    "version": 3,
    "description": "Deploy abc1234",
    "status": "succeeded",
    "current": True,
    "slug": {"id": "slug-1"},
    "user": {"email": "dev@example.com"},
    "created_at": "2024-05-12T10:00:00Z",
}
CANNED = {
    "auth:whoami": {"stdout": "dev@example.com\n"},
    "auth:token": {"stdout": "token-123\n"},
    "apps:info": {"stdout": json.dumps({"app": {"id": "a1", "name": "my-app"}, "addons": [], "dynos": []})},
    "releases": {"stdout": json.dumps([RELEASE])},
    "releases:info": {"stdout": json.dumps(RELEASE)},
    "releases:rollback": {"stderr": "Rolling back my-app to v2... done, v4\n"},
    "releases:retry": {"stderr": "Retrying v4 on ⬢ my-app... done, v5\n"},
    "config": {"stdout": json.dumps({"A": "1"})},
    "maintenance": {"stdout": "off\n"},
    "features": {"stdout": json.dumps([{"name": "preboot", "enabled": True}])},
    "ps": {"stdout": json.dumps([{"name": "web.1", "type": "web", "state": "up"}])},
    "run": {"stdout": "ok\n"},
    "run:detached": {"stderr": "Running x on my-app... done, run.1001\n"},
    "pipelines:info": {
        "stdout": json.dumps(
            {
                "pipeline": {"id": "p1", "name": "pipe"},
                "apps": [{"id": "a1", "name": "my-app", "pipelineCoupling": {"stage": "staging"}}],
            }
        )
    },
    "pipelines:promote": {"stdout": "Starting promotion...\nmy-app-live: succeeded\n"},
    "addons": {"stdout": json.dumps([{"name": "postgresql-x", "addon_service": {"name": "heroku-postgresql"}}])},
    "pg:info": {"stdout": "=== DATABASE_URL\nPlan: Essential 0\n"},
    "pg:backups": {"stdout": "=== Backups\n\n  b001   2024-05-12 10:00:09 +0000   Completed   1KB   DATABASE\n"},
    "pg:backups:capture": {"stderr": "Backing up DATABASE to b003... done\n"},
    "pg:backups:url": {"stdout": "https://example.com/b003\n"},
    "git:remote": {"stdout": "set git remote heroku to https://git.heroku.com/my-app.git\n"},
}

FAKE = """#!{python}
import json, os, sys
argv = sys.argv[1:]
with open(os.environ["FAKE_HEROKU_LOG"], "a") as log:
    log.write(json.dumps(argv) + "\\n")
canned = json.load(open(os.environ["FAKE_HEROKU_CANNED"])).get(argv[0] if argv else "", {{}})
sys.stdout.write(canned.get("stdout", ""))
sys.stderr.write(canned.get("stderr", ""))
sys.exit(canned.get("code", 0))
"""

#: One call per runner method: every argv shape the library can produce.
CALLS = {
    "whoami": [lambda h: h.whoami()],
    "auth_token": [lambda h: h.auth_token()],
    "app_info": [lambda h: h.app_info("my-app")],
    "releases": [lambda h: h.releases("my-app"), lambda h: h.releases("my-app", num=5)],
    "release_info": [lambda h: h.release_info("my-app"), lambda h: h.release_info("my-app", 3)],
    "rollback": [lambda h: h.rollback("my-app"), lambda h: h.rollback("my-app", 2)],
    "releases_retry": [lambda h: h.releases_retry("my-app")],
    "config": [lambda h: h.config("my-app")],
    "maintenance": [lambda h: h.maintenance("my-app")],
    "maintenance_on": [lambda h: h.maintenance_on("my-app")],
    "maintenance_off": [lambda h: h.maintenance_off("my-app")],
    "features": [lambda h: h.features("my-app")],
    "feature_enable": [lambda h: h.feature_enable("my-app", "preboot")],
    "feature_disable": [lambda h: h.feature_disable("my-app", "preboot")],
    "ps": [lambda h: h.ps("my-app")],
    "ps_scale": [lambda h: h.ps_scale("my-app", {"web": 2, "worker": "1:Standard-1X"})],
    "run": [
        lambda h: h.run("my-app", ["python", "manage.py", "migrate", "--noinput"]),
        lambda h: h.run("my-app", "python manage.py migrate --plan", size="standard-2x"),
        lambda h: h.run("my-app", ["-x", "--help"], exit_code=False),
    ],
    "run_detached": [
        lambda h: h.run_detached("my-app", ["python", "manage.py", "clearsessions"]),
        lambda h: h.run_detached("my-app", "echo hi", size="standard-1x"),
    ],
    "pipelines_info": [lambda h: h.pipelines_info("pipe")],
    "pipeline_promote": [
        lambda h: h.pipeline_promote("my-app"),
        lambda h: h.pipeline_promote("my-app", to=["my-app-live", "my-app-live-eu"]),
    ],
    "addons": [lambda h: h.addons("my-app")],
    "pg_info": [lambda h: h.pg_info("my-app"), lambda h: h.pg_info("my-app", "HEROKU_POSTGRESQL_RED_URL")],
    "pg_backups": [lambda h: h.pg_backups("my-app")],
    "pg_backups_capture": [lambda h: h.pg_backups_capture("my-app"), lambda h: h.pg_backups_capture("my-app", "DATABASE_URL")],
    "pg_backups_url": [lambda h: h.pg_backups_url("my-app"), lambda h: h.pg_backups_url("my-app", "b003")],
    "pg_backups_download": [
        lambda h: h.pg_backups_download("my-app"),
        lambda h: h.pg_backups_download("my-app", "b003", "dump.pgdump"),
    ],
    "pg_backups_restore": [
        lambda h: h.pg_backups_restore("b003", "my-app-uat", confirm="my-app-uat"),
        lambda h: h.pg_backups_restore("my-app-live::b003", "my-app-uat", "my-app-uat", database="HEROKU_POSTGRESQL_RED_URL"),
    ],
    "pg_reset": [lambda h: h.pg_reset("my-app-uat", confirm="my-app-uat")],
    "git_remote": [lambda h: h.git_remote("my-app"), lambda h: h.git_remote("my-app", "live")],
}


# -- the validator -----------------------------------------------------------------


@pytest.fixture(scope="module")
def manifest() -> dict:
    if not MANIFEST.exists():
        pytest.fail(f"{MANIFEST} is missing: run `npm ci` in the repository root")
    commands = json.loads(MANIFEST.read_text())["commands"]
    by_name = dict(commands)
    for command in commands.values():
        for alias in [*command.get("aliases", []), *command.get("hiddenAliases", [])]:
            by_name.setdefault(alias, command)
    return by_name


class ArgvParser:
    """Walks one command's argv the way oclif's parser does, noting what it would reject on the way.

    After :meth:`parse`: ``seen`` (flag names, as often as given), ``positionals``,
    ``after_dashes`` (``None`` without a ``--``) and ``found`` (the problems).
    """

    def __init__(self, argv: list[str], flags: dict):
        self.argv, self.flags = argv, flags
        self.by_char = {flag["char"]: name for name, flag in flags.items() if flag.get("char")}
        self.found: list[str] = []
        self.seen: list[str] = []
        self.positionals: list[str] = []
        self.after_dashes: list[str] | None = None
        self.index = 1

    def parse(self) -> ArgvParser:
        while self.index < len(self.argv):
            token = self.argv[self.index]
            if self.after_dashes is not None:
                self.after_dashes.append(token)
            elif token == "--":
                self.after_dashes = []
            elif token.startswith("--"):
                self._long_flag(token[2:])
            elif token.startswith("-") and len(token) > 1:
                self._short_flags(token[1:])
            else:
                self.positionals.append(token)
            self.index += 1
        return self

    def _take_value(self, name: str, inline: str | None) -> None:
        if inline is not None:
            value = inline
        elif self.index + 1 < len(self.argv):
            self.index += 1
            value = self.argv[self.index]
        else:
            self.found.append(f"--{name} has no value")
            return
        if value == "" or (value.startswith("-") and value != "-"):
            self.found.append(f"--{name} got {value!r} as its value")

    def _long_flag(self, body: str) -> None:
        """``--name``, ``--name=value``, ``--no-name``."""
        name, equals, value = body.partition("=")
        flag = self.flags.get(name)
        if flag is None and name.startswith("no-") and self.flags.get(name[3:], {}).get("allowNo"):
            flag, name = self.flags[name[3:]], name[3:]
        if flag is None:
            self.found.append(f"nonexistent flag --{name}")
            return
        if flag["type"] == "option":
            self._take_value(name, value if equals else None)
        elif equals:
            self.found.append(f"boolean flag --{name} given a value")
        self.seen.append(name)

    def _short_flags(self, chars: str) -> None:
        """``-x``, grouped ``-xa app``, a value attached: ``-n5``."""
        for position, char in enumerate(chars):
            name = self.by_char.get(char)
            if name is None:
                self.found.append(f"nonexistent flag -{char}")
                return
            self.seen.append(name)
            if self.flags[name]["type"] == "option":
                self._take_value(name, chars[position + 1:].lstrip("=") or None)
                return


def flag_problems(parsed: ArgvParser, flags: dict) -> list[str]:
    """Repeated flags, the interactive ``--prompt``, required flags left out."""
    seen = parsed.seen
    found = [f"flag --{name} given more than once"
             for name in {n for n in seen if seen.count(n) > 1} if not flags[name].get("multiple")]
    if "prompt" in seen:
        found.append("--prompt is interactive")
    found += [f"required flag --{name} missing" for name, flag in flags.items() if flag.get("required") and name not in seen]
    return found


def argument_problems(command_name: str, command: dict, parsed: ArgvParser) -> list[str]:
    """Too many positionals for a strict command; required arguments left out."""
    found = []
    args = list(command.get("args") or {})
    extra = parsed.positionals + (parsed.after_dashes or [])
    if command.get("strict", True) and len(extra) > len(args):
        found.append(f"{len(extra)} positional arguments for {command_name}, which takes {len(args)} ({', '.join(args)})")
    for name, arg in (command.get("args") or {}).items():
        if arg.get("required") and args.index(name) >= len(extra):
            found.append(f"required argument {name} missing")
    return found


def run_problems(parsed: ArgvParser) -> list[str]:
    """``run``: the remote command after ``--``, as one argument, and nothing before it."""
    found = []
    if parsed.after_dashes is None:
        found.append("the remote command is not after --")
    elif len(parsed.after_dashes) != 1:
        found.append(f"the remote command is {len(parsed.after_dashes)} arguments after --, not one")
    if parsed.positionals:
        found.append(f"words before -- would be read by heroku itself: {parsed.positionals}")
    return found


def problems(argv: list[str], commands: dict) -> list[str]:
    """What the real CLI's parser would reject (or misread) in ``argv``."""
    if not argv:
        return ["no command"]
    command = commands.get(argv[0])
    if command is None:
        return [f"unknown command {argv[0]!r}"]
    flags = command.get("flags", {})
    parsed = ArgvParser(argv, flags).parse()
    found = parsed.found + flag_problems(parsed, flags) + argument_problems(argv[0], command, parsed)
    if argv[0] in ("run", "run:detached"):
        found += run_problems(parsed)
    return found


# -- the fake heroku ---------------------------------------------------------------


@pytest.fixture
def fake(tmp_path):
    script = tmp_path / "bin" / "heroku"
    script.parent.mkdir()
    script.write_text(FAKE.format(python=sys.executable))
    script.chmod(0o755)
    log = tmp_path / "argv.jsonl"
    canned = tmp_path / "canned.json"
    canned.write_text(json.dumps(CANNED))
    runner = Heroku(script, env={"FAKE_HEROKU_LOG": str(log), "FAKE_HEROKU_CANNED": str(canned)}, cwd=tmp_path)

    def logged() -> list[list[str]]:
        return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []

    return runner, logged


def runner_methods() -> set[str]:
    own = {name for name, value in vars(Heroku).items() if inspect.isfunction(value) and not name.startswith("_")}
    return own - {"error"}


def test_every_runner_method_is_exercised():
    assert runner_methods() == set(CALLS)


@pytest.mark.parametrize("method", sorted(CALLS))
def test_argv_conforms_to_the_cli_manifest(method, fake, manifest):
    runner, logged = fake
    for call in CALLS[method]:
        call(runner)
    argvs = logged()
    assert argvs, f"{method} ran no heroku command"
    for argv in argvs:
        assert problems(argv, manifest) == [], argv


@pytest.mark.parametrize("method", sorted(m for m in CALLS if m not in ("whoami", "auth_token", "pipelines_info")))
def test_every_app_command_names_its_app(method, fake):
    runner, logged = fake
    for call in CALLS[method]:
        call(runner)
    for argv in logged():
        assert "-a" in argv and argv[argv.index("-a") + 1].startswith("my-app"), argv


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["run", "-x", "--no-tty", "-a", "app", "--noinput", "--", "python manage.py migrate"], "nonexistent flag --noinput"),
        (["run", "-x", "--no-tty", "-a", "app", "python", "manage.py", "migrate"], "not after --"),
        (["run", "-x", "-a", "app", "--", "python", "manage.py"], "not one"),
        (["releases", "-j", "-a", "app"], "nonexistent flag -j"),
        (["releases", "--json", "-a", "app", "extra"], "positional"),
        (["releases", "--json"], "required flag --app missing"),
        (["releases", "--json=true", "-a", "app"], "given a value"),
        (["releases", "-a", "app", "-a", "other"], "more than once"),
        (["releases", "-n", "-a", "app"], "--num got '-a'"),
        (["pg:copy", "A::DATABASE_URL", "DATABASE_URL", "-a", "app", "-c", "app"], "nonexistent flag -c"),
        (["apps:inf", "-a", "app"], "unknown command"),
        (["config:set", "A=1", "-a", "app", "--prompt"], "interactive"),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_validator_catches_what_the_cli_rejects(argv, expected, manifest):
    found = problems(argv, manifest)
    assert any(expected in problem for problem in found), found


def test_aliases_and_grouped_short_flags_are_understood(manifest):
    assert problems(["whoami"], manifest) == []
    assert problems(["releases", "-n5", "-a", "app"], manifest) == []
    assert problems(["run", "-xa", "app", "--", "true"], manifest) == []
