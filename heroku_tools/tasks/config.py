"""``config``: see, compare, change and pull an app's config vars, values masked.

::

    heroku-tools config.show live                        # masked: length and fingerprint
    heroku-tools config.diff uat live                    # exit 0 same, 1 different, 2 error
    heroku-tools config.diff live settings/live.yml --json
    heroku-tools config.set uat DEBUG=false 'GREETING=hello world'
    heroku-tools config.unset uat OLD_FLAG
    heroku-tools config.push live --dry-run              # the plan only
    heroku-tools config.push live                        # plan, code, ONE release
    heroku-tools config.pull dev -o .env                 # mode 0600

``fab config.diff:uat,live`` and ``inv config.diff uat live`` are the same
tasks. Each is a thin layer over :mod:`heroku_tools.configvars`, whose
functions a fabfile can call directly.
"""
from __future__ import annotations

import json as jsonlib
import sys

from invoke import Collection, Exit

from .. import configvars, output
from ..errors import HerokuToolsError
from ..heroku import Heroku
from ..settings import from_context
from ._task import task

ENV = "environment label from heroku-tools.yml (live, uat, dev, ...)"
SHOW_VALUES = "show the values themselves instead of their length and fingerprint"
CONFIRM = "the app's name, instead of typing the confirmation code (for CI)"
DRY_RUN = "show what would change and stop; nothing is changed"


def _setup(c):
    settings = from_context(c)
    return settings, Heroku.from_settings(settings, cwd=settings.root)


def _dump(data) -> None:
    print(jsonlib.dumps(data, indent=2, ensure_ascii=False))


def _stderr(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _stderr_paint(text: str, *styles: str) -> str:
    return output.paint(text, *styles, stream=sys.stderr)


@task(name="show",
      help={"env": ENV, "show_values": SHOW_VALUES, "json": "print the vars as JSON"})
def show(c, env, show_values=False, json=False):
    """Show ENV's config vars, values masked; vars set by add-ons are marked."""
    settings, heroku = _setup(c)
    (snapshot,) = configvars.snapshots(settings, heroku, [settings.environment(env).label])
    masker = configvars.Masker()
    if json:
        _dump(configvars.show_json(snapshot, masker, reveal=show_values))
    else:
        print(configvars.render_show(snapshot, masker, reveal=show_values, paint=configvars.stdout_paint))


@task(iterable=["ignore"], help={
    "source": "an environment, @ENV (its declared settings), or a settings file (YAML or .env)",
    "target": "the same, to compare with",
    "show_values": SHOW_VALUES,
    "json": "print the comparison as JSON",
    "ignore": "a var name pattern not to compare, e.g. 'SENTRY_*' (repeatable; adds to config_ignore)",
})
def diff(c, source, target, show_values=False, json=False, ignore=None):
    """Compare two environments' config vars (or one with a settings file): exit 0 same, 1 different, 2 error.

    Rows: ! different, < only in SOURCE, > only in TARGET, = equal; not
    differences: ? on the app but not mentioned by the declared settings
    compared with it, ~ set by an add-on, # ignored.
    """
    try:
        settings, heroku = _setup(c)
        result = configvars.compare(settings, heroku, source, target, ignore=ignore or ())
        masker = configvars.Masker()
        if json:
            _dump(configvars.diff_json(result, masker, reveal=show_values))
        else:
            print(configvars.render_diff(result, masker, reveal=show_values, paint=configvars.stdout_paint))
    except HerokuToolsError as exc:
        raise Exit(exc.render(), code=2) from exc
    if not result.matches:
        raise Exit(code=1)


@task(name="set", iterable=["var"], help={
    "env": ENV,
    "var": "KEY=VALUE (give as many as needed after ENV; repeatable as --var KEY=VALUE)",
    "confirm": CONFIRM,
    "dry_run": DRY_RUN,
    "show_values": SHOW_VALUES,
})
def set_(c, env, var=None, confirm=None, dry_run=False, show_values=False):
    """Set ENV's config vars: config.set ENV KEY=VALUE ... (one release; a protected ENV asks for the code)."""
    settings, heroku = _setup(c)
    settings.environment(env)
    values = configvars.parse_assignments(var or [])
    configvars.set_vars(settings, heroku, env, values, confirm_app=confirm, dry_run=dry_run, reveal=show_values)


set_.rest = "var"


@task(name="unset", iterable=["key"], help={
    "env": ENV,
    "key": "a var to remove (give as many as needed after ENV; repeatable as --key KEY)",
    "confirm": CONFIRM,
    "dry_run": DRY_RUN,
    "show_values": SHOW_VALUES,
})
def unset(c, env, key=None, confirm=None, dry_run=False, show_values=False):
    """Remove config vars from ENV: config.unset ENV KEY ... (one release; a protected ENV asks for the code)."""
    settings, heroku = _setup(c)
    configvars.unset_vars(settings, heroku, env, list(key or []), confirm_app=confirm, dry_run=dry_run,
                          reveal=show_values)


unset.rest = "key"


@task(help={
    "env": ENV,
    "confirm": CONFIRM,
    "dry_run": DRY_RUN,
    "show_values": SHOW_VALUES,
    "json": "print the plan and outcome as JSON on stdout (the plan text goes to stderr)",
})
def push(c, env, confirm=None, dry_run=False, show_values=False, json=False):
    """Make ENV's config vars match its declared settings: + add, ! change, - remove, ? left alone.

    Shows the plan, asks for the code (or --confirm APP), then applies all
    additions and changes in ONE config:set and removals in at most one config:unset.
    """
    settings, heroku = _setup(c)
    masker = configvars.Masker()
    report, paint = (_stderr, _stderr_paint) if json else (print, configvars.stdout_paint)
    result, applied = configvars.push(
        settings, heroku, env, confirm_app=confirm, dry_run=dry_run, reveal=show_values, report=report,
        paint=paint, masker=masker, prompt_stream=sys.stderr if json else None,
    )
    if json:
        _dump({
            **configvars.plan_json(result, masker, reveal=show_values),
            "applied": applied is not None,
            "releases": list(applied.versions) if applied else [],
        })


@task(help={
    "env": ENV,
    "output": "the file to write (default .env; - for stdout)",
    "force": "replace the file if it exists",
    "include_addons": "also write vars set by add-ons (DATABASE_URL...): the app's own databases",
})
def pull(c, env, output=".env", force=False, include_addons=False):
    """Write ENV's config vars to a .env file readable only by you (mode 0600), for local development."""
    settings, heroku = _setup(c)
    path, snapshot, text, left_out = configvars.pull(
        settings, heroku, env, output, force=force, include_addons=include_addons
    )
    if path is None:
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        count = len(snapshot.values) - len(left_out)
        configvars.output.success(f"wrote {count} vars of {snapshot.title} to {path} (readable only by you)")
        if configvars.git_would_track(settings, path):
            configvars.output.warn(f"{path} is not ignored by git: add it to .gitignore, it holds secrets")
    if left_out:
        configvars.output.info(
            f"left out, set by add-ons: {', '.join(left_out)} (--include-addons to write them too)"
        )


ns = Collection("config", show, diff, set_, unset, push, pull)
