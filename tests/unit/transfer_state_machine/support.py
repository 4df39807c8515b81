"""Terms, strategies and the expected state of one transfer, shared by the state machine."""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import strategies as st

from exchange.domain.errors import ErrorCode
from exchange.domain.rates import RateTerms
from exchange.domain.tiers import DAY_US
from exchange.domain.transfers import Transfer, TransferState
from tests.unit.in_memory_hub import (
    HARBOR,
    SKYWAY,
    TERMS,
    terms,
)

MICROSECONDS_PER_SECOND = 1_000_000
START_POINTS = {SKYWAY: 5_000_000, HARBOR: 2_000_000}
LIMIT_REFUSALS = {ErrorCode.BELOW_MINIMUM, ErrorCode.ABOVE_MAXIMUM, ErrorCode.NOT_AN_INCREMENT}
OTHER = {SKYWAY: HARBOR, HARBOR: SKYWAY}
sources = st.sampled_from([SKYWAY, HARBOR])
# How many increments a quote asks for: sometimes under the minimum or over the maximum.
steps = st.integers(min_value=1, max_value=31)
# Now and then one point more than a whole number of increments.
off_increment = st.sampled_from([0, 0, 0, 1])


@st.composite
def coalition_terms(draw: st.DrawFn) -> dict[str, RateTerms]:
    """Skyway → harbor and harbor → skyway terms whose rates multiply to at most 1."""
    units = st.integers(min_value=1, max_value=2_000)
    out_source, out_destination, back_source = draw(units), draw(units), draw(units)
    # Enough back source units that one back destination unit keeps the product at most 1.
    back_source = max(back_source, -(-out_destination // out_source))
    back_destination_max = out_source * back_source // out_destination
    back_destination = draw(st.integers(min_value=1, max_value=back_destination_max))
    assert out_destination * back_destination <= out_source * back_source
    by_source = {}
    for source, (source_units, destination_units) in (
        (SKYWAY, (out_source, out_destination)),
        (HARBOR, (back_source, back_destination)),
    ):
        increment = draw(st.sampled_from([1, 7, 100, 1_000]))
        daily_cap_increments = draw(st.integers(min_value=20, max_value=90))
        bonus_percent = draw(st.sampled_from([0, 0, 10, 33]))
        by_source[source] = terms(
            source_units=source_units,
            destination_units=destination_units,
            minimum_source_points=increment * draw(st.integers(min_value=1, max_value=3)),
            increment_source_points=increment,
            maximum_source_points=increment * 30,
            member_daily_cap_source_points=increment * daily_cap_increments,
            bonus_percent=bonus_percent,
            # A promotion that ends a few hours into the run, so both sides of it are seen.
            bonus_start_us=TERMS.effective_from_us if bonus_percent else None,
            bonus_end_us=TERMS.effective_from_us + DAY_US + 3 * 3600 * MICROSECONDS_PER_SECOND
            if bonus_percent
            else None,
        )
    return by_source


@dataclass
class Expected:
    """What the test believes about one transfer."""

    transfer: Transfer
    state: TransferState = TransferState.PENDING
