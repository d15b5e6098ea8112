"""What happened to an environment: Heroku's releases and the release tags, read together.

Heroku's release list knows every change: deploys, promotions, rollbacks,
config and add-on changes, whoever made them, and whether each release
succeeded. The release tags (``live/v424``) know what heroku-tools added: the
full commit, the deployer and the release note. :func:`history` joins the two
by release version:

* a release with a tag was made by heroku-tools' ``deploy``, ``promote`` or
  ``rollback``; one without was made some other way (the heroku CLI, the
  dashboard, an add-on provider, a bare ``git push``) and is marked so. A tag
  that does not match its release (a config change, or another commit than
  the release's description names) is left from an earlier app of the same
  name and is ignored;
* the commit range of a code release runs from the code the app ran before to
  the code it released, from the tag when there is one, else from the
  release's description (``Deploy 1a2b3c4``) or, for a rollback, from the
  release it went back to; config and add-on changes have none;
* the outcome is Heroku's: ``succeeded``, ``failed`` (its release phase
  failed) or ``pending``. A deploy whose post-push commands failed left a
  release but no tag: it shows as a deploy made outside heroku-tools.

The tags are fetched from the environment's remote first (alongside the
Heroku call), so colleagues' deploys count as heroku-tools' too.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone

from ..errors import HerokuToolsError
from ..models import Release
from ..session import Session
from ..settings import Environment
from .notes import first_line
from .tags import ReleaseTag, read

#: Releases read beyond the ``num`` shown, so the oldest rows shown still know the code before them.
CONTEXT = 20
CODE_KINDS = ("deploy", "promotion", "rollback")
_ADDON = re.compile(r"^(Attach|Detach) \S+ \(@ref:|^Update \S+ by |add-on", re.IGNORECASE)


@dataclass(frozen=True)
class Entry:
    """One release of an environment, as ``history`` shows it."""

    version: int
    created_at: str | None
    #: The Heroku account that made the release.
    who: str | None
    #: ``deploy``, ``promotion``, ``rollback``, ``config``, ``add-on`` or ``other``.
    kind: str
    #: The release tag; ``None`` when the release was made outside heroku-tools.
    tag: str | None
    #: The code before and after a code release (full or short shas); ``None`` when unknown or no code changed.
    commit_from: str | None
    commit_to: str | None
    note: str | None
    #: Heroku's description (``Deploy 1a2b3c4``, ``Set DEBUG config vars``).
    description: str
    #: Heroku's status: ``succeeded``, ``failed`` or ``pending``.
    outcome: str

    @property
    def outside(self) -> bool:
        """Made without heroku-tools' deploy, promote or rollback (it has no release tag)."""
        return self.tag is None

    def as_json(self) -> dict:
        return {
            "version": self.version,
            "created_at": self.created_at,
            "who": self.who,
            "kind": self.kind,
            "tag": self.tag,
            "outside_heroku_tools": self.outside,
            "commit_range": {"from": self.commit_from, "to": self.commit_to},
            "note": self.note,
            "description": self.description,
            "outcome": self.outcome,
        }


def kind_of(release: Release) -> str:
    """What a release changed, from its description."""
    if release.promoted_from:
        return "promotion"
    if release.rollback_to is not None:
        return "rollback"
    if release.deployed_sha:
        return "deploy"
    if "config var" in release.description:
        return "config"
    if _ADDON.search(release.description):
        return "add-on"
    return "other"


def entries(releases: Sequence[Release], tags: dict[int, ReleaseTag]) -> list[Entry]:
    """Releases joined with their tags, newest first, with each code release's commit range."""
    running: str | None = None  # the code the app ran, release by release
    code_of: dict[int, str | None] = {}
    rows = []
    for release in sorted(releases, key=lambda r: r.version):
        tag = tags.get(release.version)
        kind = kind_of(release)
        if tag and (kind not in CODE_KINDS or not tag.commit.startswith(release.deployed_sha or "")):
            tag = None  # left from an earlier app of the same name: this version released something else
        commit_from = commit_to = None
        if kind in CODE_KINDS:
            if tag:
                commit_to = tag.commit
            elif kind == "rollback":
                commit_to = code_of.get(release.rollback_to)
            else:
                commit_to = release.deployed_sha
            commit_from = running
            if release.status == "succeeded":
                running = commit_to
        code_of[release.version] = commit_to if kind in CODE_KINDS else running
        rows.append(Entry(
            version=release.version,
            created_at=release.created_at,
            who=release.user_email or (tag.deployer if tag else None),
            kind=kind,
            tag=tag.name if tag else None,
            commit_from=commit_from,
            commit_to=commit_to,
            note=tag.note if tag else None,
            description=release.description,
            outcome=release.status or "unknown",
        ))
    return rows[::-1]


def history(session: Session, label: str, num: int = 20, *, say: Callable[[str], None] = print) -> tuple[Environment, list[Entry]]:
    """The environment ``label`` and its latest ``num`` releases, newest first.

    One heroku call for the releases, alongside ``git fetch --tags`` from the
    environment's remote (a failed fetch is said through ``say``, and the
    local tags are used).
    """
    env = session.settings.environment(label)
    if num < 1:
        raise HerokuToolsError(f"--num must be at least 1, got {num}")
    git = session.git

    def fetch_tags() -> None:
        if git.remote_url(env.remote):
            try:
                git.fetch(env.remote, tags=True)
            except HerokuToolsError as error:
                say(f"could not fetch tags from {env.remote} ({error.message}): using this repository's tags")

    with ThreadPoolExecutor(2) as pool:
        fetched = pool.submit(fetch_tags)
        releases = pool.submit(session.heroku.releases, env.app_name, num + CONTEXT)
        fetched.result()
        found = releases.result()
    return env, entries(found, read(git, env))[:num]


# -- rendering ------------------------------------------------------------------------


def render(env: Environment, rows: Sequence[Entry]) -> str:
    """The table ``history`` prints: one line per release, newest first, times in UTC."""
    if not rows:
        return f"{env.label} ({env.app_name}) has no releases."
    table = [("VERSION", "WHEN (UTC)", "WHO", "KIND", "COMMITS", "OUTCOME", "NOTE")]
    for row in rows:
        table.append((
            f"v{row.version}",
            _when(row.created_at),
            row.who or "?",
            row.kind + ("*" if row.outside else ""),
            _range(row),
            row.outcome,
            _shorten(first_line(row.note) or (row.description if row.outside else ""), 60),
        ))
    widths = [max(len(line[i]) for line in table) for i in range(len(table[0]))]
    lines = [f"{env.label} ({env.app_name}): the latest {len(rows)} release(s), newest first"]
    lines += ["  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip() for line in table]
    if any(row.outside for row in rows):
        lines.append("* no release tag: made outside heroku-tools (heroku CLI, dashboard, add-on, bare git push)")
    return "\n".join(lines)


def _when(created_at: str | None) -> str:
    if not created_at:
        return "?"
    try:
        moment = datetime.fromisoformat(created_at.replace("Z", "+00:00"))
    except ValueError:
        return created_at
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc)
    return moment.strftime("%Y-%m-%d %H:%M")


def _range(row: Entry) -> str:
    if row.kind not in CODE_KINDS:
        return "-"
    to = row.commit_to[:7] if row.commit_to else "?"
    return f"{row.commit_from[:7]}..{to}" if row.commit_from else to


def _shorten(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
