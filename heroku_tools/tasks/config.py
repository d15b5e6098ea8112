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
tasks. Each is a thin layer over an operation of :mod:`heroku_tools.configvars`,
which a fabfile can call directly.
"""
from __future__ import annotations

import dataclasses
import json as jsonlib

from invoke import Collection, Exit

from .. import configvars
from ..errors import HerokuToolsError
from ..output import Console
from ..session import Session
from ._task import task

# Invoke's parser and executor log every argument under --debug (config.set's values too): mask them as ours are.
configvars.mask_invoke_logging()

def _console(json: bool) -> Console:
    """With ``--json`` the table is not shown (the JSON is); progress and warnings still go to stderr."""
    return dataclasses.replace(Console.for_json(), report=lambda text: None) if json else Console()


def _dump(data) -> None:
    print(jsonlib.dumps(data, indent=2, ensure_ascii=False))


@task(name="show", help={"json": "print the vars as JSON"})
def show(c, env, show_values=False, json=False):
    """Show ENV's config vars, values masked; vars set by add-ons are marked."""
    masker = configvars.Masker()
    snapshot = configvars.show(Session.from_context(c), env, reveal=show_values, masker=masker,
                               console=_console(json))
    if json:
        _dump(configvars.show_json(snapshot, masker, reveal=show_values))


@task(iterable=["ignore"], help={
    "source": "an environment, @ENV (its declared settings), or a settings file (YAML or .env)",
    "target": "the same, to compare with",
    "json": "print the comparison as JSON",
    "ignore": "a var name pattern not to compare, e.g. 'SENTRY_*' (repeatable; adds to config_ignore)",
})
def diff(c, source, target, show_values=False, json=False, ignore=None):
    """Compare two environments' config vars (or one with a settings file): exit 0 same, 1 different, 2 error.

    Rows: ! different, < only in SOURCE, > only in TARGET, = equal; not
    differences: ? on the app but not mentioned by the declared settings
    compared with it, ~ set by an add-on, # ignored.
    """
    masker = configvars.Masker()
    try:
        result = configvars.compare(Session.from_context(c), source, target, ignore=ignore or (),
                                    reveal=show_values, masker=masker, console=_console(json))
    except HerokuToolsError as exc:
        raise Exit(exc.render(), code=2) from exc
    if json:
        _dump(configvars.diff_json(result, masker, reveal=show_values))
    if not result.matches:
        raise Exit(code=1)


@task(name="set", iterable=["var"], help={
    "var": "KEY=VALUE (give as many as needed after ENV; repeatable as --var KEY=VALUE)",
})
def set_(c, env, var=None, confirm=None, dry_run=False, show_values=False):
    """Set ENV's config vars: config.set ENV KEY=VALUE ... (one release, after the code or --confirm APP)."""
    session = Session.from_context(c)
    session.settings.environment(env)
    values = configvars.parse_assignments(var or [])
    configvars.set_vars(session, env, values, confirm_app=confirm, dry_run=dry_run, reveal=show_values)


set_.rest = "var"


@task(name="unset", iterable=["key"], help={
    "key": "a var to remove (give as many as needed after ENV; repeatable as --key KEY)",
})
def unset(c, env, key=None, confirm=None, dry_run=False, show_values=False):
    """Remove config vars from ENV: config.unset ENV KEY ... (one release, after the code or --confirm APP)."""
    configvars.unset_vars(Session.from_context(c), env, list(key or []), confirm_app=confirm, dry_run=dry_run,
                          reveal=show_values)


unset.rest = "key"


@task(help={"json": "print the plan and outcome as JSON on stdout (the plan text goes to stderr)"})
def push(c, env, confirm=None, dry_run=False, show_values=False, json=False):
    """Make ENV's config vars match its declared settings: + add, ! change, - remove, ? left alone.

    Shows the plan, asks for the code (or --confirm APP), then applies every
    addition, change and removal in ONE release, through the Platform API.
    """
    masker = configvars.Masker()
    result, applied = configvars.push(Session.from_context(c), env, confirm_app=confirm, dry_run=dry_run,
                                      reveal=show_values, masker=masker,
                                      console=Console.for_json() if json else Console())
    if json:
        _dump({
            **configvars.plan_json(result, masker, reveal=show_values),
            "applied": applied is not None,
            "releases": list(applied.versions) if applied else [],
        })


@task(help={
    "output": "the file to write (default .env; - for stdout)",
    "force": "replace the file if it exists",
    "include_addons": "also write vars set by add-ons (DATABASE_URL...): the app's own databases",
})
def pull(c, env, output=".env", force=False, include_addons=False):
    """Write ENV's config vars to a .env file readable only by you (mode 0600), for local development."""
    configvars.pull(Session.from_context(c), env, output, force=force, include_addons=include_addons)


ns = Collection("config", show, diff, set_, unset, push, pull)
