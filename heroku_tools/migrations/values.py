"""The expressions of a migration file, evaluated only as far as they are literal.

Nothing of the project is imported or run: a field such as
``models.CharField(max_length=20, null=True)`` becomes a :class:`Call` whose
keyword values are plain Python values, a name such as ``models.CASCADE``
becomes a :class:`Ref` resolved through the file's imports, and anything
else (a lambda, an f-string, a comprehension) stays :class:`Unparsed` so the
rules that need it can say "unknown" instead of guessing.
"""
from __future__ import annotations

import ast
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

#: The modules ``from django.db import migrations, models`` and their relatives name.
_STOCK_MODULES = {"migrations": "django.db.migrations", "models": "django.db.models"}


@dataclass(frozen=True)
class Ref:
    """A name or dotted attribute, e.g. ``models.CASCADE`` or ``settings.AUTH_USER_MODEL``.

    Two refs are equal when they name the same thing, however the file spelt it.
    """

    qualified: str
    written: str = field(default="", compare=False)

    @property
    def short(self) -> str:
        return self.qualified.rpartition(".")[2]


@dataclass(frozen=True)
class Unparsed:
    """An expression the rules cannot rely on: its source text and line."""

    source: str
    line: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Call:
    """A call written in the file: an operation, a field, an index, a constraint.

    ``qualified`` is the callee resolved through the file's imports
    (``migrations.AddField`` -> ``django.db.migrations.AddField``); ``args`` and
    ``kwargs`` hold evaluated values. Equality ignores spelling and position,
    so the same field written in two migrations compares equal.
    """

    qualified: str
    args: tuple = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    written: str = field(default="", compare=False)
    line: int = field(default=0, compare=False)

    @property
    def short(self) -> str:
        return self.qualified.rpartition(".")[2]

    def arg(self, position: int, name: str, default: Any = None) -> Any:
        """The argument Django would bind to ``name``: by keyword, else at ``position``."""
        if name in self.kwargs:
            return self.kwargs[name]
        if position < len(self.args):
            return self.args[position]
        return default


class Evaluator:
    """Evaluates expressions of one file: literals, names through its imports, calls, constants.

    ``constants`` are the values of names assigned once (see :meth:`collect`).
    """

    def __init__(self, tree: ast.Module, source: str):
        self.source, self.tree = source, tree
        self.imports = _imports(tree)
        self.constants: dict[str, Any] = {}
        self._mutated: set[str] | None = None
        self.collect(tree.body)

    def collect(self, statements: list[ast.stmt]) -> None:
        """Learn the ``NAME = <value>`` assignments among ``statements`` (a module's, or a class body's).

        Each name must be assigned once and never changed in place anywhere in
        the file (``OPS.append(...)``): otherwise its final value is not the
        one written. Later assignments may use earlier ones, so ``operations =
        COMMON + EXTRA`` and ``RunSQL(CREATE_INDEX)`` see what the names hold.
        """
        assigned: dict[str, int] = {}
        for node in statements:
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        assigned[target.id] = assigned.get(target.id, 0) + 1
        for node in statements:
            if not (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)):
                continue
            name = node.targets[0].id
            value = self.value(node.value)
            if assigned[name] != 1 or isinstance(value, Unparsed):
                continue
            if isinstance(value, (list, dict)) and name in self.mutated():
                continue
            self.constants[name] = value

    def mutated(self) -> set[str]:
        """Names the file changes in place; the whole tree is walked only if its text hints at it."""
        if self._mutated is None:
            hinted = any(hint in self.source for hint in _MUTATION_HINTS)
            self._mutated = _mutated_names(self.tree) if hinted else set()
        return self._mutated

    def qualify(self, dotted: str) -> str:
        """``dotted`` with its first part replaced by what the file imported under that name."""
        head, dot, rest = dotted.partition(".")
        base = self.imports.get(head, _STOCK_MODULES.get(head, head))
        return base + dot + rest

    def value(self, node: ast.AST) -> Any:
        """The value of ``node``: a Python literal, :class:`Ref`, :class:`Call` or :class:`Unparsed`."""
        handler = _HANDLERS.get(type(node))
        if handler is None:
            return self.unparsed(node)
        return handler(self, node)

    def unparsed(self, node: ast.AST) -> Unparsed:
        return Unparsed(ast.get_source_segment(self.source, node) or ast.unparse(node), getattr(node, "lineno", 0))

    def call(self, node: ast.Call) -> Any:
        dotted = dotted_name(node.func)
        if dotted is None or any(isinstance(arg, ast.Starred) for arg in node.args):
            return self.unparsed(node)
        if any(keyword.arg is None for keyword in node.keywords):  # **kwargs
            return self.unparsed(node)
        if dotted in _BUILTIN_CONTAINERS and dotted not in self.imports and not node.keywords and len(node.args) <= 1:
            return self._container(dotted, node)
        return Call(
            self.qualify(dotted),
            tuple(self.value(arg) for arg in node.args),
            {keyword.arg: self.value(keyword.value) for keyword in node.keywords},
            written=dotted,
            line=node.lineno,
        )

    def _container(self, builtin: str, node: ast.Call) -> Any:
        """``set()``, ``tuple([...])`` and the like: the literal they build (``unique_together=set()``)."""
        items = self.value(node.args[0]) if node.args else ()
        if not isinstance(items, (list, tuple, frozenset)) or (builtin == "dict" and items):
            return self.unparsed(node)
        return _BUILTIN_CONTAINERS[builtin](items)


