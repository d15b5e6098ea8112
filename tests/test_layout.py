"""The package's shape, kept: every module imports on its own, no import cycles, no hidden imports.

An import cycle works until someone imports the modules in another order; an
import inside a function hides a dependency (often a cycle) from whoever reads
the top of the module. These checks read the source with ``ast`` — nothing of
the package is trusted to describe itself — and the import check runs in a
fresh interpreter, so nothing this test process imported can mask a failure.
"""
from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import heroku_tools

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "heroku_tools"

#: Imports allowed inside a function: optional dependencies, each with its reason on the line.
OPTIONAL = "# optional:"


def modules() -> dict[str, Path]:
    """Every module of the package by dotted name (a package by its ``__init__``)."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def _resolve(module: str, path: Path, node: ast.ImportFrom) -> str:
    """The absolute name a ``from ... import`` reads from."""
    if node.level == 0:
        return node.module or ""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for _ in range(node.level - 1):
        package = package.rpartition(".")[0]
    return f"{package}.{node.module}" if node.module else package


def imports(module: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The package's own modules ``module`` imports at its top level (what runs when it is imported)."""
    edges = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Import):
            edges |= {alias.name for alias in node.names if alias.name in known}
        elif isinstance(node, ast.ImportFrom):
            source = _resolve(module, path, node)
            for alias in node.names:
                target = f"{source}.{alias.name}"
                edges.add(target if target in known else source)
    return {edge for edge in edges if edge in known and edge != module}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of more than one module (Tarjan), each as a sorted list."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_cycle_check_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles_between_the_packages_modules():
    known = modules()
    graph = {name: imports(name, path, known) for name, path in known.items()}
    # The top package re-exports the public API from its modules; none of them imports it back.
    assert not [name for name, edges in graph.items() if "heroku_tools" in edges], "import from ._version instead"
    assert cycles(graph) == []


def test_no_imports_inside_functions_except_optional_dependencies():
    hidden = []
    for path in modules().values():
        source = path.read_text(encoding="utf-8")
        lines = source.splitlines()
        for node in ast.walk(ast.parse(source)):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for inner in ast.walk(node):
                if isinstance(inner, (ast.Import, ast.ImportFrom)) and OPTIONAL not in lines[inner.lineno - 1]:
                    hidden.append(f"{path.relative_to(ROOT)}:{inner.lineno}: {lines[inner.lineno - 1].strip()}")
    assert hidden == []


def test_every_module_imports_in_a_fresh_interpreter():
    """Each module imported by name in a new interpreter: nothing this test process loaded can mask a failure."""
    script = (
        "import importlib, json, sys, traceback\n"
        "failed = {}\n"
        "for name in json.loads(sys.argv[1]):\n"
        "    try:\n"
        "        importlib.import_module(name)\n"
        "    except Exception:\n"
        "        failed[name] = traceback.format_exc(limit=3)\n"
        "print(json.dumps(failed))\n"
    )
    result = subprocess.run([sys.executable, "-c", script, json.dumps(sorted(modules()))], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    failed = json.loads(result.stdout.strip().splitlines()[-1])
    assert failed == {}, "\n".join(f"{name}:\n{trace}" for name, trace in failed.items())


def test_the_public_api_is_what_the_docs_promise():
    assert set(heroku_tools.__all__) >= {"Session", "load", "deploy", "promote", "rollback", "restore",
                                         "HerokuToolsError", "Heroku", "Git", "task"}
    for attribute in heroku_tools.__all__:
        assert getattr(heroku_tools, attribute) is not None
