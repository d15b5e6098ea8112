"""Everything that makes or reads a Heroku release: deploy, promote, rollback and their records.

The modules, in the order a deploy meets them:

* :mod:`.options` — the bitmask of post-push steps, inferred from changed files;
* :mod:`.steps` — the commands those bits run, all in one dyno, each checked;
* :mod:`.deployed` — what an app runs now (release, slug, commit);
* :mod:`.plan` — the pre-flight checks and the :class:`DeployPlan`;
* :mod:`.report` — the report shown before the confirmation code;
* :mod:`.notes` — the release note (your editor, ``--note``, ``--note-file``);
* :mod:`.execute` — push or promote, release, steps, maintenance, tag;
* :mod:`.journal` and :mod:`.failure` — what happened, and the defined state after a failure;
* :mod:`.tags` — release tags (``live/v42``) in git;
* :mod:`.health` — whether the release serves: dynos, probes at ``web_url``, router errors;
* :mod:`.recovery` — after the release: the check, and the rollback of an unhealthy one when it is safe;
* :mod:`.notify` — Slack and webhook announcements;
* :mod:`.rollback` — rolling back, code and config only;
* :mod:`.history` — releases joined with their tags;
* :mod:`.operations` — :func:`deploy`, :func:`promote` and :func:`rollback`, one skeleton.
"""
from .deployed import wait_for_release
from .execute import execute
from .history import history
from .errors import DeployFailed, NothingBuilt
from .journal import Outcome
from .operations import deploy, promote, rollback
from .options import DeployOptions, infer_options
from .plan import DeployPlan, PreflightError, plan_deploy
from .recovery import Unhealthy
from .report import render_report
from .rollback import RollbackError, RollbackPlan, plan_rollback, render_rollback

__all__ = [
    "DeployFailed", "DeployOptions", "DeployPlan", "NothingBuilt", "Outcome", "PreflightError", "RollbackError",
    "RollbackPlan", "Unhealthy", "deploy", "execute", "history", "infer_options", "plan_deploy", "plan_rollback", "promote",
    "render_report", "render_rollback", "rollback", "wait_for_release",
]
