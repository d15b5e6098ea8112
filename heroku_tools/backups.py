"""Bring a database down a level (live → uat → dev), anonymised on the way, all or nothing.

The guarantees, in the order :func:`plan_restore` and :func:`execute_restore`
enforce them:

1. **Downwards only**, in the order ``heroku-tools.yml`` lists the environments
   (live first): a protected environment is never a target, whatever the flags,
   and the target's database is never the source's.
2. **A fresh backup** of the source is captured for this run unless one is
   named — never silently "the latest" — and the plan shows its id and age.
3. **Deny by default**: every column in the dump needs a rule, and every rule
   a column, checked against the dump's own schema before any data moves.
4. **Stream, don't restore-then-fix**: :func:`heroku_tools.anonymise.restore`
   reads the backup with ``pg_restore``, rewrites every row, and loads the
   result into the target in one transaction that verifies before it commits.
   Raw personal data never reaches the target's tables or WAL, nor a local
   file; any failure — Ctrl-C included — leaves the target as it was.
5. **Where the data lives**: by default that engine runs in a one-off dyno of
   the target app (:func:`heroku_tools.anonymise.remote.restore_in_dyno`), so
   live's data goes from the backup's signed URL to the target inside Heroku
   and only progress crosses this machine; ``here=True`` (``--here``) runs it
   on this machine, as before.
"""
from __future__ import annotations

import datetime
import os
import shlex
from collections.abc import Callable
from pathlib import Path
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from . import database
from .anonymise import (
    AnonymiseError, RestoreResult, Rules, Schema, VerificationFailed, check, find_problems, read_database_schema,
    read_dump_schema, read_literal_holders,
)
from .anonymise import restore as anonymised_restore
from .anonymise.errors import RulesError
from .anonymise.remote import EngineNotStarted, restore_from_dyno, restore_in_dyno
from .anonymise.restore import Progress
from .confirm import confirm_change
from .errors import HerokuToolsError, before_any_change
from .lock import hold
from .models import Transfer
from .output import Console
from .private import private_file, user_cache_dir, would_track
from .protection import check_database_target, check_target, database_of
from .session import Session
from .settings import Environment, Settings, variables
from .release.steps import Step, StepProgress, script


class DataFlowRefused(HerokuToolsError):
    """The restore would move data up, into a protected environment, or onto its own source."""


class RestoreAborted(HerokuToolsError):
    """The restore failed; the target database is as it was before (the message says so)."""


@dataclass(frozen=True)
class DataSettings:
    """The ``data:`` block of heroku-tools.yml, resolved."""

    rules: Rules
    secret: str
    canary: tuple[str, ...]
    post_restore: tuple[str, ...]
    #: Where the rules are written (for messages): the rules file, or the settings file holding them.
    rules_file: str = "heroku-tools.yml"


def data_settings(settings: Settings, target: Environment | None = None) -> DataSettings:
    """The ``data:`` block resolved: rules loaded, secret expanded; a clear error when any is missing.

    A target environment's own ``data: {post_restore: [...]}`` replaces the
    shared post-restore commands (dev may create test users, uat may not).
    """
    data = settings.data or {}
    where = settings.source or "heroku-tools.yml"
    raw = data.get("rules")
    if not raw:
        raise HerokuToolsError(
            f"{where}: data.rules is missing: restores need a rule for every column of every table",
            recover="heroku-tools backups.propose live -o anonymise.yml   # a starting point to review",
        )
    try:
        if isinstance(raw, str):
            path = settings.root / raw
            if not path.is_file():
                raise HerokuToolsError(f"{where}: data.rules names {raw!r}, which does not exist")
            rules = Rules.load(path)
        else:
            rules = Rules.from_mapping(dict(raw), source=f"{where}: data.rules")
    except RulesError as error:
        raise HerokuToolsError(str(error)) from None
    if not data.get("secret"):
        raise HerokuToolsError(
            f"{where}: data.secret is missing: the fakes are keyed with it so they cannot be reversed",
            recover="set data.secret: ${HEROKU_TOOLS_DATA_SECRET} in heroku-tools.yml and export a long random value",
        )
    secret = variables.interpolate(data["secret"], key="data.secret")
    post_restore = data.get("post_restore") or ()
    if target is not None and target.data and target.data.get("post_restore") is not None:
        own = target.data["post_restore"]
        post_restore = (own,) if isinstance(own, str) else tuple(own)
    canary = tuple(data.get("canary") or ())
    if len(canary) > 1:
        raise HerokuToolsError(f"{where}: data.canary: give one canary value (the restore verifies one), got {len(canary)}")
    return DataSettings(rules=rules, secret=secret, canary=canary,
                        post_restore=tuple(post_restore), rules_file=raw if isinstance(raw, str) else where)


