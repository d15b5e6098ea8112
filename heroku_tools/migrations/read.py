"""The migration files of a commit (through git, without a checkout) or of a directory.

At a commit, two git calls whatever the number of files: one ``git ls-tree
-r`` for the paths and blob ids, one ``git grep`` printing every line of every
migration module and ``apps.py`` (``git cat-file --batch`` would need its
object names on stdin, and the library's runner gives every command an
empty stdin). A project can have thousands of migrations.

A migration module is ``<app dir>/migrations/<name>.py`` next to a
``migrations/__init__.py`` (Django skips namespace packages), whose name
does not start with ``_`` or ``~``. The app label is the app directory's
name unless its ``apps.py`` sets ``label`` on its AppConfig.
"""
from __future__ import annotations

import ast
import posixpath
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import HerokuToolsError
from ..git import Git
from .parse import Migration, parse_migration

_GREP_SPECS = (":(top,glob)**/migrations/*.py", ":(top,glob)**/apps.py")


@dataclass(frozen=True)
class Snapshot:
    """The migrations found at ``source`` (a commit sha or a directory).

    ``files`` maps each file read (migration modules, ``apps.py``) to its git
    blob id (``""`` when read from a directory), so two commits' snapshots
    show which files changed, and a later read can reuse what did not.
    """

    source: str
    migrations: tuple[Migration, ...]
    files: Mapping[str, str] = field(default_factory=dict)
    problems: tuple[str, ...] = ()

    @property
    def by_key(self) -> dict:
        return {migration.key: migration for migration in self.migrations}


def migration_module(path: str) -> tuple[str, str] | None:
    """``(app directory, migration name)`` if ``path`` is a migration module, else ``None``."""
    directory, filename = posixpath.split(path)
    app_dir, package = posixpath.split(directory)
    if package != "migrations" or not app_dir or not filename.endswith(".py"):
        return None
    name = filename[:-3]
    if name.startswith(("_", "~")) or "." in name:
        return None
    return app_dir, name


def read_commit(
    git: Git, commit: str, *, swappable: Mapping[str, str] | None = None, known: Snapshot | None = None
) -> Snapshot:
    """The migrations at ``commit`` (any revision git understands), read and parsed.

    ``known``: a snapshot of another commit read with the same ``swappable``;
    its files that are unchanged here are not read or parsed again (when none
    changed, the ``git grep`` is skipped altogether).
    """
    sha = git.rev_parse(commit)
    tree = _ls_tree(git, sha)
    modules = {
        path: found for path in sorted(tree)
        if (found := migration_module(path)) and posixpath.join(posixpath.dirname(path), "__init__.py") in tree
    }
    app_dirs = {app_dir for app_dir, _ in modules.values()}
    reused = _reusable(known, tree, modules)
    if len(reused) == len(modules):
        texts: dict[str, str] = {}
        labels = {migration.path.rpartition("/migrations/")[0]: migration.app for migration in reused.values()}
    else:
        texts = _grep(git, sha, tree)
        labels = _labels(app_dirs, texts)
    migrations = tuple(
        reused.get(path) or parse_migration(texts.get(path, ""), app=labels[app_dir], name=name, path=path, swappable=swappable)
        for path, (app_dir, name) in modules.items()
    )
    read = [*modules, *(posixpath.join(app_dir, "apps.py") for app_dir in sorted(app_dirs))]
    return Snapshot(sha, migrations, {path: tree[path] for path in read if path in tree}, _collisions(labels))


def _reusable(known: Snapshot | None, tree: Mapping[str, str], modules: Mapping[str, tuple[str, str]]) -> dict[str, Migration]:
    """The migrations of ``known`` whose file, and whose app's ``apps.py``, are the same blobs in ``tree``."""
    if known is None:
        return {}
    by_path = {migration.path: migration for migration in known.migrations}
    reused = {}
    for path, (app_dir, _) in modules.items():
        config = posixpath.join(app_dir, "apps.py")
        if path in by_path and known.files.get(path) == tree[path] and known.files.get(config) == tree.get(config):
            reused[path] = by_path[path]
    return reused


