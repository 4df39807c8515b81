"""Rate terms and exact pricing (DESIGN §3.3): rounding, bonuses, limits and effective versions."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from exchange.domain import limits
from exchange.domain.agreements import AgreementState
from exchange.domain.errors import DomainError, ErrorCode, InvalidArgument
from exchange.domain.rates import RateAgreement, RateTerms, check_terms, effective_version, price
from tests.unit.in_memory_hub import TERMS, terms

AT_US = TERMS.effective_from_us + 1
FEE_BASIS_POINTS = 25
INT64_MAX = 2**63 - 1


# 1 : 1 terms that accept any whole number of points, so one point prices one point.
ONE_TO_ONE = terms(
    source_units=1, destination_units=1, minimum_source_points=1, increment_source_points=1,
    maximum_source_points=limits.TRANSFER_POINTS_MAX,
    member_daily_cap_source_points=limits.TRANSFER_POINTS_MAX,
)


def one_to_one(**changes: Any) -> RateTerms:
    return replace(ONE_TO_ONE, **changes)


# --- pricing -------------------------------------------------------------------------------------


def test_price_is_exact_and_names_every_amount() -> None:
    # 10,000 source points at 1000 : 750 are 7,500 destination points at 0.0040 USD: 30.00 USD.
    pricing = price(TERMS, 10_000, AT_US, FEE_BASIS_POINTS)

    assert pricing.source_points == 10_000
    assert pricing.destination_points == 7_500
    assert pricing.bonus_points == 0
    assert pricing.settlement_amount_minor == 3_000
    # 0.25 % of 3,000 cents is 7.5 cents: the hub's fee rounds down.
    assert pricing.fee_minor == 7


def test_destination_points_round_down() -> None:
    thirds = terms(source_units=3, destination_units=2)

    # 1,000 * 2 / 3 = 666.67: the member gets 666, never 667.
    assert price(thirds, 1_000, AT_US, 0).destination_points == 666
    assert price(thirds, 2_000, AT_US, 0).destination_points == 1_333


@pytest.mark.parametrize(
    ("currency", "price_text", "points", "amount_minor"),
    [
        # Half-even to cents: 0.5 → 0, 1.5 → 2, 2.5 → 2, 3.5 → 4.
        ("USD", "0.005", 1, 0),
        ("USD", "0.005", 3, 2),
        ("USD", "0.005", 5, 2),
        ("USD", "0.005", 7, 4),
        ("USD", "0.004", 1, 0),
        ("USD", "0.006", 1, 1),
        # Yen have no minor unit: 0.5 yen → 0, 1.5 yen → 2.
        ("JPY", "0.5", 1, 0),
        ("JPY", "0.5", 3, 2),
        ("JPY", "0.4", 10, 4),
        # Kuwaiti dinars have three: 0.0005 KWD is half a fils.
        ("KWD", "0.0005", 1, 0),
        ("KWD", "0.0005", 3, 2),
        ("KWD", "0.0045", 1_000, 4_500),
    ],
)
def test_money_rounds_half_even_to_the_currencys_minor_unit(
    currency: str, price_text: str, points: int, amount_minor: int
) -> None:
    rate = one_to_one(currency=currency, price_per_destination_point=Decimal(price_text))

    assert price(rate, points, AT_US, 0).settlement_amount_minor == amount_minor


@pytest.mark.parametrize(
    ("points", "fee_basis_points", "fee_minor"),
    [(3_999, 25, 9), (4_000, 25, 10), (399, 25, 0), (1_999, 5_000, 999)],
)
def test_the_fee_rounds_down(points: int, fee_basis_points: int, fee_minor: int) -> None:
    # At one cent a point, `points` points cost `points` cents.
    rate = one_to_one(price_per_destination_point=Decimal("0.01"))

    assert price(rate, points, AT_US, fee_basis_points).fee_minor == fee_minor


BONUS_START_US = AT_US + 1_000
BONUS_END_US = AT_US + 2_000


@pytest.mark.parametrize(
    ("at_us", "bonus_points"),
    [
        (BONUS_START_US - 1, 0),
        (BONUS_START_US, 1_125),
        (BONUS_END_US - 1, 1_125),
        (BONUS_END_US, 0),
    ],
)
def test_a_bonus_applies_only_inside_its_window(at_us: int, bonus_points: int) -> None:
    promotion = terms(bonus_percent=15, bonus_start_us=BONUS_START_US, bonus_end_us=BONUS_END_US)

    pricing = price(promotion, 10_000, at_us, FEE_BASIS_POINTS)

    assert pricing.bonus_points == bonus_points
    assert pricing.destination_points == 7_500 + bonus_points
    # The source pays for the base points only: the bonus is the destination's promotion.
    assert pricing.settlement_amount_minor == 3_000


def test_a_bonus_rounds_down() -> None:
    promotion = terms(bonus_percent=15, bonus_start_us=AT_US, bonus_end_us=AT_US + 1)

    # 750 * 15 % = 112.5 bonus points: 112.
    assert price(promotion, 1_000, AT_US, 0).bonus_points == 112


@pytest.mark.parametrize(
    ("points", "code"),
    [
        (999, ErrorCode.BELOW_MINIMUM),
        (0, ErrorCode.BELOW_MINIMUM),
        (100_001, ErrorCode.ABOVE_MAXIMUM),
        (101_000, ErrorCode.ABOVE_MAXIMUM),
        (1_500, ErrorCode.NOT_AN_INCREMENT),
        (99_999, ErrorCode.NOT_AN_INCREMENT),
    ],
)
def test_amounts_outside_the_terms_are_refused(points: int, code: ErrorCode) -> None:
    with pytest.raises(DomainError) as refused:
        price(TERMS, points, AT_US, FEE_BASIS_POINTS)

    assert refused.value.code is code


def test_the_limits_themselves_are_allowed() -> None:
    assert price(TERMS, 1_000, AT_US, 0).destination_points == 750
    assert price(TERMS, 100_000, AT_US, 0).destination_points == 75_000


@pytest.mark.parametrize(
    ("destination_units", "price_text"),
    [
        (10**9, "0.00000001"),  # 10^21 destination points
        (1, "999999999999"),  # 10^26 cents
        (10**9, "999999999999.99999999"),  # more digits than the Decimal context holds
    ],
)
def test_terms_that_check_accepts_price_within_int64(
    destination_units: int, price_text: str
) -> None:
    extreme = one_to_one(
        destination_units=destination_units, price_per_destination_point=Decimal(price_text)
    )
    try:
        check_terms(extreme)
    except InvalidArgument:
        return  # refusing the terms up front is the answer for these

    try:
        pricing = price(extreme, limits.TRANSFER_POINTS_MAX, AT_US, FEE_BASIS_POINTS)
    except DomainError:
        return  # a refusal is a fine answer; an overflow or an INTERNAL is not
    assert pricing.destination_points <= INT64_MAX
    assert pricing.settlement_amount_minor <= INT64_MAX


# --- checking proposed terms ---------------------------------------------------------------------


def test_good_terms_pass() -> None:
    check_terms(TERMS)
    check_terms(terms(bonus_percent=10, bonus_start_us=AT_US, bonus_end_us=AT_US + 1))
    check_terms(terms(effective_to_us=TERMS.effective_from_us + 1))


def test_check_terms_reports_every_bad_field_at_once() -> None:
    bad = RateTerms(
        source_units=0,
        destination_units=limits.RATE_UNITS_MAX + 1,
        minimum_source_points=0,
        increment_source_points=-1,
        maximum_source_points=limits.TRANSFER_POINTS_MAX + 1,
        member_daily_cap_source_points=-1,
        bonus_percent=101,
        bonus_start_us=5,
        bonus_end_us=5,
        currency="XXX",
        price_per_destination_point=Decimal(0),
        effective_from_us=0,
        effective_to_us=0,
    )

    with pytest.raises(InvalidArgument) as refused:
        check_terms(bad)

    assert [violation.field for violation in refused.value.field_violations] == [
        "terms.source_units",
        "terms.destination_units",
        "terms.minimum_source_points",
        "terms.increment_source_points",
        "terms.maximum_source_points",
        "terms.member_daily_cap_source_points",
        "terms.bonus_percent",
        "terms.bonus_end_time",
        "terms.settlement_currency_code",
        "terms.price_per_destination_point",
        "terms.effective_from",
        "terms.effective_to",
    ]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"maximum_source_points": 999}, "terms.maximum_source_points"),
        ({"member_daily_cap_source_points": 999}, "terms.member_daily_cap_source_points"),
        ({"bonus_percent": 5}, "terms.bonus_end_time"),
        ({"bonus_percent": 5, "bonus_start_us": AT_US}, "terms.bonus_end_time"),
        (
            {"bonus_percent": 5, "bonus_start_us": AT_US, "bonus_end_us": AT_US - 1},
            "terms.bonus_end_time",
        ),
        ({"effective_to_us": TERMS.effective_from_us}, "terms.effective_to"),
        ({"price_per_destination_point": Decimal("-0.01")}, "terms.price_per_destination_point"),
    ],
)
def test_each_inconsistent_field_is_named(changes: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidArgument) as refused:
        check_terms(terms(**changes))

    assert [violation.field for violation in refused.value.field_violations] == [field]


# --- which version is in force -------------------------------------------------------------------

T0_US = 1_000_000


def version(
    number: int,
    state: AgreementState = AgreementState.ACCEPTED,
    from_us: int = T0_US,
    to_us: int | None = None,
) -> RateAgreement:
    return RateAgreement(
        "rt_1", number, "skyway", "harbor",
        terms(effective_from_us=from_us, effective_to_us=to_us), state, "skyway", T0_US,
    )


def in_force(versions: list[RateAgreement], at_us: int) -> int | None:
    found = effective_version(versions, at_us)
    return found.version if found is not None else None


def test_the_highest_accepted_version_in_force_applies() -> None:
    versions = [version(1), version(2, from_us=T0_US + 10), version(3, from_us=T0_US + 100)]

    assert in_force(versions, T0_US - 1) is None
    assert in_force(versions, T0_US) == 1
    assert in_force(versions, T0_US + 9) == 1
    assert in_force(versions, T0_US + 10) == 2
    assert in_force(versions, T0_US + 100) == 3


def test_proposals_never_apply() -> None:
    versions = [version(1), version(2, AgreementState.PROPOSED)]

    assert in_force(versions, T0_US) == 1
    assert in_force([version(1, AgreementState.PROPOSED)], T0_US) is None


def test_a_version_stops_applying_at_its_end() -> None:
    versions = [version(1), version(2, to_us=T0_US + 20)]

    assert in_force(versions, T0_US + 19) == 2
    assert in_force(versions, T0_US + 20) == 1
    assert in_force([version(1, to_us=T0_US + 20)], T0_US + 20) is None


def test_the_order_of_versions_does_not_matter() -> None:
    assert in_force([version(3), version(1), version(2)], T0_US) == 3


# --- properties: rounding never creates points ---------------------------------------------------

units = st.integers(min_value=1, max_value=1_000_000)
points = st.integers(min_value=1, max_value=10**9)


@given(source_units=units, destination_units=units, source_points=points)
def test_destination_points_never_exceed_the_exact_ratio(
    source_units: int, destination_units: int, source_points: int
) -> None:
    rate = one_to_one(source_units=source_units, destination_units=destination_units)

    pricing = price(rate, source_points, AT_US, FEE_BASIS_POINTS)

    exact = Fraction(source_points * destination_units, source_units)
    assert pricing.destination_points <= exact
    assert exact - pricing.destination_points < 1  # and it rounds down by less than a point


@given(
    source_units=units,
    destination_units=units,
    source_points=points,
    bonus_percent=st.integers(min_value=1, max_value=100),
)
def test_a_bonus_never_exceeds_its_exact_percent(
    source_units: int, destination_units: int, source_points: int, bonus_percent: int
) -> None:
    rate = one_to_one(
        source_units=source_units, destination_units=destination_units,
        bonus_percent=bonus_percent, bonus_start_us=AT_US, bonus_end_us=AT_US + 1,
    )

    pricing = price(rate, source_points, AT_US, 0)

    exact = Fraction(source_points * destination_units, source_units) * (100 + bonus_percent) / 100
    assert pricing.destination_points <= exact


@st.composite
def round_trip_rates(draw: st.DrawFn) -> tuple[RateTerms, RateTerms]:
    """P → Q and Q → P terms whose rates multiply to at most 1, with any limits."""
    out_source, out_destination, back_source = draw(units), draw(units), draw(units)
    back_destination_max = out_source * back_source // out_destination
    assume(back_destination_max >= 1)
    back_destination = draw(st.integers(min_value=1, max_value=back_destination_max))
    rates = []
    for source_units, destination_units in (
        (out_source, out_destination), (back_source, back_destination)
    ):
        increment = draw(st.integers(min_value=1, max_value=1_000))
        minimum = increment * draw(st.integers(min_value=1, max_value=5))
        rates.append(
            one_to_one(
                source_units=source_units, destination_units=destination_units,
                minimum_source_points=minimum, increment_source_points=increment,
            )
        )
    return rates[0], rates[1]


@given(rates=round_trip_rates(), start_points=points)
def test_a_round_trip_never_gains_points(
    rates: tuple[RateTerms, RateTerms], start_points: int
) -> None:
    out, back = rates
    sent = start_points - start_points % out.increment_source_points
    assume(sent >= out.minimum_source_points)
    received = price(out, sent, AT_US, FEE_BASIS_POINTS).destination_points
    # The member sends back every point the terms allow, keeping any remainder at Q.
    returned = min(received, back.maximum_source_points)
    returned -= returned % back.increment_source_points
    assume(returned >= back.minimum_source_points)

    back_at_source = price(back, returned, AT_US, FEE_BASIS_POINTS).destination_points

    assert start_points - sent + back_at_source <= start_points
