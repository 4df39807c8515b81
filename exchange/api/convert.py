"""Conversions between domain values and coalition.v1 messages."""

from __future__ import annotations

from decimal import Decimal

from google.protobuf.timestamp_pb2 import Timestamp

from coalition.v1 import common_pb2, exchange_pb2, partner_pb2
from exchange.domain.errors import FieldChecks, FieldViolation, InvalidArgument
from exchange.domain.partners import KeyState, PartnerKey, PartnerKind
from exchange.domain.rates import RateTerms, check_terms, parse_price
from exchange.services.partners import DirectoryEntry

KIND_TO_MESSAGE: dict[PartnerKind, common_pb2.PartnerKind] = {
    PartnerKind.AIRLINE: common_pb2.PARTNER_KIND_AIRLINE,
    PartnerKind.HOTEL: common_pb2.PARTNER_KIND_HOTEL,
    PartnerKind.CARD_ISSUER: common_pb2.PARTNER_KIND_CARD_ISSUER,
    PartnerKind.RETAILER: common_pb2.PARTNER_KIND_RETAILER,
    PartnerKind.OTHER: common_pb2.PARTNER_KIND_OTHER,
}
KEY_STATE_TO_MESSAGE: dict[KeyState, common_pb2.KeyState] = {
    KeyState.ACTIVE: common_pb2.KEY_STATE_ACTIVE,
    KeyState.REVOKED: common_pb2.KEY_STATE_REVOKED,
}


def timestamp(at_us: int) -> Timestamp:
    seconds, micros = divmod(at_us, 1_000_000)
    return Timestamp(seconds=seconds, nanos=micros * 1000)


def public_key(key: PartnerKey) -> common_pb2.PublicKey:
    message = common_pb2.PublicKey(
        key_id=key.key_id,
        algorithm=common_pb2.KEY_ALGORITHM_ED25519,
        public_key=key.public_key,
        state=KEY_STATE_TO_MESSAGE[key.state],
        create_time=timestamp(key.created_at_us),
    )
    if key.revoked_at_us is not None:
        message.revoke_time.CopyFrom(timestamp(key.revoked_at_us))
    return message


def partner(entry: DirectoryEntry) -> partner_pb2.Partner:
    return partner_pb2.Partner(
        partner_id=entry.partner.partner_id,
        display_name=entry.partner.display_name,
        kind=KIND_TO_MESSAGE[entry.partner.kind],
        program_code=entry.partner.program_code,
        active_keys=[public_key(key) for key in entry.active_keys],
    )


TIMESTAMP_SECONDS_MAX = 253_402_300_799  # 9999-12-31T23:59:59Z


TIMESTAMP_RULE = "must be a valid time between 1970 and 9999"


def valid_timestamp(value: Timestamp) -> bool:
    # google.protobuf.Timestamp's own range ends with the year 9999; past it, microseconds
    # would not fit the int64 columns they are stored in.
    return 0 < value.seconds <= TIMESTAMP_SECONDS_MAX and 0 <= value.nanos < 1_000_000_000


def timestamp_us(value: Timestamp, field: str) -> int:
    """Microseconds from a request Timestamp; an unset or out-of-range one is bad input."""
    checks = FieldChecks()
    checks.require(valid_timestamp(value), field, TIMESTAMP_RULE)
    checks.raise_if_any()
    return value.seconds * 1_000_000 + value.nanos // 1000


# Stands in for a bad price while the other terms are checked, so that every bad field of
# the terms is named at once; the terms are never used.
_PLACEHOLDER_PRICE = Decimal(1)


def terms_from_message(terms: exchange_pb2.RateTerms) -> RateTerms:
    """The domain terms of a request, checked: every bad field of them refused at once."""
    checks = FieldChecks()

    def time_us(field: str, required: bool = False) -> int | None:
        if not terms.HasField(field):
            checks.require(not required, f"terms.{field}", "is required")
            return None
        value = getattr(terms, field)
        checks.require(valid_timestamp(value), f"terms.{field}", TIMESTAMP_RULE)
        return value.seconds * 1_000_000 + value.nanos // 1000 if valid_timestamp(value) else None

    try:
        price = parse_price(terms.price_per_destination_point)
    except InvalidArgument as refusal:
        checks.violations.extend(refusal.field_violations)
        price = _PLACEHOLDER_PRICE
    effective_from = time_us("effective_from", required=True)
    domain = RateTerms(
        terms.source_units,
        terms.destination_units,
        terms.minimum_source_points,
        terms.increment_source_points,
        terms.maximum_source_points,
        terms.member_daily_cap_source_points,
        terms.bonus_percent,
        time_us("bonus_start_time"),
        time_us("bonus_end_time"),
        terms.settlement_currency_code,
        price,
        effective_from or 1,
        time_us("effective_to"),
    )
    _merge(checks, domain)
    checks.raise_if_any()
    return domain


def _merge(checks: FieldChecks, terms: RateTerms) -> None:
    """The domain's own rules on the terms, each field named once."""
    try:
        check_terms(terms)
    except InvalidArgument as refusal:
        named = {violation.field for violation in checks.violations}
        extra: list[FieldViolation] = []
        for violation in refusal.field_violations:
            if violation.field not in named:
                named.add(violation.field)
                extra.append(violation)
        checks.violations.extend(extra)
