"""What the sandbox holds, read the way the end-to-end tests ask about it: releases, slugs, the request log, tables."""
from __future__ import annotations

import re

import psycopg

from _support.project import Project
from _support.schema import RequestLog


def releases(sandbox, app: str) -> list[dict]:
    return sorted(sandbox.api("GET", f"/apps/{app}/releases"), key=lambda r: r["version"])


def current(sandbox, app: str) -> dict:
    return next(r for r in releases(sandbox, app) if r["current"])


def slug(sandbox, app: str, release: dict | None = None) -> dict | None:
    release = release or current(sandbox, app)
    if not release.get("slug"):
        return None
    return sandbox.api("GET", f"/apps/{app}/slugs/{release['slug']['id']}")


def slug_commit(sandbox, app: str, release: dict | None = None) -> str | None:
    found = slug(sandbox, app, release)
    return found["commit"] if found else None


def maintenance(sandbox, app: str) -> bool:
    return sandbox.api("GET", f"/apps/{app}")["maintenance"]


class Log(RequestLog):
    """The sandbox's request log from now on, sorted by what the tests ask about."""

    def dynos(self, app: str) -> list[dict]:
        pattern = re.compile(self.app_path(app) + "/dynos$")
        return [e for e in self.entries() if e["method"] == "POST" and pattern.match(e["path"])]

    def maintenance(self, app: str) -> list[dict]:
        pattern = re.compile(self.app_path(app) + "$")
        return [
            e for e in self.entries()
            if e["method"] == "PATCH" and pattern.match(e["path"]) and isinstance(e["body"], dict) and "maintenance" in e["body"]
        ]

    def switches(self, app: str) -> list[bool]:
        """The maintenance values asked for (failed calls included)."""
        return [e["body"]["maintenance"] for e in self.maintenance(app)]

    def pushes(self, app: str) -> list[dict]:
        return [e for e in self.entries() if e["method"] == "POST" and e["path"] == f"/{app}.git/git-receive-pack"]

    def promotions(self) -> list[dict]:
        return [e for e in self.entries() if e["method"] == "POST" and e["path"] == "/pipeline-promotions"]

    def changes(self) -> list[dict]:
        """Every request that could change something."""
        return [e for e in self.entries() if e["method"] not in ("GET", "HEAD")]


def database_url(project: Project, label: str) -> str:
    """The app's ``DATABASE_URL``, read as ``heroku config`` reads it (``GET /apps/{app}/config-vars``).

    Through the API, not the CLI: it is the tests' way into the database, not what they check, and a CLI
    start-up for it costs a second or two of CPU each time on a loaded machine.
    """
    return project.api("GET", f"/apps/{project.apps[label]}/config-vars")["DATABASE_URL"]


def table_exists(url: str, table: str) -> bool:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT to_regclass(%s)", (f"public.{table}",)).fetchone()[0] is not None


def applied_migrations(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        return {name for (name,) in conn.execute("SELECT name FROM django_migrations WHERE app = 'customers'")}
