"""The field rules: what adding, altering, removing or renaming a column does to the code still serving.

The old code keeps running while (and, with preboot, after) the migration
runs, on the new schema: a column it selects must not disappear or change
name, an INSERT it makes without the new column must still succeed, and a
value it writes must still be accepted. Locks matter too: PostgreSQL's plain
``CREATE INDEX`` and a foreign key's validation block writes while they run.
"""
from __future__ import annotations

from typing import Any

from .state import ModelState, ProjectState, column, is_fk, is_m2m
from .values import Call
from .verdicts import Judgement, compatible, incompatible, locking, unknown, worst

#: PostgreSQL type of each Django field class, and whether Django adds a ``CHECK (>= 0)`` with it.
DB_TYPES = {
    "AutoField": ("integer", False), "BigAutoField": ("bigint", False), "SmallAutoField": ("smallint", False),
    "IntegerField": ("integer", False), "BigIntegerField": ("bigint", False), "SmallIntegerField": ("smallint", False),
    "PositiveIntegerField": ("integer", True), "PositiveBigIntegerField": ("bigint", True),
    "PositiveSmallIntegerField": ("smallint", True),
    "BooleanField": ("boolean", False), "NullBooleanField": ("boolean", False),
    "CharField": ("varchar", False), "SlugField": ("varchar", False), "EmailField": ("varchar", False),
    "URLField": ("varchar", False), "FileField": ("varchar", False), "ImageField": ("varchar", False),
    "FilePathField": ("varchar", False), "CommaSeparatedIntegerField": ("varchar", False),
    "TextField": ("text", False), "BinaryField": ("bytea", False), "UUIDField": ("uuid", False),
    "DateField": ("date", False), "DateTimeField": ("timestamp with time zone", False), "TimeField": ("time", False),
    "DurationField": ("interval", False), "DecimalField": ("numeric", False), "FloatField": ("double precision", False),
    "GenericIPAddressField": ("inet", False), "IPAddressField": ("inet", False), "JSONField": ("jsonb", False),
    "HStoreField": ("hstore", False), "SearchVectorField": ("tsvector", False),
    "CICharField": ("citext", False), "CIEmailField": ("citext", False), "CITextField": ("citext", False),
    "ForeignKey": ("foreign key", False), "OneToOneField": ("foreign key", False),
}
#: Field arguments that never reach the database (Django's ``_field_should_be_altered`` ignores them too).
PYTHON_ONLY = frozenset({
    "blank", "choices", "help_text", "validators", "verbose_name", "editable", "error_messages", "default",
    "auto_now", "auto_now_add", "upload_to", "storage", "related_name", "related_query_name", "limit_choices_to",
    "on_delete", "serialize", "unique_for_date", "unique_for_month", "unique_for_year", "encoder", "decoder",
    "width_field", "height_field", "path", "match", "recursive", "allow_files", "allow_folders", "protocol",
    "unpack_ipv4", "parent_link", "swappable", "auto_created", "allow_unicode", "form_class", "db_comment",
    "through_fields",
})
_DEFAULTS = {"null": False, "unique": False, "db_index": False, "primary_key": False, "db_constraint": True}
_CLASS_DEFAULTS = {
    "SlugField": {"db_index": True, "max_length": 50}, "ForeignKey": {"db_index": True},
    "OneToOneField": {"db_index": True, "unique": True}, "EmailField": {"max_length": 254},
    "URLField": {"max_length": 200}, "FileField": {"max_length": 100}, "ImageField": {"max_length": 100},
    "FilePathField": {"max_length": 100},
}

