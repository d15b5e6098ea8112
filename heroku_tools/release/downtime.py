"""Whether a deploy needs the maintenance page, decided from what its migrations do.

The old code keeps serving while a release phase migrates, and (with preboot)
for minutes after the new release is up. So the question is never "do
migrations run" but "can the code that is serving live with the schema the
migrations make". The table, documented in docs/downtime.rst:

=================  =======  =======================  ==============================================================
release phase      preboot  verdict                  what happens
runs migrate
=================  =======  =======================  ==============================================================
yes                any      compatible, locking,     no maintenance; the release phase migrates, the tool does not
                            none
yes                any      incompatible, unknown    maintenance from before the release phase until it succeeded
no                 on       compatible, locking      no maintenance; migrate in one dyno after the release (the new
                                                     dynos may serve first: the report shows the Procfile line that
                                                     removes the race)
no                 off      anything pending         maintenance around the release and migrate
no                 on       incompatible, unknown    as above, with preboot off for this deploy (restored after)
=================  =======  =======================  ==============================================================

A release phase whose command cannot be read (``release: ./release.sh``)
counts as one that may not migrate: migrate also runs after the release (a
no-op if the release phase did it), and the window covers both.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..migrations import Verdict
from .schema import SchemaPlan

#: The Procfile line that makes Heroku migrate before any new dyno starts.
RELEASE_LINE = "release: python manage.py migrate --noinput"


@dataclass(frozen=True)
class Decision:
    """What the deploy does about downtime, and the sentence that says why."""

    maintenance: bool
    #: The tool runs ``migrate`` in its one dyno after the release (else the release phase does, or none is due).
    migrate_here: bool
    #: Preboot is turned off for this deploy and restored afterwards, on every path.
    preboot_off: bool
    why: str
    warnings: tuple[str, ...] = ()

    def as_json(self) -> dict:
        return {"maintenance": self.maintenance, "migrate_here": self.migrate_here, "preboot_off": self.preboot_off,
                "why": self.why, "warnings": list(self.warnings)}


def decide(schema: SchemaPlan, *, preboot: bool, label: str, maintenance: bool | None = None,
           releasing: bool = True) -> Decision:
    """The row of the table ``schema`` falls in; ``maintenance`` (``--maintenance``/``--no-maintenance``) wins.

    ``releasing``: the deploy makes a release. When it does not (the code is
    up to date, only migrations are pending), no release phase runs, so the
    deploy migrates itself whatever the Procfile says.
    """
    decision = _row(schema, preboot=preboot, label=label, releasing=releasing)
    if maintenance is None or maintenance == decision.maintenance:
        return decision
    if maintenance:
        return Decision(True, decision.migrate_here, decision.preboot_off,
                        f"--maintenance: the page goes up although {decision.why[0].lower()}{decision.why[1:]}",
                        decision.warnings)
    warnings = decision.warnings
    if schema.verdict is not None and schema.verdict.needs_downtime:
        warnings += (f"--no-maintenance: the running code will meet a schema it may not work with "
                     f"({schema.verdict} migrations): expect errors until the new code serves",)
    return Decision(False, decision.migrate_here, False, f"--no-maintenance (it was: {decision.why})", warnings)


def without_migrate(decision: Decision, schema: SchemaPlan) -> Decision:
    """The decision once the person chose not to migrate (``--no-migrate``): nothing changes the schema, no page."""
    if not decision.migrate_here:
        return decision
    pending = len(schema.pending)
    return Decision(False, False, False, "migrate is not run (--no-migrate), so the schema does not change and no "
                    "downtime is needed", decision.warnings + (f"{pending or 'the'} pending migration(s) stay pending: "
                                                               "the new code runs on the old schema",))


def _row(schema: SchemaPlan, *, preboot: bool, label: str, releasing: bool) -> Decision:
    release = schema.procfile.release_migrates if releasing else False
    verdict = schema.verdict
    if not schema.needs_migrate:
        return Decision(False, False, False, f"no migration is pending on {label}'s database")
    downtime = verdict is None or verdict.needs_downtime
    if release is True:
        if not downtime:
            return Decision(False, False, False, f"the release phase migrates while the old code serves, and every "
                            f"pending migration is {_kinds(verdict)}: the old code keeps working")
        return Decision(True, False, False, f"{deciding(schema)}: the old code must not serve while the release "
                        "phase migrates, so the page is up from before the release phase until it succeeded")
    unread = ((f"whether the release phase migrates cannot be told ({schema.procfile.reason}): migrate also "
               "runs after the release (a no-op if the release phase did it)",) if release is None else ())
    if preboot and not downtime:
        race = (f"with preboot the new dynos may serve before migrate has finished; `{RELEASE_LINE}` in the "
                "Procfile migrates before they start",)
        return Decision(False, True, False, f"preboot keeps the old code serving and every pending migration is "
                        f"{_kinds(verdict)}: migrate runs right after the release", unread + race)
    if preboot:
        return Decision(True, True, True, f"{deciding(schema)}: preboot would keep the old code serving on the new "
                        "schema, so preboot is off for this deploy and the page is up around the release and "
                        "migrate", unread)
    return Decision(True, True, False, "without preboot or a migrating release phase, the new code must not serve "
                    "the old schema: the page is up around the release and migrate", unread)


def _kinds(verdict: Verdict | None) -> str:
    return "compatible" if verdict in (None, Verdict.COMPATIBLE) else "compatible or locking"


def deciding(schema: SchemaPlan) -> str:
    """What decided the verdict, in a few words: ``customers.0007_drop_phone is incompatible``."""
    if schema.plan is not None and schema.plan.deciding is not None and schema.plan.verdict == schema.verdict:
        return f"{schema.plan.deciding.key} is {schema.verdict}"
    if schema.dependencies_changed:
        return f"{', '.join(schema.dependencies_changed)} changed, so third-party migrations of unknown effect may run"
    return "the pending migrations cannot be read from the database, so their effect is unknown"
