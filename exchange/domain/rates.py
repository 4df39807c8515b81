"""Rate agreements and the exact pricing of one transfer (DESIGN §3.3).

Points are whole numbers and prices exact decimals: destination points round down (the
member never gains from rounding), money rounds half-even to the currency's minor unit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal, InvalidOperation, localcontext

from exchange.domain import limits
from exchange.domain.agreements import AgreementState
from exchange.domain.errors import DomainError, ErrorCode, FieldChecks, invalid

BASIS_POINTS = 10_000
PERCENT = 100
# ISO 4217 minor-unit exponents of the currencies a coalition settles in.
CURRENCY_MINOR_UNITS = {
    "AUD": 2,
    "BHD": 3,
    "CAD": 2,
    "CHF": 2,
    "CNY": 2,
    "EUR": 2,
    "GBP": 2,
    "HKD": 2,
    "INR": 2,
    "JPY": 0,
    "KRW": 0,
    "KWD": 3,
    "MXN": 2,
    "NZD": 2,
    "SEK": 2,
    "SGD": 2,
    "USD": 2,
}
# ASCII digits only: \d would take digits of every script, and Decimal would parse them.
PRICE_PATTERN = re.compile(r"[0-9]{1,12}(\.[0-9]{1,8})?")
# Amounts are stored as signed 64-bit integers; the largest transfer must price below this.
AMOUNT_MINOR_MAX = 2**63 - 1
# Enough digits for 10^12 points x 10^9 units x 10^12 price x 10^3 scale, exactly.
DECIMAL_DIGITS = 60


@dataclass(frozen=True)
class RateTerms:
    source_units: int
    destination_units: int
    minimum_source_points: int
    increment_source_points: int
    maximum_source_points: int
    member_daily_cap_source_points: int
    bonus_percent: int
    bonus_start_us: int | None
    bonus_end_us: int | None
    currency: str
    price_per_destination_point: Decimal
    effective_from_us: int
    effective_to_us: int | None

    def in_force_at(self, at_us: int) -> bool:
        return self.effective_from_us <= at_us and (
            self.effective_to_us is None or at_us < self.effective_to_us
        )

    def bonus_at(self, at_us: int) -> int:
        if self.bonus_start_us is None or self.bonus_end_us is None:
            return 0
        return self.bonus_percent if self.bonus_start_us <= at_us < self.bonus_end_us else 0


@dataclass(frozen=True)
class RateAgreement:
    agreement_id: str
    version: int
    source_partner_id: str
    destination_partner_id: str
    terms: RateTerms
    state: AgreementState
    proposed_by: str
    proposed_at_us: int
    accepted_at_us: int | None = None

    @property
    def parties(self) -> tuple[str, str]:
        return (self.source_partner_id, self.destination_partner_id)

    def has_party(self, partner_id: str) -> bool:
        return partner_id in self.parties


def parse_price(text: str) -> Decimal:
    if not PRICE_PATTERN.fullmatch(text):
        raise invalid("terms.price_per_destination_point", "must be a decimal like 0.0040")
    try:
        return Decimal(text)
    except InvalidOperation:
        raise invalid("terms.price_per_destination_point", "is not a decimal") from None


def check_terms(terms: RateTerms) -> None:
    """Every bad field of proposed terms at once."""
    checks = FieldChecks()
    for name in ("source_units", "destination_units"):
        value = getattr(terms, name)
        checks.require(
            0 < value <= limits.RATE_UNITS_MAX, f"terms.{name}", "must be 1-1,000,000,000"
        )
    checks.require(terms.minimum_source_points > 0, "terms.minimum_source_points", "must be > 0")
    checks.require(
        terms.increment_source_points > 0, "terms.increment_source_points", "must be > 0"
    )
    checks.require(
        terms.minimum_source_points <= terms.maximum_source_points <= limits.TRANSFER_POINTS_MAX,
        "terms.maximum_source_points",
        "must be at least the minimum and at most 10^12",
    )
    checks.require(
        terms.member_daily_cap_source_points >= terms.minimum_source_points,
        "terms.member_daily_cap_source_points",
        "must be at least the minimum",
    )
    _check_bonus(terms, checks)
    _check_price(terms, checks)
    checks.raise_if_any()


def _check_price(terms: RateTerms, checks: FieldChecks) -> None:
    """The currency, the price, and the largest transfer within what points and amounts hold;
    the effective period."""
    checks.require(
        terms.currency in CURRENCY_MINOR_UNITS,
        "terms.settlement_currency_code",
        "must be a supported ISO 4217 code",
    )
    checks.require(
        terms.price_per_destination_point > 0,
        "terms.price_per_destination_point",
        "must be greater than zero",
    )
    checks.require(
        terms.source_units <= 0
        or terms.maximum_source_points * terms.destination_units // terms.source_units
        <= limits.TRANSFER_POINTS_MAX,
        "terms.destination_units",
        "the largest transfer would create more than 10^12 destination points",
    )
    checks.require(
        terms.currency not in CURRENCY_MINOR_UNITS
        or terms.source_units <= 0
        or _largest_amount_minor(terms) <= AMOUNT_MINOR_MAX,
        "terms.price_per_destination_point",
        "prices the largest transfer beyond what an amount can hold (2^63-1 minor units)",
    )
    checks.require(terms.effective_from_us > 0, "terms.effective_from", "is required")
    checks.require(
        terms.effective_to_us is None or terms.effective_to_us > terms.effective_from_us,
        "terms.effective_to",
        "must be after effective_from",
    )


def _largest_amount_minor(terms: RateTerms) -> Decimal:
    with localcontext() as context:
        context.prec = DECIMAL_DIGITS
        base = terms.maximum_source_points * terms.destination_units // terms.source_units
        scale = Decimal(10) ** CURRENCY_MINOR_UNITS[terms.currency]
        return Decimal(base) * terms.price_per_destination_point * scale


def _check_bonus(terms: RateTerms, checks: FieldChecks) -> None:
    checks.require(0 <= terms.bonus_percent <= PERCENT, "terms.bonus_percent", "must be 0-100")
    if terms.bonus_percent == 0:
        return
    window = (terms.bonus_start_us, terms.bonus_end_us)
    checks.require(
        window[0] is not None and window[1] is not None and window[0] < window[1],
        "terms.bonus_end_time",
        "a bonus needs a start and a later end",
    )


def effective_version(versions: list[RateAgreement], at_us: int) -> RateAgreement | None:
    """Of the accepted versions in force at `at_us`, the highest version: deterministic."""
    in_force = [
        v for v in versions if v.state is AgreementState.ACCEPTED and v.terms.in_force_at(at_us)
    ]
    return max(in_force, key=lambda v: v.version) if in_force else None


@dataclass(frozen=True)
class Pricing:
    source_points: int
    destination_points: int
    bonus_points: int
    settlement_amount_minor: int
    fee_minor: int


def check_amount(terms: RateTerms, source_points: int) -> None:
    if source_points < terms.minimum_source_points:
        raise DomainError(
            ErrorCode.BELOW_MINIMUM, f"the minimum is {terms.minimum_source_points} points"
        )
    if source_points > terms.maximum_source_points:
        raise DomainError(
            ErrorCode.ABOVE_MAXIMUM, f"the maximum is {terms.maximum_source_points} points"
        )
    if source_points % terms.increment_source_points:
        raise DomainError(
            ErrorCode.NOT_AN_INCREMENT,
            f"points must be a multiple of {terms.increment_source_points}",
        )


def price(terms: RateTerms, source_points: int, at_us: int, fee_basis_points: int) -> Pricing:
    """Exact pricing of one transfer under `terms` at `at_us`."""
    check_amount(terms, source_points)
    # Round down: a fraction of a destination point is never created for the member.
    base = source_points * terms.destination_units // terms.source_units
    bonus = base * terms.bonus_at(at_us) // PERCENT
    scale = Decimal(10) ** CURRENCY_MINOR_UNITS[terms.currency]
    with localcontext() as context:
        context.prec = DECIMAL_DIGITS  # exact: no intermediate result is ever rounded
        # The source pays for the base points; bonus points are the destination's promotion.
        amount = (Decimal(base) * terms.price_per_destination_point * scale).quantize(
            Decimal(1), rounding=ROUND_HALF_EVEN
        )
        fee = (amount * fee_basis_points / BASIS_POINTS).quantize(Decimal(1), rounding=ROUND_DOWN)
    return Pricing(source_points, base + bonus, bonus, int(amount), int(fee))
