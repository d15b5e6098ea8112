"""Compare rules with a schema (deny by default).

:func:`find_problems` lists every gap, each naming ``table.column``:

* ``missing-table`` / ``missing-column``: the schema has it, the rules do not;
* ``stale-table`` / ``stale-column``: the rules name something the schema lacks;
* ``invalid``: the rule cannot work on that column (a fake for another type, a
  NULL for a NOT NULL column, one fixed value or a non-unique fake for a unique
  column, a value longer than the column, a column too short for a unique fake).

:func:`check` raises :class:`SchemaMismatch` if there is any.  Generated columns
(``GENERATED ALWAYS AS ... STORED``) carry no data in a dump (they are computed
on load from the other, anonymised, columns): they need no rule, and may only
be ruled ``keep``.

Proposing rules for a schema is :mod:`.proposal`'s (it writes YAML); this module
imports nothing outside the standard library and the anonymiser, as the engine
that runs in a dyno needs (see :mod:`.zipapp`).
"""
from __future__ import annotations

from .errors import Problem, SchemaMismatch
from .fakes import FAKES, FakeError, Fakes
from .rules import ColumnRule, Rules
from .schema import Column, Schema, Table
from .sqlscan import display

_VALIDATION_FAKES = Fakes(b"validation only")


def find_problems(rules: Rules, schema: Schema) -> list[Problem]:
    problems: list[Problem] = []
    for key, table in sorted(schema.tables.items()):
        name = display(key)
        rule = rules.table(key)
        if rule is None:
            cols = ", ".join(table.data_columns) or "no columns"
            problems.append(Problem(name, None, f"no rules for this table ({cols}): rule every column or truncate it",
                                    "missing-table"))
            continue
        if rule.truncate or not table.columns:
            continue
        for col in table.columns.values():
            if col.name not in rule.columns:
                if not col.generated:
                    problems.append(Problem(name, col.name, f"no rule for this column ({col.type})", "missing-column"))
                continue
            message = rule_problem(table, col, rule.columns[col.name])
            if message:
                problems.append(Problem(name, col.name, message, "invalid"))
        for column in rule.columns:
            if column not in table.columns:
                problems.append(Problem(name, column, "rule for a column the table does not have", "stale-column"))
    for key in sorted(rules.tables):
        if key not in schema.tables:
            problems.append(Problem(display(key), None, "rules for a table the schema does not have", "stale-table"))
    return problems


def check(rules: Rules, schema: Schema, context: str = "") -> None:
    problems = find_problems(rules, schema)
    if problems:
        raise SchemaMismatch(problems, context)


def rule_problem(table: Table, col: Column, rule: ColumnRule) -> str | None:
    """Why ``rule`` cannot work on ``col``, or None."""
    if col.generated:
        return None if rule.action == "keep" else "a generated column is computed on load: rule it keep or omit it"
    category = col.type.category
    unique = table.is_unique(col.name)
    if rule.action == "keep":
        return None
    if rule.action == "null":
        return "the column is NOT NULL: it cannot be null" if col.not_null else None
    if rule.action == "value":
        if unique:
            return "the column is unique: one fixed value would collide; use a fake or hash"
        if col.max_length is not None and category == "text" and len(rule.value) > col.max_length:
            return f"the value is {len(rule.value)} characters, the column allows {col.max_length}"
        return None
    # fake or hash
    cls = FAKES[rule.fake]
    if category not in cls.types:
        accepted = ", ".join(cls.types)
        return f"{rule.describe()} makes {accepted} values; the column is {col.type}"
    if unique and not (rule.unique or cls.always_unique):
        if cls.can_be_unique:
            return f"the column is unique: write {{fake: {rule.fake}, unique: true}} (or use hash)"
        return f"the column is unique and {rule.describe()} cannot keep it unique: use hash"
    try:
        build_fake(_VALIDATION_FAKES, col, rule, unique=unique)
    except FakeError as exc:
        return str(exc)
    return None


def build_fake(fakes: Fakes, col: Column | None, rule: ColumnRule, *, unique: bool = False):
    """The configured fake for a fake/hash rule on ``col`` (column may be None: no type or length known);
    ``unique``: the column is known to be unique."""
    return fakes.make(
        rule.fake,
        max_length=col.max_length if col is not None and col.type.category == "text" else None,
        unique=rule.unique or (unique and (FAKES[rule.fake].always_unique or rule.unique)),
        pgtype=col.type if col is not None else None,
        **rule.option_dict,
    )
