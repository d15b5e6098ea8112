"""One change at a time per environment: a lock everyone who deploys can see.

Two people (or a person and CI) deploying uat at once would each switch the
maintenance page on and off, push, migrate and tag in any order. So every
operation that changes an environment — deploy, promote, rollback, a config
change, a restore into it — holds that environment's lock while it works:
taken once the change is confirmed, before anything changes, and released on
every path out (Ctrl-C included). A second change is refused, naming who holds
the lock, from where, since when and for which commit.

Where the lock lives: where the team and CI already share state, the
environment's git remote (``origin``). Taking it pushes an annotated tag object
to ``refs/heroku-tools/locks/<env>`` without force, which the remote accepts
only while that ref does not exist (git's receive-pack creates a ref
atomically): of two pushes, exactly one wins. The tag names the holder in its
tagger line and message, and points at the empty tree, so taking the lock
uploads nothing of the project. Releasing deletes the ref only if it still
holds this lock (``--force-with-lease``).

A project without that remote, or one that cannot be reached or written, gets
a lock in the repository's git directory instead (``heroku-tools/locks/<env>``,
created with ``O_CREAT | O_EXCL``: atomic across the processes of this
machine), and is told that the lock is local only. So does a database
environment (``database_url:``): ``local`` is each developer's own database,
and one developer's restore into theirs must not lock out everybody else's.

:func:`hold` is the context manager the operations use, and a fabfile can::

    from heroku_tools import Session
    from heroku_tools.lock import hold

    session = Session.load()
    with hold(session, session.settings.environment("uat"), "nightly data fix"):
        ...   # no deploy of uat can start meanwhile

:func:`unlock` breaks a lock left behind (a deploy killed outright), after the
confirmation code.
"""
from __future__ import annotations

import contextlib
import datetime
import getpass
import os
import re
import secrets
import socket
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from .confirm import confirm_change
from .errors import HerokuToolsError
from .git import Git
from .output import Console
from .private import user_cache_dir
from .runner import first_error_line
from .session import Session
from .settings import Environment

#: Where the locks live on the remote: one ref per environment label.
REF_PREFIX = "refs/heroku-tools/locks/"
#: Where a lock someone else holds is fetched to be read (one ref per reader, deleted once read).
SEEN_PREFIX = "refs/heroku-tools/seen-locks/"
#: The fallback's directory, inside the repository's (common) git directory.
LOCAL_DIR = "heroku-tools/locks"
#: Variables naming the CI job a change runs in, by provider: part of "from where".
CI_JOB_VARS = ("CI_JOB_URL", "BUILD_URL", "CIRCLE_BUILD_URL", "BUILDKITE_BUILD_URL")
_FIELDS = ("environment", "action", "who", "from", "since", "commit", "token")


class LockHeld(HerokuToolsError):
    """Someone else is changing the environment. Exit status 75 (EX_TEMPFAIL): a CI job may try again later."""

    code = 75


class _Unreachable(Exception):
    """The remote cannot hold the lock (unreachable, or refusing the push): the reason, for the fallback's note."""


@dataclass(frozen=True)
class Holder:
    """Who holds a lock: what the tag (or the local file) says."""

    environment: str
    action: str
    who: str
    where: str
    #: ISO 8601, UTC.
    since: str
    commit: str | None
    #: Random: tells this lock from any other with the same words.
    token: str

    @classmethod
    def now(cls, git: Git, env: Environment, action: str, commit: str | None,
            environ: Mapping[str, str] | None = None) -> Holder:
        environ = os.environ if environ is None else environ
        job = next((environ[name] for name in CI_JOB_VARS if environ.get(name)), None) or _github_run(environ)
        where = f"{socket.gethostname()} (pid {os.getpid()})" + (f", {job}" if job else "")
        since = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        return cls(env.label, action, _identity(git), where, since, commit, secrets.token_hex(8))

    def text(self) -> str:
        """The tag message (and the local file): a title, then one ``key: value`` line per field."""
        values = (self.environment, self.action, self.who, self.where, self.since, self.commit or "-", self.token)
        return (f"heroku-tools lock on {self.environment}\n\n"
                + "".join(f"{name}: {value}\n" for name, value in zip(_FIELDS, values, strict=True)))

    @classmethod
    def parse(cls, text: str) -> Holder:
        """What :meth:`text` wrote; fields it cannot find (a file still being written) read ``unknown``."""
        found = dict(re.findall(r"^([a-z]+): (.*)$", text, re.MULTILINE))
        value = {name: found.get(name, "unknown") for name in _FIELDS}
        return cls(value["environment"], value["action"], value["who"], value["from"], value["since"],
                   None if value["commit"] in ("-", "unknown") else value["commit"], value["token"])

    def describe(self, now: datetime.datetime | None = None) -> str:
        """``Alice <a@example.com> (deploy to uat (my-app-uat), commit 1a2b3c4d5e6f) from ci-4 (pid 7) since …``."""
        commit = f", commit {self.commit[:12]}" if self.commit else ""
        return f"{self.who} ({self.action}{commit}) from {self.where} since {_since(self.since, now)}"


