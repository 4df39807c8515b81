"""The coalition calendar: cut-offs in UTC and in zones with daylight saving, made explicit.

A business day D ends at its cut-off (the local cut-off time on D; a midnight cut-off is the
midnight that ends D). A cut-off that clocks skip ends the day when they jump; one that
happens twice ends it the first time (settlement/calendar.py).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from settlement.calendar import CoalitionCalendar, parse_day

MICROSECONDS = 1_000_000
HOUR_US = 3600 * MICROSECONDS
# Zones with every kind of offset change: none, whole hours, half hours (Lord Howe), at
# midnight (Santiago, Beirut), "negative" DST (Dublin), odd offsets (Kathmandu, Chatham).
ZONES = (
    "UTC",
    "America/New_York",
    "Europe/Berlin",
    "Europe/Dublin",
    "America/Santiago",
    "Asia/Beirut",
    "Australia/Lord_Howe",
    "Asia/Kathmandu",
    "Pacific/Chatham",
    "America/St_Johns",
)
# Modern dates only: historical one-off changes (Samoa skipping 2011-12-30) are out of scope.
INSTANT_US_MIN = int(datetime(2020, 1, 1, tzinfo=UTC).timestamp()) * MICROSECONDS
INSTANT_US_MAX = int(datetime(2040, 1, 1, tzinfo=UTC).timestamp()) * MICROSECONDS


def utc_us(*fields: int) -> int:
    """Unix microseconds of a UTC wall time (year, month, day, hour, minute)."""
    return int(datetime(*fields, tzinfo=UTC).timestamp()) * MICROSECONDS


def calendar(zone: str, hour: int, minute: int = 0) -> CoalitionCalendar:
    return CoalitionCalendar(zone, time(hour, minute))


# UTC and midnight


def test_the_default_calendar_is_utc_with_a_midnight_cut_off() -> None:
    default = CoalitionCalendar()
    assert (default.time_zone, default.cutoff) == ("UTC", time(0, 0))
    assert default.cutoff_us(date(2026, 11, 23)) == utc_us(2026, 11, 24, 0, 0)


def test_a_midnight_cut_off_ends_the_day_at_the_midnight_after_it() -> None:
    utc = CoalitionCalendar()
    day = date(2026, 11, 23)
    assert utc.business_day_of(utc_us(2026, 11, 23, 0, 0)) == day
    assert utc.business_day_of(utc_us(2026, 11, 24, 0, 0) - 1) == day
    assert utc.business_day_of(utc_us(2026, 11, 24, 0, 0)) == day + timedelta(days=1)
    assert utc.business_day_of(utc_us(2026, 11, 22, 23, 59)) == day - timedelta(days=1)


def test_a_cut_off_during_the_day_ends_that_day_there() -> None:
    utc = calendar("UTC", 17, 30)
    cutoff = utc.cutoff_us(date(2026, 11, 23))
    assert cutoff == utc_us(2026, 11, 23, 17, 30)
    assert utc.business_day_of(cutoff - 1) == date(2026, 11, 23)
    assert utc.business_day_of(cutoff) == date(2026, 11, 24)
    # The morning of the 23rd still belongs to the 23rd: it began at the 22nd's cut-off.
    assert utc.business_day_of(utc_us(2026, 11, 23, 0, 0)) == date(2026, 11, 23)
    assert utc.business_day_of(utc.cutoff_us(date(2026, 11, 22))) == date(2026, 11, 23)


@pytest.mark.parametrize(
    ("zone", "expected_utc"),
    [
        ("America/New_York", (2026, 11, 23, 22, 0)),  # 17:00 EST = UTC-5
        ("Europe/Berlin", (2026, 11, 23, 16, 0)),  # 17:00 CET = UTC+1
        ("Asia/Kathmandu", (2026, 11, 23, 11, 15)),  # 17:00 = UTC+5:45
    ],
)
def test_a_cut_off_is_local_time_in_the_calendars_zone(
    zone: str, expected_utc: tuple[int, ...]
) -> None:
    local = calendar(zone, 17)
    cutoff = local.cutoff_us(date(2026, 11, 23))
    assert cutoff == utc_us(*expected_utc)
    assert local.business_day_of(cutoff - 1) == date(2026, 11, 23)
    assert local.business_day_of(cutoff) == date(2026, 11, 24)


def test_a_midnight_cut_off_in_a_zone_is_local_midnight() -> None:
    new_york = calendar("America/New_York", 0)
    # 2026-11-23 ends at 2026-11-24 00:00 EST, 05:00 UTC.
    assert new_york.cutoff_us(date(2026, 11, 23)) == utc_us(2026, 11, 24, 5, 0)
    # 23:30 local on the 23rd is already the 24th in UTC, still the 23rd in New York.
    assert new_york.business_day_of(utc_us(2026, 11, 24, 4, 30)) == date(2026, 11, 23)


# Spring forward: the cut-off inside the gap and outside it


def test_spring_forward_with_the_cut_off_outside_the_gap_makes_a_23_hour_day() -> None:
    new_york = calendar("America/New_York", 17)  # clocks jump 02:00 -> 03:00 on 2026-03-08
    before, day, after = date(2026, 3, 7), date(2026, 3, 8), date(2026, 3, 9)
    assert new_york.cutoff_us(before) == utc_us(2026, 3, 7, 22, 0)  # 17:00 EST
    assert new_york.cutoff_us(day) == utc_us(2026, 3, 8, 21, 0)  # 17:00 EDT
    assert new_york.cutoff_us(day) - new_york.cutoff_us(before) == 23 * HOUR_US
    assert new_york.cutoff_us(after) - new_york.cutoff_us(day) == 24 * HOUR_US


def test_spring_forward_with_the_cut_off_inside_the_gap_ends_the_day_when_clocks_jump() -> None:
    new_york = calendar("America/New_York", 2, 30)  # 02:30 does not exist on 2026-03-08
    jump = utc_us(2026, 3, 8, 7, 0)  # 02:00 EST becomes 03:00 EDT
    assert new_york.cutoff_us(date(2026, 3, 8)) == jump
    assert new_york.business_day_of(jump - 1) == date(2026, 3, 8)
    assert new_york.business_day_of(jump) == date(2026, 3, 9)
    assert new_york.cutoff_us(date(2026, 3, 7)) == utc_us(2026, 3, 7, 7, 30)  # 02:30 EST
    assert new_york.cutoff_us(date(2026, 3, 9)) == utc_us(2026, 3, 9, 6, 30)  # 02:30 EDT

    berlin = calendar("Europe/Berlin", 2, 15)  # 02:00 CET -> 03:00 CEST on 2026-03-29
    assert berlin.cutoff_us(date(2026, 3, 29)) == utc_us(2026, 3, 29, 1, 0)


def test_a_midnight_cut_off_that_clocks_skip_ends_the_day_at_the_jump() -> None:
    santiago = calendar("America/Santiago", 0)  # 2026-09-06 00:00 -04 becomes 01:00 -03
    assert santiago.cutoff_us(date(2026, 9, 5)) == utc_us(2026, 9, 6, 4, 0)
    assert santiago.business_day_of(utc_us(2026, 9, 6, 4, 0) - 1) == date(2026, 9, 5)
    assert santiago.business_day_of(utc_us(2026, 9, 6, 4, 0)) == date(2026, 9, 6)


def test_a_half_hour_gap_is_handled_like_a_whole_hour_one() -> None:
    lord_howe = calendar("Australia/Lord_Howe", 2, 10)  # 02:00 -> 02:30 on 2026-10-04
    assert lord_howe.cutoff_us(date(2026, 10, 4)) == utc_us(2026, 10, 3, 15, 30)


# Fall back: an ambiguous cut-off


def test_fall_back_with_an_ambiguous_cut_off_ends_the_day_the_first_time() -> None:
    berlin = calendar("Europe/Berlin", 2, 30)  # 03:00 CEST -> 02:00 CET on 2026-10-25
    first, second = utc_us(2026, 10, 25, 0, 30), utc_us(2026, 10, 25, 1, 30)
    assert berlin.cutoff_us(date(2026, 10, 25)) == first  # 02:30 CEST, not 02:30 CET
    assert berlin.business_day_of(first - 1) == date(2026, 10, 25)
    assert berlin.business_day_of(first) == date(2026, 10, 26)
    assert berlin.business_day_of(second) == date(2026, 10, 26)  # 02:30 again: the 26th
    # The 25th keeps 24 hours (00:30 to 00:30 UTC); the 26th gets the extra hour.
    assert berlin.cutoff_us(date(2026, 10, 25)) - berlin.cutoff_us(date(2026, 10, 24)) == (
        24 * HOUR_US
    )
    assert berlin.cutoff_us(date(2026, 10, 26)) - berlin.cutoff_us(date(2026, 10, 25)) == (
        25 * HOUR_US
    )

    new_york = calendar("America/New_York", 1, 30)  # 02:00 EDT -> 01:00 EST on 2026-11-01
    assert new_york.cutoff_us(date(2026, 11, 1)) == utc_us(2026, 11, 1, 5, 30)  # EDT


def test_fall_back_with_the_cut_off_outside_the_overlap_makes_a_25_hour_day() -> None:
    new_york = calendar("America/New_York", 17)
    length = new_york.cutoff_us(date(2026, 11, 1)) - new_york.cutoff_us(date(2026, 10, 31))
    assert length == 25 * HOUR_US


# Parsing a business day


@pytest.mark.parametrize("text", ["2026-11-23", "2024-02-29"])
def test_a_business_day_is_written_yyyy_mm_dd(text: str) -> None:
    assert parse_day(text).isoformat() == text


@pytest.mark.parametrize(
    "text",
    [
        "20261123",
        "2026-11-2",
        "2026-02-30",
        "",
        "2026-W48-1",
    ],
)
def test_anything_else_is_not_a_business_day(text: str) -> None:
    with pytest.raises(ValueError):
        parse_day(text)


# Properties


calendars = st.builds(
    calendar,
    st.sampled_from(ZONES),
    st.integers(min_value=0, max_value=23),
    st.sampled_from([0, 1, 15, 30, 45, 59]),
)
instants = st.integers(min_value=INSTANT_US_MIN, max_value=INSTANT_US_MAX)


@given(calendars, instants)
def test_every_instant_belongs_to_exactly_one_day(
    coalition_calendar: CoalitionCalendar, at_us: int
) -> None:
    """The day whose cut-off is after the instant, and whose previous day's is at or before it."""
    day = coalition_calendar.business_day_of(at_us)
    assert coalition_calendar.cutoff_us(day - timedelta(days=1)) <= at_us
    assert at_us < coalition_calendar.cutoff_us(day)


@given(calendars, instants, instants)
def test_business_day_of_never_goes_back_in_time(
    coalition_calendar: CoalitionCalendar, first_us: int, second_us: int
) -> None:
    earlier, later = sorted((first_us, second_us))
    assert coalition_calendar.business_day_of(earlier) <= coalition_calendar.business_day_of(later)


@given(calendars, st.dates(min_value=date(2020, 1, 1), max_value=date(2039, 12, 31)))
def test_consecutive_cut_offs_are_a_day_apart_give_or_take_a_clock_change(
    coalition_calendar: CoalitionCalendar, day: date
) -> None:
    cutoff_us = coalition_calendar.cutoff_us
    length_us = cutoff_us(day + timedelta(days=1)) - cutoff_us(day)
    # No zone here moves its clocks by more than an hour at once.
    assert 23 * HOUR_US <= length_us <= 25 * HOUR_US
    # The cut-off lies on the day's own local date (the next one for a midnight cut-off).
    local = datetime.fromtimestamp(cutoff_us(day) // MICROSECONDS, coalition_calendar.zone)
    midnight = coalition_calendar.cutoff == time(0, 0)
    assert local.date() == (day + timedelta(days=1) if midnight else day)
