"""One rule per Django operation class: its verdict for the code still serving, and why.

The verdicts follow issue 11 and are at least as strict as the strictest of
strong_migrations, django-pg-zero-downtime-migrations and squawk (see the
table in docs/migrations.rst):

* compatible: CreateModel, AddField NULL or with ``db_default``,
  AddIndexConcurrently, RemoveIndex, RemoveConstraint, AlterModelOptions,
  AlterModelManagers, AlterConstraint, AlterField of Python-only attributes,
  CreateExtension;
* locking: AddIndex, AlterIndexTogether adding an index, AddField unique,
  indexed or with a foreign key;
* incompatible: RemoveField, DeleteModel, RenameField, RenameModel,
  AlterModelTable (unless the real name stays), AddField NOT NULL with only a
  Python default, AlterField type changes and NULL → NOT NULL, AddConstraint,
  AlterUniqueTogether adding a constraint, AlterOrderWithRespectTo;
* unknown: RunPython, RunSQL not cleared by :mod:`.sql`, custom operations,
  anything not parsed. SeparateDatabaseAndState is its ``database_operations``.

Anything touching a table created by the same deploy is compatible: the old
code has never used it.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from . import fields, sql
from .parse import Migration, Operation
from .state import ProjectState, normalise_together
from .values import Call, Ref
from .verdicts import Judgement, compatible, incompatible, locking, unknown, worst

DROP_TABLE_ADVICE = (
    "ship it in two deploys: first remove every use of the model (delete it from the code with "
    "SeparateDatabaseAndState, state only), then drop the table in the next deploy"
)
RENAME_TABLE_ADVICE = (
    "keep the table: set Meta.db_table to '{old}' (the rename is then free), or create the new table, copy, "
    "switch, and drop the old one in a later deploy"
)
CUSTOM_ADVICE = (
    "read it: if the running code is unaffected, mark the operation `# heroku-tools: compatible`; otherwise ship "
    "it with the maintenance page or in two deploys"
)
RUN_PYTHON_ADVICE = (
    "make sure it is quick and changes nothing the running code relies on, then mark it "
    "`# heroku-tools: compatible`; a long backfill belongs in batches outside the deploy"
)


@dataclass
class Context:
    """What a rule may look at: the models as the earlier migrations left them, and the migration."""

    state: ProjectState
    app: str
    migration: Migration


def judge(context: Context, operation: Operation) -> Judgement:
    """The rules' verdict for one operation (markers are applied by the caller)."""
    if operation.call is None:
        return unknown(f"not understood: {_short(operation.source)}")
    if operation.stock is None:
        return unknown(f"custom operation {operation.name}: what it does cannot be read", CUSTOM_ADVICE)
    return _RULES[operation.stock](context, operation)


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= 70 else text[:67] + "..."


def _label(context: Context, call: Call, position: int = 0, argument: str = "name") -> str:
    """``app.Model`` as the model spells it when known, else as the operation does."""
    name = call.arg(position, argument)
    model = context.state.model(context.app, name)
    return model.label if model else f"{context.app}.{name}"


# -- models -----------------------------------------------------------------------
def create_model(context: Context, operation: Operation) -> Judgement:
    call = operation.call
    options = call.arg(2, "options", {})
    label = f"{context.app}.{call.arg(0, 'name')}"
    if isinstance(options, dict) and (options.get("proxy") or options.get("managed") is False):
        return compatible(f"creates {label}, a proxy or unmanaged model: no SQL")
    return compatible(f"creates {label}: a new table the running code does not use")


def delete_model(context: Context, operation: Operation) -> Judgement:
    label = _label(context, operation.call)
    model = context.state.model(context.app, operation.call.arg(0, "name"))
    settled = fields.table_state(model, f"deletes {label}")
    if settled:
        return settled
    table = f" (table {model.table})" if model and model.table else ""
    return incompatible(f"deletes {label}{table}: the running code still queries it", DROP_TABLE_ADVICE)


def rename_model(context: Context, operation: Operation) -> Judgement:
    call = operation.call
    old_name, new_name = call.arg(0, "old_name"), call.arg(1, "new_name")
    label = f"{context.app}.{old_name}"
    model = context.state.model(context.app, old_name)
    if model is None:
        return unknown(f"renames {label} to {new_name}: the model could not be rebuilt, so neither can its table")
    settled = fields.table_state(model, f"renames {label}")
    if settled:
        return settled
    if model.options is None:
        return unknown(f"renames {label} to {new_name}: its options, so its table name, are not known")
    many = context.state.auto_m2m_involving((context.app, model.name.lower()))
    if "db_table" in model.options and not many:
        return compatible(f"renames {label} to {new_name} in Python only: Meta.db_table keeps the table {model.table}")
    what = f"the join tables of {', '.join(many)}" if "db_table" in model.options else f"table {model.table}"
    return incompatible(f"renames {label} to {new_name}, and with it {what}: the running code still uses the old names",
                        RENAME_TABLE_ADVICE.format(old=model.table))


