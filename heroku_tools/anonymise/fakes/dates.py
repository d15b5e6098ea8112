"""Dates and timestamps, shifted by a keyed number of days."""
from __future__ import annotations

import datetime as _dt
import re

from .base import Fake, FakeError


_DATE = re.compile(rb"(\d{4,})-(\d\d)-(\d\d)(.*)", re.S)


class DateShift(Fake):
    """Move a date or timestamp by a keyed number of days in [-days, -1] ∪ [1, days] (default 365).

    Works on the ISO text ``pg_dump`` writes (``YYYY-MM-DD[ time][zone]``); the
    time of day and zone are kept.  ``infinity`` stays; BC dates are refused.
    """

    kind = "date_shift"
    types = ("date", "timestamp")
    may_fail = True
    can_be_unique = False
    option_names = ("days",)

    def configure(self):
        days = self.options.get("days", 365)
        if not isinstance(days, int) or isinstance(days, bool) or days < 1:
            raise FakeError("date_shift: days must be a positive integer")
        self.days = days

    def apply(self, v):
        if v in (b"infinity", b"-infinity"):
            return v
        return super().apply(v)

    def make(self, d, v):
        m = _DATE.fullmatch(v)
        if not m or v.endswith(b" BC"):
            raise FakeError(f"date_shift: {v[:40].decode('utf-8', 'replace')!r} is not an ISO date (AD)")
        shift = int.from_bytes(d[:4], "little") % (2 * self.days) - self.days
        if shift >= 0:
            shift += 1
        try:
            day = _dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3))) + _dt.timedelta(days=shift)
        except (ValueError, OverflowError) as exc:
            raise FakeError(f"date_shift: cannot shift {v[:40].decode('utf-8', 'replace')!r}: {exc}") from None
        return b"%04d-%02d-%02d" % (day.year, day.month, day.day) + m.group(4)
