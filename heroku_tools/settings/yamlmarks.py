"""YAML that remembers where each key was written, so every settings error can name its line.

:func:`compose` reads a document into plain data plus a map from each key
path — ``("environments", "live", "branch")`` — to its line; an
:class:`Origin` turns a key path into "``heroku-tools.yml, line 12:
environments.live.branch``". Settings files and declared config-var files
both read through it.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import yaml

from ..errors import SettingsError
from .model import NAMESPACE

KeyPath = tuple  # a key path into the settings, e.g. ("environments", "uat", "branch")


def compose(text: str, display: str) -> tuple[Any, dict]:
    """Parse YAML keeping the line of every key and list item, for error messages."""
    marks: dict[KeyPath, int] = {}
    try:
        loader = yaml.SafeLoader(text)
    except yaml.YAMLError as exc:  # a character YAML does not allow (a NUL byte, say), found as it starts
        raise SettingsError(f"{display}: invalid YAML: {str(exc).splitlines()[0]}") from None
    try:
        node = loader.get_single_node()
        data = _Builder(loader, marks, display).build(node, ()) if node is not None else {}
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f", line {mark.line + 1}" if mark else ""
        problem = " ".join(filter(None, [exc.context, exc.problem]))
        raise SettingsError(f"{display}{line}: invalid YAML: {problem}") from None
    except yaml.YAMLError as exc:
        raise SettingsError(f"{display}: invalid YAML: {exc}") from None
    except RecursionError:  # a merge key (<<) that refers to itself, deep inside PyYAML
        raise SettingsError(f"{display}: invalid YAML: nested too deeply (an alias that refers to itself?)") from None
    finally:
        loader.dispose()
    return data, marks


class _Builder:
    """Builds plain data from YAML nodes, recording each key's line; refuses what no settings file needs.

    A settings file is small: an alias that refers to what holds it (``a: &x
    [*x]``) or aliases repeated until the data explodes are errors with a
    line, not a ``RecursionError`` or a machine out of memory.
    """

    #: More nodes than any real settings file has; aliases multiplied past it are refused.
    LIMIT = 20_000

    def __init__(self, loader: yaml.SafeLoader, marks: dict, display: str):
        self.loader, self.marks, self.display = loader, marks, display
        self.count = 0
        self.open: set[int] = set()

    def build(self, node, path: KeyPath):
        line = node.start_mark.line + 1
        self.marks.setdefault(path, line)
        self.count += 1
        where = f"{self.display}, line {line}: {dotted(path) or 'settings'}"
        if self.count > self.LIMIT:
            raise SettingsError(f"{where}: more than {self.LIMIT:,} values (aliases repeated too often?)")
        if id(node) in self.open:
            raise SettingsError(f"{where}: an alias refers to the mapping or list that holds it")
        if not isinstance(node, (yaml.MappingNode, yaml.SequenceNode)):
            return self.loader.construct_object(node, deep=True)
        self.open.add(id(node))
        try:
            if isinstance(node, yaml.SequenceNode):
                return [self.build(item, path + (i,)) for i, item in enumerate(node.value)]
            return self._mapping(node, path)
        finally:
            self.open.discard(id(node))

    def _mapping(self, node, path: KeyPath) -> dict:
        self.loader.flatten_mapping(node)
        result: dict = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            key = self.loader.construct_object(key_node) if isinstance(key_node, yaml.ScalarNode) else None
            if not isinstance(key, (str, int, float, bool)) or key is None:
                raise SettingsError(f"{self.display}, line {line}: {dotted(path) or 'settings'}: keys must be plain names")
            if key in result:
                raise SettingsError(
                    f"{self.display}, line {line}: {dotted(path + (key,))}: duplicate key "
                    f"(first at line {self.marks[path + (key,)]})"
                )
            self.marks[path + (key,)] = line
            result[key] = self.build(value_node, path + (key,))
        return result


class Origin:
    """Where a piece of raw settings came from: a file with line marks, or Invoke's configuration."""

    def __init__(self, name: str, marks: dict | None):
        self.name, self.marks = name, marks

    def line(self, path: KeyPath) -> int | None:
        """The line of ``path``, or of its nearest ancestor that has one."""
        for end in range(len(path), -1, -1):
            if self.marks and path[:end] in self.marks:
                return self.marks[path[:end]]
        return None

    def locate(self, path: KeyPath) -> str:
        if self.marks is None:
            return f"{self.name} ({dotted((NAMESPACE, *path))})"
        line = self.line(path)
        return f"{self.name}, line {line}" if line else self.name

    def error(self, path: KeyPath, problem: str, at: KeyPath | None = None) -> SettingsError:
        """``problem`` with ``path``, located at the line of ``at`` (default: ``path``)."""
        return SettingsError(f"{self.describe(path, at)}: {problem}")

    def describe(self, path: KeyPath, at: KeyPath | None = None) -> str:
        """Where ``path`` is: ``heroku-tools.yml, line 12: environments.live.notify[0]``."""
        if self.marks is None:
            return self.locate(path)
        key = dotted(path)
        return f"{self.locate(at or path)}{': ' + key if key else ''}"

    def rename(self, old: KeyPath, new: KeyPath) -> None:
        """Re-key the marks under ``old`` (a list item) to ``new`` (its label)."""
        if self.marks is None:
            return
        for path in [p for p in self.marks if p[: len(old)] == old]:
            self.marks[new + path[len(old):]] = self.marks.pop(path)


def dotted(path: Iterable) -> str:
    """``("environments", 2, "label")`` → ``environments[2].label``."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else str(part)
    return text


def kind(value) -> str:
    kinds = {dict: "a mapping", list: "a list", type(None): "nothing"}
    return kinds[type(value)] if type(value) in kinds else shown(value)


def shown(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, (dict, list)):
        return kind(value)
    return repr(value)
