"""Applying a change set to an app in one Platform API request, and saying where the app stands if it fails.

Every addition, change and removal goes in ONE ``PATCH /apps/{app}/config-vars``
(a JSON body, ``null`` removes a var): one release, and the values never on a
command line, where ``ps`` shows them to every user of the machine. Heroku
answers with the app's config vars after the change, which is checked against
the plan; when the request fails, the config is read back to say exactly which
keys are applied and which are not.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ..heroku_api import PlatformAPI, PlatformAPIError
from .errors import ApplyFailed
from .limits import check_values, config_values
from .mask import scrub
from .names import check_key


@dataclass(frozen=True)
class Applied:
    app: str
    set_keys: tuple[str, ...]
    unset_keys: tuple[str, ...]
    #: Release versions made, in order (``None`` where Heroku's answer did not say).
    versions: tuple[int | None, ...]


def apply(api: PlatformAPI, app: str, to_set: Mapping[str, str], to_unset: Sequence[str] = (), *,
          recover: str | Sequence[str] = (), verify: bool = True) -> Applied:
    """Set ``to_set`` and remove ``to_unset`` in ONE Platform API request (one release), then
    (``verify``) check Heroku's answer — the app's config after the change — against the plan.

    Names and values are checked before anything is sent (:func:`~.limits.check_values`). A
    failure raises :class:`ApplyFailed` saying, from the config read back, which keys were
    applied and which were not; ``recover`` are the commands offered to finish the job. No
    value ever appears in a message.
    """
    to_set = config_values(to_set)
    to_unset = [check_key(key) for key in to_unset if key not in to_set]
    check_values(to_set)
    if not (to_set or to_unset):
        return Applied(app, (), (), ())
    secrets_ = list(to_set.values())
    try:
        now = api.update_config_vars(app, {**to_set, **dict.fromkeys(to_unset)})
    except PlatformAPIError as exc:
        raise _partial(api, app, to_set, to_unset, exc, secrets_, recover) from None
    if verify:
        now = now if isinstance(now, Mapping) else api.config_vars(app)  # an answer without the config: read it
        _verify(app, now, to_set, to_unset, recover)
    return Applied(app, tuple(to_set), tuple(to_unset), (_new_release(api, app),))


def _new_release(api: PlatformAPI, app: str) -> int | None:
    """The release the change made (the app's newest, as the CLI reports it); None if it cannot be read."""
    try:
        newest = api.releases(app, 1)
    except PlatformAPIError:
        return None
    version = newest[0].get("version") if newest and isinstance(newest[0], dict) else None
    return version if isinstance(version, int) else None


def _verify(app: str, now: Mapping[str, str], to_set: Mapping[str, str], to_unset: Sequence[str],
            recover: str | Sequence[str]) -> None:
    """A change Heroku reported but did not make is a failure, not a success."""
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


def _partial(api: PlatformAPI, app: str, to_set: Mapping[str, str], to_unset: Sequence[str],
             exc: PlatformAPIError, secrets_: Sequence[str], recover: str | Sequence[str]) -> ApplyFailed:
    """The failure of the request, with what the app has now (read back), or why that is unknown."""
    message = f"changing the config vars of {app} failed: {scrub(exc.reason, secrets_)}"
    try:
        now = api.config_vars(app)
    except PlatformAPIError as again:
        return ApplyFailed(
            message, applied=[], not_applied=[],
            state=[f"unknown: reading {app}'s config back failed too ({scrub(again.reason, secrets_)})",
                   f"meant to {_changes(to_set, to_unset)}"],
            recover=[f"heroku config -a {app}   # see where it stands (shows values)", *_as_list(recover)],
        )
    applied = [key for key, value in to_set.items() if now.get(key) == value]
    applied += [key for key in to_unset if key not in now]
    not_applied = [key for key in [*to_set, *to_unset] if key not in applied]
    return ApplyFailed(message, applied=applied, not_applied=not_applied,
                       state=_state_lines(app, applied, not_applied), recover=_as_list(recover))
