"""Starting a transfer from a quote, and the member's daily cap."""

from __future__ import annotations

from dataclasses import replace

from exchange.domain import limits
from exchange.domain.errors import ErrorCode
from exchange.domain.events import CreditRequested
from exchange.domain.ledger import Counters
from exchange.domain.tiers import DAY_US
from exchange.domain.transfers import TransferKind, TransferState
from exchange.services import identity, transfers
from tests.unit.in_memory_hub import HARBOR, SKYWAY, TRANSFER_SETTINGS, InMemoryHub, terms
from tests.unit.transfer_handlers.support import (
    MICROSECONDS_PER_SECOND,
    TIMEOUT_S,
    Member,
    accounts,
    completed,
    pending,
    quote_refusal,
    reject,
    transfer_count,
    transfer_events,
)

# --- starting a transfer -------------------------------------------------------------------------


def test_a_transfer_starts_pending_and_asks_the_destination_to_credit(
    hub: InMemoryHub, member: Member
) -> None:
    quote = hub.quote(SKYWAY, member.skyway, HARBOR, 10_000)

    transfer = hub.start_transfer(SKYWAY, quote.quote_id)

    assert transfer.state is TransferState.PENDING
    assert transfer.kind is TransferKind.TRANSFER
    assert transfer.quote_id == quote.quote_id
    assert transfer.timeout_at_us == hub.clock.now_us() + TIMEOUT_S * MICROSECONDS_PER_SECOND
    assert hub.transfer(transfer.transfer_id) == transfer
    stored_quote = hub.read(lambda uow: uow.transfers.get_quote(quote.quote_id))
    assert stored_quote is not None and stored_quote.transfer_id == transfer.transfer_id
    # The destination learns its own ppid for the member, never the source's.
    assert transfer_events(hub, HARBOR) == [
        CreditRequested(transfer.transfer_id, member.harbor, 7_500, 0, transfer.timeout_at_us)
    ]
    assert transfer_events(hub, SKYWAY) == []
    held = accounts(hub)
    assert held[f"{SKYWAY}/members/SKYWAY_MILES"] == Counters(debits_pending=10_000)
    assert held[f"{HARBOR}/members/HARBOR_POINTS"] == Counters(credits_pending=7_500)
    assert held["hub/fees/USD"] == Counters(credits_pending=7)


def test_an_expired_quote_is_refused(hub: InMemoryHub, member: Member) -> None:
    quote = hub.quote(SKYWAY, member.skyway, HARBOR, 10_000)
    hub.clock.advance_s(limits.QUOTE_TTL_S)

    refusal = hub.refused(
        lambda uow: transfers.create_transfer(
            uow, hub.clock, TRANSFER_SETTINGS, SKYWAY, quote.quote_id
        )
    )

    assert refusal.code is ErrorCode.QUOTE_EXPIRED
    assert transfer_count(hub) == 0
    assert transfer_events(hub, HARBOR) == []


def test_a_quote_starts_one_transfer_only(hub: InMemoryHub, member: Member) -> None:
    quote = hub.quote(SKYWAY, member.skyway, HARBOR, 10_000)
    first = hub.start_transfer(SKYWAY, quote.quote_id)

    refusal = hub.refused(
        lambda uow: transfers.create_transfer(
            uow, hub.clock, TRANSFER_SETTINGS, SKYWAY, quote.quote_id
        )
    )

    assert refusal.code is ErrorCode.QUOTE_ALREADY_USED
    assert transfer_count(hub) == 1
    assert len(transfer_events(hub, HARBOR)) == 1
    assert hub.read(lambda uow: uow.transfers.get_quote(quote.quote_id)) == replace(
        quote, transfer_id=first.transfer_id
    )


def test_unlinking_after_the_quote_stops_the_transfer(hub: InMemoryHub, member: Member) -> None:
    quote = hub.quote(SKYWAY, member.skyway, HARBOR, 10_000)
    hub.commit(lambda uow: identity.unlink(uow, hub.clock, SKYWAY, member.skyway, HARBOR))

    refusal = hub.refused(
        lambda uow: transfers.create_transfer(
            uow, hub.clock, TRANSFER_SETTINGS, SKYWAY, quote.quote_id
        )
    )

    assert refusal.code is ErrorCode.NOT_LINKED
    assert transfer_count(hub) == 0


def test_the_quotes_terms_hold_after_a_new_version_is_accepted(
    hub: InMemoryHub, member: Member
) -> None:
    quote = hub.quote(SKYWAY, member.skyway, HARBOR, 10_000)
    second = hub.agree_rate(SKYWAY, HARBOR, terms(destination_units=500))

    transfer = hub.start_transfer(SKYWAY, quote.quote_id)

    assert (transfer.agreement_version, transfer.destination_points) == (1, 7_500)
    assert transfer.settlement_amount_minor == 3_000
    assert second.version == 2
    assert hub.quote(SKYWAY, member.skyway, HARBOR, 10_000).destination_points == 5_000


# --- the daily cap -------------------------------------------------------------------------------


def test_the_daily_cap_counts_what_the_member_moved_today(hub: InMemoryHub, member: Member) -> None:
    hub.agree_rate(SKYWAY, HARBOR, terms(member_daily_cap_source_points=25_000))
    completed(hub, member, 10_000)
    pending(hub, member, 10_000)

    assert quote_refusal(hub, SKYWAY, member.skyway, HARBOR) is ErrorCode.DAILY_CAP_EXCEEDED
    assert hub.quote(SKYWAY, member.skyway, HARBOR, 5_000).source_points == 5_000


def test_voided_transfers_free_the_daily_cap(hub: InMemoryHub, member: Member) -> None:
    hub.agree_rate(SKYWAY, HARBOR, terms(member_daily_cap_source_points=10_000))
    reject(hub, HARBOR, pending(hub, member).transfer_id)

    assert pending(hub, member).state is TransferState.PENDING


def test_the_daily_cap_is_checked_again_when_the_transfer_starts(
    hub: InMemoryHub, member: Member
) -> None:
    hub.agree_rate(SKYWAY, HARBOR, terms(member_daily_cap_source_points=15_000))
    first = hub.quote(SKYWAY, member.skyway, HARBOR, 10_000)
    second = hub.quote(SKYWAY, member.skyway, HARBOR, 10_000)
    hub.start_transfer(SKYWAY, first.quote_id)

    refusal = hub.refused(
        lambda uow: transfers.create_transfer(
            uow, hub.clock, TRANSFER_SETTINGS, SKYWAY, second.quote_id
        )
    )

    assert refusal.code is ErrorCode.DAILY_CAP_EXCEEDED
    assert transfer_count(hub) == 1


def test_the_daily_cap_starts_again_the_next_day(hub: InMemoryHub, member: Member) -> None:
    hub.agree_rate(SKYWAY, HARBOR, terms(member_daily_cap_source_points=10_000))
    completed(hub, member)
    assert quote_refusal(hub, SKYWAY, member.skyway, HARBOR) is ErrorCode.DAILY_CAP_EXCEEDED

    hub.clock.advance_s(DAY_US // MICROSECONDS_PER_SECOND)

    assert pending(hub, member).state is TransferState.PENDING
