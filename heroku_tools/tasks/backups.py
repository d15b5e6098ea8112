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
from pathlib import Path

from invoke import Collection

from .. import backups as data
from ..anonymise import proposal_yaml
from ..confirm import confirm as ask_code
from ..errors import HerokuToolsError
from ..output import info, line_printer, success, warn
from ..session import Session
from . import task


@task(help={"env": "environment label", "json": "print the backup's name as JSON"})
def capture(c, env, json=False):
    """Capture a backup of ENV's database now, with the CLI's progress."""
    session = Session.from_context(c)
    app = session.settings.environment(env).app_name
    name = session.heroku.pg_backups_capture(app, stream=line_printer("    "))
    print(jsonlib.dumps({"app": app, "backup": name}) if json else name)


@task(name="list", help={"env": "environment label", "json": "JSON output"})
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


@task(help={"env": "environment label", "backup": "backup name, e.g. b003 (default: the latest)"})
def url(c, env, backup=None):
    """Print a short-lived signed download URL of a backup (a credential: handle with care)."""
    session = Session.from_context(c)
    print(session.heroku.pg_backups_url(session.settings.environment(env).app_name, backup))


@task(help={"env": "environment label", "backup": "backup name (default: the latest)", "output": "file to write"})
def download(c, env, backup=None, output="latest.dump"):
    """Download a backup to a file (it holds raw data: keep it off shared disks)."""
    session = Session.from_context(c)
    path = session.heroku.pg_backups_download(session.settings.environment(env).app_name, backup, output)
    info(f"wrote {path}")


@task(help={
    "source": "environment the data comes from (e.g. live)",
    "target": "environment it goes to (e.g. uat); never a protected one",
    "backup": "restore this backup (e.g. b003) instead of capturing a fresh one",
    "dry_run": "show the plan and stop (a fresh backup is still captured unless --backup is given)",
    "confirm": "the target app's name, instead of typing the confirmation code (for CI)",
})
def restore(c, source, target, backup=None, dry_run=False, confirm=None):
    """Restore SOURCE's data into TARGET, anonymised on the way, in one transaction."""
    session = Session.from_context(c)
    plan = data.plan_restore(session, source, target, backup=backup, say=info, stream=line_printer("    "))
    print(data.render_restore(plan))
    if dry_run:
        info("--dry-run: stopping here; the target was not changed.")
        return
    ask_code(plan.target.app_name, f"replace {plan.target.label}'s database with anonymised {plan.backup}",
             confirm_app=confirm)
    result = data.execute_restore(plan, heroku=session.heroku, say=info, stream=line_printer("    "))
    success(f"restored {plan.backup} of {plan.source.label} into {plan.target.label}: {result.tables} tables, "
            f"{result.rows_out:,} rows in {result.seconds:.1f}s")


@task(help={"env": "environment whose live schema the rules are checked against"})
def check(c, env):
    """Exit non-zero if any column of ENV's schema has no rule, or a rule names a missing column."""
    session = Session.from_context(c)
    problems = data.check_rules(session, env)
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
