"""Post-push steps: every command in ONE one-off dyno, each status checked.

The original flow started a dyno per command and ignored their statuses. Here
the selected commands become one shell line joined by ``&&``, so the chain
stops at the first failure and ``heroku run --exit-code`` reports that
command's status. Each command is preceded by a marker line, so the output
says which step was running when the chain stopped — the failure policy needs
to know whether a migration had begun.
"""
from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from collections.abc import Callable, Mapping, Sequence

from .options import STEP_COMMANDS, DeployOptions

MARKER = "heroku-tools step"
_MARKER_LINE = re.compile(rf"^{re.escape(MARKER)} (\d+)/(\d+): (\S+)$")
#: The heroku CLI's own progress lines for ``run``, which repeat the whole script.
_CLI_PROGRESS = re.compile(r"^Running .* on \S+\.\.\. (starting|connecting|up|done)\b")

#: The order steps run in: schema first, then data that needs it, then assets.
STEP_ORDER = (DeployOptions.SYNCDB, DeployOptions.MIGRATE, DeployOptions.LOADDATA, DeployOptions.COLLECTSTATIC)

#: Steps that change the database schema: a failure in one leaves maintenance on.
SCHEMA_STEPS = frozenset({"syncdb", "migrate"})


@dataclass(frozen=True)
class Step:
    name: str
    command: str


def select_steps(
    options: DeployOptions,
    commands: Mapping[str, str],
    *,
    fixtures: Sequence[str] = (),
) -> list[Step]:
    """The commands ``options`` asks for, in :data:`STEP_ORDER`.

    ``loaddata`` gets the changed fixture files appended, so the fixtures that
    changed are the ones loaded (``manage.py loaddata`` alone loads nothing).
    """
    steps = []
    for flag in STEP_ORDER:
        if not options & flag:
            continue
        name = STEP_COMMANDS[flag]
        command = commands.get(name)
        if not command:
            continue
        if name == "loaddata" and fixtures:
            command = f"{command} {shlex.join(fixtures)}"
        steps.append(Step(name, command))
    return steps


def script(steps: Sequence[Step], *, lock_timeout: str | None = None) -> str:
    """One shell line running every step in order, stopping at the first failure.

    With ``lock_timeout``, the schema steps' database sessions give up
    waiting for a lock after that long (see :mod:`~heroku_tools.release.locks`).
    It never ends with ``exit``: the CLI appends its exit-status echo, and a
    shell that exits first leaves ``heroku run -x`` without a status.
    """
    parts = []
    for index, step in enumerate(steps, 1):
        command = step.command
        if lock_timeout and step.name in SCHEMA_STEPS:
            command = f'export PGOPTIONS="${{PGOPTIONS:+$PGOPTIONS }}-c lock_timeout={lock_timeout}"; {command}'
        parts.append(f"echo {shlex.quote(f'{MARKER} {index}/{len(steps)}: {step.name}')}")
        parts.append(f"( {command} )")
    return " && ".join(parts)


@dataclass
class StepProgress:
    """Follows the markers in a dyno's streamed output."""

    steps: Sequence[Step]
    started: list[str] = field(default_factory=list)
    show: Callable[[str], None] | None = None
    #: Called with a step's name when its marker appears (the step has begun).
    on_start: Callable[[str], None] | None = None

    def __call__(self, line: str) -> None:
        text = line.strip()
        if _CLI_PROGRESS.match(text):
            return
        match = _MARKER_LINE.match(text)
        if match:
            self.started.append(match.group(3))
            if self.on_start:
                self.on_start(match.group(3))
        if self.show:
            self.show(line)

    @property
    def current(self) -> str | None:
        """The step running (or that failed) last."""
        return self.started[-1] if self.started else None

    @property
    def in_schema_step(self) -> bool:
        """Whether the step running last changes the schema.

        If the chain stopped there, the database may be half-migrated; a
        failure in a later step leaves a fully migrated schema behind.
        """
        return self.current in SCHEMA_STEPS

    def command(self, name: str) -> str | None:
        return next((step.command for step in self.steps if step.name == name), None)