REMOVE_ADVICE = (
    "ship it in two deploys: first stop using the column (remove the field from the model with "
    "SeparateDatabaseAndState, state only; make it null=True or give it db_default first if it is NOT NULL), "
    "then drop it in the next deploy"
)
RENAME_ADVICE = (
    "keep the column: give the renamed field db_column='{old}' (the rename is then free), or ship it in steps: "
    "add the new column, write both, backfill, switch reads, drop the old one in a later deploy"
)
NOT_NULL_ADD_ADVICE = (
    "give it db_default=... (Django 5.0+, the default stays in the database) or null=True; or add it nullable, "
    "deploy code that always writes it, then make it NOT NULL"
)
SET_NOT_NULL_ADVICE = (
    "ship it in two deploys: first deploy code that always writes a value (or give the field db_default), then add "
    "NOT NULL; on a large table add CHECK (col IS NOT NULL) NOT VALID, VALIDATE it, then SET NOT NULL"
)
TYPE_ADVICE = (
    "ship it in two deploys: add a new column with the new type and write both, backfill, switch reads, "
    "then drop the old column"
)
CONSTRAINT_ADVICE = (
    "ship it in two deploys: first deploy code that never writes rows the constraint refuses, then add it "
    "(NOT VALID, then VALIDATE CONSTRAINT in a later migration, keeps writes flowing)"
)
UNIQUE_ADVICE = (
    "ship it in two deploys: first deploy code that never writes duplicates, then add the constraint "
    "(build the unique index CONCURRENTLY and ADD CONSTRAINT ... USING INDEX to keep writes flowing)"
)
INDEX_FIX = "build it with AddIndexConcurrently (django.contrib.postgres.operations) in a migration with atomic = False"
FK_FIX = (
    "add the column with db_constraint=False and db_index=False, build the index with AddIndexConcurrently "
    "(atomic = False), then add the constraint NOT VALID and VALIDATE CONSTRAINT in a later migration"
)
UNIQUE_FIX = (
    "add it without unique, build the index with CREATE UNIQUE INDEX CONCURRENTLY in a migration with "
    "atomic = False, then ADD CONSTRAINT ... UNIQUE USING INDEX"
)


def effective(field: Call, attribute: str) -> Any:
    """The value Django uses for ``attribute``: given, else the class's default, else Field's."""
    if attribute in field.kwargs:
        return field.kwargs[attribute]
    return _CLASS_DEFAULTS.get(field.short, {}).get(attribute, _DEFAULTS.get(attribute))


def db_type(field: Call) -> tuple[str, bool] | None:
    """``(PostgreSQL type, has a CHECK)`` for Django's own field classes; ``None`` for others."""
    if not field.qualified.startswith("django."):
        return None
    return DB_TYPES.get(field.short)


def _where(model: ModelState | None, app: str, model_name: Any, name: Any) -> str:
    """``app.Model.field`` as the model spells it when known, else as the operation does."""
    return f"{model.label if model else f'{app}.{model_name}'}.{name}"


def table_state(model: ModelState | None, where: str) -> Judgement | None:
    """The verdict when the table does not matter: created by this deploy, or none of its own."""
    if model is None:
        return None
    if model.new:
        return compatible(f"{where}: {model.label} is created in this deploy, the running code does not use it")
    if not model.has_table:
        return compatible(f"{where}: {model.label} is a proxy or unmanaged model, no SQL")
    return None


# -- AddField -------------------------------------------------------------------
def add_field(state: ProjectState, app: str, call: Call) -> Judgement:
    model_name, name, field = call.arg(0, "model_name"), call.arg(1, "name"), call.arg(2, "field")
    model = state.model(app, model_name)
    where = _where(model, app, model_name, name)
    if not isinstance(field, Call):
        return unknown(f"adds {where} with a field that is not a literal call: its column cannot be known")
    settled = table_state(model, f"adds {where}")
    if settled:
        return settled
    if is_m2m(field):
        return compatible(f"adds the many-to-many {where}: a join table the running code does not use")
    if field.short == "GeneratedField":
        return locking(f"adds the generated column {where}: the table is rewritten while writes wait",
                       "add it in a quiet moment, or compute the value in code")
    return worst(filter(None, [_added_column(where, field), _added_lock(state, app, where, field)])) or compatible(
        _added_reason(where, field))


