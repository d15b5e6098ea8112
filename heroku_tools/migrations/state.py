"""Each app's models as the earlier migrations leave them, rebuilt statically.

Judging an ``AlterField`` needs the field as it was; judging a
``RenameField`` or ``RenameModel`` needs the column and table names the old
code uses. :class:`ProjectState` replays the state-changing operations
(CreateModel, AddField, AlterField, RenameField, RemoveField, DeleteModel,
RenameModel, AlterModelTable, the model options, and the state side of
SeparateDatabaseAndState and RunSQL) in graph order, as Django's
``ProjectState`` does, on the parsed values. Whatever cannot be replayed
(a model name that is not a literal, a fields list built in code) leaves the
model or field unknown, so the rules that need it answer "unknown".

Custom operation classes are assumed not to change the state; they are
judged unknown themselves.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from .parse import Operation
from .values import Call, Ref

#: The options ``AlterModelOptions`` replaces wholesale (Django's ``ALTER_OPTION_KEYS``).
ALTER_OPTION_KEYS = (
    "base_manager_name", "default_manager_name", "default_related_name", "get_latest_by", "managed", "ordering",
    "permissions", "default_permissions", "select_on_save", "verbose_name", "verbose_name_plural",
)
M2M_CLASSES = frozenset({"ManyToManyField"})
FK_CLASSES = frozenset({"ForeignKey", "OneToOneField"})


@dataclass
class ModelState:
    """One model: its fields (``None`` when they could not be read) and options (``None`` likewise).

    ``new`` marks a model created by a migration being judged: the old code
    has never seen its table. ``new_fields`` are fields added by those migrations.
    """

    app: str
    name: str
    fields: dict[str, Any] | None
    options: dict[str, Any] | None
    new: bool = False
    new_fields: set[str] = field(default_factory=set)

    @property
    def label(self) -> str:
        return f"{self.app}.{self.name}"

    @property
    def table(self) -> str | None:
        """The table name, or ``None`` if ``db_table`` is not a literal."""
        if self.options is None:
            return None
        table = self.options.get("db_table")
        if table is None:
            return f"{self.app}_{self.name.lower()}"
        return table if isinstance(table, str) else None

    @property
    def has_table(self) -> bool:
        """Proxy and unmanaged models have no table of their own: their operations run no SQL."""
        options = self.options or {}
        return not options.get("proxy") and options.get("managed", True) is not False

    def field(self, name: str) -> Call | None:
        found = (self.fields or {}).get(name)
        return found if isinstance(found, Call) else None


def is_m2m(field: Call) -> bool:
    return field.short in M2M_CLASSES


def is_fk(field: Call) -> bool:
    """A column holding a foreign key: Django's FK classes, or a custom class taking ``to`` and ``on_delete``."""
    if is_m2m(field):
        return False
    return field.short in FK_CLASSES or ("to" in field.kwargs and "on_delete" in field.kwargs)


def column(name: str, field: Call) -> str | None:
    """The column the field stores in: ``db_column``, else ``name`` (``name_id`` for a foreign key)."""
    db_column = field.kwargs.get("db_column")
    if db_column is not None:
        return db_column if isinstance(db_column, str) else None
    return f"{name}_id" if is_fk(field) else name


