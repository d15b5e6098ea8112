"""Applying a change set to an app, and saying exactly where the app stands when it fails part-way."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ..errors import AppNotFound, CommandError, NotLoggedIn
from ..heroku import Heroku
from ..runner import first_error_line
from .errors import ApplyFailed
from .mask import scrub
from .names import check_key
from .snapshot import fetch


@dataclass(frozen=True)
class Applied:
    app: str
    set_keys: tuple[str, ...]
    unset_keys: tuple[str, ...]
    #: Release versions made, in order (``None`` where the CLI did not say).
    versions: tuple[int | None, ...]


def apply(heroku: Heroku, app: str, to_set: Mapping[str, str], to_unset: Sequence[str] = (), *,
          recover: str | Sequence[str] = (), verify: bool = True) -> Applied:
    """Set ``to_set`` in ONE ``config:set`` (one release), then remove ``to_unset`` in at most
    one ``config:unset``, then (``verify``) read the config back to check it is as planned.

    A failure raises :class:`ApplyFailed` saying, from the config read back, which keys
    were applied and which were not; ``recover`` are the commands offered to finish the job.
    No value ever appears in a message.
    """
    to_set = dict(to_set)
    to_unset = [key for key in to_unset if key not in to_set]
    secrets_ = list(to_set.values())
    versions: list[int | None] = []
    for key in [*to_set, *to_unset]:
        check_key(key)
    if to_set:
        try:
            versions.append(heroku.config_set(app, to_set))
        except CommandError as exc:
            raise _partial(heroku, app, to_set, to_unset, "config:set", exc, secrets_, recover) from None
    if to_unset:
        try:
            versions.append(heroku.config_unset(app, to_unset))
        except CommandError as exc:
            raise _partial(heroku, app, to_set, to_unset, "config:unset", exc, secrets_, recover) from None
    if verify and (to_set or to_unset):
        _verify(heroku, app, to_set, to_unset, secrets_, recover)
    return Applied(app, tuple(to_set), tuple(to_unset), tuple(versions))


def _verify(heroku: Heroku, app: str, to_set: Mapping[str, str], to_unset: Sequence[str], secrets_: list[str],
            recover: str | Sequence[str]) -> None:
    """Read the config back: a change Heroku reported but did not make is a failure, not a success."""
    try:
        now = fetch(heroku, app)
    except CommandError as exc:
        raise ApplyFailed(
            f"the changes to {app} were sent, but reading its config back to check them failed: "
            f"{scrub(first_error_line(exc.stderr) or exc.message, secrets_)}",
            applied=[], not_applied=[],
            state=[f"{app}: probably {_changes(to_set, to_unset)} applied; not checked"],
            recover=[f"heroku-tools config.show ENV   # check {app}", *_as_list(recover)],
        ) from None
    wrong = [key for key, value in to_set.items() if now.get(key) != value]
    wrong += [key for key in to_unset if key in now]
    if wrong:
        done = [key for key in [*to_set, *to_unset] if key not in wrong]
        raise ApplyFailed(
            f"Heroku reported success, but {len(wrong)} of the changes to {app} are not there: {', '.join(wrong)}",
            applied=done, not_applied=wrong,
            state=_state_lines(app, done, wrong),
            recover=_as_list(recover),
        )


def _changes(to_set: Mapping, to_unset: Sequence) -> str:
    parts = []
    if to_set:
        parts.append(f"set {', '.join(to_set)}")
    if to_unset:
        parts.append(f"remove {', '.join(to_unset)}")
    return " and ".join(parts)


def _as_list(value: str | Sequence[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _state_lines(app: str, applied: Sequence[str], not_applied: Sequence[str]) -> list[str]:
    lines = []
    lines.append(f"applied on {app}: {', '.join(applied)}" if applied else f"nothing was applied on {app}")
    if not_applied:
        lines.append(f"not applied: {', '.join(not_applied)}")
    return lines


def _partial(heroku, app, to_set, to_unset, step, exc: CommandError, secrets_, recover) -> ApplyFailed:
    reason = scrub(first_error_line(exc.stderr) or f"exit status {exc.exit_code}", secrets_)
    if isinstance(exc, (NotLoggedIn, AppNotFound)):
        reason = scrub(exc.message, secrets_)
    try:
        now = fetch(heroku, app)
    except CommandError as again:
        checked = scrub(first_error_line(again.stderr) or again.message, secrets_)
        return ApplyFailed(
            f"`heroku {step}` on {app} failed: {reason}",
            applied=[], not_applied=[],
            state=[f"unknown: reading {app}'s config back failed too ({checked})",
                   f"meant to {_changes(to_set, to_unset)}"],
            recover=[f"heroku config -a {app}   # see where it stands (shows values)", *_as_list(recover)],
        )
    applied = [key for key, value in to_set.items() if now.get(key) == value]
    if step == "config:unset":  # after a failed config:set, config:unset was never run
        applied += [key for key in to_unset if key not in now]
    not_applied = [key for key in to_set if key not in applied] + [key for key in to_unset if key not in applied]
    return ApplyFailed(
        f"`heroku {step}` on {app} failed: {reason}",
        applied=applied, not_applied=not_applied,
        state=_state_lines(app, applied, not_applied),
        recover=_as_list(recover),
    )
