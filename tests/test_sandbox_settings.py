"""``heroku-tools sandbox up --reuse-env`` / ``--strict``: how a sandbox builds, set when it starts
and changed by starting it again, through the real ``heroku-tools`` program."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from heroku_tools.sandbox import Sandbox

BIN = Path(sys.executable).parent

pytestmark = pytest.mark.sandbox


def tools(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "heroku-tools"), *args], capture_output=True, text=True, env=env,
                          stdin=subprocess.DEVNULL, timeout=120, check=False)


def test_up_flags_set_and_reset_the_settings_of_a_running_sandbox(tmp_path, home):
    env = {k: v for k, v in os.environ.items() if k not in ("HEROKU_API_KEY", "HEROKU_APP", "HEROKU_TOOLS_SANDBOX")}
    env.update(HOME=str(home), HEROKU_TOOLS_SANDBOX=str(tmp_path / "sandbox"))
    try:
        reusing = tools("sandbox", "up", "--reuse-env", env=env)
        assert reusing.returncode == 0, reusing.stderr
        assert "reusing heroku-tools' Python environment" in reusing.stderr
        assert reusing.stdout.startswith("export ")
        assert Sandbox(tmp_path / "sandbox").state()["settings"] == {"reuse_env": True, "strict": False}
        assert "dependencies: heroku-tools own environment (--reuse-env)" in tools("sandbox", "status", env=env).stdout

        strict = tools("sandbox", "up", "--strict", env=env)  # the running sandbox takes the new settings
        assert strict.returncode == 0, strict.stderr
        described = json.loads(tools("sandbox", "status", "--json", env=env).stdout)
        assert described["settings"] == {"reuse_env": False, "strict": True}
        assert "dependencies: installed by each build; strict builds" in tools("sandbox", "status", env=env).stdout

        assert tools("sandbox", "up", env=env).returncode == 0
        assert Sandbox(tmp_path / "sandbox").state()["settings"] == {"reuse_env": False, "strict": False}
    finally:
        Sandbox(tmp_path / "sandbox").stop()
