"""The real heroku CLI, run against the sandbox."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path


class HerokuCLI:
    """Runs the real heroku CLI against the sandbox."""

    def __init__(self, env: dict, cwd: Path):
        self.env, self.cwd = env, cwd

    def __call__(self, *args: str, check: bool = True, input: str | None = None, timeout: float = 120):
        result = subprocess.run(
            ["heroku", *args],
            env=self.env,
            cwd=self.cwd,
            capture_output=True,
            text=True,
            input=input,
            stdin=None if input is not None else subprocess.DEVNULL,
            timeout=timeout,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"heroku {' '.join(args)} exited {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
            )
        return result

    def json(self, *args: str):
        return json.loads(self(*args).stdout)
