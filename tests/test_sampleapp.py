"""The sample Django project works against a real PostgreSQL, as on Heroku.

The demo and the end-to-end tests push ``examples/sampleapp`` to sandbox
apps; these tests make sure the project itself is sound first: its settings
read ``DATABASE_URL``, its migrations apply, its management commands and
static files work, and its release-phase command passes.
"""
from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from heroku_tools.sandbox.postgres import PostgresCluster

from _support.databases import Databases

ROOT = Path(__file__).resolve().parents[1]
SAMPLEAPP = ROOT / "examples" / "sampleapp"

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def postgres(tmp_path_factory):
    with PostgresCluster(tmp_path_factory.mktemp("sampleapp-postgres")) as cluster:
        yield Databases(cluster)


@pytest.fixture
def project(tmp_path) -> Path:
    """A copy of the sample project, so runs never write into the repository."""
    target = tmp_path / "sampleapp"
    shutil.copytree(SAMPLEAPP, target, ignore=shutil.ignore_patterns("__pycache__", "staticfiles", "db.sqlite3"))
    return target


_databases = iter(range(1, 10_000))


@pytest.fixture
def database_url(postgres) -> str:
    return postgres.create_database(f"sampleapp_{os.getpid()}_{next(_databases)}")


class Manage:
    """``python manage.py ...`` in the project copy, with Heroku-style config vars."""

    def __init__(self, project: Path, database_url: str):
        self.project = project
        self.env = {
            key: value
            for key, value in os.environ.items()
            if key not in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL", "DEBUG", "SECRET_KEY")
        }
        self.env.update(
            DATABASE_URL=database_url,
            SECRET_KEY="test-" + "k" * 60 + "-not-secret-at-all",
            DEBUG="false",
            PYTHONDONTWRITEBYTECODE="1",
        )

    def __call__(self, *args: str, check: bool = True, env: dict | None = None) -> subprocess.CompletedProcess:
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            check=False,
            cwd=self.project,
            env={**self.env, **(env or {})},
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"manage.py {' '.join(args)} exited {result.returncode}\n{result.stdout}\n{result.stderr}"
            )
        return result


@pytest.fixture
def manage(project, database_url) -> Manage:
    return Manage(project, database_url)


def tables(postgres: Databases, url: str) -> set[str]:
    database = url.rsplit("/", 1)[1]
    rows = postgres.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'", database=database)
    return {name for (name,) in rows}


def count(postgres: Databases, url: str, table: str) -> int:
    database = url.rsplit("/", 1)[1]
    return postgres.execute(f'SELECT count(*) FROM "{table}"', database=database)[0][0]


def test_migrate_creates_the_tables_in_postgres(manage, postgres, database_url):
    result = manage("migrate", "--noinput")
    assert "Applying customers.0001_initial... OK" in result.stdout
    created = tables(postgres, database_url)
    assert {"customers_customer", "customers_order", "customers_product", "django_migrations", "auth_user"} <= created
    applied = postgres.execute(
        "SELECT app, name FROM django_migrations WHERE app = 'customers'", database=database_url.rsplit("/", 1)[1]
    )
    assert applied == [("customers", "0001_initial")]


def test_migrations_match_the_models(manage):
    manage("makemigrations", "--check", "--dry-run")


def test_seed_loaddata_and_stats(manage, postgres, database_url):
    manage("migrate", "--noinput")
    loaded = manage("loaddata", "products")
    assert "Installed 4 object(s)" in loaded.stdout
    seeded = manage("seed_customers", "--count", "50")
    assert seeded.stdout.startswith("Created 50 customers and ")
    assert count(postgres, database_url, "customers_customer") == 50
    orders = count(postgres, database_url, "customers_order")
    assert orders > 0
    assert f"and {orders} orders." in seeded.stdout

    stats = manage("customer_stats")
    lines = dict(line.split(": ", 1) for line in stats.stdout.splitlines())
    assert lines["database"].startswith("postgresql ")
    assert lines["customers"] == "50"
    assert lines["orders"] == str(orders)
    assert lines["products"] == "4"
    assert float(lines["revenue"]) > 0

    # Personal data, really: the rows anonymisation has to scrub.
    database = database_url.rsplit("/", 1)[1]
    row = postgres.execute(
        "SELECT first_name, last_name, email, phone, address, date_of_birth"
        " FROM customers_customer ORDER BY id LIMIT 1",
        database=database,
    )[0]
    assert all(row), row
    assert row[2].endswith("@example.com")


