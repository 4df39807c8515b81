"""A fixed clock for tests and fixtures, beside the system clock (exchange.adapters.clock)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from exchange.domain.ports import Clock

# 2023-11-14T22:13:20Z: a fixed, recognisable instant for tests.
FIXED_CLOCK_START_US = 1_700_000_000_000_000
MICROSECONDS_PER_SECOND = 1_000_000


class FixedClock:
    """A clock that moves only when told to."""

    def __init__(self, current_us: int = FIXED_CLOCK_START_US) -> None:
        self.current_us = current_us

    def now_us(self) -> int:
        return self.current_us

    def advance_s(self, seconds: int) -> None:
        assert seconds >= 0, "time does not run backwards"
        self.current_us += seconds * MICROSECONDS_PER_SECOND


if TYPE_CHECKING:
    # mypy proves the fakes satisfy the ports structurally.
    _clock_check: Clock = FixedClock()
