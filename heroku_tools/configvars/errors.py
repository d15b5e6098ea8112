"""The errors of config var operations: each one message, and nothing shown that may be a secret."""
from __future__ import annotations

from collections.abc import Sequence

from ..errors import HerokuToolsError


class ConfigError(HerokuToolsError):
    """A config var operation could not be done; nothing was changed unless it says so."""


class ApplyFailed(HerokuToolsError):
    """A change failed part-way: ``applied`` and ``not_applied`` say where the app stands.

    ``not_applied`` holds the keys that were to be set and are not, then the
    keys that were to be removed and are still there.
    """

    def __init__(self, message: str, *, applied: Sequence[str], not_applied: Sequence[str], **kwargs):
        super().__init__(message, **kwargs)
        self.applied = list(applied)
        self.not_applied = list(not_applied)