def check_direction(settings: Settings, source: Environment, target: Environment) -> None:
    """Data flows down the configured order only, never into a protected environment, never out of a personal one.

    A personal environment (``dev-alice``) stands where its template is in the
    order: below the shared environments, so it can take their data. A
    database environment (``database_url:``) is listed below every app (the
    settings insist), so it can take any app's data, and is never a source.
    """
    order = settings.labels
    if source.is_database:
        raise DataFlowRefused(f"{source.label} is a database, not a Heroku app: it is never the source of a restore; "
                              "nothing was changed")
    if source.template is not None:
        raise DataFlowRefused(f"{source.label} is a personal environment: it is never the source of a restore; "
                              "nothing was changed")
    if target.protected:
        raise DataFlowRefused(
            f"{target.label} is protected: data is never restored into it; nothing was changed"
        )
    if source.label == target.label or source.app_name == target.app_name:
        raise DataFlowRefused(f"{source.label} cannot be restored onto itself; nothing was changed")
    if order.index(source.label) > order.index(target.template or target.label):
        raise DataFlowRefused(
            f"data flows down only ({' → '.join(order)}): {source.label} → {target.label} would move it up; "
            "nothing was changed"
        )


def anonymising_environment(settings: Settings, target: Environment) -> Environment:
    """The app whose one-off dyno runs the engine: the target itself, or — for a database environment, which
    has no dyno — the lowest Heroku environment that is not protected.

    Never a protected app's (live's): the dyno holds the raw backup while it
    anonymises it, and a dyno of the lowest environment already runs that
    environment's code next to anonymised data only. Only the anonymised rows
    come down to this machine.
    """
    if not target.is_database:
        return target
    apps = [env for env in settings.environments if not (env.is_database or env.is_template or env.protected)]
    if not apps:
        raise DataFlowRefused(
            f"{target.label} is a database: its data is anonymised in a one-off dyno of an unprotected Heroku "
            "environment, and the settings have none; nothing was changed",
            recover=f"heroku-tools backups.restore SOURCE {target.label} --here   # anonymise on this machine instead")
    return apps[-1]


@dataclass(frozen=True)
class RestorePlan:
    source: Environment
    target: Environment
    #: None in a dry run's plan: a fresh backup would be captured.
    backup: str | None
    backup_created: str | None
    captured_now: bool
    #: Short-lived, signed: a credential; never printed.
    backup_url: str
    target_url: str
    schema: Schema
    row_estimates: dict[str, int]
    data: DataSettings
    #: Run the engine on this machine (``--here``) rather than in a one-off dyno.
    here: bool = False
    #: The app whose one-off dyno runs the engine (see :func:`anonymising_environment`); None with ``here``.
    worker: Environment | None = None
    #: The backup's size as pg:backups shows it (``3.2MB``), when known.
    backup_size: str | None = None


