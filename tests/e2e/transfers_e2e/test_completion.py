"""A transfer completes: the points move once, the source gets a signed receipt, redelivery and a
second confirmation change nothing, a feed stream confirms as credits arrive."""

from __future__ import annotations

from datetime import UTC, datetime

from partners.programs.program import LoyaltyProgram
from partners.programs.transfer_store import OutboxOutcome, OutgoingState
from partners.sdk import verify_event, verify_receipt
from tests.e2e.transfers_e2e.support import (
    AMOUNT_MINOR,
    COMPLETED,
    FEE_MINOR,
    HOTEL_POINTS,
    MILES,
    OPENING,
    TRANSFER,
    assert_balances_follow_the_hub,
    hub_transfer,
    local_state,
    ppid_at,
)
from tests.support.coalition import TestCoalition
from tests.support.programs import feed_thread, wait_until
from tests.support.transfers import agree, linked_member, sync_all, terms

# Completion


def test_a_transfer_completes_and_moves_the_points_exactly_once(
    coalition: TestCoalition, programs: dict[str, LoyaltyProgram]
) -> None:
    skyway, harbor = programs["skyway"], programs["harbor"]
    member = linked_member(programs, "1", OPENING)

    sent = skyway.transfer_out(member.at(skyway), "harbor", MILES)
    assert (sent.state, skyway.balance(member.at(skyway))) == (OutgoingState.STARTED, 6_000)
    assert harbor.sync_feed() == 1  # CreditRequested: credit, then ConfirmCredit
    assert skyway.sync_feed() == 1  # TransferCompleted

    transfer = hub_transfer(skyway, sent.transfer_id)
    assert (transfer.state, transfer.source_points, transfer.destination_points) == (
        COMPLETED,
        MILES,
        HOTEL_POINTS,
    )
    assert (transfer.settlement_amount.amount_minor, transfer.fee.amount_minor) == (
        AMOUNT_MINOR,
        FEE_MINOR,
    )
    assert local_state(skyway, transfer.transfer_id) is OutgoingState.COMPLETED
    assert (skyway.balance(member.at(skyway)), harbor.balance(member.at(harbor))) == (6_000, 3_000)
    [answer] = harbor.outbox()
    assert (answer.points_delta, answer.outcome) == (HOTEL_POINTS, OutboxOutcome.ACCEPTED)
    assert_balances_follow_the_hub(programs, member)


def test_the_source_gets_a_hub_signed_receipt_of_what_completed(
    coalition: TestCoalition, programs: dict[str, LoyaltyProgram]
) -> None:
    skyway = programs["skyway"]
    member = linked_member(programs, "1", OPENING)
    sent = skyway.transfer_out(member.at(skyway), "harbor", MILES)
    sync_all(programs)

    [event] = skyway.events.list_events(after_sequence=0).events
    completed = verify_event(event, coalition.hub_public_keys, "skyway").transfer_completed
    receipt = verify_receipt(completed.receipt, coalition.hub_public_keys)

    assert (completed.transfer_id, completed.kind, completed.points) == (
        sent.transfer_id,
        TRANSFER,
        0,
    )
    assert completed.ppid == ppid_at(skyway, member)
    assert (receipt.transfer_id, receipt.source_points, receipt.destination_points) == (
        sent.transfer_id,
        MILES,
        HOTEL_POINTS,
    )
    assert receipt.settlement_amount.amount_minor == AMOUNT_MINOR


def test_redelivered_events_and_a_second_confirmation_change_nothing(
    coalition: TestCoalition, programs: dict[str, LoyaltyProgram]
) -> None:
    skyway, harbor = programs["skyway"], programs["harbor"]
    member = linked_member(programs, "1", OPENING)
    sent = skyway.transfer_out(member.at(skyway), "harbor", MILES)
    sync_all(programs)
    skyway_feed_end = skyway.events.list_events(after_sequence=0).last_sequence

    for program in (skyway, harbor):
        program.feed.acked_sequence = 0  # read the whole feed again, as after a lost ack
        assert program.sync_feed() == 0
    again = harbor.exchange.confirm_credit(sent.transfer_id or "")

    assert again.state == COMPLETED
    assert skyway.events.list_events(after_sequence=0).last_sequence == skyway_feed_end
    assert (skyway.balance(member.at(skyway)), harbor.balance(member.at(harbor))) == (6_000, 3_000)
    assert_balances_follow_the_hub(programs, member)


def test_a_destination_following_its_feed_stream_confirms_as_credits_arrive(
    coalition: TestCoalition, programs: dict[str, LoyaltyProgram]
) -> None:
    skyway, harbor = programs["skyway"], programs["harbor"]
    member = linked_member(programs, "1", OPENING)

    with feed_thread(harbor):
        sent = skyway.transfer_out(member.at(skyway), "harbor", MILES)
        wait_until(
            lambda: hub_transfer(skyway, sent.transfer_id).state == COMPLETED,
            "harbor to credit and confirm from its stream",
        )
    skyway.sync_feed()

    assert harbor.balance(member.at(harbor)) == HOTEL_POINTS
    assert_balances_follow_the_hub(programs, member)


def test_card_points_move_into_miles_under_their_own_agreement(
    coalition: TestCoalition, programs: dict[str, LoyaltyProgram]
) -> None:
    """Directions are independent: orbit → skyway has its own terms, rounded down."""
    skyway, orbit = programs["skyway"], programs["orbit"]
    agree(orbit, skyway, terms(datetime.now(UTC), ratio=(3, 1)))
    member = linked_member(programs, "1", OPENING)

    sent = orbit.transfer_out(member.at(orbit), "skyway", 2_000)
    sync_all(programs)

    # 2,000 / 3 = 666.67 miles: the member gets 666, never 667; 666 x 0.0040 = 2.664, so 2.66 USD.
    transfer = hub_transfer(orbit, sent.transfer_id)
    assert (transfer.state, transfer.destination_points) == (COMPLETED, 666)
    assert transfer.settlement_amount.amount_minor == 266
    assert skyway.balance(member.at(skyway)) == 10_666
    assert_balances_follow_the_hub(programs, member)