def _added_column(where: str, field: Call) -> Judgement | None:
    null = effective(field, "null")
    if not isinstance(null, bool):
        return unknown(f"adds {where} with null={_text(null)}: cannot tell whether old INSERTs still work")
    if effective(field, "primary_key") is True:
        return incompatible(f"adds {where} as the primary key: the table's key changes under the running code", TYPE_ADVICE)
    if null or "db_default" in field.kwargs:
        return None
    if "default" in field.kwargs or effective(field, "auto_now") or effective(field, "auto_now_add"):
        return incompatible(
            f"adds NOT NULL {where} with only a Python default: Django drops the default once existing rows are filled, "
            "so the running code's INSERTs fail", NOT_NULL_ADD_ADVICE)
    return incompatible(f"adds NOT NULL {where} without a default: the running code's INSERTs fail", NOT_NULL_ADD_ADVICE)


def _added_lock(state: ProjectState, app: str, where: str, field: Call) -> Judgement | None:
    if is_fk(field) and effective(field, "db_constraint") is not False:
        target = state.target(app, field.arg(0, "to"))
        model = state.models.get(target) if target else None
        to = f" → {model.label if model else '.'.join(target)}" if target else ""
        return locking(f"adds the foreign key {where}{to}: REFERENCES blocks writes on both tables while it validates, "
                       "and the index is built with a plain CREATE INDEX", FK_FIX)
    if effective(field, "unique") is True:
        return locking(f"adds the unique column {where}: its unique index is built while writes wait", UNIQUE_FIX)
    if effective(field, "db_index") is True:
        return locking(f"adds the indexed column {where}: a plain CREATE INDEX blocks writes while it builds", INDEX_FIX)
    return None


def _added_reason(where: str, field: Call) -> str:
    if effective(field, "null") is True:
        return f"adds {where} as NULL: the running code ignores it"
    return f"adds {where} with db_default: the database fills it for the running code's INSERTs"


# -- RemoveField / RenameField --------------------------------------------------
def remove_field(state: ProjectState, app: str, call: Call) -> Judgement:
    model_name, name = call.arg(0, "model_name"), call.arg(1, "name")
    model = state.model(app, model_name)
    where = _where(model, app, model_name, name)
    if model is not None and name in model.new_fields:
        return compatible(f"drops {where}, added in this deploy: the running code does not use it")
    settled = table_state(model, f"drops {where}")
    if settled:
        return settled
    old = model.field(name) if model else None
    if old is not None and is_m2m(old):
        if "through" in old.kwargs:
            return compatible(f"drops the many-to-many {where}: the through model keeps its table")
        return incompatible(f"drops the join table of {where}: the running code still queries it", REMOVE_ADVICE)
    col = column(name, old) if old is not None else None
    return incompatible(f"drops {where}{f' (column {col})' if col else ''}: the running code still selects it", REMOVE_ADVICE)


def rename_field(state: ProjectState, app: str, call: Call) -> Judgement:
    model_name, old_name, new_name = call.arg(0, "model_name"), call.arg(1, "old_name"), call.arg(2, "new_name")
    model = state.model(app, model_name)
    where = _where(model, app, model_name, old_name)
    if model is not None and old_name in model.new_fields:
        return compatible(f"renames {where}, added in this deploy: the running code does not use it")
    settled = table_state(model, f"renames {where}")
    if settled:
        return settled
    old = model.field(old_name) if model else None
    if old is None or not isinstance(new_name, str):
        return unknown(f"renames {where}: its previous definition is not known, so neither is its column")
    if is_m2m(old):
        if "through" in old.kwargs or "db_table" in old.kwargs:
            return compatible(f"renames the many-to-many {where} in Python only: its table name is fixed")
        return incompatible(f"renames the join table of {where}: the running code still uses the old one",
                            RENAME_ADVICE.format(old=old_name))
    before, after = column(old_name, old), column(new_name, old)
    if before is not None and before == after:
        return compatible(f"renames {where} to {new_name} in Python only: db_column keeps the column {before}")
    return incompatible(f"renames column {before} of {model.table} to {after}: the running code still uses {before}",
                        RENAME_ADVICE.format(old=before))