def age(created: str | None, now: datetime.datetime | None = None) -> str:
    """``"3 minutes ago"`` from pg:backups' ``2024-05-12 10:00:09 +0000``."""
    if not created:
        return "age unknown"
    try:
        when = datetime.datetime.strptime(created.strip(), "%Y-%m-%d %H:%M:%S %z")
    except ValueError:
        return created
    seconds = ((now or datetime.datetime.now(datetime.timezone.utc)) - when).total_seconds()
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            count = int(seconds // size)
            return f"{count} {unit}{'s' if count != 1 else ''} ago"
    return "just now"


def _row_estimates(url: str) -> dict[str, int]:
    """Row counts of the source's tables, from the statistics (estimates: nothing is scanned on live)."""
    try:
        rows = database.query(url, "SELECT schemaname || '.' || relname, GREATEST(n_live_tup, 0) "
                                   "FROM pg_stat_user_tables ORDER BY 1", timeout=60)
    except HerokuToolsError:
        return {}
    return {row[0]: int(row[1]) for row in rows if len(row) == 2 and row[1].isdigit()}


def plan_restore(
    session: Session,
    source_label: str,
    target_label: str,
    *,
    backup: str | None = None,
    dry_run: bool = False,
    here: bool = False,
    console: Console = Console(),
) -> RestorePlan:
    """Everything checked and gathered before the confirmation code; nothing changed but a fresh backup.

    Every check that needs no backup — direction, protection, the rules' own
    validity, the databases — comes first, so a refusal never costs a
    capture (on Heroku a manual capture can rotate out the oldest retained
    backup). ``dry_run`` captures none: the rules are checked against the
    source's schema as it is now, and the plan says a fresh backup would be taken.
    """
    settings = session.settings
    source = settings.environment(source_label, database=True)  # check_direction says why a database is no source
    target = settings.environment(target_label, database=True)
    check_direction(settings, source, target)
    worker = None if here else anonymising_environment(settings, target)
    data = data_settings(settings, target)
    source_url, target_url = _databases(session, source, target)
    if backup is None and dry_run:
        console.say(f"==> reading {source.label}'s schema (--dry-run captures no backup)")
        schema = _checked(data, target, source, lambda: read_database_schema(source_url), f"{source.label}'s schema")
        return RestorePlan(source=source, target=target, backup=None, backup_created=None, captured_now=False,
                           backup_url="", target_url=target_url, schema=schema,
                           row_estimates=_row_estimates(source_url), data=data, here=here, worker=worker)
    chosen, backup_url = _backup(session, source, backup, console)
    console.say("==> reading the backup's schema and checking the anonymisation rules")
    schema = _checked(data, target, source, lambda: read_dump_schema(backup_url), f"backup {chosen.name} of {source.label}")
    return RestorePlan(
        source=source, target=target, backup=chosen.name, backup_created=chosen.created_at,
        captured_now=backup is None, backup_url=backup_url, target_url=target_url, schema=schema,
        row_estimates=_row_estimates(source_url), data=data, here=here, worker=worker, backup_size=chosen.size,
    )


def _databases(session: Session, source: Environment, target: Environment) -> tuple[str, str]:
    """Both apps' ``DATABASE_URL``: never the same database, and the target's never a protected one."""
    settings, heroku = session.settings, session.heroku
    if target.is_database:
        return _database_url(session, source.label), database_target_url(session, source, target)
    with ThreadPoolExecutor(2) as pool:
        source_config, target_config = pool.map(heroku.config, [source.app_name, target.app_name])
    # Strict: data never goes where it cannot be ruled out that a protected database is.
    check_target(settings, target, heroku.config, target_config=target_config, strict=True,
                 action=f"restore {source.label}'s data into {target.label} ({target.app_name})")
    source_url = source_config.get("DATABASE_URL")
    target_url = target_config.get("DATABASE_URL")
    if not source_url or not target_url:
        missing = source if not source_url else target
        raise HerokuToolsError(f"{missing.app_name} has no DATABASE_URL: add a heroku-postgresql database first")
    if database_of(source_url) == database_of(target_url):
        raise DataFlowRefused(
            f"{target.app_name}'s database is {source.app_name}'s own database: refusing to restore onto the source"
        )
    return source_url, target_url


def database_target_url(session: Session, source: Environment, target: Environment) -> str:
    """A database environment's URL, ``${VAR}`` expanded now, once it is shown to be nobody else's database.

    Checked before any data moves (:func:`~heroku_tools.protection.check_database_target`):
    on this machine unless ``remote_host: true``, and neither a protected
    environment's database nor any app environment's (the source's included).
    """
    key = f"environments.{target.label}.database_url"
    try:
        url = variables.interpolate(target.database_url or "", key=key)
    except variables.MissingReference as error:
        raise HerokuToolsError(f"{error.message}: {target.label}'s database is unknown; nothing was changed",
                               recover=[f"export {error.missing[0]}=postgres:///my_app_dev   # your database; then "
                                        "run it again"]) from None
    check_database_target(session.settings, target, url, session.heroku.config,
                          action=f"restore {source.label}'s data into {target.label}")
    return url


def _backup(session: Session, source: Environment, backup: str | None, console: Console) -> tuple[Transfer, str]:
    """The backup to restore — a fresh capture unless one is named — and its short-lived signed URL."""
    heroku = session.heroku
    if backup is None:
        console.say(f"==> capturing a fresh backup of {source.label} ({source.app_name})")
        try:
            backup = heroku.pg_backups_capture(source.app_name, stream=console.stream)
        except HerokuToolsError as error:
            raise HerokuToolsError(f"the backup of {source.label} ({source.app_name}) failed: {error.message}",
                                   state=["nothing was changed: no data was loaded anywhere"],
                                   recover=[f"heroku pg:backups -a {source.app_name}   # is another capture running?",
                                            "run the same command again"]) from None
        if not backup:
            raise HerokuToolsError(f"the backup of {source.app_name} finished but its name could not be read")
    transfers = {t.name: t for t in heroku.pg_backups(source.app_name) if t.kind == "backup"}
    chosen: Transfer | None = transfers.get(backup)
    if chosen is None:
        known = ", ".join(sorted(transfers)) or "none"
        raise HerokuToolsError(f"backup {backup} of {source.app_name} not found (backups: {known})")
    if not chosen.succeeded:
        raise HerokuToolsError(f"backup {backup} of {source.app_name} did not complete ({chosen.status})")
    return chosen, heroku.pg_backups_url(source.app_name, backup)


def _checked(data: DataSettings, target: Environment, source: Environment, read: Callable[[], Schema],
             what: str) -> Schema:
    """The schema ``read`` gives, with every column covered by a rule and every rule by a column."""
    try:
        schema = read()
    except AnonymiseError as error:
        raise HerokuToolsError(
            f"the schema of {what} could not be read: {error.message}",
            state=[f"nothing was changed on {target.app_name}"],
            recover=[f"heroku pg:backups -a {source.app_name}   # did the backup complete?",
                     f"heroku-tools backups.restore {source.label} {target.label}   # with a fresh backup"],
        ) from None
    try:
        check(data.rules, schema, context=what)
    except AnonymiseError as error:
        raise HerokuToolsError(
            f"the rules do not cover the data: {error}",
            state=f"nothing was changed: {target.app_name} was not touched",
            recover=[f"heroku-tools backups.check {source.label}   # the full list of gaps",
                     f"$EDITOR {shlex.quote(str(data.rules_file))}   # a rule for each new column (keep, null, value, "
                     "fake, hash) or truncate its table; drop the rules of what is gone"],
        ) from None
    return schema


def render_restore(plan: RestorePlan) -> str:
    """The plan shown before the confirmation code: what, from where, to where, under which rules."""
    if plan.backup is None:
        taken = "a fresh one, captured once confirmed (--dry-run captures none; the rules were checked against " \
                f"{plan.source.label}'s schema as it is now)"
    else:
        taken = f"{plan.backup}, {'captured now' if plan.captured_now else 'named with --backup'}, {age(plan.backup_created)}"
    lines = [
        f"Source:  {plan.source.label} ({plan.source.app_name})",
        f"Backup:  {taken}",
        f"Target:  {plan.target.label} ({plan.target.app_name or 'its database_url'}) — its database is REPLACED, "
        "in one transaction",
        f"Runs:    {where_it_runs(plan)}",
        "",
        "Tables (rows estimated from the source's statistics):",
    ]
    names = {key: f"{key[0]}.{key[1]}" for key in plan.schema.tables}
    width = max((len(name) for name in names.values()), default=10)
    for key in sorted(plan.schema.tables):
        name = names[key]
        rows = plan.row_estimates.get(name)
        count = f"~{rows:,} rows" if rows is not None else "rows unknown"
        lines.append(f"    {name:<{width}}  {count:>14}  {_rule_summary(plan.data.rules.table(key))}")
    if plan.data.post_restore:
        where = ("not run: a database environment has no dyno; run them in your project against it"
                 if plan.target.is_database else "one dyno on the target")
        lines += ["", f"After the load ({where}):", *(f"    {c}" for c in plan.data.post_restore)]
    return "\n".join(lines)


def where_it_runs(plan: RestorePlan) -> str:
    """Where the anonymising engine runs, and how much data crosses this machine because of it."""
    if plan.worker is None:
        size = f"~{plan.backup_size}" if plan.backup_size else "its size is known once captured"
        return (f"here (--here): the whole backup ({size}, raw data) is downloaded to this machine, anonymised "
                "here, and the rewritten data loaded from here")
    if plan.target.is_database:
        return (f"in a one-off dyno of {plan.worker.app_name} ({plan.worker.label}): only the anonymised rows, "
                f"compressed, come down to this machine into {plan.target.label}'s database; raw data never does")
    return f"in a one-off dyno of {plan.worker.app_name}: only progress crosses this machine"


def size_text(count: float) -> str:
    """``93.4 kB``, ``1.2 GB``: a byte count for people."""
    if count < 1000:
        return f"{count:,.0f} bytes"
    for unit in ("kB", "MB"):
        count /= 1000
        if count < 1000:
            return f"{count:,.1f} {unit}"
    return f"{count / 1000:,.1f} GB"


def _rule_summary(table_rule) -> str:
    """``truncated`` or e.g. ``2 fake, 1 null, 5 keep``: what happens to a table's data."""
    if table_rule is None:
        return ""
    if table_rule.truncate:
        return "truncated"
    actions: dict[str, int] = {}
    for column_rule in table_rule.columns.values():
        actions[column_rule.action] = actions.get(column_rule.action, 0) + 1
    return ", ".join(f"{count} {action}" for action, count in sorted(actions.items()))


def execute_restore(plan: RestorePlan, session: Session, *, console: Console = Console()) -> RestoreResult:
    """Maintenance on, the anonymised load, post-restore commands, maintenance off (a database environment:
    the load alone, see :func:`_restore_database`)."""
    if plan.target.is_database:
        return _restore_database(plan, session, console)
    heroku, say = session.heroku, console.say
    app = plan.target.app_name
    say(f"==> maintenance on for {app}")
    try:
        session.api.maintenance_on(app)
    except HerokuToolsError as error:
        raise RestoreAborted(f"restore of {plan.backup} into {plan.target.label} failed at maintenance on: "
                             f"{error.message}", state=[f"nothing was changed on {app}: no data was loaded"],
                             recover=[_again(plan)]) from None
    try:
        result = _load(plan, session, console)
    except (AnonymiseError, KeyboardInterrupt) as error:
        state = [f"{app}'s database is as it was before the restore: nothing was committed", *_notes(error)]
        try:
            session.api.maintenance_off(app)
            state.append(f"maintenance is off again for {app}")
            recover = []
        except (HerokuToolsError, KeyboardInterrupt):
            state.append(f"MAINTENANCE IS STILL ON for {app}: turning it off failed")
            recover = [f"heroku maintenance:off -a {app}"]
        raise _aborted(plan, error, state, recover) from None
    if plan.data.post_restore:
        steps = [Step(f"post-restore {index}", command) for index, command in enumerate(plan.data.post_restore, 1)]
        progress = StepProgress(steps, show=console.stream)
        say(f"==> running {len(steps)} post-restore command(s) on {app} (one dyno)")
        try:
            heroku.run(app, script(steps), stream=progress)
        except (HerokuToolsError, KeyboardInterrupt) as error:
            # From the command that failed (the first, if the dyno failed before any began) to the last.
            names = [step.name for step in steps]
            left = steps[names.index(progress.current) if progress.current in names else 0:]
            raise RestoreAborted(
                f"the data was restored and anonymised, but a post-restore command failed: "
                f"{getattr(error, 'message', 'interrupted')}",
                state=[f"{app} holds the anonymised data of {plan.backup}",
                       f"MAINTENANCE IS STILL ON for {app}: the post-restore commands did not all finish",
                       *([error.note] if getattr(error, "note", None) else [])],
                recover=[*(shlex.join(["heroku", "run", "-x", "-a", app, "--", step.command]) for step in left),
                         f"heroku maintenance:off -a {app}"],
            ) from None
    say(f"==> maintenance off for {app}")
    session.api.maintenance_off(app)
    return result


def _restore_database(plan: RestorePlan, session: Session, console: Console) -> RestoreResult:
    """Into a database environment: it has no app, so no maintenance page and no dyno of its own — the same
    all-or-nothing load, anonymised in a dyno of :attr:`RestorePlan.worker` (or here with ``--here``)."""
    try:
        result = _load(plan, session, console)
    except (AnonymiseError, KeyboardInterrupt) as error:
        raise _aborted(plan, error, [f"{plan.target.label}'s database is as it was before the restore: nothing was "
                                     "committed", *_notes(error)], []) from None
    if plan.data.post_restore:
        console.say(f"post-restore commands run in a dyno of the target app, and {plan.target.label} is a database: "
                    "none was run; run them in your project against it if you need them:")
        for command in plan.data.post_restore:
            console.say(f"    {command}")
    return result


def _notes(error: BaseException) -> list[str]:
    """What an engine error adds to the state (a dyno that was stopped, say)."""
    return [error.note] if getattr(error, "note", None) else []


def _aborted(plan: RestorePlan, error: BaseException, state: list[str], recover: list[str]) -> RestoreAborted:
    """The error of a load that failed: nothing was committed; run it again (after fixing the rules that let
    personal data through, for a failed verification — the same rules would fail the same way)."""
    reason = "interrupted (Ctrl-C)" if isinstance(error, KeyboardInterrupt) else str(error)
    if isinstance(error, VerificationFailed):
        recover = [*recover, f"$EDITOR {shlex.quote(str(plan.data.rules_file))}   # the rule named above let "
                   "personal data through"]
    recover = [*recover, _again(plan)]
    if isinstance(error, EngineNotStarted):
        recover.append(f"{_again(plan)} --here   # the same restore on this machine")
    return RestoreAborted(f"restore of {plan.backup} into {plan.target.label} failed: {reason}", state=state,
                          recover=recover)


def _load(plan: RestorePlan, session: Session, console: Console) -> RestoreResult:
    """The anonymised load itself: in a one-off dyno of the target (the default), of the worker app for a
    database environment (the rows come down here), or all here."""
    canary = plan.data.canary[0] if plan.data.canary else None
    progress = ProgressLines(plan.row_estimates, console.stream)
    into = plan.target.app_name or f"{plan.target.label}'s database"
    if plan.worker is None:
        console.say(f"==> streaming {plan.backup} into {into} from here, anonymised (one transaction)")
        return anonymised_restore(plan.backup_url, plan.target_url, plan.data.rules, secret=plan.data.secret,
                                  canary=canary, schema=plan.schema, progress=progress)
    worker = plan.worker.app_name
    if plan.target.is_database:
        console.say(f"==> anonymising {plan.backup} in a one-off dyno of {worker}, loading it into {into} here "
                    "(one transaction)")
        return restore_from_dyno(session.heroku, worker, plan.target_url, backup_url=plan.backup_url,
                                 rules=plan.data.rules, secret=plan.data.secret, canary=canary, progress=progress)
    console.say(f"==> restoring {plan.backup} into {into} in a one-off dyno of {worker}, anonymised (one transaction)")
    return restore_in_dyno(session.heroku, worker, backup_url=plan.backup_url, rules=plan.data.rules,
                           secret=plan.data.secret, canary=canary, database_url=plan.target_url, progress=progress)


class ProgressLines:
    """One line per progress report: the table, its rows and SQL bytes, the rate and (from the source's
    statistics) an estimate of the time left for the table."""

    def __init__(self, estimates: dict[str, int], show: Callable[[str], None]):
        self.estimates, self.show = estimates, show

    def __call__(self, progress: Progress) -> None:
        if progress.phase == "committing":
            self.show(f"all {progress.rows:,} rows read ({progress.sql_bytes / 1e6:,.1f} MB of SQL in "
                      f"{progress.seconds:.0f}s): verifying, then committing")
            return
        if progress.table is None:
            return
        rate = progress.sql_bytes / progress.seconds / 1e6 if progress.seconds else 0.0
        line = (f"{progress.table}: {progress.table_rows:,} rows, {progress.table_bytes / 1e6:,.1f} MB "
                f"({rate:,.1f} MB/s)")
        expected = self.estimates.get(progress.table if "." in progress.table else f"public.{progress.table}")
        row_rate = progress.rows / progress.seconds if progress.seconds else 0.0
        if expected and row_rate and expected > progress.table_rows:
            line += f", ~{(expected - progress.table_rows) / row_rate:,.0f}s left in this table"
        self.show(line)


def restore(
    session: Session,
    source: str,
    target: str,
    *,
    backup: str | None = None,
    dry_run: bool = False,
    confirm_app: str | None = None,
    here: bool = False,
    console: Console = Console(),
) -> RestoreResult | None:
    """Bring ``source``'s data down into ``target``, anonymised, all or nothing; None after ``dry_run``.

    The plan (direction, protection, a fresh backup unless ``backup`` names
    one, the rules checked against the dump) comes before the confirmation
    code (or ``confirm_app``, the target app's name); see :func:`plan_restore`
    and :func:`execute_restore`. The engine runs in a one-off dyno of the
    target unless ``here`` (then on this machine). This is what
    ``backups.restore`` runs.
    """
    if confirm_app is not None:  # a wrong --confirm is refused before anything is captured
        confirm_change(session.settings.environment(target, database=True), f"restore into {target}",
                       confirm_app=confirm_app)
    with before_any_change("while planning the restore", f"heroku-tools backups.restore {source} {target}",
                           state=f"nothing was changed on {target} (a backup of {source} may still be completing)"):
        plan = plan_restore(session, source, target, backup=backup, dry_run=dry_run, here=here, console=console)
    console.report(render_restore(plan))
    if dry_run:
        console.say("--dry-run: stopping here; the target was not changed.")
        return None
    action = f"replace {plan.target.label}'s database with anonymised {plan.backup}"
    confirm_change(plan.target, action, confirm_app=confirm_app, console=console)
    with hold(session, plan.target, f"{action} of {plan.source.label}", console=console):
        result = execute_restore(plan, session, console=console)
    console.say(f"restored {plan.backup} of {plan.source.label} into {plan.target.label}: {result.tables} tables, "
                f"{result.rows_out:,} rows in {result.seconds:.1f}s, {'here' if plan.here else 'in a one-off dyno'}; "
                f"{size_text(result.bytes_crossed)} ({result.bytes_crossed:,} bytes) crossed this machine")
    return result


def download(
    session: Session,
    label: str,
    backup: str | None = None,
    output: str | os.PathLike | None = None,
    *,
    force: bool = False,
    console: Console = Console(),
) -> Path:
    """Download a backup (raw, un-anonymised data) to a file only you can read; its path.

    By default into the user's cache directory, never the project (see
    :mod:`heroku_tools.cache`); an explicit ``output`` git would track is
    written with a warning. The file is mode 0600 from its creation, complete
    or absent: a download cut short says so and leaves nothing behind.
    """
    env = session.settings.environment(label)
    heroku = session.heroku
    backups = [t for t in heroku.pg_backups(env.app_name) if t.kind == "backup" and t.succeeded]
    name = backup or (max(backups, key=lambda t: (t.created_at or "", t.name)).name if backups else None)
    if name is None:
        raise HerokuToolsError(f"{env.app_name} has no completed backup: capture one with "
                               f"`heroku-tools backups.capture {env.label}`")
    path = Path(output) if output else user_cache_dir("backups", env.app_name) / f"{name}.dump"
    if path.exists() and not force:
        raise HerokuToolsError(f"{path} exists: pass --force to replace it; nothing was downloaded")
    if output and would_track(session.settings, path):
        console.warn(f"{path} is inside a git work tree and not ignored: it holds {env.label}'s raw data — "
                     "add it to .gitignore, or download to the default place outside the project")
    console.say(f"==> downloading {name} of {env.label} ({env.app_name})")
    _write_private(session.api, heroku.pg_backups_url(env.app_name, name), path)
    return path


def _write_private(api, url: str, path: Path) -> None:
    """Stream ``url`` into ``path``, mode 0600 from creation, whole or not at all."""
    with private_file(path, force=True) as sink:
        received, expected = api.download(url, sink)
        if expected is not None and received != expected:
            raise HerokuToolsError(f"the download was cut short at {received:,} of {expected:,} bytes; "
                                   "nothing was kept", recover="run the same command again")


def _again(plan: RestorePlan) -> str:
    """The same restore again, from the same backup."""
    return f"heroku-tools backups.restore {plan.source.label} {plan.target.label} --backup {plan.backup}"


def live_schema(session: Session, label: str) -> Schema:
    """``label``'s database schema as it is now (read-only catalog queries)."""
    return read_database_schema(_database_url(session, label))


def _database_url(session: Session, label: str) -> str:
    env = session.settings.environment(label)
    url = session.heroku.config(env.app_name).get("DATABASE_URL")
    if not url:
        raise HerokuToolsError(f"{env.app_name} has no DATABASE_URL: add a heroku-postgresql database first")
    return url


def check_rules(session: Session, label: str) -> tuple[list[str], list[str]]:
    """The gaps between the rules and ``label``'s live schema (empty: covered), and what to review by eye.

    To review: views and functions whose text holds string literals — copied
    as written, which no column rule covers.
    """
    data = data_settings(session.settings)
    url = _database_url(session, label)
    problems = [str(problem) for problem in find_problems(data.rules, read_database_schema(url))]
    return problems, read_literal_holders(url)
