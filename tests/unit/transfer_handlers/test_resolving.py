"""Confirming, rejecting and timing out a pending transfer."""

from __future__ import annotations

import pytest

from exchange.domain import limits
from exchange.domain.errors import ErrorCode, InvalidArgument
from exchange.domain.events import TransferCompleted, TransferVoided
from exchange.domain.ledger import Counters
from exchange.domain.transfers import TransferState, VoidReason
from exchange.services import transfers
from tests.unit.in_memory_hub import HARBOR, ORBIT, SKYWAY, InMemoryHub
from tests.unit.transfer_handlers.support import (
    TIMEOUT_S,
    Member,
    accounts,
    completed,
    confirm,
    pending,
    reject,
    resolution_refusals,
    reversal_refusal,
    transfer_events,
)

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
        hub.refused(
            lambda uow: transfers.reject_credit(uow, hub.clock, HARBOR, done.transfer_id, "late")
        ),
        hub.refused(
            lambda uow: transfers.confirm_credit(uow, hub.clock, HARBOR, voided.transfer_id)
        ),
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
    assert (
        resolution_refusals(hub, HARBOR, transfer.transfer_id)
        == [ErrorCode.TRANSFER_NOT_PENDING] * 2
    )


@pytest.mark.parametrize("answer", ["confirm", "reject"])
def test_a_late_answer_voids_the_transfer_before_the_sweeper_does(
    hub: InMemoryHub, member: Member, answer: str
) -> None:
    transfer = pending(hub, member)
    hub.clock.advance_s(TIMEOUT_S)

    refusal = hub.refused(
        lambda uow: (
            transfers.confirm_credit(uow, hub.clock, HARBOR, transfer.transfer_id)
            if answer == "confirm"
            else transfers.reject_credit(uow, hub.clock, HARBOR, transfer.transfer_id, "late")
        )
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
