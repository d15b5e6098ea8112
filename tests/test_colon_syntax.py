"""Fabric 1's ``task:arg`` syntax: the rewrite table, errors, help, and the opt-in for stock fab/inv."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from invoke import Collection, Program, task
from invoke.exceptions import ParseError

from heroku_tools.cli import HerokuToolsProgram
from heroku_tools.colon import enable_colon_syntax, rewrite

BIN = Path(sys.executable).parent


def record(name, **kwargs):
    print(json.dumps([name, kwargs]))


def deploy(c, env, force=False, branch=None):
    """Deploy ENV."""
    record("deploy", env=env, force=force, branch=branch)


def diff(c, source, target):
    """Compare two environments' config."""
    record("diff", source=source, target=target)


def hello(c, who="world"):
    record("hello", who=who)


def switch(c, on=True, count=1):
    record("switch", on=on, count=count)


def namespace() -> Collection:
    """Fresh tasks each time: Invoke pops per-argument help out of a task when it parses."""
    deploy_task = task(default=True, help={"env": "which environment to deploy (live, uat, dev)", "force": "push with --force"})(deploy)
    return Collection(
        Collection("deploy", deploy_task), Collection("config", task(diff)), task(hello), task(switch)
    )


def run(argv: list[str], capsys) -> list:
    HerokuToolsProgram(namespace=namespace(), version="0").run(["heroku-tools", *argv], exit=False)
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


LIVE = ["deploy", {"env": "live", "force": False, "branch": None}]

TABLE = {
    "deploy:live": [LIVE],
    "deploy live": [LIVE],
    "deploy --env live": [LIVE],
    "deploy -e live": [LIVE],
    "deploy:env=live,force=yes": [["deploy", {"env": "live", "force": True, "branch": None}]],
    "deploy:live,force=no": [LIVE],
    "deploy:live,,branch=main": [["deploy", {"env": "live", "force": False, "branch": "main"}]],
    "deploy:branch=main,live": [["deploy", {"env": "live", "force": False, "branch": "main"}]],
    "deploy.deploy:uat": [["deploy", {"env": "uat", "force": False, "branch": None}]],
    "config.diff:uat,live": [["diff", {"source": "uat", "target": "live"}]],
    "config.diff uat live": [["diff", {"source": "uat", "target": "live"}]],
    "config diff uat live": [["diff", {"source": "uat", "target": "live"}]],
    "config diff:uat,live": [["diff", {"source": "uat", "target": "live"}]],
    "deploy:live hello:bob": [LIVE, ["hello", {"who": "bob"}]],
    "hello:who=a\\,b": [["hello", {"who": "a,b"}]],
    "hello:who=x=y": [["hello", {"who": "x=y"}]],
    "hello:a\\=b": [["hello", {"who": "a=b"}]],
    "hello --who deploy:live": [["hello", {"who": "deploy:live"}]],
    "hello:": [["hello", {"who": "world"}]],
    "switch:on=no,count=3": [["switch", {"on": False, "count": 3}]],
    "switch:yes": [["switch", {"on": True, "count": 1}]],
}


@pytest.mark.parametrize("line, expected", TABLE.items(), ids=TABLE.keys())
def test_forms_run_the_same_tasks(line, expected, capsys):
    assert run(line.split(" "), capsys) == expected


@pytest.mark.parametrize(
    "tokens, expected",
    [
        (["deploy:live"], ["deploy", "--env=live"]),
        (["deploy:env=live,force=yes", "-e"], ["deploy", "--env=live", "--force", "-e"]),
        (["switch:on=off"], ["switch", "--no-on"]),
        (["config", "diff:uat,live"], ["config.diff", "--source=uat", "--target=live"]),
        (["hello", "--who", "hello:x"], ["hello", "--who", "hello:x"]),
        (["hello", "--", "deploy:live"], ["hello", "--", "deploy:live"]),
        (["unknown:thing", "config"], ["unknown:thing", "config"]),
    ],
)
def test_rewrite_tokens(tokens, expected):
    assert rewrite(tokens, namespace()) == (expected, None)


def test_rewrite_asks_for_help():
    assert rewrite(["deploy:live", "--help"], namespace()) == ([], "deploy")
    assert rewrite(["config", "diff", "-h"], namespace()) == ([], "config.diff")


