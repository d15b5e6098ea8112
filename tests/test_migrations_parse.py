"""Reading one migration file with ``ast``: attributes, operations, arguments, lines and marks (pure units)."""
from __future__ import annotations

import textwrap

import pytest

from heroku_tools.errors import HerokuToolsError
from heroku_tools.migrations import Call, Key, Overrides, Ref, Unparsed, Verdict, parse_migration


def parse(source: str, **kwargs):
    return parse_migration(textwrap.dedent(source), app="shop", name="0002_x", path="store/migrations/0002_x.py", **kwargs)


def test_graph_attributes():
    migration = parse("""
        from django.conf import settings
        from django.db import migrations

        class Migration(migrations.Migration):
            initial = True
            atomic = False
            dependencies = [
                ("shop", "0001_initial"),
                ["blog", "__first__"],
                migrations.swappable_dependency(settings.AUTH_USER_MODEL),
            ]
            replaces = [("shop", "0001_a"), ("shop", "0001_b")]
            run_before = [("other", "0003_x")]
            operations = []
    """)
    assert migration.problems == ()
    assert migration.dependencies == (Key("shop", "0001_initial"), Key("blog", "__first__"), Key("auth", "__first__"))
    assert migration.replaces == (Key("shop", "0001_a"), Key("shop", "0001_b"))
    assert migration.run_before == (Key("other", "0003_x"),)
    assert (migration.initial, migration.atomic, migration.line) == (True, False, 5)
    assert str(migration.key) == "shop.0002_x"


def test_swappable_dependency_follows_the_project():
    source = """
        from django.conf import settings
        from django.db import migrations

        class Migration(migrations.Migration):
            dependencies = [migrations.swappable_dependency(settings.AUTH_USER_MODEL)]
    """
    assert parse(source, swappable={"AUTH_USER_MODEL": "accounts.User"}).dependencies == (Key("accounts", "__first__"),)


def test_operations_arguments_and_lines():
    migration = parse("""
        import django.db.models.deletion
        from django.conf import settings
        from django.contrib.postgres import operations as pg
        from django.db import migrations, models
        from django.db.migrations import AddField

        class Migration(migrations.Migration):
            operations = [
                AddField(
                    model_name="customer",
                    name="owner",
                    field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.CASCADE, to=settings.AUTH_USER_MODEL),
                ),
                pg.AddIndexConcurrently("customer", models.Index(fields=["name"], name="n")),
                migrations.AlterField("customer", "score", models.IntegerField(default=-1, validators=[lambda v: v])),
                migrations.AlterUniqueTogether("order", set()),
            ]
    """)
    add, index, alter, together = migration.operations
    assert (add.stock, add.line, index.stock, index.line, alter.line) == ("AddField", 10, "AddIndexConcurrently", 15, 16)
    field = add.arg(2, "field")
    assert field == Call("django.db.models.ForeignKey", (), {
        "null": True, "on_delete": Ref("django.db.models.deletion.CASCADE"), "to": Ref("django.conf.settings.AUTH_USER_MODEL")})
    assert field.short == "ForeignKey" and field.kwargs["to"].written == "settings.AUTH_USER_MODEL"
    score = alter.arg(2, "field")
    assert score.kwargs["default"] == -1 and isinstance(score.kwargs["validators"][0], Unparsed)
    assert together.arg(1, "unique_together") == frozenset()


def test_names_the_file_defines_or_rebinds_are_not_stock():
    migration = parse("""
        from django.db import migrations
        from myapp.operations import RunSQL

        class AddField(migrations.AddField):
            pass

        class Migration(migrations.Migration):
            operations = [AddField("a", "b", None), RunSQL("SELECT 1"), migrations.RunSQL("SELECT 1")]
    """)
    assert [operation.stock for operation in migration.operations] == [None, None, "RunSQL"]


