"""Each rule of issue 11, one small migration at a time, through a real git repository.

Every case commits one migration on top of the shop project
(tests/migrations_cases) and runs :func:`heroku_tools.migrations.check`
against the project's first commit, so the file is read with git, parsed,
placed in the graph and judged against the state the first migration left.
"""
from __future__ import annotations

import pytest

from heroku_tools.git import Git
from heroku_tools.migrations import Verdict, check
from migrations_cases import migration, shop_repo

COMPAT, LOCKS, BREAKS, UNKNOWN = Verdict.COMPATIBLE, Verdict.LOCKING, Verdict.INCOMPATIBLE, Verdict.UNKNOWN


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    repo = shop_repo(tmp_path_factory.mktemp("shop"))
    return repo, repo.git("rev-parse", "HEAD").stdout.strip()


def judge(shop, *migrations: tuple[str, str]):
    """Commit ``(name, source)`` migrations on the first commit; check them against it."""
    repo, base = shop
    repo.git("checkout", "-q", "--detach", base)
    repo.commit("case", {f"store/migrations/{name}.py": source for name, source in migrations})
    return check(Git(cwd=repo.path), base)


CASES = [
    # -- compatible
    ("create model", 'migrations.CreateModel(name="Coupon", fields=[("id", models.BigAutoField(primary_key=True))])',
     COMPAT, "creates shop.Coupon: a new table"),
    ("add nullable", 'migrations.AddField(model_name="customer", name="fax", field=models.CharField(max_length=20, null=True))',
     COMPAT, "adds shop.Customer.fax as NULL"),
    ("add with db_default", 'migrations.AddField("customer", "vip", models.BooleanField(db_default=False))',
     COMPAT, "with db_default"),
    ("remove index", 'migrations.RemoveIndex(model_name="order", name="shop_order_number_idx")', COMPAT, "drops an index"),
    ("remove constraint", 'migrations.RemoveConstraint(model_name="order", name="positive")', COMPAT, "drops a constraint"),
    ("model options", 'migrations.AlterModelOptions(name="customer", options={"ordering": ["name"]})', COMPAT, "no SQL"),
    ("model managers", 'migrations.AlterModelManagers(name="customer", managers=[])', COMPAT, "no SQL"),
    ("alter constraint", 'migrations.AlterConstraint(model_name="order", name="positive", '
     'constraint=models.CheckConstraint(condition=models.Q(number__gt=""), name="positive"))', COMPAT, "no SQL"),
    ("python-only attributes", 'migrations.AlterField(model_name="customer", name="name", field=models.CharField('
     'max_length=100, help_text="Full name", verbose_name="name", blank=True, choices=[("a", "A")]))',
     COMPAT, "(blank, choices, help_text, verbose_name) does not reach the database"),
    ("create extension", "TrigramExtension()", COMPAT, "creates the pg_trgm extension"),
    ("widen varchar", 'migrations.AlterField("customer", "name", models.CharField(max_length=200))',
     COMPAT, "widens it from varchar(100) to varchar(200)"),
    ("drop not null", 'migrations.AlterField("order", "number", models.CharField(max_length=10, null=True))',
     COMPAT, "drops NOT NULL"),
    ("varchar to text", 'migrations.AlterField("order", "number", models.TextField())', COMPAT, "from varchar to text"),
    ("run python noop", "migrations.RunPython(migrations.RunPython.noop, migrations.RunPython.noop)", COMPAT, "RunPython.noop"),
    ("run sql comment", 'migrations.RunSQL("COMMENT ON TABLE shop_order IS \'orders; all of them\'")', COMPAT, "sets a comment"),
    ("run sql noop", "migrations.RunSQL(migrations.RunSQL.noop, reverse_sql='DROP TABLE x')", COMPAT, "no SQL going forward"),
    ("rename with db_column", 'migrations.RenameField(model_name="customer", old_name="notes", new_name="remarks")',
     COMPAT, "db_column keeps the column legacy_notes"),
    ("rename model with db_table", 'migrations.RenameModel(old_name="Archive", new_name="Vault")',
     COMPAT, "Meta.db_table keeps the table shop_archive_fixed"),
    ("model table unchanged", 'migrations.AlterModelTable(name="archive", table="shop_archive_fixed")',
     COMPAT, "its current name: no SQL"),
    ("unique_together dropped", 'migrations.AlterUniqueTogether(name="order", unique_together=set())',
     COMPAT, "only drops constraints"),
    ("proxy model", 'migrations.DeleteModel(name="VipCustomer")', COMPAT, "proxy or unmanaged"),
    ("state only", 'migrations.SeparateDatabaseAndState(state_operations=[migrations.RemoveField("customer", "phone")])',
     COMPAT, "state only"),
    ("m2m added", 'migrations.AddField("order", "tags", models.ManyToManyField(to="shop.tag"))', COMPAT, "join table"),
    # -- locking
    ("add index", 'migrations.AddIndex(model_name="order", index=models.Index(fields=["number"], name="shop_order_number_idx"))',
     LOCKS, "plain CREATE INDEX"),
    ("index together", 'migrations.AlterIndexTogether(name="order", index_together={("customer", "number")})',
     LOCKS, "adds an index on shop.Order (customer, number)"),
    ("add unique", 'migrations.AddField("customer", "code", models.CharField(max_length=8, null=True, unique=True))',
     LOCKS, "unique index is built while writes wait"),
    ("add foreign key", 'migrations.AddField("customer", "referrer", models.ForeignKey(null=True, '
     'on_delete=django.db.models.deletion.SET_NULL, to="shop.customer"))', LOCKS, "REFERENCES blocks writes on both tables"),
    ("add indexed column", 'migrations.AddField("customer", "slug", models.SlugField(null=True))', LOCKS, "indexed column"),
    ("alter adds index", 'migrations.AlterField("customer", "score", models.IntegerField(default=0, db_index=True))',
     LOCKS, "adds an index with a plain CREATE INDEX"),
    ("run sql create index", 'migrations.RunSQL("CREATE INDEX shop_name ON shop_customer (name)")', LOCKS, "plain CREATE INDEX"),
    # -- incompatible
    ("remove field", 'migrations.RemoveField(model_name="customer", name="phone")',
     BREAKS, "drops shop.Customer.phone (column phone): the running code still selects it"),
    ("remove m2m", 'migrations.RemoveField(model_name="customer", name="tags")', BREAKS, "drops the join table"),
    ("delete model", 'migrations.DeleteModel(name="Order")', BREAKS, "deletes shop.Order (table shop_order)"),
    ("rename field", 'migrations.RenameField(model_name="customer", old_name="phone", new_name="mobile")',
     BREAKS, "renames column phone of shop_customer to mobile"),
    ("rename fk", 'migrations.RenameField(model_name="order", old_name="customer", new_name="buyer")',
     BREAKS, "renames column customer_id of shop_order to buyer_id"),
    ("rename model", 'migrations.RenameModel(old_name="Tag", new_name="Label")', BREAKS, "and with it table shop_tag"),
    ("rename model with m2m", 'migrations.AlterModelTable(name="tag", table="shop_tag"),\n'
     'migrations.RenameModel(old_name="Tag", new_name="Label")', BREAKS, "the join tables of shop.Customer.tags"),
    ("model table", 'migrations.AlterModelTable(name="order", table="orders")',
     BREAKS, "renames table shop_order to orders"),
    ("not null python default", 'migrations.AddField("customer", "active", models.BooleanField(default=True))',
     BREAKS, "with only a Python default: Django drops the default"),
    ("not null no default", 'migrations.AddField("customer", "code", models.CharField(max_length=8))', BREAKS, "without a default"),
    ("type change", 'migrations.AlterField("order", "number", models.IntegerField())',
     BREAKS, "changes the type of shop.Order.number from varchar to integer"),
    ("set not null", 'migrations.AlterField("customer", "phone", models.CharField(blank=True, max_length=20))',
     BREAKS, "makes it NOT NULL"),
    ("narrow varchar", 'migrations.AlterField("customer", "name", models.CharField(max_length=50))', BREAKS, "narrows it to varchar(50)"),
    ("decimal scale", 'migrations.AlterField("customer", "balance", models.DecimalField(decimal_places=4, default=0, max_digits=12))',
     BREAKS, "numeric precision or scale"),
    ("positive check", 'migrations.AlterField("customer", "score", models.PositiveIntegerField(default=0))',
     BREAKS, "adds a CHECK (>= 0)"),
    ("make unique", 'migrations.AlterField("order", "number", models.CharField(max_length=10, unique=True))', BREAKS, "makes it unique"),
    ("db_column change", 'migrations.AlterField("customer", "notes", models.TextField(default=""))',
     BREAKS, "renames its column legacy_notes to notes"),
    ("fk target", 'migrations.AlterField("order", "customer", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, '
     'to="shop.tag"))', BREAKS, "points it at 'shop.tag'"),
    ("add constraint", 'migrations.AddConstraint(model_name="order", constraint=models.CheckConstraint('
     'condition=models.Q(number__gt=""), name="number_set"))', BREAKS, "rows the running code writes may violate it"),
    ("unique together added", 'migrations.AlterUniqueTogether(name="customer", unique_together={("name", "phone")})',
     BREAKS, "adds a unique constraint on shop.Customer (name, phone)"),
    ("order with respect to", 'migrations.AlterOrderWithRespectTo(name="order", order_with_respect_to="customer")',
     BREAKS, "adds the NOT NULL column _order"),
    ("database side of separate", 'migrations.SeparateDatabaseAndState(database_operations=['
     'migrations.RemoveField("customer", "phone")], state_operations=[])', BREAKS, "drops shop.Customer.phone"),
    # -- unknown
    ("run python", "migrations.RunPython(forwards)", UNKNOWN, "runs Python (forwards)"),
    ("run sql update", 'migrations.RunSQL("UPDATE shop_customer SET score = 0")', UNKNOWN, "UPDATE shop_customer"),
    ("run sql dollar", 'migrations.RunSQL("DO $$ BEGIN NULL; END $$")', UNKNOWN, "$$-quoted"),
    ("run sql expression", "migrations.RunSQL(make_sql())", UNKNOWN, "not a literal string"),
    ("custom operation", 'LoadFixtures("initial.json")', UNKNOWN, "custom operation LoadFixtures"),
    ("concurrently in atomic", 'AddIndexConcurrently("order", models.Index(fields=["number"], name="n_idx"))',
     UNKNOWN, "fails inside a transaction"),
    ("custom field class change", 'migrations.AlterField("customer", "phone", phonenumber_field.PhoneNumberField(null=True))',
     UNKNOWN, "cannot tell what that does"),
    ("previous unknown", 'migrations.AlterField("ghost", "name", models.CharField(max_length=5))',
     UNKNOWN, "previous definition could not be rebuilt"),
    ("unknown attribute", 'migrations.AlterField("customer", "name", models.CharField(max_length=100, db_tablespace="fast"))',
     UNKNOWN, "changes db_tablespace"),
    ("not a call", "*EXTRA", UNKNOWN, "not understood"),
]
HEAD = """
import phonenumber_field


def forwards(apps, schema_editor):
    pass


def make_sql():
    return "SELECT 1"


class LoadFixtures(migrations.RunPython):
    pass
"""


