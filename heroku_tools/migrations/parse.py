"""One migration file, read with ``ast``: its graph attributes, its operations and its marks.

Nothing is imported or run. What the rules cannot rely on is kept, not
dropped: an operation that is not a plain call becomes an :class:`Operation`
without a ``call`` (judged unknown), and whatever else went wrong is listed
in :attr:`Migration.problems` (which makes the migration unknown too).
"""
from __future__ import annotations

import ast
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from .markers import Mark, comment_mark, comment_marks, tool_mark
from .values import Call, Evaluator, Ref, Unparsed

#: Where a swappable dependency points unless the project says otherwise.
SWAPPABLE = {"AUTH_USER_MODEL": "auth.User"}

_MIGRATIONS_MODULES = (
    "django.db.migrations",
    "django.db.migrations.operations",
    "django.db.migrations.operations.fields",
    "django.db.migrations.operations.models",
    "django.db.migrations.operations.special",
)
_POSTGRES_MODULE = "django.contrib.postgres.operations"
#: The operation classes Django 5.x ships, by module (django/db/migrations/operations, contrib/postgres).
STOCK_OPERATIONS = {
    "django.db.migrations": frozenset({
        "CreateModel", "DeleteModel", "RenameModel", "AlterModelTable", "AlterModelTableComment",
        "AlterUniqueTogether", "AlterIndexTogether", "AlterOrderWithRespectTo", "AlterModelOptions",
        "AlterModelManagers", "AddIndex", "RemoveIndex", "RenameIndex", "AddConstraint", "RemoveConstraint",
        "AlterConstraint", "AddField", "RemoveField", "AlterField", "RenameField",
        "SeparateDatabaseAndState", "RunSQL", "RunPython",
    }),
    _POSTGRES_MODULE: frozenset({
        "CreateExtension", "BloomExtension", "BtreeGinExtension", "BtreeGistExtension", "CITextExtension",
        "CryptoExtension", "HStoreExtension", "TrigramExtension", "UnaccentExtension",
        "AddIndexConcurrently", "RemoveIndexConcurrently", "CreateCollation", "RemoveCollation",
        "AddConstraintNotValid", "ValidateConstraint",
    }),
}


class Key(NamedTuple):
    """A migration's identity, as in ``django_migrations``: ``(app label, name)``."""

    app: str
    name: str

    def __str__(self) -> str:
        return f"{self.app}.{self.name}"


def stock_name(qualified: str) -> str | None:
    """The Django class name if ``qualified`` names a stock operation class, else ``None``."""
    module, _, name = qualified.rpartition(".")
    if module in _MIGRATIONS_MODULES and name in STOCK_OPERATIONS["django.db.migrations"]:
        return name
    if module == _POSTGRES_MODULE and name in STOCK_OPERATIONS[_POSTGRES_MODULE]:
        return name
    return None


@dataclass(frozen=True)
class Operation:
    """One entry of ``operations``: a call (``None`` when not understood), its line and mark.

    ``database`` and ``state`` hold the nested operations of a
    ``SeparateDatabaseAndState`` (and ``state`` those of ``RunSQL(state_operations=...)``).
    """

    call: Call | None
    line: int
    source: str = ""
    mark: Mark | None = None
    database: tuple[Operation, ...] = ()
    state: tuple[Operation, ...] = ()

    @property
    def stock(self) -> str | None:
        return stock_name(self.call.qualified) if self.call else None

    @property
    def name(self) -> str:
        """The class as written (``migrations.AddField``), or the text that was not understood."""
        return self.call.written if self.call else self.source

    def arg(self, position: int, name: str, default: Any = None) -> Any:
        return self.call.arg(position, name, default) if self.call else default


@dataclass(frozen=True)
class Migration:
    """A migration file as read statically; ``path`` is relative to the repository (or reader) root."""

    app: str
    name: str
    path: str
    line: int = 0
    dependencies: tuple[Key, ...] = ()
    replaces: tuple[Key, ...] = ()
    run_before: tuple[Key, ...] = ()
    initial: bool | None = None
    atomic: bool = True
    operations: tuple[Operation, ...] = ()
    #: Migration-level marks, strongest first (comment, then django-safemigrate, then django-syzygy).
    marks: tuple[Mark, ...] = ()
    problems: tuple[str, ...] = ()

    @property
    def key(self) -> Key:
        return Key(self.app, self.name)

    def __str__(self) -> str:
        return f"{self.app}.{self.name}"


