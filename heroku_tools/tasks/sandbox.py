"""Tasks driving the sandbox: a local Heroku the real heroku CLI and git talk to.

::

    eval "$(heroku-tools sandbox up)"     # start it; point this shell's heroku and git at it
    heroku apps                           # the real CLI, answered locally
    heroku-tools sandbox fault my-app-live release --times 1
    heroku-tools sandbox down

``up`` prints the shell ``export`` lines, and only them, on stdout, so ``eval``
works; everything else goes to stderr. The plain functions below are what the
tasks call, for a fabfile that wants the same without the task layer.
"""
from __future__ import annotations

import json as jsonlib
import urllib.error

from invoke import Collection

from ..errors import HerokuToolsError
from ..output import info, success
from ..sandbox import Sandbox, SandboxError
from ..sandbox.state import checked_time_scale
from ._task import task

def start(directory: str | None = None, reuse_env: bool = False, strict: bool = False, formation: bool = True,
          time_scale: float = 1.0) -> Sandbox:
    """Start the sandbox in ``directory`` unless it is running, with these settings; the running sandbox.

    A person rehearsing wants the app served, so the formation runs unless ``formation`` is false.
    """
    try:
        return Sandbox(directory, reuse_env=reuse_env, strict=strict, formation=formation,
                       time_scale=time_scale).start()
    except SandboxError as exc:
        raise HerokuToolsError(f"the sandbox could not be started: {exc}") from None


def running(directory: str | None = None) -> Sandbox:
    """The sandbox in ``directory``, which must be running."""
    sandbox = Sandbox(directory)
    if not sandbox.is_running():
        raise HerokuToolsError(f"no sandbox is running in {sandbox.directory}: start it with `heroku-tools sandbox up`")
    return sandbox


def control(action, *args):
    """Call a sandbox control method, turning its HTTP errors into one message."""
    try:
        return action(*args)
    except urllib.error.HTTPError as exc:
        try:
            message = jsonlib.loads(exc.read() or b"{}").get("message") or exc.reason
        except ValueError:
            message = exc.reason
        raise HerokuToolsError(f"the sandbox refused: {message}") from None
    except (OSError, SandboxError) as exc:
        raise HerokuToolsError(f"the sandbox did not answer: {exc}") from None


@task(
    help={
        "reuse-env": "dynos use heroku-tools' own Python environment: no dependency install (faster, less faithful)",
        "strict": "fail builds the sandbox cannot make as Heroku would (a Python version not installed here)",
        "formation": "run each release's process types and serve web_url (--no-formation: list dynos only)",
        "time-scale": "multiply the platform's delays (crash cool-offs, preboot, router timeout) by this factor",
    }
)
def up(c, directory=None, reuse_env=False, strict=False, formation=True, time_scale="1"):
    """Start the sandbox in the background and print the shell exports that point heroku and git at it.

    Use as ``eval "$(heroku-tools sandbox up)"``: stdout holds only the exports.
    Builds install each app's dependencies as Heroku does, into a cache shared
    by the user's sandboxes; ``--reuse-env`` skips that. Each release's process
    types run and the router serves every app's ``web_url``; ``--no-formation``
    skips that. The flags apply to a sandbox that is already running, too.
    """
    try:
        scale = checked_time_scale(float(time_scale))
    except ValueError as error:
        raise HerokuToolsError(f"--time-scale: {error}") from None
    sandbox = control(start, directory, reuse_env, strict, formation, scale)
    mode = "reusing heroku-tools' Python environment" if reuse_env else "building like Heroku's Python buildpack"
    served = f"apps served at https://<app>-<hex>.herokuapp.localhost:{sandbox.router_port}/" if formation else "no dynos run"
    info(f"sandbox running at {sandbox.base_url} (state in {sandbox.directory}; {mode}{', strict' if strict else ''}; "
         f"{served})")
    print(sandbox.exports(), end="", flush=True)


@task
def down(c, directory=None):
    """Stop the sandbox (its state stays on disk for the next ``up``)."""
    sandbox = Sandbox(directory)
    if sandbox.stop():
        success(f"sandbox stopped ({sandbox.directory})")
    else:
        info(f"no sandbox was running in {sandbox.directory}")


@task(name="status", help={"json": "print the status as JSON"})
def status_(c, directory=None, json=False):
    """Say whether the sandbox runs, where, and which apps and pipelines it holds."""
    described = control(Sandbox(directory).status)
    if json:
        print(jsonlib.dumps(described, indent=2))
        return
    if not described["running"]:
        print(f"not running (directory {described['directory']})")
        return
    print(f"running at {described['url']} (pid {described['pid']}, directory {described['directory']})")
    print(f"apps: {', '.join(described.get('apps') or []) or 'none'}")
    print(f"pipelines: {', '.join(described.get('pipelines') or []) or 'none'}")
    settings = described.get("settings") or {}
    print(f"dependencies: {'heroku-tools own environment (--reuse-env)' if settings.get('reuse_env') else 'installed by each build'}"
          f"{'; strict builds' if settings.get('strict') else ''}")
    print(f"dynos: {'run; apps served at ' + described['router'] if settings.get('formation') else 'listed, not run (--no-formation)'}"
          f"{'; time scale ' + str(settings['time_scale']) if settings.get('time_scale', 1.0) != 1.0 else ''}")


@task(
    help={
        "app": "the app whose operation should fail",
        "point": "build, release, run, promotion, maintenance, backup, restore, config or config-unset",
        "times": "how many of the next operations fail (default 1)",
    }
)
def fault(c, app, point, times=1, directory=None):
    """Make the next TIMES POINT operations of APP fail the way Heroku's would."""
    control(running(directory).arm_fault, app, point, int(times))
    success(f"armed: the next {times} {point} operation(s) of {app} will fail")


@task(help={"ms": "delay in milliseconds (0 to remove)"})
def latency(c, ms, directory=None):
    """Delay every API answer by MS milliseconds (slow networks, timeouts)."""
    try:
        milliseconds = int(ms)
    except ValueError:
        raise HerokuToolsError(f"latency must be a whole number of milliseconds, got {ms!r}") from None
    control(running(directory).set_latency, milliseconds)
    success(f"API latency set to {milliseconds} ms")


@task
def clear(c, directory=None):
    """Disarm every fault."""
    control(running(directory).clear_faults)
    success("faults cleared")


ns = Collection("sandbox", up, down, status_, fault, latency, clear)