class ProjectState:
    """All models, keyed ``(app, model name lowercased)``, as replayed so far."""

    def __init__(self, swappable: Mapping[str, str]):
        self.models: dict[tuple[str, str], ModelState] = {}
        self.swappable = swappable

    def model(self, app: str, name: Any) -> ModelState | None:
        return self.models.get((app, name.lower())) if isinstance(name, str) else None

    def target(self, app: str, to: Any) -> tuple[str, str] | None:
        """The model a relation's ``to`` names: ``"app.Model"``, ``"Model"`` (same app) or a swappable setting."""
        if isinstance(to, Ref) and to.short in self.swappable:
            to = self.swappable[to.short]
        if not isinstance(to, str):
            return None
        target_app, dot, name = to.rpartition(".")
        return (target_app if dot else app, name.lower())

    def auto_m2m_involving(self, key: tuple[str, str]) -> list[str]:
        """``app.Model.field`` of each many-to-many without an explicit ``through`` on or pointing at ``key``."""
        found = []
        for model_key, model in self.models.items():
            for name, value in (model.fields or {}).items():
                if isinstance(value, Call) and is_m2m(value) and "through" not in value.kwargs:
                    if model_key == key or self.target(model.app, value.arg(0, "to")) == key:
                        found.append(f"{model.label}.{name}")
        return found

    def copy(self) -> ProjectState:
        """A copy whose models can change without changing these (SeparateDatabaseAndState's database side)."""
        copied = ProjectState(self.swappable)
        for key, model in self.models.items():
            copied.models[key] = replace(
                model,
                fields=None if model.fields is None else dict(model.fields),
                options=None if model.options is None else dict(model.options),
                new_fields=set(model.new_fields),
            )
        return copied

    def forget_new(self) -> None:
        """Count every model and field as known to the old code from now on."""
        for model in self.models.values():
            model.new = False
            model.new_fields.clear()

    def apply(self, app: str, operation: Operation, *, new: bool) -> None:
        """Replay one operation of a migration of ``app``; ``new`` when that migration is being judged."""
        if operation.stock in ("SeparateDatabaseAndState", "RunSQL"):
            for nested in operation.state:
                self.apply(app, nested, new=new)
            return
        handler = _REPLAY.get(operation.stock or "")
        if handler and operation.call:
            handler(self, app, operation.call, new)

    def _create_model(self, app: str, call: Call, new: bool) -> None:
        name, fields, options = call.arg(0, "name"), call.arg(1, "fields"), call.arg(2, "options", {})
        if not isinstance(name, str):
            return
        if isinstance(options, dict):
            options = {key: normalise_together(value) if key.endswith("_together") else value for key, value in options.items()}
        self.models[(app, name.lower())] = ModelState(app, name, _fields(fields), options if isinstance(options, dict) else None, new=new)

    def _delete_model(self, app: str, call: Call, new: bool) -> None:
        name = call.arg(0, "name")
        if isinstance(name, str):
            self.models.pop((app, name.lower()), None)

    def _rename_model(self, app: str, call: Call, new: bool) -> None:
        old_name, new_name = call.arg(0, "old_name"), call.arg(1, "new_name")
        model = self.model(app, old_name)
        if model is None or not isinstance(new_name, str):
            return
        del self.models[(app, old_name.lower())]
        self.models[(app, new_name.lower())] = replace(model, name=new_name)
        self._repoint((app, old_name.lower()), f"{app}.{new_name}")

    def _repoint(self, old: tuple[str, str], to: str) -> None:
        """Relations to a renamed model now name it by its new name (as Django's ``rename_model``)."""
        for model in self.models.values():
            for name, value in (model.fields or {}).items():
                if isinstance(value, Call) and "to" in value.kwargs and self.target(model.app, value.kwargs["to"]) == old:
                    model.fields[name] = replace(value, kwargs={**value.kwargs, "to": to})

    def _add_field(self, app: str, call: Call, new: bool) -> None:
        model, name, value = self.model(app, call.arg(0, "model_name")), call.arg(1, "name"), call.arg(2, "field")
        if model is None or model.fields is None or not isinstance(name, str):
            return
        model.fields[name] = value
        if new:
            model.new_fields.add(name)

    def _alter_field(self, app: str, call: Call, new: bool) -> None:
        model, name = self.model(app, call.arg(0, "model_name")), call.arg(1, "name")
        if model is not None and model.fields is not None and isinstance(name, str):
            model.fields[name] = call.arg(2, "field")

    def _remove_field(self, app: str, call: Call, new: bool) -> None:
        model, name = self.model(app, call.arg(0, "model_name")), call.arg(1, "name")
        if model is not None and model.fields is not None and isinstance(name, str):
            model.fields.pop(name, None)

    def _rename_field(self, app: str, call: Call, new: bool) -> None:
        model = self.model(app, call.arg(0, "model_name"))
        old_name, new_name = call.arg(1, "old_name"), call.arg(2, "new_name")
        if model is None or model.fields is None or not isinstance(new_name, str) or old_name not in model.fields:
            return
        model.fields = {new_name if key == old_name else key: value for key, value in model.fields.items()}
        if old_name in model.new_fields:
            model.new_fields.add(new_name)
        for option in ("unique_together", "index_together"):
            if model.options and isinstance(model.options.get(option), (set, frozenset)):
                model.options[option] = frozenset(
                    tuple(new_name if part == old_name else part for part in group) for group in model.options[option]
                )

    def _alter_options(self, app: str, call: Call, new: bool) -> None:
        model, options = self.model(app, call.arg(0, "name")), call.arg(1, "options")
        if model is None or model.options is None:
            return
        if not isinstance(options, dict):
            model.options = None
            return
        model.options = {**model.options, **options}
        for key in ALTER_OPTION_KEYS:
            if key not in options:
                model.options.pop(key, None)


def _fields(value: Any) -> dict[str, Any] | None:
    """CreateModel's ``fields``: a list of ``(name, field)`` pairs, else ``None`` (not known)."""
    if not isinstance(value, (list, tuple)):
        return None
    fields = {}
    for item in value:
        if not (isinstance(item, (list, tuple)) and len(item) == 2 and isinstance(item[0], str)):
            return None
        fields[item[0]] = item[1]
    return fields


def normalise_together(value: Any) -> Any:
    """``unique_together``/``index_together`` as a set of tuples (Django accepts one bare tuple too)."""
    if not value:
        return frozenset()
    if not isinstance(value, (list, tuple, set, frozenset)):
        return value
    groups = list(value)
    if all(isinstance(part, str) for part in groups):
        groups = [tuple(groups)]
    if not all(isinstance(group, (list, tuple)) for group in groups):
        return value
    return frozenset(tuple(group) for group in groups)


def _option_setter(option: str, position: int, argument: str) -> Callable[[ProjectState, str, Call, bool], None]:
    """The replay of an operation that sets one model option (``AlterModelTable`` sets ``db_table``...)."""

    def handler(state: ProjectState, app: str, call: Call, new: bool) -> None:
        model = state.model(app, call.arg(0, "name"))
        if model is not None and model.options is not None:
            value = call.arg(position, argument)
            model.options[option] = normalise_together(value) if option.endswith("_together") else value

    return handler


_REPLAY: dict[str, Callable[[ProjectState, str, Call, bool], None]] = {
    "CreateModel": ProjectState._create_model,
    "DeleteModel": ProjectState._delete_model,
    "RenameModel": ProjectState._rename_model,
    "AddField": ProjectState._add_field,
    "RemoveField": ProjectState._remove_field,
    "AlterField": ProjectState._alter_field,
    "RenameField": ProjectState._rename_field,
    "AlterModelOptions": ProjectState._alter_options,
    "AlterModelTable": _option_setter("db_table", 1, "table"),
    "AlterUniqueTogether": _option_setter("unique_together", 1, "unique_together"),
    "AlterIndexTogether": _option_setter("index_together", 1, "index_together"),
    "AlterOrderWithRespectTo": _option_setter("order_with_respect_to", 1, "order_with_respect_to"),
}