@pytest.mark.parametrize("operation, verdict, reason", [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_rule(shop, operation, verdict, reason):
    result = judge(shop, ("0002_case", migration(operation, head=HEAD)))
    (judged,) = result.migrations
    assert (judged.verdict, judged.judgement.verdict) == (verdict, verdict), judged.reason
    assert reason in judged.reason
    assert judged.operation is None or judged.operation.line > 1
    if verdict in (LOCKS, BREAKS):
        assert judged.advice, "locking and incompatible verdicts say how to ship it instead"


def test_concurrent_index_in_a_non_atomic_migration_is_compatible(shop):
    source = migration('AddIndexConcurrently("order", models.Index(fields=["number"], name="n_idx"))', body="atomic = False\n")
    (judged,) = judge(shop, ("0002_index", source)).migrations
    assert judged.verdict is COMPAT and "CONCURRENTLY" in judged.reason


def test_run_sql_concurrently_needs_a_non_atomic_migration(shop):
    operation = 'migrations.RunSQL("CREATE INDEX CONCURRENTLY shop_name ON shop_customer (name);")'
    (atomic,) = judge(shop, ("0002_index", migration(operation))).migrations
    (non_atomic,) = judge(shop, ("0002_index", migration(operation, body="atomic = False\n"))).migrations
    assert (atomic.verdict, non_atomic.verdict) == (UNKNOWN, COMPAT)
    assert "atomic = False" in atomic.advice


def test_a_migration_is_its_worst_operation_and_names_it(shop):
    source = migration("""
        migrations.AddField("customer", "fax", models.CharField(max_length=20, null=True)),
        migrations.AddIndex(model_name="order", index=models.Index(fields=["number"], name="n_idx")),
        migrations.RemoveField("customer", "phone"),
        migrations.RunPython(migrations.RunPython.noop),
    """)
    (judged,) = judge(shop, ("0002_mixed", source)).migrations
    assert judged.verdict is BREAKS and judged.operation.stock == "RemoveField"
    assert [op.verdict for op in judged.operations] == [COMPAT, LOCKS, BREAKS, COMPAT]
    lines = source.splitlines()
    assert "RemoveField" in lines[judged.operation.line - 1]
    assert judged.file == "store/migrations/0002_mixed.py"


def test_tables_and_columns_created_by_the_same_deploy_are_free(shop):
    create = migration('migrations.CreateModel(name="Coupon", fields=[("id", models.BigAutoField(primary_key=True))])')
    alter = migration("""
        migrations.AddField("coupon", "customer", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, to="shop.customer")),
        migrations.AddField("coupon", "code", models.CharField(max_length=10, default="")),
        migrations.AddField("customer", "fax", models.CharField(max_length=20, null=True)),
        migrations.RemoveField("customer", "fax"),
        migrations.RenameField("coupon", "code", "token"),
        migrations.DeleteModel("coupon"),
    """, depends='("shop", "0002_coupon")')
    result = judge(shop, ("0002_coupon", create), ("0003_coupon_more", alter))
    assert [item.verdict for item in result.migrations] == [COMPAT, COMPAT]
    assert all(op.verdict is COMPAT for op in result.migrations[1].operations)
    assert not result.failed


def test_swappable_user_model_follows_the_project_setting(shop):
    source = migration('migrations.AlterField("customer", "user", models.ForeignKey(null=True, '
                       'on_delete=django.db.models.deletion.SET_NULL, to="accounts.user"))')
    repo, base = shop
    repo.git("checkout", "-q", "--detach", base)
    repo.commit("case", {"store/migrations/0002_user.py": source})
    default = check(Git(cwd=repo.path), base).migrations[0]
    custom = check(Git(cwd=repo.path), base, swappable={"AUTH_USER_MODEL": "accounts.User"}).migrations[0]
    assert default.verdict is BREAKS and "points it at 'accounts.user'" in default.reason
    assert custom.verdict is COMPAT, custom.reason


def test_state_follows_renames_and_alterations(shop):
    first = migration("""
        migrations.RenameField("customer", "phone", "mobile"),
        migrations.AlterField("customer", "mobile", models.CharField(max_length=40, null=True)),
        migrations.RenameModel("Customer", "Client"),
    """)
    second = migration("""
        migrations.AlterField("client", "mobile", models.CharField(max_length=40, null=True, help_text="digits")),
        migrations.AlterField("order", "customer", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, to="shop.client")),
        migrations.AlterField("client", "mobile", models.CharField(max_length=30, null=True)),
    """, depends='("shop", "0002_renames")')
    _, later = judge(shop, ("0002_renames", first), ("0003_after", second)).migrations
    assert [op.verdict for op in later.operations] == [COMPAT, COMPAT, BREAKS]
    assert "varchar(30)" in later.operations[2].judgement.reason