def read_directory(root: str | Path, *, swappable: Mapping[str, str] | None = None) -> Snapshot:
    """The migrations under ``root`` (e.g. Django's installed ``django/contrib``, or one app's ``migrations``)."""
    root = Path(root)
    if not root.is_dir():
        raise HerokuToolsError(f"{root}: no such directory to read migrations from")
    inits = sorted(root.rglob("migrations/__init__.py"))
    is_package = root.name == "migrations" and (root / "__init__.py").is_file()
    if is_package:
        inits.insert(0, root / "__init__.py")
    # Paths are relative to the directory above the apps, so each keeps its app directory.
    base = root.parent.parent if is_package else root.parent
    texts: dict[str, str] = {}
    modules: dict[str, tuple[str, str]] = {}
    for init in inits:
        app_dir = init.parent.parent.relative_to(base).as_posix()
        if (init.parent.parent / "apps.py").is_file():
            texts[posixpath.join(app_dir, "apps.py")] = _read_text(init.parent.parent / "apps.py")
        for file in sorted(init.parent.glob("*.py")):
            path = posixpath.join(app_dir, "migrations", file.name)
            found = migration_module(path)
            if found:
                modules[path], texts[path] = found, _read_text(file)
    labels = _labels({app_dir for app_dir, _ in modules.values()}, texts)
    migrations = tuple(
        parse_migration(texts[path], app=labels[app_dir], name=name, path=path, swappable=swappable)
        for path, (app_dir, name) in modules.items()
    )
    return Snapshot(str(root), migrations, dict.fromkeys(texts, ""), _collisions(labels))


def _read_text(file: Path) -> str:
    try:
        return file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise HerokuToolsError(f"{file}: cannot be read ({exc})") from None


def _ls_tree(git: Git, sha: str) -> dict[str, str]:
    """``{path: blob id}`` for every file at ``sha``."""
    out = git.execute(["ls-tree", "-r", "-z", "--full-tree", sha]).stdout
    tree = {}
    for entry in out.split("\0"):
        meta, _, path = entry.partition("\t")
        parts = meta.split()
        if len(parts) == 3 and parts[1] == "blob":
            tree[path] = parts[2]
    return tree


def _grep(git: Git, sha: str, paths: Collection[str]) -> dict[str, str]:
    """``{path: text}`` of every migration module and ``apps.py`` at ``sha``, in one ``git grep``.

    ``-e ''`` matches every line and ``--heading`` names each file once, on a
    line of its own (``<sha>:<path>``) above its lines, which keeps the output
    close to the files' size. Such a line counts as a heading only for a path
    of the commit's tree (``paths``, from ``ls-tree``) not yet seen. Options
    that user configuration could turn on (line numbers, columns) are turned
    off explicitly.
    """
    args = ["grep", "--heading", "-I", "--full-name", "--no-line-number", "--no-column", "--no-color", "-e", "", sha]
    out = git.execute([*args, "--", *_GREP_SPECS], ok=(0, 1)).stdout
    headings = {f"{sha}:{path}": path for path in paths}
    texts: dict[str, list[str]] = {}
    current: list[str] = []
    for line in out.split("\n"):
        path = headings.pop(line, None)
        if path is None:
            current.append(line)
        else:
            current = texts[path] = []
    return {path: "\n".join(lines) + "\n" for path, lines in texts.items()}


def _labels(app_dirs: set[str], texts: Mapping[str, str]) -> dict[str, str]:
    """Each app directory's label, from its ``apps.py`` when it has one."""
    return {app_dir: app_label(texts.get(posixpath.join(app_dir, "apps.py")), posixpath.basename(app_dir))
            for app_dir in sorted(app_dirs)}


def _collisions(labels: Mapping[str, str]) -> tuple[str, ...]:
    """A problem for each label two app directories share (Django refuses to install both)."""
    seen: dict[str, str] = {}
    problems = []
    for app_dir, label in sorted(labels.items()):
        if label in seen:
            problems.append(f"{seen[label]}/ and {app_dir}/ both have the app label {label!r}: Django installs only one")
        seen.setdefault(label, app_dir)
    return tuple(problems)


def app_label(apps_py: str | None, default: str) -> str:
    """The label an ``apps.py`` gives its app: ``label = "..."``, else the last part of ``name``.

    With several AppConfig classes, the one with ``default = True`` counts (as
    Django picks it); when that cannot be told, the directory name.
    """
    if not apps_py:
        return default
    try:
        tree = ast.parse(apps_py)
    except (SyntaxError, ValueError):
        return default
    configs = []
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            attributes = _literal_attributes(node)
            label = attributes.get("label") or str(attributes.get("name") or "").rpartition(".")[2]
            if isinstance(label, str) and label:
                configs.append((label, attributes.get("default") is True))
    defaults = [label for label, is_default in configs if is_default]
    if len(defaults) == 1:
        return defaults[0]
    return configs[0][0] if len(configs) == 1 else default


def _literal_attributes(node: ast.ClassDef) -> dict[str, object]:
    found: dict[str, object] = {}
    for statement in node.body:
        if isinstance(statement, ast.Assign) and len(statement.targets) == 1 and isinstance(statement.targets[0], ast.Name):
            if isinstance(statement.value, ast.Constant):
                found[statement.targets[0].id] = statement.value.value
    return found
