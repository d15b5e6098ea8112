"""What a ``git push`` to the sandbox does: build the commit into a slug, then release it.

The build follows Heroku's Python buildpack on the Heroku-24 stack: the
commit's files become the slug (``git archive``); the Python version is read
from ``runtime.txt``/``.python-version`` and an interpreter of that version
found on this machine (:mod:`heroku_tools.sandbox.pythons`); the dependencies
of ``requirements.txt``, ``poetry.lock`` or ``uv.lock`` are installed with
their own tool into an environment shared through the user's build cache
(:mod:`heroku_tools.sandbox.environments`), which the slug links to as
``.heroku/python``; a Django app then gets ``python manage.py collectstatic
--noinput`` in that environment with the app's config vars, unless
``DISABLE_COLLECTSTATIC`` is set; the ``Procfile`` gives the process types.
A failed install or collectstatic rejects the push and leaves the app as it
was. With ``sandbox up --reuse-env`` nothing is installed and the sandbox's
own Python stands in. The output follows the buildpack's and the push's
wording, line by line, so whatever parses Heroku's push output parses the
sandbox's; it also goes to the app's log as ``heroku[build]`` lines.
"""
from __future__ import annotations

import codecs
import hashlib
import io
import os
import platform
import re
import shutil
import subprocess
import tarfile
from collections.abc import Callable
from pathlib import Path

from . import environments, pythons, runtime
from .api.slugs import new_slug
from .releasing import follow, start_release, stream_url, wait_release
from .state import STACK, new_id, now

DEPLOY_REFS = ("refs/heads/main", "refs/heads/master")
ZERO_SHA = "0" * 40
PROCFILE_LINE = re.compile(r"^([\w-]{1,128}):\s*(.+?)\s*$")
#: Files whose presence makes the Python buildpack claim an app.
PYTHON_MARKERS = (
    "requirements.txt", "setup.py", "setup.cfg", "Pipfile", "pyproject.toml",
    "poetry.lock", "uv.lock", ".python-version", "runtime.txt",
)


REJECTED = "Push rejected, failed to compile Python app."


class BuildFailed(Exception):
    """The build stopped; the message is the buildpack's reason."""


class Output:
    """Build output in the buildpack's layout, to the pusher, the build's stream and the app's log."""

    def __init__(self, emit: Callable[[str], None], log: Path | None = None, app_log: Callable[[str], None] | None = None):
        self.emit, self.log, self.app_log = emit, log, app_log

    def line(self, text: str = "") -> None:
        self.emit(text + "\n")
        if self.log is not None:
            with self.log.open("a") as fh:
                fh.write(text + "\n")
        if self.app_log is not None and text.strip():
            self.app_log(text)

    def warning(self, *lines: str) -> None:
        """A buildpack warning: its lines after ``' !     '``, set off by blank lines."""
        self.line()
        for text in lines:
            self.error(text)
        self.line()

    def step(self, text: str) -> None:
        self.line(f"-----> {text}")

    def detail(self, text: str) -> None:
        self.line(f"       {text}")

    def error(self, text: str = "") -> None:
        self.line(f" !     {text}".rstrip())


# -- the push ------------------------------------------------------------------
def deploy_push(sandbox, app: dict, updates: list[dict], git_env: dict, emit: Callable[[str], None]) -> int:
    """Handle the refs of one push; the exit status for the ``pre-receive`` hook.

    Only ``main`` or ``master`` builds. A failed build rejects the push (1); a
    failed release phase does not (0): the code was built and the ref moves,
    but the release is ``failed`` and the previous one stays current.
    """
    deploys = [u for u in updates if u["ref"] in DEPLOY_REFS and u["new"] != ZERO_SHA]
    if not deploys:
        emit("Pushed to non-master branch, skipping build.\n")
        return 0
    commit = deploys[0]["new"]
    emit("Compressing source files... done.\nBuilding source:\n\n")
    state = sandbox.state
    build = create_build(sandbox, app, commit, git_env)
    out = Output(emit, state.stream_path(build["id"]), lambda text: state.logs.emit(app["id"], "heroku", "build", text))
    try:
        slug = build_slug(sandbox, app, build, commit, git_env, out)
    except BuildFailed as failure:
        for line in str(failure).splitlines():
            out.error(line)
        out.line()
        out.error("Push failed")
        finish_build(sandbox, app, build, "failed")
        emit(f"Verifying deploy...\n\n!\tPush rejected to {app['name']}.\n\n")
        return 1
    state.log_api(app, "Build succeeded")
    release = start_release(sandbox, app, slug["id"], f"Deploy {commit[:7]}")
    finish_build(sandbox, app, build, "succeeded", slug_id=slug["id"], release_id=release["id"])
    # A release phase may finish before we print this: output_stream_url says it exists.
    release_phase = bool(release.get("output_stream_url"))
    out.step("Launching...")
    if release_phase:
        out.error("Release command declared: this new release will not be available until the command succeeds.")
    out.detail(f"Released v{release['version']}")
    web_url = app.get("web_url") or f"https://{app['name']}.herokuapp.com/"
    out.detail(f"{web_url} deployed to Heroku")
    out.line()
    emit("Verifying deploy... done.\n")
    if release_phase:
        relay_release_phase(sandbox, release, emit)
    return 0


