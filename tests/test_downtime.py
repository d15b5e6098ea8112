"""The downtime table as a pure function: every row, the unreadable release phase, the flags."""
from __future__ import annotations

import pytest

from heroku_tools import migrations
from heroku_tools.release.downtime import RELEASE_LINE, decide, without_migrate
from heroku_tools.release.schema import SchemaPlan

MIGRATING = "release: python manage.py migrate --noinput"
CHECKING = "release: python manage.py check --deploy"
SCRIPT = "release: ./release.sh"


def schema(kind: str | None, release: str = CHECKING, *, dependencies: tuple[str, ...] = ()) -> SchemaPlan:
    """A schema plan with one pending migration of ``kind`` (None: nothing pending)."""
    operations = {
        "compatible": 'migrations.CreateModel(name="Part", fields=[("id", models.AutoField(primary_key=True))])',
        "locking": 'migrations.AddIndex(model_name="part", index=models.Index(fields=["id"], name="part_idx"))',
        "incompatible": 'migrations.DeleteModel(name="Part")',
        "unknown": "migrations.RunPython(forwards)",
    }
    initial = migrations.parse_migration(
        "from django.db import migrations, models\n\nclass Migration(migrations.Migration):\n"
        "    operations = [" + operations["compatible"] + "]\n", app="shop", name="0001_initial")
    known = [initial]
    if kind is not None:
        known.append(migrations.parse_migration(
            "from django.db import migrations, models\n\ndef forwards(apps, editor):\n    pass\n\n"
            "class Migration(migrations.Migration):\n    dependencies = [('shop', '0001_initial')]\n"
            f"    operations = [{operations[kind]}]\n", app="shop", name="0002_change"))
    plan = migrations.plan(known, [("shop", "0001_initial")])
    return SchemaPlan(plan, "database", migrations.parse_procfile(f"web: gunicorn app\n{release}\n"), dependencies)


ROWS = [
    # release phase, preboot, verdict → maintenance, migrate here, preboot off
    (MIGRATING, False, None, False, False, False),
    (MIGRATING, True, "compatible", False, False, False),
    (MIGRATING, False, "locking", False, False, False),
    (MIGRATING, False, "incompatible", True, False, False),
    (MIGRATING, True, "unknown", True, False, False),
    (CHECKING, True, "compatible", False, True, False),
    (CHECKING, True, "locking", False, True, False),
    (CHECKING, False, "compatible", True, True, False),
    (CHECKING, False, "incompatible", True, True, False),
    (CHECKING, True, "incompatible", True, True, True),
    (CHECKING, True, "unknown", True, True, True),
    (CHECKING, False, None, False, False, False),
]


@pytest.mark.parametrize("release, preboot, kind, maintenance, migrate_here, preboot_off", ROWS)
def test_every_row(release, preboot, kind, maintenance, migrate_here, preboot_off):
    decision = decide(schema(kind, release), preboot=preboot, label="uat")
    assert (decision.maintenance, decision.migrate_here, decision.preboot_off) == (maintenance, migrate_here,
                                                                                   preboot_off), decision.why


def test_preboot_without_a_migrating_release_phase_warns_of_the_race_and_names_the_fix():
    decision = decide(schema("compatible"), preboot=True, label="uat")
    assert any(RELEASE_LINE in warning for warning in decision.warnings)


def test_a_release_phase_that_cannot_be_read_migrates_again_and_keeps_the_window():
    decision = decide(schema("incompatible", SCRIPT), preboot=False, label="uat")
    assert decision.maintenance and decision.migrate_here
    assert any("cannot be told" in warning for warning in decision.warnings)


def test_changed_dependencies_make_a_compatible_deploy_unknown():
    plan = schema("compatible", MIGRATING, dependencies=("requirements.txt",))
    assert plan.verdict is migrations.Verdict.UNKNOWN
    decision = decide(plan, preboot=False, label="uat")
    assert decision.maintenance and "requirements.txt changed" in decision.why


def test_the_flags_win_and_no_maintenance_warns_when_the_old_code_will_break():
    forced = decide(schema("compatible", MIGRATING), preboot=False, label="uat", maintenance=True)
    assert forced.maintenance and forced.why.startswith("--maintenance")
    refused = decide(schema("incompatible"), preboot=True, label="uat", maintenance=False)
    assert not refused.maintenance and not refused.preboot_off
    assert any("--no-maintenance" in warning for warning in refused.warnings)


def test_without_migrate_no_page_and_a_warning():
    decision = without_migrate(decide(schema("incompatible"), preboot=False, label="uat"), schema("incompatible"))
    assert (decision.maintenance, decision.migrate_here) == (False, False)
    assert any("stay pending" in warning for warning in decision.warnings)


def test_no_release_no_release_phase():
    """Code already deployed, a migration pending: no release phase runs, so the deploy migrates itself."""
    decision = decide(schema("compatible", MIGRATING), preboot=False, label="uat", releasing=False)
    assert decision.migrate_here and decision.maintenance