_BUILTIN_CONTAINERS = {"set": frozenset, "frozenset": frozenset, "tuple": tuple, "list": list, "dict": lambda items: {}}


def dotted_name(node: ast.AST) -> str | None:
    """``a.b.c`` for a Name/Attribute chain, else ``None``."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return ".".join(reversed(parts))


def _name(evaluator: Evaluator, node: ast.Name | ast.Attribute) -> Any:
    dotted = dotted_name(node)
    if dotted is None:
        return evaluator.unparsed(node)
    if dotted in evaluator.constants:
        return evaluator.constants[dotted]
    return Ref(evaluator.qualify(dotted), dotted)


def _sequence(evaluator: Evaluator, node: ast.List | ast.Tuple | ast.Set) -> Any:
    if any(isinstance(element, ast.Starred) for element in node.elts):
        return evaluator.unparsed(node)
    values = [evaluator.value(element) for element in node.elts]
    if isinstance(node, ast.List):
        return values
    if isinstance(node, ast.Set):
        try:
            return frozenset(values)
        except TypeError:  # an unhashable member (a list in a set cannot be written, but a Call can)
            return tuple(values)
    return tuple(values)


def _dict(evaluator: Evaluator, node: ast.Dict) -> Any:
    if any(key is None for key in node.keys):  # {**other}
        return evaluator.unparsed(node)
    keys = [evaluator.value(key) for key in node.keys]
    if not all(isinstance(key, (str, int, bool, type(None))) for key in keys):
        return evaluator.unparsed(node)
    return {key: evaluator.value(value) for key, value in zip(keys, node.values, strict=True)}


def _unary(evaluator: Evaluator, node: ast.UnaryOp) -> Any:
    operand = evaluator.value(node.operand)
    if isinstance(node.op, ast.USub) and isinstance(operand, (int, float)) and not isinstance(operand, bool):
        return -operand
    if isinstance(node.op, ast.Not) and isinstance(operand, bool):
        return not operand
    return evaluator.unparsed(node)


def _binary(evaluator: Evaluator, node: ast.BinOp) -> Any:
    """``"a" + "b"`` and ``[...] + [...]``: concatenations of literals, nothing else."""
    left, right = evaluator.value(node.left), evaluator.value(node.right)
    if isinstance(node.op, ast.Add) and type(left) is type(right) and isinstance(left, (str, list, tuple)):
        return left + right
    return evaluator.unparsed(node)


_HANDLERS = {
    ast.Constant: lambda evaluator, node: node.value,
    ast.Name: _name,
    ast.Attribute: _name,
    ast.List: _sequence,
    ast.Tuple: _sequence,
    ast.Set: _sequence,
    ast.Dict: _dict,
    ast.UnaryOp: _unary,
    ast.BinOp: _binary,
    ast.Call: Evaluator.call,
}


def _imports(tree: ast.Module) -> dict[str, str]:
    """What each module-level name stands for: ``{"pg": "django.contrib.postgres.operations"}``."""
    names: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    names[alias.asname] = alias.name
                else:
                    head = alias.name.partition(".")[0]
                    names[head] = head
        elif isinstance(node, ast.ImportFrom):
            module = "." * node.level + (node.module or "")
            for alias in node.names:
                names[alias.asname or alias.name] = f"{module}.{alias.name}" if module else alias.name
        elif isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            names[node.name] = f"<file>.{node.name}"
    return names


_MUTATORS = frozenset({"append", "extend", "insert", "pop", "remove", "clear", "update", "setdefault", "sort", "reverse"})
#: Text that must appear in a file that changes a name in place (plain substring tests: fast).
_MUTATION_HINTS = (*(f".{method}" for method in _MUTATORS), "+=", "]=", "] =", "del ")


def _mutated_names(tree: ast.AST) -> set[str]:
    """Names changed in place anywhere in the file: ``X.append(...)``, ``X += ...``, ``X[k] = ...``, ``del X[k]``."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in _MUTATORS and isinstance(node.value, ast.Name):
            names.add(node.value.id)
        elif isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.Subscript) and isinstance(node.ctx, (ast.Store, ast.Del)) and isinstance(node.value, ast.Name):
            names.add(node.value.id)
    return names