def test_seed_is_deterministic_and_repeatable(postgres, project):
    emails = []
    for _ in range(2):
        url = postgres.create_database(f"sampleapp_{os.getpid()}_{next(_databases)}")
        manage = Manage(project, url)
        manage("migrate", "--noinput")
        manage("seed_customers", "--count", "20", "--seed", "7")
        # A second run adds more customers without clashing on the unique email.
        manage("seed_customers", "--count", "5", "--seed", "7")
        database = url.rsplit("/", 1)[1]
        emails.append(postgres.execute("SELECT email FROM customers_customer ORDER BY email", database=database))
    assert len(emails[0]) == 25
    assert emails[0] == emails[1]


def test_collectstatic_writes_static_root(manage, project):
    result = manage("collectstatic", "--noinput")
    assert "static file" in result.stdout
    assert (project / "staticfiles" / "css" / "site.css").is_file()


def test_release_phase_command_passes(manage, project):
    procfile = dict(
        line.split(": ", 1) for line in (project / "Procfile").read_text().splitlines() if line.strip()
    )
    assert set(procfile) == {"web", "release"}
    command = shlex.split(procfile["release"])
    assert command[:2] == ["python", "manage.py"]
    result = manage(*command[2:])
    assert "no issues" in result.stdout


def test_home_page_renders_counts(manage):
    manage("migrate", "--noinput")
    manage("seed_customers", "--count", "3")
    script = (
        "from django.test import Client;"
        "r = Client().get('/', HTTP_HOST='localhost');"
        "print('STATUS', r.status_code);"
        "print(r.content.decode())"
    )
    result = manage("shell", "-c", script)
    body = result.stdout.split("STATUS ", 1)[1]
    assert body.startswith("200\n")
    assert "<th>Customers</th><td>3</td>" in body
    assert "css/site.css" in body


def test_settings_fall_back_to_sqlite_without_database_url(project):
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    result = subprocess.run(
        [sys.executable, "-c", "from django.conf import settings; print(settings.DATABASES['default']['ENGINE'])"],
        cwd=project,
        env={**env, "DJANGO_SETTINGS_MODULE": "sampleapp.settings"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip() == "django.db.backends.sqlite3"


def test_heroku_tools_yml_names_three_environments():
    config = yaml.safe_load((SAMPLEAPP / "heroku-tools.yml").read_text())
    environments = {env["label"]: env for env in config["environments"]}
    assert {label: env["app_name"] for label, env in environments.items()} == {
        "live": "sampleapp-live",
        "uat": "sampleapp-uat",
        "dev": "sampleapp-dev",
    }
    assert {label: env["branch"] for label, env in environments.items()} == {
        "live": "master",
        "uat": "master",
        "dev": "dev",
    }
    assert environments["live"]["pipeline"] is True
    assert set(config["commands"]) >= {"migrate", "collectstatic"}


def test_heroku_tools_yml_loads_with_the_library():
    from heroku_tools import settings

    loaded = settings.load(SAMPLEAPP / "heroku-tools.yml")
    assert loaded.labels == ["live", "uat", "dev"]
    live = loaded.environment("live")
    assert live.pipeline and live.protected
    assert loaded.upstream_of("live").app_name == "sampleapp-uat"
    assert loaded.upstream_of("uat").app_name == "sampleapp-dev"
    assert loaded.commands["migrate"] == "python manage.py migrate --noinput"