def alter_model_table(context: Context, operation: Operation) -> Judgement:
    call = operation.call
    label = _label(context, call)
    model = context.state.model(context.app, call.arg(0, "name"))
    table = call.arg(1, "table")
    if model is None or model.table is None or not isinstance(table, (str, type(None))):
        return unknown(f"sets the table of {label}: its previous table name is not known")
    settled = fields.table_state(model, f"sets the table of {label}")
    if settled:
        return settled
    new_table = table or f"{context.app}_{model.name.lower()}"
    if new_table == model.table:
        return compatible(f"sets the table of {label} to {new_table}, its current name: no SQL")
    return incompatible(f"renames table {model.table} to {new_table}: the running code still uses {model.table}",
                        RENAME_TABLE_ADVICE.format(old=model.table))


def alter_together(context: Context, operation: Operation) -> Judgement:
    call = operation.call
    option = "unique_together" if operation.stock == "AlterUniqueTogether" else "index_together"
    label = _label(context, call)
    model = context.state.model(context.app, call.arg(0, "name"))
    settled = fields.table_state(model, f"sets {option} of {label}")
    if settled:
        return settled
    after = normalise_together(call.arg(1, option))
    before = model.options.get(option, frozenset()) if model and model.options is not None else None
    if not isinstance(after, frozenset) or not isinstance(before, frozenset):
        return compatible(f"clears {option} of {label}") if after == frozenset() else unknown(
            f"sets {option} of {label}: the previous value is not known")
    added = sorted(after - before, key=str)
    if after == before:
        return compatible(f"sets {option} of {label} to its current value: no SQL")
    if not added:
        return compatible(f"sets {option} of {label}: only drops {'constraints' if option[0] == 'u' else 'indexes'}")
    groups = ", ".join("(" + ", ".join(map(str, group)) + ")" for group in added)
    if option == "unique_together":
        return incompatible(f"adds a unique constraint on {label} {groups}: the running code may write rows it refuses, "
                            "and the index is built while writes wait", fields.UNIQUE_ADVICE)
    return locking(f"adds an index on {label} {groups} with a plain CREATE INDEX, which blocks writes while it builds",
                   fields.INDEX_FIX)


def alter_order_with_respect_to(context: Context, operation: Operation) -> Judgement:
    call = operation.call
    label = _label(context, call)
    settled = fields.table_state(context.state.model(context.app, call.arg(0, "name")), f"orders {label}")
    if settled:
        return settled
    if call.arg(1, "order_with_respect_to") is None:
        return incompatible(f"drops the _order column of {label}: the running code still orders by it",
                            fields.REMOVE_ADVICE)
    return incompatible(f"adds the NOT NULL column _order to {label}: the running code's INSERTs do not set it",
                        fields.NOT_NULL_ADD_ADVICE)


# -- indexes and constraints ------------------------------------------------------------
def add_index(context: Context, operation: Operation) -> Judgement:
    call = operation.call
    index = call.arg(1, "index")
    name = index.kwargs.get("name", "") if isinstance(index, Call) else ""
    label = _label(context, call, 0, "model_name")
    settled = fields.table_state(context.state.model(context.app, call.arg(0, "model_name")), f"adds index {name}")
    if settled:
        return settled
    return locking(f"adds index {name} on {label} with a plain CREATE INDEX, which blocks writes while it builds",
                   fields.INDEX_FIX)


def concurrently(context: Context, operation: Operation) -> Judgement:
    verb = "adds" if operation.stock == "AddIndexConcurrently" else "drops"
    if context.migration.atomic:
        return unknown(f"{operation.stock} in an atomic migration: it fails inside a transaction",
                       "set atomic = False on the migration")
    if verb == "adds":
        return compatible("adds an index CONCURRENTLY: writes go on (should it fail, drop the INVALID index it leaves "
                          "before running it again)")
    return compatible("drops an index CONCURRENTLY: writes go on")


