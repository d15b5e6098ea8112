"""The ``heroku-tools`` program and the task decorator: one message, never a traceback."""
from __future__ import annotations

import inspect
import io
import subprocess
import sys
from pathlib import Path

import pytest
from invoke import Collection, Config, Context, Exit, Program
from invoke import task as invoke_task

from heroku_tools import __version__, output
from heroku_tools.cli import HerokuToolsProgram, program
from heroku_tools.errors import CommandError, HerokuToolsError
from heroku_tools.tasks import task

HEROKU_TOOLS = Path(sys.executable).parent / "heroku-tools"


def run_cli(*args: str, cwd=None, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([str(HEROKU_TOOLS), *args], capture_output=True, text=True, cwd=cwd, check=False, **kwargs)


# -- the console script ----------------------------------------------------------------------------


def test_console_script_version_and_list(tmp_path):
    assert run_cli("--version", cwd=tmp_path).stdout == f"heroku-tools {__version__}\n"
    listed = run_cli("--list", cwd=tmp_path)
    assert listed.returncode == 0
    for name in ("sandbox.up", "sandbox.down", "sandbox.status", "sandbox.fault", "sandbox.latency", "sandbox.clear"):
        assert name in listed.stdout


def test_console_script_unknown_task(tmp_path):
    result = run_cli("nosuch:live", cwd=tmp_path)
    assert (result.returncode, result.stdout, result.stderr) == (1, "", "No idea what 'nosuch:live' is!\n")


def test_program_object_is_the_entry_point():
    assert isinstance(program, HerokuToolsProgram) and program.namespace.collections["sandbox"]
    assert program.binary == "heroku-tools"


# -- library errors ------------------------------------------------------------------------------------


def failing(message="it broke", code=None):
    def body(c):
        raise HerokuToolsError(message, code)

    return body


def test_library_error_from_a_plain_invoke_task(capsys):
    """A user's own ``invoke.task`` calling a library helper: the program still prints one line."""
    ns = Collection(invoke_task(failing("plain task failed"), name="boom"))
    with pytest.raises(SystemExit) as caught:
        HerokuToolsProgram(namespace=ns, version="0").run(["heroku-tools", "boom"])
    assert caught.value.code == 1
    assert capsys.readouterr().err == "plain task failed\n"


def test_error_code_is_the_exit_status(capsys):
    ns = Collection(task(failing("with a code", 3), name="boom"))
    with pytest.raises(SystemExit) as caught:
        HerokuToolsProgram(namespace=ns, version="0").run(["heroku-tools", "boom"])
    assert caught.value.code == 3
    assert capsys.readouterr().err == "with a code\n"


def test_command_error_shows_its_message_only(capsys):
    def body(c):
        raise CommandError("`heroku releases -a x` failed: nope", argv=["heroku"], exit_code=2, stderr="noise\n")

    with pytest.raises(SystemExit) as caught:
        HerokuToolsProgram(namespace=Collection(task(body, name="boom")), version="0").run(["heroku-tools", "boom"])
    assert caught.value.code == 1
    assert capsys.readouterr().err == "`heroku releases -a x` failed: nope\n"


def test_stock_program_prints_one_line_for_wrapped_tasks(capsys):
    with pytest.raises(SystemExit) as caught:
        Program(namespace=Collection(task(failing("under stock inv"), name="boom")), version="0").run(["inv", "boom"])
    assert caught.value.code == 1
    assert capsys.readouterr().err == "under stock inv\n"


def test_no_traceback_from_the_real_binary(tmp_path):
    (tmp_path / "heroku-tools.yml").write_text("environments: [\n")
    (tmp_path / "invoke.yaml").write_text("heroku_tools: {}\n")
    result = run_cli("sandbox.fault", "some-app", "nope", "--directory", str(tmp_path / "none"), cwd=tmp_path)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith("no sandbox is running in ")


# -- the task decorator ------------------------------------------------------------------------------------


def test_task_decorator_bare_and_with_arguments():
    def deploy(c, env, force=False):
        """Deploy ENV."""

    bare = task(deploy)
    configured = task(help={"env": "where to"}, aliases=["ship"])(deploy)
    assert list(configured.aliases) == ["ship"] and configured.help == {"env": "where to"}
    for wrapped in (bare, configured):
        assert list(inspect.signature(wrapped.body).parameters) == ["c", "env", "force"]
        assert wrapped.__doc__ == "Deploy ENV." and wrapped.name == "deploy"
        assert [arg.name for arg in wrapped.get_arguments()][:1] == ["env"]


def test_task_decorator_turns_library_errors_into_exit():
    wrapped = task(failing("called directly", 4), name="boom")
    with pytest.raises(Exit) as caught:
        wrapped(Context())
    assert (caught.value.message, caught.value.code) == ("called directly", 4)
    assert isinstance(caught.value.__cause__, HerokuToolsError)


def test_task_decorator_leaves_other_errors_alone():
    def body(c):
        raise KeyError("a bug")

    with pytest.raises(KeyError):
        task(body)(Context())


# -- configuration ------------------------------------------------------------------------------------------


def config_of(argv: list[str], monkeypatch, cwd: Path) -> Config:
    seen = {}

    def grab(c):
        seen["config"] = c.config

    monkeypatch.chdir(cwd)
    HerokuToolsProgram(namespace=Collection(task(grab, name="grab")), version="0").run(["heroku-tools", *argv], exit=False)
    return seen["config"]


def test_config_flag_names_the_settings_file_not_an_invoke_runtime_file(tmp_path, monkeypatch):
    (tmp_path / "ci.yml").write_text("run: {echo: true}\nenvironments: []\n")
    config = config_of(["--config", "ci.yml", "grab"], monkeypatch, tmp_path)
    assert config.heroku_tools.config == str(tmp_path / "ci.yml")
    assert config.run.echo is False and "environments" not in config


def test_other_core_flags_still_reach_the_config(tmp_path, monkeypatch):
    config = config_of(["-f", "x.yml", "--echo", "grab"], monkeypatch, tmp_path)
    assert config.run.echo is True and config.heroku_tools.config == str(tmp_path / "x.yml")


def test_invoke_runtime_file_via_env_var_and_project_file(tmp_path, monkeypatch):
    (tmp_path / "runtime.yml").write_text("run: {warn: true}\n")
    (tmp_path / "invoke.yaml").write_text("heroku_tools: {config: from-project.yml}\n")
    monkeypatch.setenv("INVOKE_RUNTIME_CONFIG", str(tmp_path / "runtime.yml"))
    config = config_of(["grab"], monkeypatch, tmp_path)
    assert config.run.warn is True and config.heroku_tools.config == "from-project.yml"


# -- output ---------------------------------------------------------------------------------------------------


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_colour_only_on_a_terminal_without_no_color(monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert output.paint("hi", output.Fore.RED, stream=io.StringIO()) == "hi"
    assert output.paint("hi", output.Fore.RED, stream=Terminal()) == f"{output.Fore.RED}hi{output.Style.RESET_ALL}"
    monkeypatch.setenv("NO_COLOR", "1")
    assert output.paint("hi", output.Fore.RED, stream=Terminal()) == "hi"


def test_line_printer_and_messages_go_to_stderr(capsys, monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    show = output.line_printer("  | ")
    show("remote: building")
    output.warn("careful")
    captured = capsys.readouterr()
    assert (captured.out, captured.err) == ("", "  | remote: building\ncareful\n")


def test_entry_point_fixes_the_windows_console_and_nothing_else(monkeypatch, capsys):
    calls = []
    monkeypatch.setattr("colorama.just_fix_windows_console", lambda: calls.append(1))
    stdout = sys.stdout
    HerokuToolsProgram(namespace=Collection(task(lambda c: None, name="noop")), version="0").run(
        ["heroku-tools", "noop"], exit=False
    )
    assert calls == [1] and sys.stdout is stdout
