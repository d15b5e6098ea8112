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
    try:
        loader = yaml.SafeLoader(text)  # reads the whole text: an unprintable character fails here
    except yaml.YAMLError as exc:
        raise SettingsError(f"{display}: invalid YAML: {exc}") from None
    marks: dict[KeyPath, int] = {}
    try:
        node = loader.get_single_node()
        data = _construct(loader, node, (), marks, display) if node is not None else {}
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f", line {mark.line + 1}" if mark else ""
        problem = " ".join(filter(None, [exc.context, exc.problem]))
        raise SettingsError(f"{display}{line}: invalid YAML: {problem}") from None
    except yaml.YAMLError as exc:
        raise SettingsError(f"{display}: invalid YAML: {exc}") from None
    except RecursionError:
        raise SettingsError(f"{display}: invalid YAML: an alias that contains itself, or nesting too deep") from None
    finally:
        loader.dispose()
    return data, marks


def _construct(loader, node, path: KeyPath, marks: dict, display: str):
    marks.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)
        result: dict = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if not isinstance(key, (str, int, float, bool)) or key is None:
                raise SettingsError(f"{display}, line {line}: {dotted(path) or 'settings'}: keys must be plain names")
            if key in result:
                raise SettingsError(
                    f"{display}, line {line}: {dotted(path + (key,))}: duplicate key "
                    f"(first at line {marks[path + (key,)]})"
                )
            marks[path + (key,)] = line
            result[key] = _construct(loader, value_node, path + (key,), marks, display)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_construct(loader, item, path + (i,), marks, display) for i, item in enumerate(node.value)]
    return loader.construct_object(node, deep=True)


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