def relay_release_phase(sandbox, release: dict, emit: Callable[[str], None]) -> None:
    """Stream the release command's output to the pusher, as Heroku's push does."""
    emit("Running release command...\n\n")
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    text = ""
    for data in follow(sandbox.state.stream_path(release["id"]), lambda: release["status"] == "pending"):
        text = decoder.decode(data)
        emit(text)
    wait_release(sandbox, release)
    if text and not text.endswith("\n"):
        emit("\n")
    emit(f"Waiting for release.... {'done' if release['status'] == 'succeeded' else 'failed'}.\n")


# -- builds ------------------------------------------------------------------------
def create_build(sandbox, app: dict, commit: str, git_env: dict) -> dict:
    """Record a ``pending`` build, shaped as the Platform API's ``build``."""
    state = sandbox.state
    created = now()
    build_id = new_id()
    log = state.stream_path(build_id)
    log.parent.mkdir(parents=True, exist_ok=True)
    log.touch()
    build = {
        "app": {"id": app["id"]},
        "buildpacks": [{"url": "heroku/python", "name": "heroku/python"}],
        "created_at": created,
        "id": build_id,
        "output_stream_url": stream_url(sandbox, build_id),
        "source_blob": {
            "checksum": None,
            "url": f"{sandbox.base_url}/{app['name']}.git",
            "version": commit,
            "version_description": commit_subject(sandbox, app, commit, git_env),
        },
        "release": None,
        "slug": None,
        "stack": (app.get("build_stack") or STACK)["name"],
        "status": "pending",
        "updated_at": created,
        "user": state.owner(),
    }
    with state.mutate() as data:
        data.setdefault("builds", {})[build_id] = build
    state.log_api(app, f"Build started by user {state.account['email']}")
    return build


def finish_build(sandbox, app: dict, build: dict, status: str, slug_id: str | None = None, release_id: str | None = None) -> None:
    """Settle the build record; a failure is said in the app's log as Heroku's API says it."""
    state = sandbox.state
    with state.mutate():
        build["status"] = status
        build["slug"] = {"id": slug_id} if slug_id else None
        build["release"] = {"id": release_id} if release_id else None
        build["updated_at"] = now()
    if status == "failed":
        state.log_api(app, f"Build failed -- check your build output: https://dashboard.heroku.com/apps/{app['id']}/activity/builds/{build['id']}")


def build_slug(sandbox, app: dict, build: dict, commit: str, git_env: dict, out: Output) -> dict:
    """Compile ``commit`` into a new slug; raises :class:`BuildFailed` (leaving no slug)."""
    state = sandbox.state
    stack = app.get("build_stack") or STACK
    slug_id = new_id()
    slug_dir = runtime.slug_path(state, slug_id)
    out.step(f"Building on the {stack['name'].capitalize()} stack")
    out.step("Determining which buildpack to use for this app")
    try:
        if state.take_fault(app["name"], "build"):
            raise BuildFailed(f"Build failed (a fault armed in the sandbox).\n{REJECTED}")
        extract(sandbox, app, commit, git_env, slug_dir)
        if not any((slug_dir / marker).exists() for marker in PYTHON_MARKERS):
            raise BuildFailed(
                "No default language could be detected for this app.\n"
                "\t\t\tHINT: This occurs when Heroku cannot detect the buildpack to use for this application automatically.\n"
                "\t\t\tSee https://devcenter.heroku.com/articles/buildpacks"
            )
        out.step("Python app detected")
        install_dependencies(sandbox, app, slug_dir, out)
        collectstatic(sandbox, app, commit, slug_dir, out)
        process_types = read_procfile(slug_dir / "Procfile")
        out.step("Discovering process types")
        out.detail(f"Procfile declares types -> {', '.join(sorted(process_types)) or '(none)'}")
        out.line()
        out.step("Compressing...")
        size, checksum = measure(slug_dir)
        out.detail(f"Done: {human_size(size)}")
    except BuildFailed:
        shutil.rmtree(slug_dir.parent, ignore_errors=True)
        raise
    slug = new_slug(
        state,
        app,
        id=slug_id,
        buildpack_provided_description="Python",
        checksum=checksum,
        commit=commit,
        commit_description=build["source_blob"]["version_description"],
        process_types=process_types,
        size=size,
        stack=dict(stack),
    )
    with state.mutate():
        app["buildpack_provided_description"] = "Python"
    return slug