# -- AlterField -----------------------------------------------------------------
def alter_field(state: ProjectState, app: str, call: Call) -> Judgement:
    model_name, name, new = call.arg(0, "model_name"), call.arg(1, "name"), call.arg(2, "field")
    model = state.model(app, model_name)
    where = _where(model, app, model_name, name)
    if not isinstance(new, Call):
        return unknown(f"alters {where} to a field that is not a literal call: cannot tell what changes")
    settled = table_state(model, f"alters {where}")
    if settled:
        return settled
    old = model.field(name) if model else None
    if old is None:
        return unknown(f"alters {where}: its previous definition could not be rebuilt from the earlier migrations")
    found = worst(_changes(state, app, where, old, new))
    if found:
        return found
    differ = sorted(attribute for attribute in {*old.kwargs, *new.kwargs} if old.kwargs.get(attribute) != new.kwargs.get(attribute))
    what = ", ".join(differ) if differ else "nothing"
    return compatible(f"alters {where}: what changes ({what}) does not reach the database: no SQL")


def _changes(state: ProjectState, app: str, where: str, old: Call, new: Call) -> list[Judgement]:
    """A judgement for each database-visible difference between two definitions of a field."""
    judgements = [_type_change(where, old, new)]
    changed = sorted(attribute for attribute in {*old.kwargs, *new.kwargs} - PYTHON_ONLY
                     if effective(old, attribute) != effective(new, attribute))
    judgements += [_attribute_change(state, app, where, attribute, old, new) for attribute in changed]
    return [judgement for judgement in judgements if judgement]


def _type_change(where: str, old: Call, new: Call) -> Judgement | None:
    if old.qualified == new.qualified:
        return None
    before, after = db_type(old), db_type(new)
    if before is None or after is None:
        return unknown(f"alters {where} from {old.written} to {new.written}: cannot tell what that does to the column")
    if before == after:
        return None
    if before[0] == after[0]:
        if after[1]:
            return incompatible(f"alters {where} to {new.written}: adds a CHECK (>= 0) the running code's writes may violate",
                                CONSTRAINT_ADVICE)
        return compatible(f"alters {where} to {new.written}: drops its CHECK (>= 0)")
    if (before[0], after[0]) == ("varchar", "text"):
        if effective(new, "db_index") is True or effective(new, "unique") is True:
            return locking(f"alters {where} from varchar to text: its text-pattern index is rebuilt with a plain CREATE INDEX",
                           INDEX_FIX)
        return compatible(f"alters {where} from varchar to text: no rewrite")
    return incompatible(f"changes the type of {where} from {before[0]} to {after[0]}: the table is rewritten while all queries "
                        "wait, and the running code reads and writes the old type", TYPE_ADVICE)


def _attribute_change(state: ProjectState, app: str, where: str, attribute: str, old: Call, new: Call) -> Judgement | None:
    before, after = effective(old, attribute), effective(new, attribute)
    rule = _ATTRIBUTE_RULES.get(attribute)
    if rule is None:
        return unknown(f"alters {where}: changes {attribute} ({_text(before)} → {_text(after)}), whose effect cannot be told")
    return rule(state, app, where, before, after, old, new)


def _flag_rule(on: Judgement, off: Judgement):
    """A rule for a True/False attribute: what turning it on, and off, does (``{where}`` filled in)."""

    def rule(state, app, where, before, after, old, new):
        if not isinstance(before, bool) or not isinstance(after, bool):
            return unknown(f"alters {where}: the new value is not a literal True/False")
        chosen = on if after else off
        return Judgement(chosen.verdict, chosen.reason.format(where=where), chosen.advice)

    return rule


def _length_rule(state, app, where, before, after, old, new):
    types = {db_type(old), db_type(new)} - {None}
    if types and all(found[0] != "varchar" for found in types):
        return None  # max_length of a TextField, UUIDField...: Python only
    if after is None:
        return compatible(f"alters {where}: removes the length limit, no rewrite")
    if not isinstance(after, int) or (before is not None and not isinstance(before, int)):
        return unknown(f"alters {where}: max_length is not a literal number")
    if before is not None and after >= before:
        return compatible(f"alters {where}: widens it from varchar({before}) to varchar({after}), no rewrite")
    return incompatible(f"alters {where}: narrows it to varchar({after}): values the running code writes may not fit, "
                        "and the table is checked while all queries wait", TYPE_ADVICE)


