"""Typed queries on a throwaway cluster, for tests that compare rows with Python values.

:class:`~heroku_tools.sandbox.postgres.PostgresCluster` speaks text through
``psql``; these go through psycopg (a test dependency), as the superuser over
the cluster's unix socket.
"""
from __future__ import annotations

import re

import psycopg

from heroku_tools.sandbox.postgres import PostgresCluster


class Databases:
    """Named Heroku-style databases in ``cluster`` and typed rows from them."""

    def __init__(self, cluster: PostgresCluster):
        self.cluster = cluster

    def create_database(self, name: str) -> str:
        """An empty database ``name`` with a role of its own; its ``DATABASE_URL`` (TCP, SSL, password)."""
        if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
            raise ValueError(f"not a simple database name: {name!r}")
        return self.cluster.create_database(name)["url"]

    def execute(self, sql: str, database: str = "postgres", params: tuple = ()) -> list[tuple]:
        """Run one statement (autocommit) and return its rows, if any."""
        with psycopg.connect(self.cluster.url(database), autocommit=True) as connection:
            cursor = connection.execute(sql, params)
            return cursor.fetchall() if cursor.description else []