@pytest.mark.parametrize(
    "line, message",
    [
        ("nosuch:live", "No idea what 'nosuch:live' is!"),
        ("hello:a,b", "too many arguments for task 'hello': it takes who"),
        ("hello:nope=1", "task 'hello' has no argument 'nope'; it takes: who"),
        ("hello:bob,who=al", "argument 'who' of task 'hello' given twice"),
        ("switch:on=maybe", "argument 'on' of task 'switch' is a switch: use yes or no, not 'maybe'"),
    ],
)
def test_errors_are_one_clean_line_and_exit_1(line, message, capsys):
    with pytest.raises(SystemExit) as caught:
        HerokuToolsProgram(namespace=namespace(), version="0").run(["heroku-tools", *line.split(" ")])
    assert caught.value.code == 1
    assert capsys.readouterr().err == message + "\n"


def test_task_help_instead_of_a_positional_value(capsys):
    """``deploy --help`` shows deploy's help (invoke#982 would run deploy with env='--help')."""
    for argv in (["deploy", "--help"], ["deploy:live", "--help"], ["--help", "deploy"]):
        with pytest.raises(SystemExit) as caught:
            HerokuToolsProgram(namespace=namespace(), version="0").run(["heroku-tools", *argv])
        assert caught.value.code == 0
        out = capsys.readouterr().out
        assert out.startswith("Usage: heroku-tools [--core-opts] deploy ")
        assert "Deploy ENV." in out and "which environment to deploy (live, uat, dev)" in out


def test_rewriting_keeps_the_tasks_argument_help(capsys):
    ns = namespace()
    rewrite(["deploy:live"], ns)
    rewrite(["deploy:live"], ns)
    with pytest.raises(SystemExit):
        HerokuToolsProgram(namespace=ns, version="0").run(["heroku-tools", "deploy", "--help"])
    assert "push with --force" in capsys.readouterr().out


def test_opt_in_patches_stock_programs_once(monkeypatch, capsys):
    monkeypatch.setattr(Program, "parse_tasks", Program.parse_tasks)  # restored after the test
    with pytest.raises(SystemExit):
        Program(namespace=namespace(), version="0").run(["inv", "deploy:live"])
    assert "No idea what 'deploy:live' is!" in capsys.readouterr().err
    enable_colon_syntax()
    patched = Program.parse_tasks
    enable_colon_syntax()
    assert Program.parse_tasks is patched
    Program(namespace=namespace(), version="0").run(["inv", "deploy:live", "hello:bob"], exit=False)
    assert [json.loads(line) for line in capsys.readouterr().out.splitlines()] == [LIVE, ["hello", {"who": "bob"}]]


# -- stock fab and inv, as installed -----------------------------------------------------------

TASKS_MODULE = """
    from invoke import Collection, task

    {optin}

    @task(default=True)
    def deploy(c, env):
        print("deploying", env)

    @task
    def hello(c, who="world"):
        print("hello", who)

    ns = Collection(Collection("deploy", deploy), hello)
"""
OPT_IN = "from heroku_tools.colon import enable_colon_syntax\n    enable_colon_syntax()"


@pytest.mark.parametrize("binary, module", [("fab", "fabfile.py"), ("inv", "tasks.py")])
def test_stock_binaries_with_the_opt_in(binary, module, tmp_path):
    (tmp_path / module).write_text(textwrap.dedent(TASKS_MODULE.format(optin=OPT_IN)))
    result = subprocess.run(
        [str(BIN / binary), "deploy:live", "hello:who=a\\,b", "deploy", "uat"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, "deploying live\nhello a,b\ndeploying uat\n", "")
    result = subprocess.run([str(BIN / binary), "nosuch:x"], cwd=tmp_path, capture_output=True, text=True, check=False)
    assert (result.returncode, result.stderr) == (1, "No idea what 'nosuch:x' is!\n")


def test_importing_is_not_opting_in(tmp_path):
    module = TASKS_MODULE.format(optin="import heroku_tools.colon  # noqa: F401")
    (tmp_path / "tasks.py").write_text(textwrap.dedent(module))
    result = subprocess.run([str(BIN / "inv"), "deploy:live"], cwd=tmp_path, capture_output=True, text=True, check=False)
    assert (result.returncode, result.stderr) == (1, "No idea what 'deploy:live' is!\n")


def test_rewrite_rejects_nothing_it_does_not_understand():
    with pytest.raises(ParseError):
        rewrite(["hello:a,b,c"], namespace())