def _digits_rule(state, app, where, before, after, old, new):
    places = (effective(old, "decimal_places"), effective(new, "decimal_places"))
    if places[0] == places[1] and isinstance(before, int) and isinstance(after, int) and after >= before:
        return compatible(f"alters {where}: more digits at the same scale, no rewrite")
    return incompatible(f"alters {where}: changes its numeric precision or scale: the table is rewritten while all queries "
                        "wait", TYPE_ADVICE)


def _column_rule(state, app, where, before, after, old, new):
    name = where.rpartition(".")[2]
    old_column, new_column = column(name, old), column(name, new)
    if old_column == new_column:
        return None
    return incompatible(f"alters {where}: renames its column {old_column} to {new_column}: the running code still uses "
                        f"{old_column}", RENAME_ADVICE.format(old=old_column))


def _target_rule(state, app, where, before, after, old, new):
    targets = state.target(app, before), state.target(app, after)
    if None in targets:
        return unknown(f"alters {where}: points it at {_text(after)}, which cannot be resolved to a model")
    if targets[0] == targets[1]:
        return None
    return incompatible(f"alters {where}: points it at {_text(after)} instead of {_text(before)}: the running code's "
                        "values no longer match", TYPE_ADVICE)


def _db_default_rule(state, app, where, before, after, old, new):
    if "db_default" in new.kwargs or effective(new, "null") is True:
        return compatible(f"alters {where}: changes its database default, catalog only")
    return incompatible(f"alters {where}: drops the database default of a NOT NULL column: the running code's INSERTs "
                        "rely on it", NOT_NULL_ADD_ADVICE)


def _base_field_rule(state, app, where, before, after, old, new):
    """An ArrayField's items: the same rules, applied to the item field."""
    if not isinstance(before, Call) or not isinstance(after, Call):
        return unknown(f"alters {where}: its item field is not a literal call")
    return worst(_changes(state, app, f"{where} (items)", before, after))


def _rewrite(attribute: str):
    """A rule for an attribute whose change rewrites the column or what its values mean."""

    def rule(state, app, where, before, after, old, new):
        return incompatible(f"alters {where}: changes {attribute} from {_text(before)} to {_text(after)}: the column is "
                            "rewritten while all queries wait, and the running code expects the old one", TYPE_ADVICE)

    return rule


_ATTRIBUTE_RULES = {
    "null": _flag_rule(
        compatible("alters {where}: drops NOT NULL, catalog only"),
        incompatible("alters {where}: makes it NOT NULL: the running code may still write NULL, and SET NOT NULL scans "
                     "the table while all queries wait", SET_NOT_NULL_ADVICE),
    ),
    "unique": _flag_rule(
        incompatible("alters {where}: makes it unique: the running code may still write duplicates, and the index is "
                     "built while writes wait", UNIQUE_ADVICE),
        compatible("alters {where}: drops its unique constraint"),
    ),
    "db_index": _flag_rule(
        locking("alters {where}: adds an index with a plain CREATE INDEX, which blocks writes while it builds", INDEX_FIX),
        compatible("alters {where}: drops its index"),
    ),
    "db_constraint": _flag_rule(
        locking("alters {where}: adds its foreign key constraint, validated while writes to both tables wait", FK_FIX),
        compatible("alters {where}: drops its foreign key constraint"),
    ),
    "max_length": _length_rule,
    "max_digits": _digits_rule,
    "decimal_places": _digits_rule,
    "db_column": _column_rule,
    "to": _target_rule,
    "to_field": _rewrite("to_field"),
    "db_default": _db_default_rule,
    "db_collation": _rewrite("db_collation"),
    "primary_key": _rewrite("primary_key"),
    "base_field": _base_field_rule,
}


def _text(value: Any) -> str:
    source = getattr(value, "source", None) or getattr(value, "written", None)
    return source if source else repr(value)
