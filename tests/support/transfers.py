"""Transfer helpers for tests: rate terms, agreements both sides sign, linked members, and
transfer events signed the way the hub signs them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from coalition import wire
from coalition.keys import SigningKey
from coalition.v1 import event_pb2, exchange_pb2
from partners.programs.program import LoyaltyProgram
from partners.sdk import rate_terms
from partners.sdk.events import EVENT_SIGNING_KIND, EVENT_TYPE_BY_BODY

# 1000 source points become 750 destination points, moved in thousands.
SOURCE_UNITS, DESTINATION_UNITS = 1_000, 750
MINIMUM_POINTS = 2_000
INCREMENT_POINTS = 1_000
MAXIMUM_POINTS = 50_000
DAILY_CAP_POINTS = 20_000
PRICE = Decimal("0.0040")
CURRENCY = "USD"
# Agreements take effect a little in the past, so a hub clock that equals "now" is inside.
EFFECTIVE_LEAD = timedelta(minutes=5)

TransferBody = (
    event_pb2.CreditRequested
    | event_pb2.DebitRequested
    | event_pb2.TransferCompleted
    | event_pb2.TransferVoided
)
BODY_FIELDS = {
    event_pb2.CreditRequested: "credit_requested",
    event_pb2.DebitRequested: "debit_requested",
    event_pb2.TransferCompleted: "transfer_completed",
    event_pb2.TransferVoided: "transfer_voided",
}
CREATED = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)


def terms(
    effective_from: datetime,
    *,
    ratio: tuple[int, int] = (SOURCE_UNITS, DESTINATION_UNITS),
    minimum: int = MINIMUM_POINTS,
    increment: int = INCREMENT_POINTS,
    maximum: int = MAXIMUM_POINTS,
    daily_cap: int = DAILY_CAP_POINTS,
    bonus_percent: int = 0,
    bonus_window: tuple[datetime, datetime] | None = None,
) -> exchange_pb2.RateTerms:
    return rate_terms(
        ratio=ratio,
        minimum_source_points=minimum,
        increment_source_points=increment,
        maximum_source_points=maximum,
        member_daily_cap_source_points=daily_cap,
        settlement_currency_code=CURRENCY,
        price_per_destination_point=PRICE,
        effective_from=effective_from - EFFECTIVE_LEAD,
        bonus_percent=bonus_percent,
        bonus_window=bonus_window,
    )


def agree(
    source: LoyaltyProgram, destination: LoyaltyProgram, rate: exchange_pb2.RateTerms
) -> exchange_pb2.RateAgreement:
    """The source proposes `rate`, the destination accepts that exact version."""
    proposed = source.exchange.propose_rate_agreement(
        source.partner_id, destination.partner_id, rate
    )
    return destination.exchange.accept_rate_agreement(proposed.agreement_id, proposed.version)


@dataclass(frozen=True)
class Member:
    """One person's member numbers at each brand, linked through the hub."""

    numbers: dict[str, str]

    def at(self, program: LoyaltyProgram) -> str:
        return self.numbers[program.partner_id]


def linked_member(
    programs: dict[str, LoyaltyProgram], suffix: str, points: dict[str, int]
) -> Member:
    """Enrols a member at every brand with `points` (default 0) and links them all."""
    numbers = {partner_id: f"{partner_id.upper()}-{suffix}" for partner_id in programs}
    for partner_id, program in programs.items():
        program.enrol(numbers[partner_id], points=points.get(partner_id, 0))
    first, *others = programs.values()
    for program in others:
        program.redeem_link_code(
            numbers[program.partner_id], first.link_code(numbers[first.partner_id])
        )
    return Member(numbers)


def sync_all(programs: dict[str, LoyaltyProgram], rounds: int = 3) -> None:
    """Each program applies its feed and answers, a few times over, so every answer's
    consequence (a completion, a refund) has landed too."""
    for _ in range(rounds):
        for program in programs.values():
            program.sync_feed()


def signed_transfer_event(
    hub_key: SigningKey, sequence: int, body: TransferBody, partner_id: str
) -> event_pb2.Event:
    """A transfer event exactly as the hub would deliver it."""
    event_id = f"event-{sequence}"
    payload = event_pb2.EventPayload(
        event_id=event_id, sequence=sequence, partner_id=partner_id, create_time=CREATED
    )
    field = BODY_FIELDS[type(body)]
    getattr(payload, field).CopyFrom(body)
    payload_bytes = payload.SerializeToString(deterministic=True)
    return event_pb2.Event(
        event_id=event_id,
        sequence=sequence,
        type=EVENT_TYPE_BY_BODY[field],
        create_time=CREATED,
        payload=payload_bytes,
        signing_key_id=hub_key.key_id,
        signature=hub_key.sign(
            wire.payload_signing_bytes(kind=EVENT_SIGNING_KIND, payload=payload_bytes)
        ),
    )
