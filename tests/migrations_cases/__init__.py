"""A small Django project for the migrations tests, committed to a real git repository by the tests.

``store/`` is an app labelled ``shop`` by its ``apps.py``; its
``0001_initial`` creates Tag, Customer (a NULL phone, a unique email, a
``notes`` field kept in the column ``legacy_notes``, a many-to-many to Tag,
a foreign key to the user model), Order (unique together on customer and
number), Archive (``db_table`` fixed) and the proxy VipCustomer.
"""
from __future__ import annotations

import os
import textwrap
from pathlib import Path

from _support.gitrepo import GitRepo

HERE = Path(__file__).resolve().parent
IMPORTS = """\
import django.db.models.deletion
from django.conf import settings
from django.contrib.postgres.operations import AddIndexConcurrently, TrigramExtension
from django.db import migrations, models
"""


def git_env(home: Path) -> dict:
    """An environment for committing: a known identity, no user or system git configuration."""
    home.mkdir(parents=True, exist_ok=True)
    return {
        **os.environ, "HOME": str(home), "GIT_CONFIG_NOSYSTEM": "1", "GIT_AUTHOR_NAME": "Test", "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "Test", "GIT_COMMITTER_EMAIL": "t@example.com",
    }


def project_files() -> dict[str, str]:
    """The project's files, ``{"store/migrations/0001_initial.py": text, ...}``."""
    return {path.relative_to(HERE).as_posix(): path.read_text() for path in sorted((HERE / "store").rglob("*.py"))}


def shop_repo(path: Path) -> GitRepo:
    """A git repository holding the project, committed once on ``main``."""
    repo = GitRepo(path / "repo", git_env(path / "home"))
    repo.commit("the shop project", project_files())
    return repo


def migration(operations: str, *, depends: str = '("shop", "0001_initial")', head: str = "", body: str = "",
              comment: str = "") -> str:
    """A migration module: the usual imports, ``head`` (module level), then ``class Migration``."""
    indented = textwrap.indent(textwrap.dedent(operations).strip("\n"), " " * 8)
    return (
        f"{IMPORTS}{textwrap.dedent(head)}\n\nclass Migration(migrations.Migration):{comment}\n"
        f"{textwrap.indent(textwrap.dedent(body), ' ' * 4)}"
        f"    dependencies = [{depends}]\n\n    operations = [\n{indented}\n    ]\n"
    )