@dataclass(frozen=True)
class Lock:
    """A lock this process holds (or, from :func:`locks`, one found)."""

    env: Environment
    holder: Holder
    #: The remote holding it, or None: local only.
    remote: str | None
    #: The tag object on the remote (its ``--force-with-lease`` value), or None.
    tag: str | None = None
    #: The local file, or None.
    path: Path | None = None

    @property
    def where(self) -> str:
        return f"{REF_PREFIX}{self.env.label} on {self.remote}" if self.remote else f"{self.path} (this machine only)"


@contextlib.contextmanager
def hold(session: Session, env: Environment, action: str, *, commit: str | None = None,
         console: Console = Console()) -> Iterator[Lock]:
    """Hold ``env``'s lock around the block: :class:`LockHeld` if someone else does; released on every path.

    ``action`` says what the holder is doing (``deploy to uat (my-app-uat)``);
    ``commit`` is the commit it ships, if any.
    """
    lock = acquire(session.git, env, action, commit=commit, console=console)
    try:
        yield lock
    finally:
        release(session.git, lock, console=console)


def acquire(git: Git, env: Environment, action: str, *, commit: str | None = None,
            console: Console = Console()) -> Lock:
    """Take ``env``'s lock on its remote, else (saying so) in this repository; :class:`LockHeld` if it is taken."""
    holder = Holder.now(git, env, action, commit)
    path, repository = _local_path(git, env)
    if path.exists():  # taken on this machine while the remote was out of reach: it counts too
        raise _held(env, Holder.parse(_read(path)), f"{path} (this machine only)")
    reason = _no_remote(git, env, repository)
    if reason is None:
        try:
            lock = _acquire_remote(git, env, holder)
        except _Unreachable as why:
            reason = f"{env.remote} could not hold it: {why}"
        else:
            console.say(f"==> locked {env.label}: {lock.where}")
            return lock
    return _acquire_local(env, holder, path, reason, console)


def release(git: Git, lock: Lock, *, console: Console = Console()) -> None:
    """Let go of ``lock`` if it is still this one; a lock that cannot be released is a warning saying how to."""
    try:
        if lock.remote:
            _delete_remote(git, lock.remote, lock.env.label, lock.tag)
        elif lock.path and lock.path.exists() and Holder.parse(_read(lock.path)).token == lock.holder.token:
            lock.path.unlink()
    except (HerokuToolsError, OSError, KeyboardInterrupt) as error:
        console.warn(f"the lock on {lock.env.label} ({lock.where}) could not be released: "
                     f"{getattr(error, 'message', None) or error or 'interrupted'}; "
                     f"once nothing is changing {lock.env.label}: heroku-tools unlock {lock.env.label}")


def locks(git: Git, env: Environment) -> tuple[list[Lock], list[str]]:
    """The locks held on ``env`` (on its remote, on this machine), and notes on where it could not be looked."""
    found, notes = [], []
    path, repository = _local_path(git, env)
    if _no_remote(git, env, repository) is None:
        try:
            tag, holder = _read_remote(git, env)
        except _Unreachable as why:
            notes.append(f"{env.remote} could not be read: {why}")
        else:
            if holder is not None:
                found.append(Lock(env, holder, env.remote, tag))
    if path.exists():
        found.append(Lock(env, Holder.parse(_read(path)), None, path=path))
    return found, notes