def parse_migration(
    source: str, *, app: str, name: str, path: str = "", swappable: Mapping[str, str] | None = None
) -> Migration:
    """Read one migration module's text. Never raises: problems are recorded on the result."""
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        return Migration(app, name, path, problems=(f"does not parse (line {exc.lineno}: {exc.msg})",))
    except ValueError as exc:  # null bytes
        return Migration(app, name, path, problems=(f"does not parse ({exc})",))
    node = next((n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Migration"), None)
    if node is None:
        return Migration(app, name, path, problems=("has no `class Migration`",))
    reader = _ClassReader(Evaluator(tree, source), comment_marks(source), {**SWAPPABLE, **(swappable or {})})
    return reader.migration(node, app=app, name=name, path=path)


class _ClassReader:
    """Reads the attributes of one ``class Migration`` body, collecting problems as it goes."""

    def __init__(self, evaluator: Evaluator, marks: Mapping[int, Any], swappable: Mapping[str, str]):
        self.evaluator, self.marks, self.swappable = evaluator, marks, swappable
        self.problems: list[str] = []

    def migration(self, node: ast.ClassDef, *, app: str, name: str, path: str) -> Migration:
        bases = [self.evaluator.value(base) for base in node.bases]
        if bases != [Ref("django.db.migrations.Migration")]:
            self.problems.append("`class Migration` does not derive from migrations.Migration alone: inherited attributes are not read")
        # Class-level names (``state_operations = [...]`` used in ``operations``) count as constants too.
        self.evaluator.collect(node.body)
        attributes = _class_attributes(node)
        values = {attr: self.evaluator.value(value) for attr, (value, _) in attributes.items()}
        operations = self.operations(values.get("operations", []))
        return Migration(
            app, name, path, line=node.lineno,
            dependencies=self.keys(values.get("dependencies", ()), "dependencies", app),
            replaces=self.keys(values.get("replaces", ()), "replaces", app),
            run_before=self.keys(values.get("run_before", ()), "run_before", app),
            initial=self.flag(values, "initial", None),
            atomic=self.flag(values, "atomic", True),
            operations=operations,
            marks=self.migration_marks(node, values, attributes),
            problems=tuple(self.problems),
        )

    def flag(self, values: Mapping[str, Any], attribute: str, default: bool | None) -> bool | None:
        value = values.get(attribute, default)
        if value is not None and not isinstance(value, bool):
            self.problems.append(f"`{attribute}` is not a literal True/False")
            return default
        return value

    def keys(self, value, attribute: str, app: str) -> tuple[Key, ...]:
        if not isinstance(value, (list, tuple)):
            self.problems.append(f"`{attribute}` is not a literal list")
            return ()
        keys = []
        for item in value:
            key = self.key(item)
            if key is None:
                self.problems.append(f"`{attribute}` entry not understood: {_source(item)[:80]}")
            else:
                keys.append(key)
        return tuple(keys)

    def key(self, item) -> Key | None:
        if isinstance(item, (tuple, list)) and len(item) == 2 and all(isinstance(part, str) for part in item):
            return Key(*item)
        if isinstance(item, Call) and item.short == "swappable_dependency" and len(item.args) == 1:
            setting = item.args[0]
            if isinstance(setting, Ref) and setting.short in self.swappable:
                return Key(self.swappable[setting.short].partition(".")[0], "__first__")
        return None

    def operations(self, value) -> tuple[Operation, ...]:
        if not isinstance(value, (list, tuple)):
            self.problems.append(f"`operations` is not a literal list: {_source(value)[:80]}")
            return (self.operation(value),)
        return tuple(self.operation(item) for item in value)

    def operation(self, value) -> Operation:
        if not isinstance(value, Call):
            return Operation(None, getattr(value, "line", 0), source=_source(value))
        mark = comment_mark(self.marks, value.line, "the operation")
        database = state = ()
        if stock_name(value.qualified) == "SeparateDatabaseAndState":
            database = self.nested(value.arg(0, "database_operations", []))
            state = self.nested(value.arg(1, "state_operations", []))
        elif stock_name(value.qualified) == "RunSQL":
            state = self.nested(value.arg(2, "state_operations", []))
        return Operation(value, value.line, mark=mark, database=database, state=state)

    def nested(self, value) -> tuple[Operation, ...]:
        if value is None:
            return ()
        if not isinstance(value, (list, tuple)):
            return (self.operation(value),)
        return tuple(self.operation(item) for item in value)

    def migration_marks(self, node: ast.ClassDef, values, attributes) -> tuple[Mark, ...]:
        marks = [comment_mark(self.marks, node.lineno, "the `class Migration` line")]
        for attribute in ("safe", "stage"):
            if attribute in values:
                marks.append(tool_mark(attribute, values[attribute], attributes[attribute][1]))
        return tuple(mark for mark in marks if mark)


def _class_attributes(node: ast.ClassDef) -> dict[str, tuple[ast.AST, int]]:
    """``{name: (value node, line)}`` for the class body's simple assignments (the last one wins)."""
    found = {}
    for statement in node.body:
        if isinstance(statement, ast.Assign) and len(statement.targets) == 1:
            target, value = statement.targets[0], statement.value
        elif isinstance(statement, ast.AnnAssign) and statement.value is not None:
            target, value = statement.target, statement.value
        else:
            continue
        if isinstance(target, ast.Name):
            found[target.id] = (value, statement.lineno)
    return found


def _source(value: Any) -> str:
    """How a value was written, for messages: the source of what was not understood, a name as spelt."""
    if isinstance(value, Unparsed):
        return value.source
    if isinstance(value, Call):
        return f"{value.written or value.qualified}(...)"
    if isinstance(value, Ref):
        return value.written or value.qualified
    return repr(value)
