"""Quote, transfer, confirm, reject, timeout and reversal handlers, run on the in-memory fakes."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace

import pytest

from exchange.domain import limits
from exchange.domain.errors import ErrorCode, InvalidArgument
from exchange.domain.events import (
    CreditRequested,
    DebitRequested,
    FeedEvent,
    TransferCompleted,
    TransferVoided,
)
from exchange.domain.ledger import Counters
from exchange.domain.tiers import DAY_US
from exchange.domain.transfers import Transfer, TransferKind, TransferState, VoidReason
from exchange.services import identity, rates, transfers
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

MICROSECONDS_PER_SECOND = 1_000_000
TIMEOUT_S = TRANSFER_SETTINGS.timeout_s


@dataclass(frozen=True)
class Member:
    """One member linked at skyway and harbor: their ppid at each."""

    skyway: str
    harbor: str


@pytest.fixture
def hub() -> Iterator[InMemoryHub]:
    """Skyway → harbor terms agreed; after every test the ledger must check clean."""
    hub = InMemoryHub()
    hub.add_partners(SKYWAY, HARBOR, ORBIT)
    hub.agree_rate(SKYWAY, HARBOR)
    yield hub
    assert hub.ledger_problems() == []


@pytest.fixture
def member(hub: InMemoryHub) -> Member:
    return Member(*hub.linked_member(SKYWAY, HARBOR))


def pending(hub: InMemoryHub, member: Member, points: int = 10_000) -> Transfer:
    quote = hub.quote(SKYWAY, member.skyway, HARBOR, points)
    return hub.start_transfer(SKYWAY, quote.quote_id)


def confirm(hub: InMemoryHub, caller: str, transfer_id: str) -> Transfer:
    return hub.commit(lambda uow: transfers.confirm_credit(uow, hub.clock, caller, transfer_id))


def reject(hub: InMemoryHub, caller: str, transfer_id: str, reason: str = "closed") -> Transfer:
    return hub.commit(
        lambda uow: transfers.reject_credit(uow, hub.clock, caller, transfer_id, reason)
    )


def reverse(hub: InMemoryHub, caller: str, transfer_id: str) -> Transfer:
    return hub.commit(
        lambda uow: transfers.create_reversal(
            uow, hub.clock, TRANSFER_SETTINGS, caller, transfer_id
        )
    )


def completed(hub: InMemoryHub, member: Member, points: int = 10_000) -> Transfer:
    return confirm(hub, HARBOR, pending(hub, member, points).transfer_id)


def accounts(hub: InMemoryHub) -> dict[str, Counters]:
    return hub.read(lambda uow: uow.ledger.accounts())


def transfer_events(hub: InMemoryHub, partner_id: str) -> list[FeedEvent]:
    return [
        event for event in hub.feed(partner_id)
        if isinstance(event, CreditRequested | DebitRequested | TransferCompleted | TransferVoided)
    ]


def transfer_count(hub: InMemoryHub) -> int:
    return len(hub.read(lambda uow: uow.transfers.list_for(SKYWAY, None, (None, None), None, 100)))


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


def quote_refusal(hub: InMemoryHub, caller: str, ppid: str, destination: str) -> ErrorCode:
    request = TransferRequest(
        caller=caller, ppid=ppid, destination_partner_id=destination, source_points=10_000
    )
    return hub.refused(
        lambda uow: transfers.create_quote(uow, hub.clock, TRANSFER_SETTINGS, seal_quote, request)
    ).code


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


# --- confirming, rejecting, timing out -----------------------------------------------------------


def test_confirming_completes_the_transfer_and_posts_the_ledger(
    hub: InMemoryHub, member: Member
) -> None:
    transfer = pending(hub, member)
    hub.clock.advance_s(30)

    done = confirm(hub, HARBOR, transfer.transfer_id)

    assert done.state is TransferState.COMPLETED
    assert done.resolved_at_us == hub.clock.now_us()
    assert hub.transfer(transfer.transfer_id) == done
    assert transfer_events(hub, SKYWAY) == [TransferCompleted(done)]
    assert done.ppid_for(SKYWAY) == member.skyway
    posted = accounts(hub)
    assert posted[f"{SKYWAY}/members/SKYWAY_MILES"] == Counters(debits_posted=10_000)
    assert posted[f"{SKYWAY}/exchanged_out/SKYWAY_MILES"] == Counters(credits_posted=10_000)
    assert posted[f"{HARBOR}/exchanged_in/HARBOR_POINTS"] == Counters(debits_posted=7_500)
    assert posted[f"{HARBOR}/members/HARBOR_POINTS"] == Counters(credits_posted=7_500)
    assert posted[f"{SKYWAY}/settlement/USD"] == Counters(debits_posted=3_007)
    assert posted[f"{HARBOR}/settlement/USD"] == Counters(credits_posted=3_000)
    assert posted["hub/fees/USD"] == Counters(credits_posted=7)


def test_confirming_twice_changes_nothing(hub: InMemoryHub, member: Member) -> None:
    done = completed(hub, member)
    before = accounts(hub)
    hub.clock.advance_s(5)

    again = confirm(hub, HARBOR, done.transfer_id)

    assert again == done
    assert accounts(hub) == before
    assert transfer_events(hub, SKYWAY) == [TransferCompleted(done)]


def resolution_refusals(hub: InMemoryHub, caller: str, transfer_id: str) -> list[ErrorCode]:
    """What confirming and rejecting the transfer as `caller` are refused with."""
    return [
        hub.refused(
            lambda uow: transfers.confirm_credit(uow, hub.clock, caller, transfer_id)
        ).code,
        hub.refused(
            lambda uow: transfers.reject_credit(uow, hub.clock, caller, transfer_id, "no")
        ).code,
    ]


def test_only_the_destination_confirms_or_rejects(hub: InMemoryHub, member: Member) -> None:
    transfer = pending(hub, member)

    refusals = resolution_refusals(hub, SKYWAY, transfer.transfer_id)

    assert refusals == [ErrorCode.NOT_A_PARTY] * 2
    assert hub.transfer(transfer.transfer_id).state is TransferState.PENDING


def test_a_transfer_of_others_is_not_found(hub: InMemoryHub, member: Member) -> None:
    transfer = pending(hub, member)

    for caller, transfer_id in ((ORBIT, transfer.transfer_id), (HARBOR, "tr_missing")):
        refusals = resolution_refusals(hub, caller, transfer_id)
        refusals.append(reversal_refusal(hub, transfer_id, caller))
        assert refusals == [ErrorCode.TRANSFER_NOT_FOUND] * 3
    assert hub.transfer(transfer.transfer_id).state is TransferState.PENDING


def test_rejecting_voids_the_transfer_and_tells_the_source_to_refund(
    hub: InMemoryHub, member: Member
) -> None:
    transfer = pending(hub, member)

    voided = reject(hub, HARBOR, transfer.transfer_id, "account closed")

    assert voided.state is TransferState.VOIDED
    assert (voided.void_reason, voided.reject_reason) == (VoidReason.REJECTED, "account closed")
    assert transfer_events(hub, SKYWAY) == [TransferVoided(voided)]
    assert voided.ppid_for(SKYWAY) == member.skyway
    # The hold is released and nothing is posted.
    assert all(counters == Counters() for counters in accounts(hub).values())
    assert reject(hub, HARBOR, transfer.transfer_id, "again") == voided
    assert transfer_events(hub, SKYWAY) == [TransferVoided(voided)]


def test_a_reject_reason_must_be_short_and_printable(hub: InMemoryHub, member: Member) -> None:
    transfer = pending(hub, member)

    for reason in ("x" * (limits.REJECT_REASON_CHARS_MAX + 1), "line\nbreak"):
        refusal = hub.refused(
            lambda uow, r=reason: transfers.reject_credit(
                uow, hub.clock, HARBOR, transfer.transfer_id, r
            )
        )
        assert isinstance(refusal, InvalidArgument)
    assert hub.transfer(transfer.transfer_id).state is TransferState.PENDING


def test_a_transfer_resolves_once(hub: InMemoryHub, member: Member) -> None:
    done = completed(hub, member)
    voided = reject(hub, HARBOR, pending(hub, member).transfer_id)

    refusals = [
        hub.refused(lambda uow: transfers.reject_credit(
            uow, hub.clock, HARBOR, done.transfer_id, "late"
        )),
        hub.refused(lambda uow: transfers.confirm_credit(
            uow, hub.clock, HARBOR, voided.transfer_id
        )),
    ]

    assert [refusal.code for refusal in refusals] == [ErrorCode.TRANSFER_NOT_PENDING] * 2
    assert hub.transfer(done.transfer_id) == done
    assert hub.transfer(voided.transfer_id) == voided


def test_a_transfer_not_confirmed_in_time_is_voided(hub: InMemoryHub, member: Member) -> None:
    transfer = pending(hub, member)
    hub.clock.advance_s(TIMEOUT_S - 1)
    assert hub.sweep() == 0

    hub.clock.advance_s(1)

    assert hub.sweep() == 1
    voided = hub.transfer(transfer.transfer_id)
    assert (voided.state, voided.void_reason) == (TransferState.VOIDED, VoidReason.TIMED_OUT)
    assert voided.resolved_at_us == hub.clock.now_us()
    assert transfer_events(hub, SKYWAY) == [TransferVoided(voided)]
    assert hub.sweep() == 0
    assert resolution_refusals(hub, HARBOR, transfer.transfer_id) == [
        ErrorCode.TRANSFER_NOT_PENDING
    ] * 2


@pytest.mark.parametrize("answer", ["confirm", "reject"])
def test_a_late_answer_voids_the_transfer_before_the_sweeper_does(
    hub: InMemoryHub, member: Member, answer: str
) -> None:
    transfer = pending(hub, member)
    hub.clock.advance_s(TIMEOUT_S)

    refusal = hub.refused(
        lambda uow: transfers.confirm_credit(uow, hub.clock, HARBOR, transfer.transfer_id)
        if answer == "confirm"
        else transfers.reject_credit(uow, hub.clock, HARBOR, transfer.transfer_id, "late")
    )

    assert refusal.code is ErrorCode.TRANSFER_TIMED_OUT
    voided = hub.transfer(transfer.transfer_id)
    assert (voided.state, voided.void_reason) == (TransferState.VOIDED, VoidReason.TIMED_OUT)
    assert transfer_events(hub, SKYWAY) == [TransferVoided(voided)]
    assert hub.sweep() == 0


def test_the_sweep_leaves_resolved_transfers_alone(hub: InMemoryHub, member: Member) -> None:
    done = completed(hub, member)
    voided = reject(hub, HARBOR, pending(hub, member).transfer_id)
    hub.clock.advance_s(TIMEOUT_S)

    assert hub.sweep() == 0
    assert hub.transfer(done.transfer_id) == done
    assert hub.transfer(voided.transfer_id) == voided


# --- reversals -----------------------------------------------------------------------------------


def test_a_reversal_asks_the_destination_to_debit_and_completes_back(
    hub: InMemoryHub, member: Member
) -> None:
    original = completed(hub, member)

    reversal = reverse(hub, SKYWAY, original.transfer_id)

    assert (reversal.kind, reversal.state) == (TransferKind.REVERSAL, TransferState.PENDING)
    assert reversal.original_transfer_id == original.transfer_id
    assert (reversal.source_points, reversal.destination_points) == (10_000, 7_500)
    assert (reversal.fee_minor, reversal.quote_id) == (0, None)
    assert transfer_events(hub, HARBOR)[-1] == DebitRequested(
        reversal.transfer_id, original.transfer_id, member.harbor, 7_500, reversal.timeout_at_us
    )
    done = confirm(hub, HARBOR, reversal.transfer_id)
    assert done.state is TransferState.COMPLETED
    assert transfer_events(hub, SKYWAY)[-1] == TransferCompleted(done)
    # Points and money are back where they were; the hub keeps its fee.
    net = {
        account: counters.debits_posted - counters.credits_posted
        for account, counters in accounts(hub).items()
    }
    assert net[f"{SKYWAY}/members/SKYWAY_MILES"] == 0
    assert net[f"{HARBOR}/members/HARBOR_POINTS"] == 0
    assert net[f"{HARBOR}/settlement/USD"] == 0
    assert net[f"{SKYWAY}/settlement/USD"] == 7
    assert net["hub/fees/USD"] == -7


def test_only_the_source_may_request_a_reversal(hub: InMemoryHub, member: Member) -> None:
    original = completed(hub, member)
    feed_before = transfer_events(hub, HARBOR)

    # The destination is a party, so it learns why; it could otherwise reverse alone.
    assert reversal_refusal(hub, original.transfer_id, HARBOR) is ErrorCode.NOT_A_PARTY

    assert hub.transfer(original.transfer_id) == original
    assert transfer_events(hub, HARBOR) == feed_before
    assert reverse(hub, SKYWAY, original.transfer_id).state is TransferState.PENDING


def test_a_partner_that_is_neither_party_gets_the_unknown_transfer_answer(
    hub: InMemoryHub, member: Member
) -> None:
    original = completed(hub, member)

    def refusal_of(transfer_id: str) -> tuple[ErrorCode, str, tuple[object, ...]]:
        error = hub.refused(
            lambda uow: transfers.create_reversal(
                uow, hub.clock, TRANSFER_SETTINGS, ORBIT, transfer_id
            )
        )
        return error.code, error.message, error.field_violations

    assert refusal_of(original.transfer_id) == refusal_of("tr_" + "0" * 24)
    assert refusal_of(original.transfer_id)[0] is ErrorCode.TRANSFER_NOT_FOUND


def test_the_destination_confirms_or_rejects_a_reversal_and_the_source_cannot(
    hub: InMemoryHub, member: Member
) -> None:
    first = reverse(hub, SKYWAY, completed(hub, member).transfer_id)

    assert resolution_refusals(hub, SKYWAY, first.transfer_id) == [ErrorCode.NOT_A_PARTY] * 2
    assert reject(hub, HARBOR, first.transfer_id, "points spent").state is TransferState.VOIDED
    second = reverse(hub, SKYWAY, first.original_transfer_id or "")
    assert resolution_refusals(hub, SKYWAY, second.transfer_id) == [ErrorCode.NOT_A_PARTY] * 2
    assert confirm(hub, HARBOR, second.transfer_id).state is TransferState.COMPLETED


def reversal_refusal(hub: InMemoryHub, transfer_id: str, caller: str = SKYWAY) -> ErrorCode:
    return hub.refused(
        lambda uow: transfers.create_reversal(
            uow, hub.clock, TRANSFER_SETTINGS, caller, transfer_id
        )
    ).code


def test_a_transfer_reverses_once(hub: InMemoryHub, member: Member) -> None:
    original = completed(hub, member)
    reversal = reverse(hub, SKYWAY, original.transfer_id)
    assert reversal_refusal(hub, original.transfer_id) is ErrorCode.ALREADY_REVERSED

    confirm(hub, HARBOR, reversal.transfer_id)

    assert reversal_refusal(hub, original.transfer_id) is ErrorCode.ALREADY_REVERSED


def test_a_rejected_reversal_may_be_tried_again(hub: InMemoryHub, member: Member) -> None:
    original = completed(hub, member)
    first = reverse(hub, SKYWAY, original.transfer_id)
    voided = reject(hub, HARBOR, first.transfer_id, "points spent")
    assert transfer_events(hub, SKYWAY)[-1] == TransferVoided(voided)

    second = reverse(hub, SKYWAY, original.transfer_id)

    assert second.transfer_id != first.transfer_id
    assert second.state is TransferState.PENDING


def test_only_a_completed_transfer_reverses(hub: InMemoryHub, member: Member) -> None:
    waiting = pending(hub, member)
    voided = reject(hub, HARBOR, pending(hub, member).transfer_id)
    reversal = reverse(hub, SKYWAY, completed(hub, member).transfer_id)
    done_reversal = confirm(hub, HARBOR, reversal.transfer_id)

    for transfer_id in (waiting.transfer_id, voided.transfer_id, done_reversal.transfer_id):
        assert reversal_refusal(hub, transfer_id) is ErrorCode.TRANSFER_NOT_COMPLETED


def test_an_unconfirmed_reversal_times_out(hub: InMemoryHub, member: Member) -> None:
    original = completed(hub, member)
    reversal = reverse(hub, SKYWAY, original.transfer_id)
    hub.clock.advance_s(TIMEOUT_S)

    assert hub.sweep() == 1

    voided = hub.transfer(reversal.transfer_id)
    assert voided.state is TransferState.VOIDED
    assert transfer_events(hub, SKYWAY)[-1] == TransferVoided(voided)
    assert hub.transfer(original.transfer_id) == original


# --- the member's record -------------------------------------------------------------------------


def test_erasure_scrubs_ppids_from_transfers_and_keeps_amounts(
    hub: InMemoryHub, member: Member
) -> None:
    done = completed(hub, member)
    quote = hub.quote(SKYWAY, member.skyway, HARBOR, 2_000)

    hub.commit(lambda uow: identity.erase_member(uow, hub.clock, SKYWAY, member.skyway))

    scrubbed = hub.transfer(done.transfer_id)
    assert (scrubbed.source_ppid, scrubbed.destination_ppid) == ("", "")
    assert scrubbed.destination_points == done.destination_points
    stored_quote = hub.read(lambda uow: uow.transfers.get_quote(quote.quote_id))
    assert stored_quote is not None and stored_quote.source_ppid == ""


def test_a_member_with_transfers_can_link_again_after_unlinking(
    hub: InMemoryHub, member: Member
) -> None:
    completed(hub, member)
    hub.commit(lambda uow: identity.unlink(uow, hub.clock, SKYWAY, member.skyway, HARBOR))
    orbit_ppid = hub.enroll(ORBIT)

    linked = hub.link((ORBIT, orbit_ppid), (SKYWAY, member.skyway))

    assert linked == [ORBIT, SKYWAY]
