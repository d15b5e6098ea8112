"""Migrations nobody here wrote: Django's own contrib apps, as installed in the venv.

Every file parses, every operation is a stock class and gets a verdict, and
the pending order matches Django's own executor (run in a subprocess, so
this process never configures Django).
"""
from __future__ import annotations

import inspect
import json
import subprocess
import sys
from pathlib import Path

import django
import django.contrib.postgres.operations as postgres_operations
import django.db.migrations.operations as django_operations
import pytest
from django.contrib.postgres import fields as postgres_fields
from django.contrib.postgres import search
from django.db import models
from django.db.migrations.operations.base import Operation as DjangoOperation

from heroku_tools.migrations import Graph, Key, Verdict, classify, pending, read_directory
from heroku_tools.migrations.fields import DB_TYPES
from heroku_tools.migrations.parse import STOCK_OPERATIONS
from heroku_tools.migrations.rules import _RULES

CONTRIB = Path(django.__file__).parent / "contrib"
APPS = ["admin", "auth", "contenttypes", "flatpages", "redirects", "sessions", "sites"]


@pytest.fixture(scope="module")
def contrib():
    return read_directory(CONTRIB)


def test_every_contrib_migration_file_is_read_and_parses(contrib):
    on_disk = {path for path in CONTRIB.glob("*/migrations/*.py") if path.name != "__init__.py"}
    assert len(contrib.migrations) == len(on_disk) >= 20
    assert {migration.app for migration in contrib.migrations} == set(APPS)
    assert [migration.key for migration in contrib.migrations if migration.problems] == []
    assert contrib.problems == ()


def test_every_contrib_operation_is_a_stock_class_with_a_verdict(contrib):
    graph = Graph(contrib.migrations)
    judged = classify(graph, graph.order(), alone=True)
    operations = [verdict for item in judged for verdict in item.operations]
    assert len(operations) >= 25
    assert [op.operation.name for op in operations if op.operation.stock is None] == []
    assert all(op.verdict in Verdict and op.judgement.reason for op in operations)
    assert not any(op.judgement.reason.startswith("not understood") for op in operations)
    by_key = {str(item.key): item for item in judged}
    assert by_key["auth.0011_update_proxy_permissions"].verdict is Verdict.UNKNOWN  # RunPython
    assert by_key["auth.0008_alter_user_username_max_length"].verdict is Verdict.COMPATIBLE  # 30 -> 150
    assert by_key["contenttypes.0002_remove_content_type_name"].verdict is Verdict.INCOMPATIBLE  # RemoveField
    assert by_key["sites.0002_alter_domain_unique"].verdict is Verdict.INCOMPATIBLE  # makes domain unique


def test_stock_classes_are_the_ones_django_ships_and_each_has_a_rule():
    shipped = set(django_operations.__all__)
    postgres = {name for name, value in vars(postgres_operations).items()
                if inspect.isclass(value) and issubclass(value, DjangoOperation) and value.__module__ == postgres_operations.__name__}
    assert STOCK_OPERATIONS["django.db.migrations"] == shipped
    assert STOCK_OPERATIONS["django.contrib.postgres.operations"] == postgres - {"CollationOperation"}  # a base class
    assert set(_RULES) == shipped | STOCK_OPERATIONS["django.contrib.postgres.operations"]


def test_field_types_name_real_django_fields():
    found = {name for name in DB_TYPES if hasattr(models, name) or hasattr(postgres_fields, name) or hasattr(search, name)}
    assert set(DB_TYPES) - found <= {"NullBooleanField", "CommaSeparatedIntegerField", "IPAddressField"}  # removed from Django


DJANGO_PLAN = """
import json, sys
import django
from django.conf import settings
settings.configure(
    INSTALLED_APPS=["django.contrib." + app for app in json.loads(sys.argv[1])],
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
)
django.setup()
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
executor = MigrationExecutor(connection)
graph = executor.loader.graph
executor.loader.applied_migrations = {tuple(key): graph.nodes[tuple(key)] for key in json.loads(sys.argv[2])}
plan = executor.migration_plan(graph.leaf_nodes())
print(json.dumps([[migration.app_label, migration.name] for migration, _ in plan]))
"""


def django_plan(applied: list[Key]) -> list[Key]:
    out = subprocess.run([sys.executable, "-c", DJANGO_PLAN, json.dumps(APPS), json.dumps(applied)],
                         capture_output=True, text=True, check=True, timeout=120).stdout
    return [Key(*key) for key in json.loads(out)]


@pytest.mark.parametrize("applied", [
    [],
    [Key("contenttypes", "0001_initial"), Key("auth", "0001_initial"), Key("auth", "0002_alter_permission_name_max_length"),
     Key("auth", "0003_alter_user_email_max_length")],
], ids=["empty database", "first auth migrations applied"])
def test_pending_order_matches_djangos_executor(contrib, applied):
    ours = [migration.key for migration in pending(contrib.migrations, applied)]
    assert ours == django_plan(applied)
    assert not set(applied) & set(ours)


def test_pending_contrib_migrations_are_classified_against_the_applied_state(contrib):
    applied = [Key("contenttypes", "0001_initial"), Key("auth", "0001_initial")]
    graph = Graph(contrib.migrations, applied)
    judged = {str(item.key): item for item in classify(graph, [m.key for m in graph.pending()])}
    assert "auth.0001_initial" not in judged
    # auth.User exists (applied): widening a varchar is compatible, dropping NOT NULL too.
    assert judged["auth.0003_alter_user_email_max_length"].verdict is Verdict.COMPATIBLE
    assert judged["auth.0005_alter_user_last_login_null"].verdict is Verdict.COMPATIBLE
    assert judged["admin.0001_initial"].verdict is Verdict.COMPATIBLE
