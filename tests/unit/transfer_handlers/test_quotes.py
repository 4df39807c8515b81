"""Quotes: pricing, bonuses, the terms' bounds, links and agreements, and whose quote it is."""

from __future__ import annotations

from exchange.domain import limits
from exchange.domain.errors import ErrorCode
from exchange.domain.events import CreditRequested
from exchange.domain.tiers import DAY_US
from exchange.services import rates, transfers
from exchange.services.transfer_engine import TransferRequest
from tests.unit.in_memory_hub import (
    HARBOR,
    ORBIT,
    SKYWAY,
    TRANSFER_SETTINGS,
    InMemoryHub,
    seal_quote,
    terms,
)
from tests.unit.transfer_handlers.support import (
    MICROSECONDS_PER_SECOND,
    Member,
    pending,
    quote_refusal,
    transfer_count,
    transfer_events,
)

# --- quotes --------------------------------------------------------------------------------------


def test_a_quote_prices_the_transfer_and_expires(hub: InMemoryHub, member: Member) -> None:
    quote = hub.quote(SKYWAY, member.skyway, HARBOR, 10_000)

    assert (quote.source_points, quote.destination_points, quote.bonus_points) == (10_000, 7_500, 0)
    assert (quote.currency, quote.settlement_amount_minor, quote.fee_minor) == ("USD", 3_000, 7)
    assert (quote.source_ppid, quote.destination_ppid) == (member.skyway, member.harbor)
    assert quote.expires_at_us == hub.clock.now_us() + limits.QUOTE_TTL_S * MICROSECONDS_PER_SECOND
    assert quote.payload and quote.signature
    assert quote.transfer_id is None
    assert hub.read(lambda uow: transfers.get_quote(uow, SKYWAY, quote.quote_id)) == quote


def test_a_quote_carries_a_promotional_bonus(hub: InMemoryHub, member: Member) -> None:
    now_us = hub.clock.now_us()
    promotion = terms(bonus_percent=20, bonus_start_us=now_us, bonus_end_us=now_us + DAY_US)
    hub.agree_rate(SKYWAY, HARBOR, promotion)

    transfer = pending(hub, member)

    assert (transfer.destination_points, transfer.bonus_points) == (9_000, 1_500)
    assert transfer.settlement_amount_minor == 3_000
    assert transfer_events(hub, HARBOR) == [
        CreditRequested(transfer.transfer_id, member.harbor, 9_000, 1_500, transfer.timeout_at_us)
    ]


def test_a_quote_for_an_amount_outside_the_terms_is_refused(
    hub: InMemoryHub, member: Member
) -> None:
    for points, code in (
        (500, ErrorCode.BELOW_MINIMUM),
        (1_500, ErrorCode.NOT_AN_INCREMENT),
        (101_000, ErrorCode.ABOVE_MAXIMUM),
    ):
        request = TransferRequest(
            caller=SKYWAY, ppid=member.skyway, destination_partner_id=HARBOR, source_points=points
        )
        refusal = hub.refused(
            lambda uow, r=request: transfers.create_quote(
                uow, hub.clock, TRANSFER_SETTINGS, seal_quote, r
            )
        )
        assert refusal.code is code


def test_a_quote_needs_the_member_linked_at_the_destination(hub: InMemoryHub) -> None:
    alone = hub.enroll(SKYWAY)

    assert quote_refusal(hub, SKYWAY, alone, HARBOR) is ErrorCode.NOT_LINKED


def test_points_cannot_move_into_their_own_program(hub: InMemoryHub, member: Member) -> None:
    assert quote_refusal(hub, SKYWAY, member.skyway, SKYWAY) is ErrorCode.SAME_PROGRAM


def test_a_quote_needs_an_accepted_agreement_in_that_direction(
    hub: InMemoryHub, member: Member
) -> None:
    # Directions are independent: skyway → harbor terms say nothing about harbor → skyway.
    assert quote_refusal(hub, HARBOR, member.harbor, SKYWAY) is ErrorCode.NO_RATE_AGREEMENT
    orbit_ppid = hub.enroll(ORBIT)
    hub.link((SKYWAY, member.skyway), (ORBIT, orbit_ppid))
    hub.commit(
        lambda uow: rates.propose_rate_agreement(uow, hub.clock, SKYWAY, SKYWAY, ORBIT, terms())
    )

    # A proposal the counterparty has not accepted prices nothing.
    assert quote_refusal(hub, SKYWAY, member.skyway, ORBIT) is ErrorCode.NO_RATE_AGREEMENT


def test_a_quote_for_another_partners_ppid_is_refused(hub: InMemoryHub, member: Member) -> None:
    assert quote_refusal(hub, SKYWAY, member.harbor, HARBOR) is ErrorCode.MEMBER_NOT_FOUND


def test_another_partners_quote_is_not_found(hub: InMemoryHub, member: Member) -> None:
    quote = hub.quote(SKYWAY, member.skyway, HARBOR, 10_000)

    for caller, quote_id in ((HARBOR, quote.quote_id), (ORBIT, quote.quote_id), (SKYWAY, "qt_x")):
        refusal = hub.refused(
            lambda uow, c=caller, q=quote_id: transfers.create_transfer(
                uow, hub.clock, TRANSFER_SETTINGS, c, q
            )
        )
        assert refusal.code is ErrorCode.QUOTE_NOT_FOUND
    assert transfer_count(hub) == 0
