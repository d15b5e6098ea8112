"""Config vars: read, mask, compare, plan, apply and pull them, without ever showing a secret.

The ``config`` tasks are thin layers over the operations here, which a
project's own fabfile calls as well, with the same
:class:`~heroku_tools.session.Session` every operation takes::

    from heroku_tools import Session, configvars

    session = Session.load()
    result = configvars.compare(session, "uat", "live")     # reports the diff, masked
    if not result.matches:
        ...

Values are masked everywhere unless asked for (:mod:`.mask`). The package:

* :mod:`.names` — usable names, add-on names, ``KEY=VALUE`` words;
* :mod:`.mask` — masks, fingerprints and their key, scrubbing messages and Invoke's ``--debug`` logging;
* :mod:`.declared` — the vars an environment declares (``settings:`` or a file), interpolated;
* :mod:`.dotenv` — ``.env`` files, read by python-dotenv's parser, written to read back exactly;
* :mod:`.snapshot` — one side of a comparison: an app's vars and add-on vars, or declared settings;
* :mod:`.diff` — two snapshots compared, as text or JSON;
* :mod:`.plan` — what a change takes, as text or JSON;
* :mod:`.limits` — what Heroku can hold: each value, and all of an app's vars together (32 kB);
* :mod:`.apply` — the change made in one Platform API request, and where the app stands if it fails;
* :mod:`.operations` — show, compare, set_vars, unset_vars, push, pull: what the tasks call;
* :mod:`.table` — aligned tables and the kinds of row they show.
"""
from __future__ import annotations

from ..settings.variables import MissingReference, interpolate, references
from .apply import Applied, apply
from .declared import Declared, declared, interpolate_all, load_settings_file
from .diff import DIFF_SYMBOLS, DRIFT, ConfigDiff, DiffEntry, Status, diff, diff_json, render_diff, summary
from .dotenv import DotenvError, dotenv_value, parse_dotenv, render_dotenv, write_private
from .errors import ApplyFailed, ConfigError
from .limits import CONFIG_LIMIT, check_change, check_total, check_values
from .mask import (
    ABSENT, FINGERPRINT_ENV, FINGERPRINT_LENGTH, ArgumentMask, Masker, fingerprint_key, key_file, mask_arguments,
    mask_invoke_logging, scrub, visible,
)
from .names import ADDON_PATTERNS, check_key, is_addon_name, matches_any, parse_assignments
from .operations import compare, guard, pull, pull_text, push, set_vars, show, unset_vars
from .plan import PLAN_SIGNS, Action, Plan, PlanEntry, plan, plan_json, plan_push, render_plan
from .snapshot import (
    Snapshot, addon_vars, declared_snapshot, environment_snapshot, fetch, render_show, resolve, show_json, snapshots,
)

__all__ = [
    # the operations the tasks call
    "show", "compare", "set_vars", "unset_vars", "push", "pull",
    # their pieces
    "snapshots", "resolve", "fetch", "addon_vars", "environment_snapshot", "declared_snapshot", "Snapshot",
    "declared", "load_settings_file", "interpolate_all", "Declared",
    "interpolate", "references", "MissingReference",
    "diff", "summary", "render_diff", "diff_json", "render_show", "show_json", "ConfigDiff", "DiffEntry", "Status",
    "DIFF_SYMBOLS", "DRIFT",
    "plan", "plan_push", "render_plan", "plan_json", "Plan", "PlanEntry", "Action", "PLAN_SIGNS",
    "apply", "Applied", "ApplyFailed", "ConfigError", "guard",
    "Masker", "fingerprint_key", "key_file", "visible", "scrub", "ABSENT", "FINGERPRINT_ENV", "FINGERPRINT_LENGTH",
    "ArgumentMask", "mask_arguments", "mask_invoke_logging",
    "CONFIG_LIMIT", "check_values", "check_total", "check_change",
    "check_key", "parse_assignments", "is_addon_name", "matches_any", "ADDON_PATTERNS",
    "dotenv_value", "render_dotenv", "parse_dotenv", "DotenvError", "write_private", "pull_text",
]
