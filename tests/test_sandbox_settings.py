"""``heroku-tools sandbox up --reuse-env`` / ``--strict`` / ``--no-formation`` / ``--time-scale``: how a
sandbox builds and runs dynos, set when it starts and changed by starting it again, through the real
``heroku-tools`` program."""
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
        assert "apps served at https://<app>-<hex>.herokuapp.localhost:" in reusing.stderr
        assert Sandbox(tmp_path / "sandbox").state()["settings"] == {
            "reuse_env": True, "strict": False, "formation": True, "time_scale": 1.0}
        status = tools("sandbox", "status", env=env).stdout
        assert "dependencies: heroku-tools own environment (--reuse-env)" in status
        assert "dynos: run; apps served at https://*.herokuapp.localhost:" in status

        strict = tools("sandbox", "up", "--strict", "--no-formation", "--time-scale", "0.5", env=env)
        assert strict.returncode == 0, strict.stderr  # the running sandbox takes the new settings
        assert "no dynos run" in strict.stderr
        described = json.loads(tools("sandbox", "status", "--json", env=env).stdout)
        assert described["settings"] == {"reuse_env": False, "strict": True, "formation": False, "time_scale": 0.5}
        status = tools("sandbox", "status", env=env).stdout
        assert "dependencies: installed by each build; strict builds" in status
        assert "dynos: listed, not run (--no-formation); time scale 0.5" in status

        refused = tools("sandbox", "up", "--time-scale", "0", env=env)
        assert refused.returncode != 0 and "--time-scale: time_scale must be a number above 0" in refused.stderr

        assert tools("sandbox", "up", env=env).returncode == 0
        assert Sandbox(tmp_path / "sandbox").state()["settings"] == {
            "reuse_env": False, "strict": False, "formation": True, "time_scale": 1.0}
    finally:
        Sandbox(tmp_path / "sandbox").stop()
