"""Recovery lines are safe to paste: a branch named ``x;touch${IFS}pwned`` runs nothing but git.

git allows ``;``, ``$``, backquotes, ``|`` and ``&`` in branch names. The
"To recover:" lines are meant to be pasted into a shell, so each one built
from a name is quoted as one word; these tests paste them (``bash -c``) in a
real repository and check that git did the job and nothing else ran.
"""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from heroku_tools.git import Git
from heroku_tools.models import Release
from heroku_tools.release.failure import _rebuild_hints
from heroku_tools.release.journal import Journal
from heroku_tools.release.plan import PreflightError, _git_checks
from heroku_tools.settings import Environment

BRANCH = "x;touch${IFS}pwned"  # git refuses spaces in branch names, not ; or $


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def repo(tmp_path, monkeypatch) -> Path:
    """A clone whose ``x;touch pwned`` branch is one commit behind its origin."""
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / ".gitconfig").write_text("[user]\n\tname = T\n\temail = t@example.com\n")
    origin, work = tmp_path / "origin.git", tmp_path / "work"
    git(tmp_path, "init", "-q", "--bare", "-b", BRANCH, str(origin))
    git(tmp_path, "clone", "-q", str(origin), str(work))
    git(work, "commit", "-q", "--allow-empty", "-m", "one")
    git(work, "push", "-q", "origin", BRANCH)
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", "-b", BRANCH, str(origin), str(other))
    git(other, "commit", "-q", "--allow-empty", "-m", "two")
    git(other, "push", "-q", "origin", BRANCH)
    return work


def paste(line: str, cwd: Path) -> subprocess.CompletedProcess:
    command = line.split("   #", 1)[0]
    return subprocess.run(["bash", "-c", command], cwd=cwd, capture_output=True, text=True)


def test_the_behind_origin_line_pulls_and_runs_nothing_else(repo):
    env = Environment(label="dev", app_name="acme-dev", branch=BRANCH)
    with pytest.raises(PreflightError) as caught:
        _git_checks(Git(cwd=repo), env, BRANCH)
    (line,) = caught.value.recover
    assert "'x;touch${IFS}pwned'" in line
    result = paste(line, repo)
    assert result.returncode == 0, result.stderr
    assert not (repo / "pwned").exists()
    assert git(repo, "rev-parse", BRANCH) == git(repo, "rev-parse", f"origin/{BRANCH}")


def test_the_rebuild_line_commits_pushes_and_runs_nothing_else(repo):
    git(repo, "pull", "-q", "--ff-only", "origin", BRANCH)
    head = git(repo, "rev-parse", "HEAD")
    env = Environment(label="dev", app_name="acme-dev", branch=BRANCH)

    class Plan:
        target_commit, method, branch = head, "push", BRANCH

    Plan.env = env
    journal = Journal(Plan)
    released = [Release(version=3, description=f"Deploy {head[:7]}", status="failed", current=False, slug_id="s",
                        created_at=None, user_email=None)]
    (line,) = _rebuild_hints(journal, released)
    result = paste(line, repo)
    assert result.returncode == 0, result.stderr
    assert not (repo / "pwned").exists()
    assert git(repo, "log", "-1", "--format=%s") == f"Rebuild {head[:7]}"
    assert git(repo, "rev-parse", "HEAD") == git(repo, "ls-remote", "origin", f"refs/heads/{BRANCH}").split()[0]