def unlock(session: Session, label: str, *, confirm_app: str | None = None, console: Console = Console()) -> list[Lock]:
    """Break ``label``'s lock, left by a change that stopped without releasing it, after the confirmation code.

    Returns the locks broken (none: it was not locked). Only for a lock whose
    holder is gone: breaking the lock of a change still running lets another
    one interleave with it.
    """
    env = session.settings.environment(label, database=True)  # a restore into a database environment locks it too
    found, notes = locks(session.git, env)
    for note in notes:
        console.warn(note)
    if not found:
        console.say(f"{env.label} is not locked")
        return []
    for lock in found:
        console.report(f"{env.label} is locked ({lock.where}) by {lock.holder.describe()}")
    holders = " and ".join(lock.holder.who for lock in found)
    confirm_change(env, f"break the lock on {env.label} held by {holders}", confirm_app=confirm_app, console=console)
    for lock in found:
        if lock.remote:
            _delete_remote(session.git, lock.remote, env.label, lock.tag)
        elif lock.path:
            lock.path.unlink(missing_ok=True)
    console.say(f"unlocked {env.label}")
    return found


# -- on the remote --------------------------------------------------------------------------


def _acquire_remote(git: Git, env: Environment, holder: Holder) -> Lock:
    """Push the holder's tag to the lock's ref: it exists only if nobody else's does."""
    tag = _tag_object(git, holder)
    ref = REF_PREFIX + env.label
    for _ in range(2):  # a lock released between this push and the read is tried once more
        try:
            pushed = git.execute(["push", "--quiet", "--no-verify", env.remote, f"{tag}:{ref}"], ok=(0, 1, 128))
        except KeyboardInterrupt:
            with contextlib.suppress(HerokuToolsError, KeyboardInterrupt):
                _delete_remote(git, env.remote, env.label, tag)
            raise
        if pushed.exit_code == 0:
            return Lock(env, holder, env.remote, tag)
        _, other = _read_remote(git, env)
        if other is not None:
            raise _held(env, other, f"{ref} on {env.remote}")
    raise _Unreachable(first_error_line(pushed.stderr, pushed.stdout) or f"git push exited {pushed.exit_code}")


def _read_remote(git: Git, env: Environment) -> tuple[str | None, Holder | None]:
    """``(tag, holder)`` of the lock on the remote, ``(None, None)`` when there is none."""
    # Each reader its own copy: two deploys refused at once must not read (or delete) each other's.
    ref, seen = REF_PREFIX + env.label, f"{SEEN_PREFIX}{env.label}-{secrets.token_hex(4)}"
    listed = git.execute(["ls-remote", "--exit-code", env.remote, ref], ok=(0, 2, 128))
    if listed.exit_code == 2:
        return None, None
    if listed.exit_code:
        raise _Unreachable(first_error_line(listed.stderr) or f"git ls-remote exited {listed.exit_code}")
    fetched = git.execute(["fetch", "--quiet", "--no-tags", env.remote, f"+{ref}:{seen}"], ok=(0, 1, 128))
    if fetched.exit_code:
        return None, None  # released between the two calls
    try:
        tag = git.execute(["rev-parse", "--verify", seen]).stdout.strip()
        return tag, Holder.parse(git.execute(["cat-file", "tag", tag]).stdout)
    finally:
        git.execute(["update-ref", "-d", seen], ok=(0, 1))


def _delete_remote(git: Git, remote: str, label: str, tag: str | None) -> None:
    """Delete the lock's ref on ``remote`` if it still points at ``tag``."""
    ref = REF_PREFIX + label
    git.execute(["push", "--quiet", "--no-verify", f"--force-with-lease={ref}:{tag or ''}", remote, f":{ref}"])


def _tag_object(git: Git, holder: Holder) -> str:
    """An annotated tag of the empty tree, its tagger and message naming the holder; its id."""
    tree = git.execute(["mktree"]).stdout.strip()
    name, email = _name_and_email(holder.who)
    stamp = int(datetime.datetime.strptime(holder.since, "%Y-%m-%dT%H:%M:%SZ")
                .replace(tzinfo=datetime.timezone.utc).timestamp())
    text = (f"object {tree}\ntype tree\ntag heroku-tools-lock-{holder.environment}\n"
            f"tagger {name} <{email}> {stamp} +0000\n\n{holder.text()}")
    with tempfile.NamedTemporaryFile("w", suffix=".tag", encoding="utf-8", delete=False) as file:
        file.write(text)
    try:
        return git.execute(["hash-object", "-t", "tag", "-w", file.name]).stdout.strip()
    finally:
        os.unlink(file.name)


