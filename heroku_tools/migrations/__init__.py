"""What a deploy's migrations do to the code still serving, read statically (no database, no imports).

Read the migrations at a commit (or in a directory), compute what
``migrate`` will apply on a database given its ``django_migrations`` rows,
and judge each migration **compatible** (the old code keeps working),
**locking** (compatible, but blocks writes while it runs), **incompatible**
(the old code breaks) or **unknown**::

    from heroku_tools.git import Git
    from heroku_tools import migrations

    snapshot = migrations.read_commit(Git(cwd=root), "HEAD")
    contrib = migrations.read_directory(django_contrib_dir)
    plan = migrations.plan([*snapshot.migrations, *contrib.migrations], applied_rows)
    plan.verdict, plan.deciding.reason, plan.deciding.advice

See docs/migrations.rst for the rules, the markers and ``migrations.check``.
"""
from .check import CheckResult, check, describe, render
from .classify import Classified, OperationVerdict, classify, worst
from .graph import Graph, Promoted, pending, promoted
from .markers import Mark, Overrides
from .parse import SWAPPABLE, Key, Migration, Operation, parse_migration
from .plan import Plan, plan, promotion_plan
from .procfile import Procfile, parse_procfile, read_procfile, release_summary, runs_migrate
from .read import Snapshot, read_commit, read_directory
from .values import Call, Ref, Unparsed
from .verdicts import Judgement, Verdict

__all__ = [
    "SWAPPABLE",
    "Call",
    "CheckResult",
    "Classified",
    "Graph",
    "Judgement",
    "Key",
    "Mark",
    "Migration",
    "Operation",
    "OperationVerdict",
    "Overrides",
    "Plan",
    "Procfile",
    "Promoted",
    "Ref",
    "Snapshot",
    "Unparsed",
    "Verdict",
    "check",
    "classify",
    "describe",
    "parse_migration",
    "parse_procfile",
    "pending",
    "plan",
    "promoted",
    "promotion_plan",
    "read_commit",
    "read_directory",
    "read_procfile",
    "release_summary",
    "render",
    "runs_migrate",
    "worst",
]
