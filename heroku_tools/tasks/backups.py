"""``backups``: capture Heroku Postgres backups, and bring data down — anonymised, all or nothing.

::

    heroku-tools backups.capture live
    heroku-tools backups.list live
    heroku-tools backups.restore live uat            # fab backups.restore:live,uat
    heroku-tools backups.check live                  # CI: every column has a rule
    heroku-tools backups.propose live -o anonymise.yml

The tasks are thin over :mod:`heroku_tools.backups`, which holds the
guarantees (direction, fresh backup, deny by default, one transaction).
"""
from __future__ import annotations

import json as jsonlib
import sys
from dataclasses import replace
from pathlib import Path

from invoke import Collection

from .. import backups as data
from ..anonymise import proposal_yaml
from ..errors import HerokuToolsError
from ..output import Console, line_printer, success, warn
from ..session import Session
from ._task import task


@task(help={"json": "print the backup's name as JSON"})
def capture(c, env, json=False):
    """Capture a backup of ENV's database now, with the CLI's progress."""
    session = Session.from_context(c)
    app = session.settings.environment(env).app_name
    name = session.heroku.pg_backups_capture(app, stream=line_printer("    "))
    print(jsonlib.dumps({"app": app, "backup": name}) if json else name)


@task(name="list")
def list_(c, env, json=False):
    """List ENV's backups, restores and copies."""
    session = Session.from_context(c)
    app = session.settings.environment(env).app_name
    transfers = session.heroku.pg_backups(app)
    if json:
        print(jsonlib.dumps([t.__dict__ for t in transfers], indent=2))
        return
    for t in transfers:
        print(f"{t.name:<6} {t.kind:<8} {t.status:<40} {t.size or '':>10} {t.created_at or ''}")


@task(help={"backup": "backup name, e.g. b003 (default: the latest)"})
def url(c, env, backup=None):
    """Print a short-lived signed download URL of a backup (a credential: handle with care)."""
    session = Session.from_context(c)
    print(session.heroku.pg_backups_url(session.settings.environment(env).app_name, backup))


@task(help={"backup": "backup name (default: the latest)",
            "output": "the file to write (default: the user cache directory, outside the project)",
            "force": "replace the file if it exists"})
def download(c, env, backup=None, output=None, force=False):
    """Download a backup to a file only you can read (raw data: by default outside the project)."""
    path = data.download(Session.from_context(c), env, backup, output, force=force, console=Console())
    success(f"wrote {path} (readable only by you)")


@task(help={
    "source": "environment the data comes from (e.g. live)",
    "target": "environment it goes to (e.g. uat); never a protected one",
    "backup": "restore this backup (e.g. b003) instead of capturing a fresh one",
    "dry_run": "show the plan and stop: nothing is captured or changed (the rules are checked against the live schema)",
    "confirm": "the target app's name, instead of typing the confirmation code (for CI)",
    "here": "anonymise on this machine (the whole backup crosses it) instead of in a one-off dyno of TARGET",
    "json": "print the outcome as JSON on stdout; the plan and the steps go to stderr, the progress lines nowhere",
})
def restore(c, source, target, backup=None, dry_run=False, confirm=None, here=False, json=False):
    """Restore SOURCE's data into TARGET, anonymised on the way, in one transaction (in a one-off dyno of TARGET)."""
    console = replace(Console.for_json(), stream=lambda line: None) if json else Console()
    result = data.restore(Session.from_context(c), source, target, backup=backup, dry_run=dry_run,
                          confirm_app=confirm, here=here, console=console)
    if json:
        print(jsonlib.dumps({"source": source, "target": target, "restored": result is not None,
                             **({"where": result.where, "tables": result.tables, "rows": result.rows_out,
                                 "seconds": round(result.seconds, 3), "bytes_crossed": result.bytes_crossed}
                                if result is not None else {})}))


@task(help={"env": "environment whose live schema the rules are checked against"})
def check(c, env):
    """Exit non-zero if any column of ENV's schema has no rule, or a rule names a missing column."""
    session = Session.from_context(c)
    problems, review = data.check_rules(session, env)
    for holder in review:
        warn(f"review: the {holder} holds string literals, copied as written (no rule covers them)")
    if problems:
        for problem in problems:
            print(problem)
        raise HerokuToolsError(f"{len(problems)} gap(s) between the anonymisation rules and {env}'s schema")
    success(f"every column of {env}'s schema has a rule, and every rule a column")


@task(help={"env": "environment whose schema to read", "output": "file to write (default: stdout)",
            "force": "overwrite an existing file"})
def propose(c, env, output=None, force=False):
    """Propose starting rules from ENV's schema, for review — never applied by themselves."""
    session = Session.from_context(c)
    text = proposal_yaml(data.live_schema(session, env))
    if not output:
        sys.stdout.write(text)
        return
    path = Path(output)
    if path.exists() and not force:
        raise HerokuToolsError(f"{path} exists: pass --force to overwrite it")
    path.write_text(text)
    warn(f"wrote {path}: review every rule, then point data.rules at it in heroku-tools.yml")


ns = Collection("backups", capture, list_, url, download, restore, check, propose)
