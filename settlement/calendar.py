"""The coalition calendar: which business day an instant belongs to, with DST made explicit.

A business day D ends at its cut-off: the local cut-off time on D (or, for a midnight cut-off,
midnight at the end of D). An instant belongs to the first business day whose cut-off is
after it. On a day the cut-off's local time does not exist (clocks jump over it), the day
ends when the clocks jump; where it happens twice (clocks fall back), at the first time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

MICROSECONDS = 1_000_000
DAY_PATTERN = re.compile(r"\d{4}-\d{2}-\d{2}")
DST_SEARCH_STEP = timedelta(minutes=1)
DST_GAP_MAX = timedelta(hours=3)


@dataclass(frozen=True)
class CoalitionCalendar:
    time_zone: str = "UTC"
    cutoff: time = time(0, 0)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    def cutoff_us(self, business_day: date) -> int:
        """The instant business day `business_day` closes, in Unix microseconds."""
        local_day = business_day if self.cutoff != time(0, 0) else business_day + timedelta(days=1)
        wall = datetime.combine(local_day, self.cutoff)
        first = wall.replace(tzinfo=self.zone, fold=0)
        if _exists(first):
            return _us(first)
        return _us(self._end_of_gap(wall))

    def business_day_of(self, at_us: int) -> date:
        seconds = at_us // MICROSECONDS
        local = datetime.fromtimestamp(seconds, self.zone).date()
        # The answer is the local date or the day after; the cut-off decides between them.
        for candidate in (local - timedelta(days=1), local, local + timedelta(days=1)):
            if at_us < self.cutoff_us(candidate):
                return candidate
        return local + timedelta(days=2)

    def _end_of_gap(self, wall: datetime) -> datetime:
        """The first instant after a spring-forward gap that contains `wall`."""
        before = wall.replace(tzinfo=self.zone, fold=1).astimezone(UTC)
        instant = before
        while instant - before <= DST_GAP_MAX:
            instant += DST_SEARCH_STEP
            if instant.astimezone(self.zone).replace(tzinfo=None) >= wall:
                return instant
        raise AssertionError("no time zone has a gap this long")


def _exists(local: datetime) -> bool:
    """False for a wall time that clocks skip: it does not survive a round trip through UTC."""
    back = local.astimezone(UTC).astimezone(local.tzinfo)
    return back.replace(tzinfo=None) == local.replace(tzinfo=None)


def _us(moment: datetime) -> int:
    delta = moment.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * MICROSECONDS + delta.microseconds


def parse_day(text: str) -> date:
    """YYYY-MM-DD, exactly; raises ValueError otherwise."""
    if not DAY_PATTERN.fullmatch(text):
        raise ValueError("a business day is written YYYY-MM-DD")
    return date.fromisoformat(text)
