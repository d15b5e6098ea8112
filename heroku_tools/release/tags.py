"""Release tags: ``live/v423`` on the deployed commit, annotated with who and what.

Tags are namespaced by environment (``tag_format``), so uat's v12 and live's v12
never collide, and annotated with the app, the deployer, the release note and
the commits, so ``git show live/v423`` tells the story of that release. A tag
that already points at the same commit is fine (a re-run); one on another
commit is an error found in pre-flight, before anything changes.

:func:`read` takes the tags apart again, for ``history``: the message format
and its parser live side by side here.
"""
from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from collections.abc import Sequence

from ..errors import HerokuToolsError
from ..git import Git
from ..models import Commit
from ..settings import Environment


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
            recover=f"inspect it with `{shlex.join(['git', 'show', name])}`; delete it "
                    f"(`{shlex.join(['git', 'tag', '-d', name])}`) if it is stale",
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


def rollback_message(env: Environment, version: int, deployer: str, target: int, note: str | None = None) -> str:
    """A rollback tag's message: :func:`message` with no commits, then ``Rollback to vN.``."""
    return message(env, version, deployer, (), note).rstrip("\n") + f"\n\nRollback to v{target}.\n"


@dataclass(frozen=True)
class ReleaseTag:
    """A release tag as read back: what :func:`message` wrote, taken apart again."""

    name: str
    version: int
    commit: str
    deployer: str | None
    note: str | None
    #: When the tag was made (ISO 8601), by the deployer's git identity.
    created_at: str | None = None


_ROLLBACK_LINE = re.compile(r"^Rollback to v\d+\.$")


def parse_message(text: str) -> tuple[str | None, str | None]:
    """``(deployer, note)`` from a tag message written by :func:`message` or :func:`rollback_message`."""
    lines = text.rstrip().splitlines()
    if not lines:
        return None, None
    deployer = lines[0].rpartition(", deployed by ")[2].strip() if ", deployed by " in lines[0] else None
    body = lines[1:]
    if body and _ROLLBACK_LINE.match(body[-1]):
        body.pop()
    for index in range(len(body) - 1, -1, -1):
        if body[index] == "Commits:" and all(line.startswith("  ") for line in body[index + 1:]):
            body = body[:index]
            break
    return deployer or None, "\n".join(body).strip("\n") or None


def read(git: Git, env: Environment) -> dict[int, ReleaseTag]:
    """``env``'s release tags in this repository, by release version (one ``git for-each-ref``)."""
    marker = "\0"
    parts = env.tag_format.format(label=env.label, app_name=env.app_name, version=marker).split(marker)
    pattern = re.compile("^" + r"(\d+)".join(map(re.escape, parts)) + "$")
    fields = "%(refname:strip=2)%00%(objectname)%00%(*objectname)%00%(taggerdate:iso-strict)%00%(contents)%1e"
    out = git.execute(["for-each-ref", f"--format={fields}", f"refs/tags/{'*'.join(parts)}"]).stdout
    found = {}
    for entry in out.split("\x1e"):
        name, _, rest = entry.lstrip("\n").partition("\0")
        match = pattern.match(name)
        if not match:
            continue
        target, peeled, created, contents = rest.split("\0", 3)
        deployer, note = parse_message(contents) if peeled else (None, None)
        version = int(match.group(1))
        found[version] = ReleaseTag(name, version, peeled or target, deployer, note, created or None)
    return found


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
