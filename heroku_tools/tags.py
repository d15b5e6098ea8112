"""Release tags: ``live/v423`` on the deployed commit, annotated with who and what.

Tags are namespaced by environment (``tag_format``), so uat's v12 and live's v12
never collide, and annotated with the app, the deployer and the commits, so
``git show live/v423`` tells the story of that release. A tag that already
points at the same commit is fine (a re-run); one on another commit is an error
found in pre-flight, before anything changes.
"""
from __future__ import annotations

from typing import Sequence

from .errors import HerokuToolsError
from .git import Git
from .models import Commit
from .settings import Environment


class TagConflict(HerokuToolsError):
    """The release tag exists on another commit."""


def check_tag(git: Git, env: Environment, version: int, commit: str) -> str | None:
    """The tag for ``version`` if it already marks ``commit``; raise if it marks another."""
    name = env.tag(version)
    existing = git.tag_commit(name)
    if existing and existing != commit:
        raise TagConflict(
            f"tag {name} already exists on {existing[:12]}, not on {commit[:12]}, the commit to deploy; "
            "nothing was changed",
            recover=f"inspect it with `git show {name}`; delete it (`git tag -d {name}`) if it is stale",
        )
    return name if existing else None


def message(env: Environment, version: int, deployer: str, commits: Sequence[Commit], note: str | None = None) -> str:
    """The annotated tag's message: what was released, where, by whom."""
    lines = [f"{env.app_name} ({env.label}) v{version}, deployed by {deployer}", ""]
    if note:
        lines += [note.rstrip(), ""]
    if commits:
        lines.append("Commits:")
        lines += [f"  {commit.short} {commit.subject}" for commit in commits]
    return "\n".join(lines) + "\n"


def record(
    git: Git,
    env: Environment,
    version: int,
    commit: str,
    text: str,
    *,
    push_remote: str | None = None,
) -> str:
    """Tag ``commit`` as release ``version`` of ``env`` (idempotently) and push the tag if asked."""
    name = check_tag(git, env, version, commit) or env.tag(version)
    if not git.tag_commit(name):
        git.tag(name, commit, text)
    if push_remote:
        git.push_tag(push_remote, name)
    return name