# -- on this machine --------------------------------------------------------------------------


def _acquire_local(env: Environment, holder: Holder, path: Path, reason: str, console: Console) -> Lock:
    """Create the lock file, atomically across this machine's processes, and say that it is local only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        raise _held(env, Holder.parse(_read(path)), f"{path} (this machine only)") from None
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(holder.text())
    console.warn(f"==> locked {env.label} on this machine only ({reason}): a change from another machine or a CI "
                 "job would not see this lock")
    return Lock(env, holder, None, path=path)


def _local_path(git: Git, env: Environment) -> tuple[Path, bool]:
    """The fallback lock's file, and whether the project is a git repository.

    ``<git common dir>/heroku-tools/locks/<env>``, shared by every worktree of
    the repository; outside one (a config change needs none), the user's cache,
    by app.
    """
    result = git.execute(["rev-parse", "--git-path", f"{LOCAL_DIR}/{env.label}"], ok=(0, 128))
    if result.exit_code:
        return user_cache_dir("locks") / (env.app_name or env.label), False
    return Path(git.cwd or ".", result.stdout.strip()).resolve(), True


def _no_remote(git: Git, env: Environment, repository: bool) -> str | None:
    """Why the lock cannot be on the environment's remote; None when it can be tried."""
    if env.is_database:
        return f"{env.label} is a database environment: each machine has its own"
    if not repository:
        return "the project is not a git repository"
    if not git.remote_url(env.remote):
        return f"this repository has no remote {env.remote!r}"
    return None


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return ""  # released meanwhile: the holder reads as unknown


# -- words ----------------------------------------------------------------------------------------


def _held(env: Environment, holder: Holder, where: str) -> LockHeld:
    return LockHeld(
        f"{env.label} is locked: {holder.describe()}; nothing was changed",
        state=[f"the lock is {where}", "wait for that change to finish, then run this again"],
        recover=f"heroku-tools unlock {env.label}   # only if that change is no longer running",
    )


def _identity(git: Git) -> str:
    """``Name <email>`` as git would sign a commit with; the login name and host when git knows no one."""
    result = git.execute(["var", "GIT_COMMITTER_IDENT"], ok=(0, 128))
    ident = re.sub(r"\s+\d+ [+-]\d{4}$", "", result.stdout.strip())
    return ident if result.exit_code == 0 and ident else f"{getpass.getuser()} <{getpass.getuser()}@{socket.gethostname()}>"


def _name_and_email(who: str) -> tuple[str, str]:
    """A tagger line's name and email, from ``Name <email>`` (nothing that would break the line)."""
    match = re.match(r"^(.*?)\s*<([^<>]*)>$", who)
    name, email = (match.group(1), match.group(2)) if match else (who, "unknown")
    return re.sub(r"[<>\n]", "", name).strip() or "unknown", re.sub(r"[<>\s]", "", email) or "unknown"


def _github_run(environ: Mapping[str, str]) -> str | None:
    """The GitHub Actions run URL, which GitHub gives in parts."""
    parts = [environ.get(name) for name in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID")]
    return f"{parts[0]}/{parts[1]}/actions/runs/{parts[2]}" if all(parts) else None


def _since(since: str, now: datetime.datetime | None = None) -> str:
    """``2024-05-12 10:00:09 UTC (3 minutes ago)``."""
    try:
        when = datetime.datetime.strptime(since, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)
    except ValueError:
        return since
    seconds = ((now or datetime.datetime.now(datetime.timezone.utc)) - when).total_seconds()
    ago = "just now"
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1)):
        if seconds >= size:
            count = int(seconds // size)
            ago = f"{count} {unit}{'s' if count != 1 else ''} ago"
            break
    return f"{when:%Y-%m-%d %H:%M:%S} UTC ({ago})"
