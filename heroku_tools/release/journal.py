"""What a deploy has done so far, and what it ended with: the record the failure policy reads."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ..models import Release
from .health import HealthReport
from .plan import DeployPlan
from .steps import SCHEMA_STEPS, StepProgress


@dataclass
class Outcome:
    """What a deployment did."""

    plan: DeployPlan
    release: Release | None = None
    tag: str | None = None
    #: Seconds the maintenance page was up (0 when it never went on).
    maintenance_seconds: float = 0.0
    seconds: float = 0.0
    steps_run: tuple[str, ...] = ()
    #: The backup captured just before the migrations (``b012``), if one was.
    backup: str | None = None
    #: How the release's health check ended (None: it was never reached).
    health: HealthReport | None = None
    #: The release an unhealthy one was automatically rolled back to.
    rolled_back_to: int | None = None


@dataclass
class Journal:
    """What has happened so far, to decide the failure policy and tell the user."""

    plan: DeployPlan
    step: str = "starting"
    maintenance_since: float | None = None
    #: Maintenance came off as soon as the schema steps were done, before the dyno ended.
    maintenance_off_early: bool = False
    maintenance_seconds: float = 0.0
    progress: StepProgress | None = None
    #: The post-push commands all ran and exited 0 (a later failure is not theirs).
    steps_finished: bool = False
    #: The push or promotion has begun: Heroku may release the new code whatever happens next.
    shipping: bool = False
    new_release: Release | None = None
    log: list[str] = field(default_factory=list)
    #: Wall-clock time the page came up (to compare with the release's ``created_at``).
    maintenance_on_at: float | None = None
    #: Process types the window scaled to 0, with the quantities to put back.
    scaled_down: dict[str, int] | None = None
    #: Preboot was turned off for this deploy (it is turned on again on every path).
    preboot_off: bool = False
    #: Migrations a failed release phase (or migrate step) had applied before it stopped (read from the database).
    applied_before_failure: tuple[str, ...] = ()
    #: The migrate step gave up waiting for a lock: it stopped cleanly, nothing is half-applied.
    lock_timed_out: bool = False
    #: The backup captured just before the migrations: the way back if they must be undone.
    backup: str | None = None

    def begin(self, step: str, say: Callable[[str], None]) -> None:
        self.step = step
        self.log.append(step)
        say(f"==> {step}")

    @property
    def schema_at_risk(self) -> bool:
        """A schema step failed or was cut off: the database may be half-migrated."""
        return bool(self.progress and not self.steps_finished and self.progress.in_schema_step)

    @property
    def schema_steps_ran(self) -> bool:
        return bool(self.progress and any(name in SCHEMA_STEPS for name in self.progress.started))
