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


def problems(argv: list[str], commands: dict) -> list[str]:
    """What the real CLI's parser would reject (or misread) in ``argv``."""
    if not argv:
        return ["no command"]
    command = commands.get(argv[0])
    if command is None:
        return [f"unknown command {argv[0]!r}"]
    flags = command.get("flags", {})
    by_char = {flag["char"]: name for name, flag in flags.items() if flag.get("char")}
    found: list[str] = []
    seen: list[str] = []
    positionals: list[str] = []
    after_dashes: list[str] | None = None
    index = 1

    def take_value(name: str, inline: str | None) -> None:
        nonlocal index
        if inline is not None:
            value = inline
        elif index + 1 < len(argv):
            index += 1
            value = argv[index]
        else:
            found.append(f"--{name} has no value")
            return
        if value == "" or (value.startswith("-") and value != "-"):
            found.append(f"--{name} got {value!r} as its value")

    while index < len(argv):
        token = argv[index]
        if after_dashes is not None:
            after_dashes.append(token)
        elif token == "--":
            after_dashes = []
        elif token.startswith("--"):
            name, equals, value = token[2:].partition("=")
            flag = flags.get(name)
            if flag is None and name.startswith("no-") and flags.get(name[3:], {}).get("allowNo"):
                flag, name = flags[name[3:]], name[3:]
            if flag is None:
                found.append(f"nonexistent flag --{name}")
            elif flag["type"] == "option":
                take_value(name, value if equals else None)
            elif equals:
                found.append(f"boolean flag --{name} given a value")
            if flag is not None:
                seen.append(name)
        elif token.startswith("-") and len(token) > 1:
            chars = token[1:]
            for position, char in enumerate(chars):
                name = by_char.get(char)
                if name is None:
                    found.append(f"nonexistent flag -{char}")
                    break
                seen.append(name)
                if flags[name]["type"] == "option":
                    rest = chars[position + 1:].lstrip("=")
                    take_value(name, rest or None)
                    break
        else:
            positionals.append(token)
        index += 1

    for name in {n for n in seen if seen.count(n) > 1}:
        if not flags[name].get("multiple"):
            found.append(f"flag --{name} given more than once")
    if "prompt" in seen:
        found.append("--prompt is interactive")
    for name, flag in flags.items():
        if flag.get("required") and name not in seen:
            found.append(f"required flag --{name} missing")
    args = list(command.get("args") or {})
    extra = positionals + (after_dashes or [])
    if command.get("strict", True) and len(extra) > len(args):
        found.append(f"{len(extra)} positional arguments for {argv[0]}, which takes {len(args)} ({', '.join(args)})")
    for name, arg in (command.get("args") or {}).items():
        if arg.get("required") and args.index(name) >= len(extra):
            found.append(f"required argument {name} missing")
    if argv[0] in ("run", "run:detached"):
        if after_dashes is None:
            found.append("the remote command is not after --")
        elif len(after_dashes) != 1:
            found.append(f"the remote command is {len(after_dashes)} arguments after --, not one")
        if positionals:
            found.append(f"words before -- would be read by heroku itself: {positionals}")
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