def add_constraint(context: Context, operation: Operation) -> Judgement:
    call = operation.call
    constraint = call.arg(1, "constraint")
    kind = constraint.short if isinstance(constraint, Call) else "constraint"
    name = constraint.kwargs.get("name", "") if isinstance(constraint, Call) else ""
    label = _label(context, call, 0, "model_name")
    settled = fields.table_state(context.state.model(context.app, call.arg(0, "model_name")), f"adds {kind} {name}")
    if settled:
        return settled
    scan = " (NOT VALID: no scan)" if operation.stock == "AddConstraintNotValid" else ", scanning the table while writes wait"
    return incompatible(f"adds {kind} {name} on {label}{scan}: rows the running code writes may violate it",
                        fields.CONSTRAINT_ADVICE)


def always_compatible(reason: str) -> Callable[[Context, Operation], Judgement]:
    """The rule of an operation that never touches what the running code uses."""
    return lambda context, operation: compatible(reason)


def create_extension(context: Context, operation: Operation) -> Judgement:
    name = operation.call.arg(0, "name", _EXTENSIONS.get(operation.stock, "an"))
    return compatible(f"creates the {name} extension: no table changes")


# -- special ------------------------------------------------------------------------
def run_python(context: Context, operation: Operation) -> Judgement:
    code = operation.call.arg(0, "code")
    if isinstance(code, Ref) and code.qualified.endswith("RunPython.noop"):
        return compatible("RunPython.noop: nothing runs going forward")
    name = code.written if isinstance(code, Ref) else "code"
    return unknown(f"runs Python ({name}): what it does to the data cannot be read", RUN_PYTHON_ADVICE)


def run_sql(context: Context, operation: Operation) -> Judgement:
    return sql.run_sql(operation.call.arg(0, "sql"), atomic=context.migration.atomic)


def separate_database_and_state(context: Context, operation: Operation) -> Judgement:
    """Judged by its ``database_operations`` alone, each against the state the ones before it leave."""
    if not operation.database:
        return compatible("changes Django's state only: no SQL")
    state = context.state.copy()
    judgements = []
    for nested in operation.database:
        judgements.append(judge(Context(state, context.app, context.migration), nested))
        state.apply(context.app, nested, new=False)
    return worst(judgements)


def _field_rule(rule: Callable[[ProjectState, str, Call], Judgement]) -> Callable[[Context, Operation], Judgement]:
    return lambda context, operation: rule(context.state, context.app, operation.call)


_RULES: dict[str, Callable[[Context, Operation], Judgement]] = {
    "CreateModel": create_model,
    "DeleteModel": delete_model,
    "RenameModel": rename_model,
    "AlterModelTable": alter_model_table,
    "AlterModelTableComment": always_compatible("sets a table comment, catalog only"),
    "AlterUniqueTogether": alter_together,
    "AlterIndexTogether": alter_together,
    "AlterOrderWithRespectTo": alter_order_with_respect_to,
    "AlterModelOptions": always_compatible("changes model options (ordering, verbose names...): no SQL"),
    "AlterModelManagers": always_compatible("changes model managers: no SQL"),
    "AddIndex": add_index,
    "RemoveIndex": always_compatible("drops an index"),
    "RenameIndex": always_compatible("renames an index: the code does not name indexes"),
    "AddConstraint": add_constraint,
    "RemoveConstraint": always_compatible("drops a constraint"),
    "AlterConstraint": always_compatible("alters a constraint's Python-side options: no SQL"),
    "AddField": _field_rule(fields.add_field),
    "RemoveField": _field_rule(fields.remove_field),
    "AlterField": _field_rule(fields.alter_field),
    "RenameField": _field_rule(fields.rename_field),
    "SeparateDatabaseAndState": separate_database_and_state,
    "RunSQL": run_sql,
    "RunPython": run_python,
    "CreateExtension": create_extension,
    "BloomExtension": create_extension,
    "BtreeGinExtension": create_extension,
    "BtreeGistExtension": create_extension,
    "CITextExtension": create_extension,
    "CryptoExtension": create_extension,
    "HStoreExtension": create_extension,
    "TrigramExtension": create_extension,
    "UnaccentExtension": create_extension,
    "AddIndexConcurrently": concurrently,
    "RemoveIndexConcurrently": concurrently,
    "CreateCollation": always_compatible("creates a collation"),
    "RemoveCollation": always_compatible("drops a collation"),
    "AddConstraintNotValid": add_constraint,
    "ValidateConstraint": always_compatible("validates a NOT VALID constraint without blocking writes"),
}

#: The extension each named CreateExtension subclass creates.
_EXTENSIONS = {
    "BloomExtension": "bloom", "BtreeGinExtension": "btree_gin", "BtreeGistExtension": "btree_gist",
    "CITextExtension": "citext", "CryptoExtension": "pgcrypto", "HStoreExtension": "hstore",
    "TrigramExtension": "pg_trgm", "UnaccentExtension": "unaccent",
}
