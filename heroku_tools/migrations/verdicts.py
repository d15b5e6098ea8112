"""The four verdicts and what a verdict carries: the reason and the way to ship without downtime."""
from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass


class Verdict(str, enum.Enum):
    """What a migration does to the code still serving while it runs (the old release).

    Ordered by how much it calls for: an incompatible operation is certain to
    break the old code, an unknown one only may, so incompatible is the worst.
    """

    COMPATIBLE = "compatible"
    LOCKING = "locking"
    UNKNOWN = "unknown"
    INCOMPATIBLE = "incompatible"

    @property
    def severity(self) -> int:
        return _ORDER.index(self)

    @property
    def needs_downtime(self) -> bool:
        """Whether the old code must not serve while (or after) it runs."""
        return self in (Verdict.UNKNOWN, Verdict.INCOMPATIBLE)

    def __str__(self) -> str:
        return self.value


_ORDER = [Verdict.COMPATIBLE, Verdict.LOCKING, Verdict.UNKNOWN, Verdict.INCOMPATIBLE]


@dataclass(frozen=True)
class Judgement:
    """One verdict with its one-line reason in deploy terms and, unless compatible, what to do instead."""

    verdict: Verdict
    reason: str
    advice: str = ""


def compatible(reason: str) -> Judgement:
    return Judgement(Verdict.COMPATIBLE, reason)


def locking(reason: str, fix: str) -> Judgement:
    return Judgement(Verdict.LOCKING, reason, fix)


def incompatible(reason: str, advice: str) -> Judgement:
    return Judgement(Verdict.INCOMPATIBLE, reason, advice)


def unknown(reason: str, advice: str = "") -> Judgement:
    return Judgement(Verdict.UNKNOWN, reason, advice or UNKNOWN_ADVICE)


def worst(judgements: Iterable[Judgement]) -> Judgement | None:
    """The judgement with the most severe verdict; the first of equals (operations run in order)."""
    found = None
    for judgement in judgements:
        if found is None or judgement.verdict.severity > found.verdict.severity:
            found = judgement
    return found


UNKNOWN_ADVICE = (
    "read it: if the running code is unaffected, mark it `# heroku-tools: compatible`; "
    "otherwise ship it with the maintenance page or in two deploys"
)
