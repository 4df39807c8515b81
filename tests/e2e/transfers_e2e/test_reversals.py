"""Reversals: both balances restored, one the member cannot cover, one confirmed too late."""

from __future__ import annotations

from exchange.adapters.memory import FixedClock
from partners.programs.program import LoyaltyProgram
from partners.programs.transfer_store import OutgoingKind, OutgoingState
from tests.e2e.transfers_e2e.support import (
    AMOUNT_MINOR,
    COMPLETED,
    FEE_MINOR,
    MILES,
    OPENING,
    REVERSAL,
    TIMEOUT_S,
    VOIDED,
    assert_balances_follow_the_hub,
    hub_transfer,
    ledger_accounts,
    local_state,
)
from tests.support.coalition import TestCoalition
from tests.support.programs import ClockedCoalition
from tests.support.transfers import linked_member, sync_all

# Reversals


def test_a_reversal_restores_both_balances_and_reverses_the_settlement_leg(
    coalition: TestCoalition, programs: dict[str, LoyaltyProgram]
) -> None:
    skyway, harbor = programs["skyway"], programs["harbor"]
    member = linked_member(programs, "1", OPENING)
    sent = skyway.transfer_out(member.at(skyway), "harbor", MILES)
    sync_all(programs)
    assert sent.transfer_id is not None

    reversal = skyway.request_reversal(sent.transfer_id)
    assert (reversal.kind, reversal.state) == (OutgoingKind.REVERSAL, OutgoingState.STARTED)
    sync_all(programs)  # harbor debits and confirms; skyway gives the miles back

    original, reversed_ = (
        hub_transfer(skyway, sent.transfer_id),
        hub_transfer(skyway, reversal.transfer_id),
    )
    assert (original.state, reversed_.state, reversed_.kind) == (COMPLETED, COMPLETED, REVERSAL)
    assert reversed_.original_transfer_id == sent.transfer_id
    assert (skyway.balance(member.at(skyway)), harbor.balance(member.at(harbor))) == (10_000, 0)
    accounts = ledger_accounts(coalition.hub.engine)
    # (debits posted, credits posted, debits pending, credits pending)
    assert accounts["skyway/settlement/USD"] == (AMOUNT_MINOR + FEE_MINOR, AMOUNT_MINOR, 0, 0)
    assert accounts["harbor/settlement/USD"] == (AMOUNT_MINOR, AMOUNT_MINOR, 0, 0)
    assert accounts["hub/fees/USD"] == (0, FEE_MINOR, 0, 0)
    assert_balances_follow_the_hub(programs, member)


def test_a_reversal_the_member_cannot_cover_is_rejected_and_returns_nothing(
    coalition: TestCoalition, programs: dict[str, LoyaltyProgram]
) -> None:
    skyway, harbor = programs["skyway"], programs["harbor"]
    member = linked_member(programs, "1", OPENING)
    sent = skyway.transfer_out(member.at(skyway), "harbor", MILES)
    sync_all(programs)
    with harbor.store.transaction() as transaction:  # she spent some of the hotel points
        assert transaction.debit(member.at(harbor), 1_000)
    opening = {**OPENING, "harbor": -1_000}

    reversal = skyway.request_reversal(sent.transfer_id or "")
    sync_all(programs)

    reversed_ = hub_transfer(skyway, reversal.transfer_id)
    assert (reversed_.state, reversed_.reject_reason) == (VOIDED, "insufficient points")
    assert local_state(skyway, reversed_.transfer_id) is OutgoingState.VOIDED
    assert (skyway.balance(member.at(skyway)), harbor.balance(member.at(harbor))) == (6_000, 2_000)
    assert_balances_follow_the_hub(programs, member, opening)


def test_a_reversal_the_destination_confirms_too_late_is_voided_and_undone(
    clocked: ClockedCoalition, clocked_programs: dict[str, LoyaltyProgram], clock: FixedClock
) -> None:
    skyway, harbor = clocked_programs["skyway"], clocked_programs["harbor"]
    member = linked_member(clocked_programs, "1", OPENING)
    sent = skyway.transfer_out(member.at(skyway), "harbor", MILES)
    sync_all(clocked_programs)
    reversal = skyway.request_reversal(sent.transfer_id or "")  # harbor goes offline

    clock.advance_s(TIMEOUT_S + 1)
    clocked.hub.void_timed_out_transfers()
    skyway.sync_feed()
    harbor.sync_feed()  # debits, is told it is too late, gives the points back

    assert hub_transfer(skyway, reversal.transfer_id).state == VOIDED
    assert local_state(skyway, reversal.transfer_id) is OutgoingState.VOIDED
    assert (skyway.balance(member.at(skyway)), harbor.balance(member.at(harbor))) == (6_000, 3_000)
    assert_balances_follow_the_hub(clocked_programs, member)