# -- Python and dependencies ---------------------------------------------------------
def install_dependencies(sandbox, app: dict, slug_dir: Path, out: Output) -> None:
    """Python and the app's packages, as the buildpack installs them, linked into the slug as ``.heroku/python``.

    The app's previous build is remembered (its Python version is "sticky",
    and a change of inputs is reported as the buildpack's discarded cache).
    """
    state = sandbox.state
    if runtime.reuse_env(state):
        out.step(f"Using the sandbox's own Python {platform.python_version()}; requirements are not installed (sandbox up --reuse-env)")
        return
    previous = app.get("_build") or {}
    try:
        request = pythons.read_request(slug_dir, cached=previous.get("python"))
        out.step(request.step_line())
        interpreter = pick_interpreter(state, request, out)
        plan = environments.Plan.for_app(interpreter, slug_dir, state.config(app))
        root = environments.cache_root()
        if previous and not environments.published(root / "envs" / plan.name):
            report_discarded(previous, plan, out)
        environment, _ = environments.Installer(plan, root, dict(os.environ), out).provide()
    except (pythons.VersionError, environments.InstallError) as error:
        raise BuildFailed(f"{error}\n\n{REJECTED}") from None
    link = slug_dir / ".heroku" / "python"
    if link.exists() or link.is_symlink():
        raise BuildFailed(f"Error: Existing '.heroku/python/' directory found.\nDelete it from the repository.\n\n{REJECTED}")
    link.parent.mkdir(exist_ok=True)
    link.symlink_to(environment.absolute())
    with state.mutate():
        app["_build"] = {"python": interpreter.dotted, "manager": plan.manager, "files": plan.files}


def pick_interpreter(state, request: pythons.Request, out: Output) -> pythons.Interpreter:
    """An interpreter for ``request``: a match, else the nearest with a warning, or a failure when strict."""
    found = pythons.find_interpreters()
    interpreter, matches = pythons.choose(request, found)
    if matches:
        return interpreter
    available = ", ".join(i.dotted for i in found) or "none"
    if interpreter is None or state.data["settings"].get("strict"):
        raise BuildFailed(
            f"Error: Python {request.version} is not installed on this machine (the sandbox downloads no interpreters).\n"
            f"Pythons found: {available}. Install Python {request.version} with pyenv or uv, or change {request.origin}.\n\n{REJECTED}"
        )
    out.warning(
        f"Warning: Python {request.version} is not installed on this machine.",
        "",
        f"The sandbox builds with Python {interpreter.dotted} ({interpreter.path}), the nearest it found;",
        f"Heroku would use Python {request.version}. Pythons found: {available}.",
        "Install it with pyenv or uv, or start the sandbox with --strict to fail such builds.",
    )
    return interpreter


def report_discarded(previous: dict, plan: environments.Plan, out: Output) -> None:
    """The buildpack's "Discarding cache since:" and its reasons, when the inputs changed."""
    reasons = []
    if previous.get("python") != plan.interpreter.dotted:
        reasons.append(f"The Python version has changed from {previous.get('python')} to {plan.interpreter.dotted}")
    if previous.get("manager") != plan.manager:
        reasons.append(f"The package manager has changed from {previous.get('manager')} to {plan.manager}")
    else:
        changed = sorted(set(previous.get("files", {}).items()) ^ set(plan.files.items()))
        reasons += [f"The contents of {name} changed" for name in dict.fromkeys(name for name, _ in changed)]
    if reasons:
        out.step("Discarding cache since:")
        for reason in reasons:
            out.detail(f"- {reason}")


def git_environment(sandbox, app: dict, git_env: dict) -> dict:
    """Environment for git reading the app's repo, including a push still in quarantine.

    During ``pre-receive`` the pushed objects sit in a quarantine directory the
    hook reports; only paths inside the app's repository are accepted.
    """
    repo = sandbox.state.repo_dir(app["name"]).resolve()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env["GIT_DIR"] = str(repo)
    for name, value in git_env.items():
        paths = value.split(os.pathsep)
        if all(Path(p).resolve().is_relative_to(repo) for p in paths if p):
            env[name] = value
    return env


