"""The environment lock with real git: a ref on origin created atomically, the local fallback, release on every path.

Each test builds a working repository with a bare ``origin`` beside it; the
lock's ref is read back from origin with ``git ls-remote``, never from the
library's own view of it.
"""
from __future__ import annotations

import multiprocessing
import os
import subprocess
from pathlib import Path

import pytest

from heroku_tools.git import Git
from heroku_tools.lock import Holder, LockHeld, acquire, hold, locks, release, unlock
from heroku_tools.output import Console
from heroku_tools.session import Session
from heroku_tools.settings import Environment, parse

REF = "refs/heroku-tools/locks/uat"
UAT = Environment("uat", "acme-uat", "master")


def run(*argv, cwd, env=None) -> str:
    return subprocess.run(argv, cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def repo(tmp_path, monkeypatch, home) -> Path:
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    run("git", "init", "-q", "--bare", "-b", "master", str(tmp_path / "origin.git"), cwd=tmp_path)
    work = tmp_path / "work"
    run("git", "init", "-q", "-b", "master", str(work), cwd=tmp_path)
    run("git", "commit", "-q", "--allow-empty", "-m", "start", cwd=work)
    run("git", "remote", "add", "origin", str(tmp_path / "origin.git"), cwd=work)
    return work


def on_origin(repo: Path) -> dict[str, str]:
    out = run("git", "ls-remote", "origin", "refs/heroku-tools/*", cwd=repo)
    return {line.split("\t")[1]: line.split("\t")[0] for line in out.splitlines() if not line.endswith("^{}")}


class Said:
    def __init__(self):
        self.lines: list[str] = []

    def console(self) -> Console:
        return Console(report=self.lines.append, say=self.lines.append, warn=self.lines.append)

    def __str__(self) -> str:
        return "\n".join(self.lines)


def test_the_lock_is_a_tag_on_origin_naming_the_holder_and_is_gone_after(repo):
    git = Git(cwd=repo)
    said = Said()
    with hold(Session(parse("environments: [{label: uat, app_name: acme-uat, branch: master}]"), git, None, None),
              UAT, "deploy to uat (acme-uat)", commit="c" * 40, console=said.console()) as lock:
        refs = on_origin(repo)
        assert list(refs) == [REF] and refs[REF] == lock.tag
        tag = run("git", "cat-file", "-p", lock.tag, cwd=repo)
        assert "type tree\n" in tag and "tagger Test User <test@example.com>" in tag
        for line in ["action: deploy to uat (acme-uat)", "who: Test User <test@example.com>", f"commit: {'c' * 40}",
                     "environment: uat", "from: "]:
            assert line in tag
    assert on_origin(repo) == {}
    assert f"locked uat: {REF} on origin" in str(said)
    # nothing of the project went to origin: the tag points at the empty tree
    objects = run("git", "cat-file", "--batch-all-objects", "--batch-check=%(objecttype)", cwd=repo.parent / "origin.git")
    assert sorted(objects.split()) == ["tag", "tree"]


def test_a_second_taker_is_refused_naming_the_holder_and_since_when(repo):
    git = Git(cwd=repo)
    first = acquire(git, UAT, "deploy to uat (acme-uat)", commit="a" * 40, console=Said().console())
    with pytest.raises(LockHeld) as refused:
        acquire(git, UAT, "set DEBUG on uat (acme-uat)", console=Said().console())
    text = refused.value.render()
    assert refused.value.code == 75
    assert text.startswith("uat is locked: Test User <test@example.com> (deploy to uat (acme-uat), commit aaaaaaaaaaaa) "
                           "from ")
    assert " since " in text and " UTC (" in text and "; nothing was changed" in text
    assert f"the lock is {REF} on origin" in text and "heroku-tools unlock uat" in text
    assert on_origin(repo) == {REF: first.tag}
    release(git, first)
    assert on_origin(repo) == {}


def _race(repo: str, index: int, results) -> None:
    try:
        lock = acquire(Git(cwd=repo), UAT, f"deploy number {index}", console=Console(say=lambda _: None))
        results.put((index, lock.tag))
    except LockHeld as held:
        results.put((index, held.message))
    except Exception as error:  # reported to the test, which would otherwise wait for a result in vain
        results.put((index, f"failed: {error!r}"))


def test_of_many_concurrent_takers_exactly_one_wins(repo):
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    racers = [context.Process(target=_race, args=(str(repo), index, results)) for index in range(6)]
    for racer in racers:
        racer.start()
    outcomes = dict(results.get(timeout=120) for _ in racers)
    for racer in racers:
        racer.join(30)
    assert not [message for message in outcomes.values() if message.startswith("failed")], outcomes
    won = {index: tag for index, tag in outcomes.items() if not tag.startswith("uat is locked")}
    assert len(won) == 1, outcomes
    (winner, tag), = won.items()
    assert on_origin(repo) == {REF: tag}
    losers = [message for index, message in outcomes.items() if index != winner]
    assert all(f"(deploy number {winner}) from" in message for message in losers), outcomes


def test_without_origin_the_lock_is_a_local_file_and_says_it_is_local_only(repo):
    run("git", "remote", "remove", "origin", cwd=repo)
    git = Git(cwd=repo)
    said = Said()
    lock = acquire(git, UAT, "deploy to uat (acme-uat)", console=said.console())
    path = repo / ".git" / "heroku-tools" / "locks" / "uat"
    assert lock.path == path and path.read_text().startswith("heroku-tools lock on uat\n")
    assert "locked uat on this machine only (this repository has no remote 'origin')" in str(said)
    with pytest.raises(LockHeld, match=r"uat is locked: .*\(deploy to uat \(acme-uat\)\)") as refused:
        acquire(git, UAT, "another", console=said.console())
    assert "this machine only" in refused.value.render()
    release(git, lock)
    assert not path.exists()


def test_an_unreachable_origin_falls_back_to_the_local_lock(repo):
    run("git", "remote", "set-url", "origin", str(repo.parent / "gone.git"), cwd=repo)
    said = Said()
    lock = acquire(Git(cwd=repo), UAT, "deploy", console=said.console())
    assert lock.remote is None and lock.path.exists()
    assert "on this machine only (origin could not hold it: " in str(said)
    release(Git(cwd=repo), lock)


def _take_local(repo: str, index: int, results) -> None:
    env = Environment("uat", "acme-uat", "master", remote="none")
    try:
        acquire(Git(cwd=repo), env, f"local {index}", console=Console(warn=lambda _: None))
        results.put(index)
    except LockHeld:
        results.put(None)


def test_the_local_lock_is_atomic_across_processes(repo):
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    racers = [context.Process(target=_take_local, args=(str(repo), index, results)) for index in range(6)]
    for racer in racers:
        racer.start()
    won = [results.get(timeout=120) for _ in racers]
    assert len([index for index in won if index is not None]) == 1, won


def test_a_local_lock_also_stops_a_change_that_could_reach_origin(repo):
    git = Git(cwd=repo)
    offline = acquire(git, Environment("uat", "acme-uat", "master", remote="none"), "offline deploy",
                      console=Said().console())
    with pytest.raises(LockHeld, match="offline deploy"):
        acquire(git, UAT, "online deploy", console=Said().console())
    assert on_origin(repo) == {}
    release(git, offline)


@pytest.mark.parametrize("raised", [RuntimeError("a bug"), KeyboardInterrupt()])
def test_the_lock_is_released_when_the_work_fails_or_is_interrupted(repo, raised):
    session = Session(None, Git(cwd=repo), None, None)
    with pytest.raises(type(raised)):
        with hold(session, UAT, "deploy", console=Said().console()):
            assert REF in on_origin(repo)
            raise raised
    assert on_origin(repo) == {}


def test_release_leaves_a_lock_that_is_no_longer_its_own(repo):
    """Someone broke a stale-looking lock and took their own: releasing the first must not free theirs."""
    git = Git(cwd=repo)
    mine = acquire(git, UAT, "slow deploy", console=Said().console())
    run("git", "push", "-q", "origin", f":{REF}", cwd=repo)
    theirs = acquire(git, UAT, "their deploy", console=Said().console())
    said = Said()
    release(git, mine, console=said.console())
    assert on_origin(repo) == {REF: theirs.tag}
    assert "could not be released" in str(said) and "heroku-tools unlock uat" in str(said)


def test_unlock_shows_the_holder_asks_for_the_code_and_breaks_the_lock(repo):
    settings = parse("environments: [{label: uat, app_name: acme-uat, branch: master}]")
    session = Session(settings, Git(cwd=repo), None, None)
    acquire(session.git, UAT, "deploy to uat (acme-uat)", console=Said().console())
    said = Said()
    with pytest.raises(Exception, match="--confirm acme-live does not match"):
        unlock(session, "uat", confirm_app="acme-live", console=said.console())
    assert REF in on_origin(repo)
    broken = unlock(session, "uat", confirm_app="acme-uat", console=said.console())
    assert [lock.holder.action for lock in broken] == ["deploy to uat (acme-uat)"]
    assert on_origin(repo) == {}
    assert f"uat is locked ({REF} on origin) by Test User <test@example.com> (deploy to uat (acme-uat)) from" in str(said)
    assert said.lines[-1] == "unlocked uat"
    assert unlock(session, "uat", console=said.console()) == [] and said.lines[-1] == "uat is not locked"


def test_locks_reads_both_places(repo):
    git = Git(cwd=repo)
    remote = acquire(git, UAT, "remote one", console=Said().console())
    path = repo / ".git" / "heroku-tools" / "locks" / "uat"
    path.parent.mkdir(parents=True)
    path.write_text("heroku-tools lock on uat\n\naction: left over\n")
    found, notes = locks(git, UAT)
    assert [(lock.remote, lock.holder.action) for lock in found] == [("origin", "remote one"), (None, "left over")]
    assert notes == []
    release(git, remote)


def test_from_where_names_the_ci_job_when_the_provider_gives_one(repo):
    git = Git(cwd=repo)
    gitlab = Holder.now(git, UAT, "deploy", None, environ={"CI_JOB_URL": "https://gitlab.example.com/shop/-/jobs/881"})
    assert gitlab.where.endswith(f" (pid {os.getpid()}), https://gitlab.example.com/shop/-/jobs/881")
    github = Holder.now(git, UAT, "deploy", None, environ={
        "GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "acme/shop", "GITHUB_RUN_ID": "42"})
    assert github.where.endswith(", https://github.com/acme/shop/actions/runs/42")
    assert Holder.parse(github.text()) == github


def test_a_database_environment_is_locked_on_this_machine_only_and_unlocked_by_its_label(repo):
    """``local`` is each developer's own database: its lock never reaches origin, where it would stop everyone's."""
    settings = parse("environments: [{label: uat, app_name: acme-uat, branch: master}, "
                     "{label: local, database_url: 'postgres:///acme_dev'}]")
    session = Session(settings, Git(cwd=repo), None, None)
    local = settings.environment("local", database=True)
    said = Said()
    lock = acquire(session.git, local, "replace local's database", console=said.console())
    path = repo / ".git" / "heroku-tools" / "locks" / "local"
    assert lock.path == path and path.read_text().startswith("heroku-tools lock on local\n")
    assert on_origin(repo) == {}
    assert "locked local on this machine only (local is a database environment: each machine has its own)" in str(said)
    with pytest.raises(LockHeld, match="local is locked"):
        acquire(session.git, local, "another", console=said.console())
    with pytest.raises(Exception, match=r"--confirm acme-uat does not match the database environment being changed"):
        unlock(session, "local", confirm_app="acme-uat", console=said.console())
    assert path.exists()
    assert [held.holder.action for held in unlock(session, "local", confirm_app="local", console=said.console())] == \
        ["replace local's database"]
    assert not path.exists()