def test_constants_module_and_class_level_are_followed_unless_mutated():
    migration = parse("""
        from django.db import migrations

        SQL = "CREATE INDEX CONCURRENTLY " + "i ON t (c)"
        COMMON = [migrations.RunSQL(SQL)]
        LATER = []
        LATER.append(migrations.RunSQL("DROP TABLE t"))

        class Migration(migrations.Migration):
            state_operations = [migrations.RemoveField("a", "b")]
            operations = COMMON + [migrations.SeparateDatabaseAndState(state_operations=state_operations)]
    """)
    sql, separate = migration.operations
    assert sql.arg(0, "sql") == "CREATE INDEX CONCURRENTLY i ON t (c)" and sql.line == 5
    assert [nested.stock for nested in separate.state] == ["RemoveField"] and separate.database == ()
    mutated = parse("""
        from django.db import migrations
        OPS = []
        OPS.append(migrations.RunSQL("DROP TABLE t"))

        class Migration(migrations.Migration):
            operations = OPS
    """)
    assert mutated.problems and mutated.operations[0].call is None


@pytest.mark.parametrize("source, problem", [
    ("class Migration(:\n", "does not parse (line 1"),
    ("from django.db import migrations\n", "has no `class Migration`"),
    ("from base import Base\nclass Migration(Base):\n    operations = []\n", "`class Migration` does not derive from migrations.Migration"),
    ("from django.db import migrations\nclass Migration(migrations.Migration):\n    operations = [*more]\n",
     "`operations` is not a literal list"),
    ("from django.db import migrations\nclass Migration(migrations.Migration):\n    dependencies = [deps()]\n",
     "`dependencies` entry not understood: deps(...)"),
    ("from django.db import migrations\nclass Migration(migrations.Migration):\n    atomic = flag\n",
     "`atomic` is not a literal True/False"),
])
def test_what_is_not_understood_is_kept_as_a_problem(source, problem):
    migration = parse(source)
    assert any(found.startswith(problem) for found in migration.problems), migration.problems


def test_marks_on_the_class_line_and_on_an_operation_line():
    migration = parse('''
        from django.db import migrations

        class Migration(migrations.Migration):  # heroku-tools: locking
            operations = [
                migrations.RemoveField("a", "b"),  # heroku-tools: Compatible
                migrations.RunSQL("-- # heroku-tools: compatible"),
            ]
    ''')
    assert [(mark.verdict, "line 4" in mark.source) for mark in migration.marks] == [(Verdict.LOCKING, True)]
    first, second = migration.operations
    assert first.mark.verdict is Verdict.COMPATIBLE and second.mark is None, "a marker inside a string does not count"


@pytest.mark.parametrize("attribute, verdict, tool", [
    ("safe = Safe.before_deploy()", Verdict.COMPATIBLE, "django-safemigrate"),
    ("safe = Safe.always()", Verdict.COMPATIBLE, "django-safemigrate"),
    ("safe = Safe.after_deploy(delay=timedelta(days=7))", Verdict.INCOMPATIBLE, "django-safemigrate"),
    ("safe = Safe.before_deploy", Verdict.COMPATIBLE, "django-safemigrate"),
    ("stage = Stage.PRE_DEPLOY", Verdict.COMPATIBLE, "django-syzygy"),
    ("stage = Stage.POST_DEPLOY", Verdict.INCOMPATIBLE, "django-syzygy"),
])
def test_safemigrate_and_syzygy_marks(attribute, verdict, tool):
    migration = parse(f"""
        from django.db import migrations
        from django_safemigrate import Safe
        from syzygy import Stage

        class Migration(migrations.Migration):
            {attribute}
            operations = []
    """)
    (mark,) = migration.marks
    assert mark.verdict is verdict and mark.source.startswith(tool) and "(line 7)" in mark.source


def test_overrides_are_validated():
    overrides = Overrides.from_mapping({"compatible": ["shop.0002_x"], "Incompatible": ["shop.0003_y"]}, origin="heroku-tools.yml")
    assert overrides.mark("shop.0002_x").verdict is Verdict.COMPATIBLE
    assert overrides.mark("shop.0003_y").source == "heroku-tools.yml (incompatible: shop.0003_y)"
    assert overrides.mark("shop.0004_z") is None
    for bad, message in [
        ({"unknown": ["a.b"]}, "'unknown' is not one of compatible, locking, incompatible"),
        ({"compatible": "a.b"}, "expected a list"),
        ({"compatible": ["nodot"]}, "'nodot' is not an app.migration name"),
        ({"compatible": ["a.b"], "locking": ["a.b"]}, "a.b is listed as both compatible and locking"),
    ]:
        with pytest.raises(HerokuToolsError, match=message.replace(".", r"\.")):
            Overrides.from_mapping(bad)
