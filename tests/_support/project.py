"""A real project to deploy in tests: the sample Django app in a git repo with an origin.

It mirrors what a team has: a bare ``origin`` repository, a working clone with
``master`` and ``dev`` branches holding ``examples/sampleapp``, a
``heroku-tools.yml`` naming three sandbox apps (dev, uat, live — live deployed
by pipeline promotion), each with a Postgres add-on and coupled into a pipeline.

The apps, add-ons and pipeline are made through the Platform API, as the heroku
CLI makes them (the same requests), but without a CLI start-up (a second or two
of CPU) for each: a project's set-up is not what its tests check, and the CLI's
own ``apps:create``, ``addons:create`` and ``pipelines:create``/``add`` are
tested against the sandbox in ``test_sandbox_*.py``. Everything a test runs
afterwards goes through the real CLI and ``heroku-tools``.
"""
from __future__ import annotations

import json
import shutil
import ssl
import subprocess
import sys
import textwrap
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "examples" / "sampleapp"
HEROKU_TOOLS = Path(sys.executable).parent / "heroku-tools"

SETTINGS = """\
environments:
    - label:    live
      app_name: {prefix}-live
      branch:   master
      pipeline: true
    - label:    uat
      app_name: {prefix}-uat
      branch:   master
    - label:    dev
      app_name: {prefix}-dev
      branch:   dev
commands:
    collectstatic: python manage.py collectstatic --noinput
    migrate: python manage.py migrate --noinput
# The sandbox of these tests runs no web dynos: nothing would answer a health check.
health:
    enabled: false
"""


class Project:
    def __init__(self, directory: Path, env: dict, prefix: str):
        self.root = Path(directory)
        self.env = dict(env)
        self.prefix = prefix
        self.origin = self.root / "origin.git"
        self.path = self.root / "work"
        self.apps = {label: f"{prefix}-{label}" for label in ("dev", "uat", "live")}

    # -- set-up ------------------------------------------------------------------
    def create_repo(self) -> Project:
        self.root.mkdir(parents=True, exist_ok=True)
        subprocess.run(["git", "init", "-q", "--bare", "-b", "master", str(self.origin)], check=True, env=self.env)
        shutil.copytree(SAMPLE, self.path, ignore=shutil.ignore_patterns("heroku-tools.yml", "__pycache__", "*.sqlite3", "staticfiles"))
        (self.path / "heroku-tools.yml").write_text(SETTINGS.format(prefix=self.prefix))
        self.git("init", "-q", "-b", "master")
        self.git("remote", "add", "origin", str(self.origin))
        self.commit("Initial sample app")
        self.git("push", "-q", "origin", "master")
        self.git("checkout", "-q", "-b", "dev")
        self.git("push", "-q", "-u", "origin", "dev")
        self.git("checkout", "-q", "master")
        self.git("branch", "-q", "--set-upstream-to=origin/master", "master")
        return self

    def create_apps(self, *, postgres: bool = True, pipeline: bool = True, labels=("dev", "uat", "live")) -> Project:
        """The apps of ``labels`` (``apps:create``), each with Postgres (``addons:create heroku-postgresql``),
        coupled into a pipeline named after the prefix (``pipelines:create``, ``pipelines:add``)."""
        for label in labels:
            self.api("POST", "/apps", {"name": self.apps[label]})
            if postgres:
                self.api("POST", f"/apps/{self.apps[label]}/addons",
                         {"attachment": {}, "config": {}, "plan": {"name": "heroku-postgresql"}})
        if pipeline:
            stages = {"dev": "development", "uat": "staging", "live": "production"}
            created = self.api("POST", "/pipelines", {"name": self.prefix, "generation": {"name": "cedar"}})
            for label in labels:
                self.api("POST", "/pipeline-couplings",
                         {"app": self.apps[label], "pipeline": created["id"], "stage": stages[label]})
        return self

    def api(self, method: str, path: str, body: dict | None = None):
        """A Platform API call with the CLI's host, key and CA bundle from the project's environment."""
        request = urllib.request.Request(
            self.env["HEROKU_HOST"].rstrip("/") + path, method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={"Authorization": f"Bearer {self.env['HEROKU_API_KEY']}",
                     "Accept": "application/vnd.heroku+json; version=3", "Content-Type": "application/json"},
        )
        context = ssl.create_default_context(cafile=self.env["NODE_EXTRA_CA_CERTS"])
        with urllib.request.urlopen(request, context=context, timeout=120) as response:
            payload = response.read()
        return json.loads(payload) if payload else None

    # -- running things ----------------------------------------------------------
    def _run(self, argv, *, check=True, input=None, timeout=300, env=None):
        result = subprocess.run(
            argv, cwd=self.path, env=env or self.env, capture_output=True, text=True,
            input=input, stdin=None if input is not None else subprocess.DEVNULL, timeout=timeout,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"{' '.join(map(str, argv))} exited {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
            )
        return result

    def git(self, *args, check=True):
        return self._run(["git", *args], check=check)

    def heroku(self, *args, check=True):
        return self._run(["heroku", *args], check=check)

    def tools(self, *args, check=False, input=None, timeout=600):
        """Run the ``heroku-tools`` console script in the project."""
        return self._run([str(HEROKU_TOOLS), *args], check=check, input=input, timeout=timeout)

    def write(self, files: dict[str, str]) -> None:
        for name, text in files.items():
            target = self.path / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(textwrap.dedent(text).lstrip("\n"))

    def commit(self, message: str, files: dict[str, str] | None = None) -> str:
        self.write(files or {})
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message)
        return self.head()

    def head(self, ref: str = "HEAD") -> str:
        return self.git("rev-parse", ref).stdout.strip()

    def tag_commit(self, name: str) -> str | None:
        result = self.git("rev-parse", "--verify", "--quiet", f"refs/tags/{name}^{{commit}}", check=False)
        return result.stdout.strip() or None

    def tags(self) -> list[str]:
        return self.git("tag", "--list").stdout.split()


def new_model_migration(number: int, dependency: str, model: str) -> dict[str, str]:
    """A migration adding a model ``model`` to the sample ``customers`` app."""
    return {
        f"customers/migrations/{number:04d}_{model.lower()}.py": f"""
            from django.db import migrations, models


            class Migration(migrations.Migration):
                dependencies = [("customers", "{dependency}")]
                operations = [
                    migrations.CreateModel(
                        name="{model}",
                        fields=[
                            ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False)),
                            ("label", models.CharField(max_length=50)),
                        ],
                    ),
                ]
            """
    }
