"""Helpers for the test suite (and the benchmarks): no tests here, no fixtures.

Fixtures live in ``tests/conftest.py``; the test modules import these helpers
as ``from _support.project import Project`` (``tests/`` is on ``sys.path``:
``pythonpath`` in pyproject.toml).

- ``home``: an isolated HOME with a git identity
- ``cli``: :class:`~_support.cli.HerokuCLI`, the real heroku CLI against the sandbox
- ``project``: :class:`~_support.project.Project`, the sample app in a git repo with dev/uat/live apps
- ``gitrepo``: :class:`~_support.gitrepo.GitRepo`, a bare-bones repository to push
- ``seed``: releases made through the API, without a git push
- ``schema``: the sandbox's answers checked against the Platform API schema
- ``webhooks``: a local HTTP receiver standing in for Slack and webhooks
- ``fakes``: :class:`~_support.fakes.FakeHeroku`, an in-memory ``Heroku`` for unit tests
- ``databases``: typed queries (psycopg) on a :class:`~heroku_tools.sandbox.postgres.PostgresCluster`
"""
