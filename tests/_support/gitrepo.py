"""Throwaway git repositories for pushing to the sandbox with real git."""
from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path

from _support.home import make_home


class GitRepo:
    """A working tree whose git runs with the sandbox's environment."""

    def __init__(self, path: Path, env: dict):
        self.path, self.env = Path(path), env
        self.path.mkdir(parents=True, exist_ok=True)
        self.git("init", "-q", "-b", "main")

    def git(self, *args: str, check: bool = True, env: dict | None = None, timeout: float = 180):
        result = subprocess.run(
            ["git", *args],
            check=False,
            cwd=self.path,
            env=env or self.env,
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=timeout,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"git {' '.join(args)} exited {result.returncode}\n{result.stdout}\n{result.stderr}")
        return result

    def write(self, files: dict[str, str]) -> None:
        for name, text in files.items():
            target = self.path / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(textwrap.dedent(text).lstrip("\n"))

    def commit(self, message: str, files: dict[str, str] | None = None, *, amend: bool = False) -> str:
        """Write ``files``, commit everything and return the full sha."""
        self.write(files or {})
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message, *(["--amend"] if amend else []))
        return self.git("rev-parse", "HEAD").stdout.strip()

    def push(self, *args: str, env: dict | None = None):
        """``git push`` (never raises: callers assert on the exit code and output)."""
        return self.git("push", *args, check=False, env=env)


def django_project(release: str = "echo 'release phase ran' > release-ran.txt", settings_extra: str = "") -> dict[str, str]:
    """A minimal Django project: one static file, a Procfile with web and release."""
    return {
        "requirements.txt": "Django>=5.2\n",
        "Procfile": f"web: python manage.py runserver 0.0.0.0:$PORT\nrelease: {release}\n",
        "manage.py": """
            import os
            import sys

            if __name__ == "__main__":
                os.environ.setdefault("DJANGO_SETTINGS_MODULE", "site_settings")
                from django.core.management import execute_from_command_line

                execute_from_command_line(sys.argv)
            """,
        "site_settings.py": f"""
            import os
            from pathlib import Path

            BASE_DIR = Path(__file__).resolve().parent
            SECRET_KEY = os.environ.get("SECRET_KEY", "sandbox-test")
            INSTALLED_APPS = ["django.contrib.staticfiles"]
            STATIC_URL = "static/"
            STATIC_ROOT = BASE_DIR / "staticfiles"
            STATICFILES_DIRS = [BASE_DIR / "static"]
            {settings_extra}
            """,
        "static/site.css": "body { color: #430098; }\n",
    }


def pushed_app(sandbox, tmp_path_factory, name: str, files: dict[str, str]) -> str:
    """A sandbox app ``name`` running ``files``, committed and deployed with ``git push``; its name."""
    sandbox.api("POST", "/apps", {"name": name})
    repo = GitRepo(tmp_path_factory.mktemp("repo"), sandbox.cli_env(make_home(tmp_path_factory.mktemp("home"))))
    repo.commit("Dyno test app", files)
    pushed = repo.push(f"{sandbox.base_url}/{name}.git", "main")
    assert pushed.returncode == 0, pushed.stderr
    return name