def commit_subject(sandbox, app: dict, commit: str, git_env: dict) -> str | None:
    result = subprocess.run(
        ["git", "log", "-1", "--format=%s", commit],
        check=False,
        env=git_environment(sandbox, app, git_env),
        capture_output=True,
        text=True,
    )
    return result.stdout.strip() if result.returncode == 0 else None


def extract(sandbox, app: dict, commit: str, git_env: dict, target: Path) -> None:
    """The commit's tree into ``target`` (``git archive``), as the slug's files."""
    target.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "archive", "--format=tar", commit],
        check=False,
        env=git_environment(sandbox, app, git_env),
        capture_output=True,
    )
    if archive.returncode != 0:
        raise BuildFailed(f"Could not read commit {commit}: {archive.stderr.decode(errors='replace').strip()}")
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(target, filter="tar")


def collectstatic(sandbox, app: dict, commit: str, slug_dir: Path, out: Output) -> None:
    """Django's static files, as the Python buildpack generates them at build time."""
    if not (slug_dir / "manage.py").exists():
        return
    disabled = sandbox.state.config(app).get("DISABLE_COLLECTSTATIC", "")
    if disabled and disabled != "0":
        out.step("Skipping Django collectstatic since the env var DISABLE_COLLECTSTATIC is set.")
        return
    home = slug_dir.parent / "build-home"  # HOME is /app during a build on Heroku, not the slug
    home.mkdir(exist_ok=True)
    env = runtime.dyno_environment(
        sandbox.state, app, None, slug_dir,
        extra={"SOURCE_VERSION": commit, "STACK": (app.get("build_stack") or STACK)["name"], "HOME": str(home)},
    )
    try:
        if not django_installed(env, slug_dir):
            return
        out.step("$ python manage.py collectstatic --noinput")
        run_collectstatic(env, slug_dir, out)
    finally:
        shutil.rmtree(home, ignore_errors=True)


def django_installed(env: dict, slug_dir: Path) -> bool:
    """Whether the build's Python can import Django: the buildpack skips collectstatic otherwise."""
    probe = "import importlib.util, sys; sys.exit(importlib.util.find_spec('django') is None)"
    try:
        return subprocess.run(["python", "-c", probe], cwd=slug_dir, env=env, capture_output=True, check=False).returncode == 0
    except OSError:
        return False


def run_collectstatic(env: dict, slug_dir: Path, out: Output) -> None:
    """``manage.py collectstatic`` with its output indented; :class:`BuildFailed` with the buildpack's message."""
    process = subprocess.Popen(
        ["python", "manage.py", "collectstatic", "--noinput"],
        cwd=slug_dir,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    for raw in process.stdout:
        text = raw.decode(errors="replace").rstrip()
        if text:  # the buildpack drops collectstatic's blank lines too
            out.detail(text)
    if process.wait() != 0:
        out.line()
        raise BuildFailed(
            "Error: Unable to generate Django static files.\n"
            "\n"
            "The 'python manage.py collectstatic --noinput' Django\n"
            "management command to generate static files failed.\n"
            "\n"
            "See the traceback above for details.\n"
            "\n"
            "You may need to update application code to resolve this error.\n"
            "Or, you can disable collectstatic for this application:\n"
            "\n"
            "   $ heroku config:set DISABLE_COLLECTSTATIC=1\n"
            "\n"
            "https://devcenter.heroku.com/articles/django-assets\n"
            "\n"
            f"{REJECTED}"
        )
    out.line()


def read_procfile(path: Path) -> dict[str, str]:
    """Process types from a Procfile: ``name: command`` lines; others are ignored."""
    if not path.exists():
        return {}
    types = {}
    for line in path.read_text().splitlines():
        found = PROCFILE_LINE.match(line.strip())
        if found:
            types[found.group(1)] = found.group(2)
    return types


def measure(slug_dir: Path) -> tuple[int, str]:
    """Size and ``SHA256:`` checksum of the slug as a ``tar.gz`` of ``./app``."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        archive.add(slug_dir, arcname="./app")
    payload = buffer.getvalue()
    return len(payload), f"SHA256:{hashlib.sha256(payload).hexdigest()}"


def human_size(size: int) -> str:
    """Sizes as the buildpack prints them: ``667B``, ``12.3K``, ``23.2M``."""
    if size < 1024:
        return f"{size}B"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f}K"
    return f"{size / 1024 / 1024:.1f}M"
