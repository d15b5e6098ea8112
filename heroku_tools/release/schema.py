"""What a deploy will do to the target's database schema, read before the confirmation code.

Pending migrations are **known − applied**: *applied* is the target's own
``django_migrations`` table (read over its ``DATABASE_URL`` with ``psql``,
or, where the database cannot be reached from here, by a one-off dyno that
reads the same table); *known* is the project's migration files at the
commit being deployed, read statically (:mod:`heroku_tools.migrations`; no
code of the project is imported or run). A promotion also reads the
upstream's table: what uat applied and live has not is exactly what the
promoted slug will apply, third-party and contrib migrations included.

Two things cannot be known this way, and say so: migrations of third-party
packages when a dependency file changed (they are listed as possibly pending,
operations unknown), and anything at all when no database could be read
(then the old rule — a migration file changed — decides, marked approximate).
"""
from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from .. import database, migrations
from ..errors import HerokuToolsError
from ..git import Git
from ..heroku import Heroku
from ..migrations import Plan, Procfile, Verdict
from .options import matching_files

#: Files whose change can bring new third-party migrations (packages are installed from them).
DEPENDENCY_FILES = ("requirements.txt", "requirements/*.txt", "requirements-*.txt", "Pipfile.lock", "poetry.lock",
                    "uv.lock", "pyproject.toml", "setup.py", "setup.cfg")

#: What a one-off dyno runs when the database cannot be reached from here: the same table, through psql.
_DYNO_READ = (
    'psql "$DATABASE_URL" -X -A -t -v ON_ERROR_STOP=1 -c "SELECT to_regclass(\'django_migrations\') IS NOT NULL" '
    '| grep -qx t && psql "$DATABASE_URL" -X -A -t -F "$(printf \'\\t\')" -v ON_ERROR_STOP=1 -c '
    + shlex.quote(database.APPLIED_MIGRATIONS) + " || true"
)


@dataclass(frozen=True)
class Applied:
    """The ``django_migrations`` rows of one app's database (``rows`` None: could not be read)."""

    rows: tuple[tuple[str, str], ...] | None
    #: ``database`` (psql from here), ``a one-off dyno``, or why nothing could be read.
    read_from: str


@dataclass(frozen=True)
class SchemaPlan:
    """The migrations a deploy applies, their verdicts, and where each fact came from."""

    #: None when no database could be read: then ``approximate`` (the old path rule) decides.
    plan: Plan | None
    read_from: str
    procfile: Procfile
    #: Dependency files that changed: third-party migrations may be pending, operations unknown.
    dependencies_changed: tuple[str, ...] = ()
    #: Migration files that changed, when the plan could not be computed (the path rule).
    approximate: tuple[str, ...] = ()
    #: Rows of the target's ``django_migrations`` before the deploy (to tell later what a failure applied).
    applied_before: tuple[tuple[str, str], ...] = ()

    @property
    def pending(self) -> tuple[str, ...]:
        """``app.name`` of every migration the deploy applies, in order (files, when approximate)."""
        if self.plan is None:
            return self.approximate
        return tuple(str(item.key) for item in self.plan.pending)

    @property
    def needs_migrate(self) -> bool:
        return bool(self.pending or self.dependencies_changed)

    @property
    def verdict(self) -> Verdict | None:
        """The deploy's verdict: its worst migration's; unknown for what cannot be read."""
        found = [self.plan.verdict] if self.plan is not None and self.plan.verdict else []
        if self.dependencies_changed or (self.plan is None and self.approximate):
            found.append(Verdict.UNKNOWN)
        return max(found, key=lambda verdict: verdict.severity, default=None)

    def as_json(self) -> dict:
        return {
            "read_from": self.read_from,
            "verdict": self.verdict.value if self.verdict else None,
            "plan": self.plan.as_json() if self.plan is not None else None,
            "approximate": list(self.approximate),
            "dependencies_changed": list(self.dependencies_changed),
            "release_phase": {"line": self.procfile.release_line, "migrates": self.procfile.release_migrates},
        }


def read_applied(heroku: Heroku, app: str, config: Mapping[str, str]) -> Applied:
    """``app``'s applied migrations: over its ``DATABASE_URL`` from here, else from a one-off dyno."""
    url = config.get("DATABASE_URL")
    if not url:
        return Applied(None, f"{app} has no DATABASE_URL")
    try:
        return Applied(tuple(database.applied_migrations(url)), "database")
    except (database.DatabaseUnreachable, database.DatabaseURLError) as unreachable:
        try:
            result = heroku.run(app, _DYNO_READ)
        except HerokuToolsError as error:
            return Applied(None, f"{app}'s database could not be read ({unreachable.message}; a one-off dyno: "
                                 f"{error.message})")
        return Applied(tuple(database.parse_applied(result.stdout)), "a one-off dyno")


def plan_schema(
    git: Git,
    commit: str,
    target: Applied,
    *,
    deployed_commit: str | None,
    changed_files: Sequence[str] | None,
    migrate_globs: Sequence[str],
    upstream: Applied | None = None,
    overrides: Mapping[str, Sequence[str]] | None = None,
) -> SchemaPlan:
    """The deploy's schema plan for ``commit`` onto a database with ``target``'s applied rows."""
    with ThreadPoolExecutor(2) as pool:
        snapshot = pool.submit(migrations.read_commit, git, commit)
        procfile = pool.submit(migrations.read_procfile, git, commit).result()
        known = snapshot.result().migrations
    dependencies = tuple(matching_files(changed_files or (), DEPENDENCY_FILES)) if deployed_commit else ()
    if target.rows is None or (upstream is not None and upstream.rows is None):
        missing = target if target.rows is None else upstream
        changed = changed_files if changed_files is not None else [m.path for m in known]
        approximate = tuple(matching_files(changed, migrate_globs))
        return SchemaPlan(None, f"{missing.read_from}: migration files changed (approximate)", procfile,
                          dependencies, approximate)
    if upstream is not None:
        plan = migrations.promotion_plan(known, upstream.rows, target.rows, overrides=overrides)
        # A promotion's own rows name every migration the slug applies, third-party ones included.
        dependencies = ()
        read_from = f"{target.read_from}, and the upstream's {upstream.read_from}"
    else:
        plan = migrations.plan(known, target.rows, overrides=overrides)
        read_from = target.read_from
    return SchemaPlan(plan, read_from, procfile, dependencies, (), target.rows)
