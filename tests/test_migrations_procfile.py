"""The Procfile reader: process types, and whether the release phase runs ``migrate``."""
from __future__ import annotations

import pytest

from heroku_tools.errors import HerokuToolsError
from heroku_tools.git import Git
from heroku_tools.migrations import parse_procfile, read_procfile, release_summary, runs_migrate
from migrations_cases import shop_repo


@pytest.mark.parametrize("command, migrates", [
    ("python manage.py migrate --noinput", True),
    ("python3 manage.py migrate && python manage.py collectstatic --noinput", True),
    ("./manage.py migrate", True),
    ("django-admin migrate --settings=site.settings", True),
    ("python -m django migrate", True),
    ("DJANGO_SETTINGS_MODULE=site.live python manage.py migrate", True),
    ("sh -c 'python manage.py migrate && echo done'", True),
    ("newrelic-admin run-program python manage.py migrate", True),
    ("bin/prepare; python manage.py migrate", True),
    ("python manage.py collectstatic --noinput", False),
    ("python manage.py migrate --check", False),
    ("python manage.py migrate --plan", False),
    ("echo 'release phase ran' > release-ran.txt", False),
    ("./release.sh", None),
    ("bash bin/release", None),
    ("make release", None),
    ("sh -c 'unclosed", None),
])
def test_release_commands(command, migrates):
    assert runs_migrate(command)[0] is migrates


def test_procfile_text():
    procfile = parse_procfile(
        "# processes\nweb: gunicorn site.wsgi --log-file -\n\nrelease: ./release.sh\nworker:   celery -A site worker\n"
    )
    assert procfile.processes == {"web": "gunicorn site.wsgi --log-file -", "release": "./release.sh", "worker": "celery -A site worker"}
    assert procfile.release == "./release.sh" and procfile.release_migrates is None
    assert procfile.release_line == "release: ./release.sh"
    assert release_summary(procfile) == "`release: ./release.sh`: the release phase runs `./release.sh`, which is not read: " \
                                        "whether it migrates cannot be told"
    no_release = parse_procfile("web: gunicorn site.wsgi\n")
    assert (no_release.release_migrates, no_release.release_line) == (False, None)
    assert release_summary(no_release) == "the Procfile has no release: line"


def test_procfile_at_a_commit(tmp_path):
    repo = shop_repo(tmp_path)
    without = repo.git("rev-parse", "HEAD").stdout.strip()
    repo.commit("procfile", {"Procfile": "web: gunicorn site.wsgi\nrelease: python manage.py migrate --noinput\n"})
    git = Git(cwd=repo.path)
    procfile = read_procfile(git, "HEAD")
    assert procfile.found and procfile.release_migrates is True
    assert procfile.release_line == "release: python manage.py migrate --noinput"
    missing = read_procfile(git, without)
    assert not missing.found and missing.release_migrates is False and missing.reason.startswith("no Procfile at ")
    with pytest.raises(HerokuToolsError, match="'nope' is not a commit"):
        read_procfile(git, "nope")
