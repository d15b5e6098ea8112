"""What an app runs now: its current release and the commit behind it.

A deploy's report, a rollback's plan and the history all start from here. The
full commit sha lives only on the release's slug (``GET /apps/{app}/slugs/{id}``,
which no heroku command prints); the release description's 7-character sha is
the fallback, resolved in the local repository (fetching once if it is not there).
"""
from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from ..errors import HerokuToolsError
from .errors import DeployFailed, NothingBuilt
from ..git import Git
from ..heroku_api import PlatformAPI, PlatformAPIError
from ..models import Release


@dataclass(frozen=True)
class Deployed:
    """What an app runs now."""

    release: Release | None
    #: Full sha when known locally (resolved from the slug or the description).
    commit: str | None
    #: What Heroku said, when it could not be resolved locally.
    reported_sha: str | None = None

    @property
    def has_code(self) -> bool:
        """Whether the app runs code at all (an app with only add-on or config releases has none)."""
        return self.release is not None and self.release.slug_id is not None


def current_release(releases: Sequence[Release]) -> Release | None:
    """The release the app runs: flagged current, else the newest succeeded one."""
    for release in releases:
        if release.current:
            return release
    return next((r for r in releases if r.status == "succeeded"), None)


def slug_commit(git: Git, api: PlatformAPI, app: str, release: Release) -> str | None:
    """The full sha of the commit ``release`` runs, if it is in this repository."""
    sha = None
    if release.slug_id:
        try:
            sha = api.slug_commit(app, release.slug_id)
        except HerokuToolsError:
            sha = None
    sha = sha or release.deployed_sha
    return git.rev_parse(sha) if sha and git.commit_exists(sha) else None


def resolve_deployed(git: Git, api: PlatformAPI, app: str, releases: Sequence[Release]) -> Deployed:
    """The commit ``app`` runs: from its slug (full sha), else its description's short sha."""
    release = current_release(releases)
    if release is None or release.slug_id is None:
        return Deployed(release, None)
    try:
        sha = api.slug_commit(app, release.slug_id)
    except PlatformAPIError:
        sha = None
    sha = sha or release.deployed_sha
    if not sha:
        return Deployed(release, None)
    for attempt in range(2):
        if git.commit_exists(sha):
            return Deployed(release, git.rev_parse(sha), sha)
        if attempt == 0:
            try:
                git.fetch()
            except HerokuToolsError:
                break
    return Deployed(release, None, sha)


def is_ancestor_or_same(git: Git, commit: str, head: str) -> bool:
    """Whether ``commit`` is ``head`` or one of its ancestors."""
    return git.execute(["merge-base", "--is-ancestor", commit, head], ok=(0, 1)).exit_code == 0


class ApiReleases:
    """``releases(app, n)`` read straight from the Platform API.

    Polling for the new release happens inside the maintenance window, where a
    heroku CLI start-up per poll (about a second) would be a second of downtime.
    """

    def __init__(self, api):
        self.api = api

    def releases(self, app: str, num: int = 15) -> list[Release]:
        return [Release.from_json(data) for data in self.api.releases(app, num)]


def wait_for_release(
    heroku,
    app: str,
    after_version: int,
    *,
    timeout: float = 3600.0,
    poll: float = 1.0,
    appear_timeout: float = 60.0,
) -> Release:
    """The first release newer than ``after_version``, once it is no longer pending.

    A push or promotion returns once Heroku has created the release, so if none
    has appeared within ``appear_timeout`` none is coming (the push built
    nothing): that fails at once rather than after ``timeout``.
    """
    started = time.monotonic()
    while True:
        newer = [r for r in heroku.releases(app, 5) if r.version > after_version]
        newest = max(newer, key=lambda r: r.version, default=None)
        if newest is not None and newest.status != "pending":
            return newest
        waited = time.monotonic() - started
        if newest is None and waited > appear_timeout:
            raise NothingBuilt(f"no new release of {app} appeared within {appear_timeout:.0f}s")
        if waited > timeout:
            raise DeployFailed(f"no finished release appeared on {app} within {timeout:.0f}s")
        time.sleep(poll)
