"""Credit and debit requests from the hub: applied once, confirmed, retried, timed out."""

from __future__ import annotations

import pytest

from coalition.v1 import event_pb2, exchange_pb2
from partners.programs.handlers import INSUFFICIENT_POINTS_REASON, UNKNOWN_MEMBER_REASON
from partners.programs.program import LoyaltyProgram, refuse_every_credit
from partners.programs.transfer_store import OutboxAction, OutboxOutcome
from tests.partners.program_transfers.support import (
    VOIDED,
    FakeExchangeHub,
    Feed,
    refusal,
    resync,
    unreachable,
)
from tests.support.transfers import TransferBody


def credit(transfer_id: str, ppid: str, points: int) -> TransferBody:
    return event_pb2.CreditRequested(transfer_id=transfer_id, ppid=ppid, destination_points=points)


def debit(transfer_id: str, ppid: str, points: int) -> TransferBody:
    return event_pb2.DebitRequested(
        transfer_id=transfer_id, original_transfer_id="tr_original", ppid=ppid, points=points
    )


def test_a_credit_request_credits_once_and_confirms_once(
    program: LoyaltyProgram, connection: FakeExchangeHub, feed: Feed
) -> None:
    feed.deliver(credit("tr_in", "ppid-1", 3_000))

    assert program.sync_feed() == 1
    resync(program, feed)
    program.flush_outbox()

    assert program.balance("SKY-1") == 13_000
    [entry] = program.outbox()
    assert (entry.action, entry.sent, entry.outcome) == (
        OutboxAction.CONFIRM,
        True,
        OutboxOutcome.ACCEPTED,
    )
    assert connection.sent("ConfirmCredit") == [
        (entry.idempotency_key, exchange_pb2.ConfirmCreditRequest(transfer_id="tr_in"))
    ]


def test_a_credit_for_an_unknown_member_is_rejected_without_crediting_anyone(
    program: LoyaltyProgram, connection: FakeExchangeHub, feed: Feed
) -> None:
    feed.deliver(credit("tr_in", "ppid-erased", 3_000))

    program.sync_feed()

    [(_, request)] = connection.sent("RejectCredit")
    assert (request.transfer_id, request.reason) == ("tr_in", UNKNOWN_MEMBER_REASON)
    assert (program.balance("SKY-1"), program.balance("SKY-2")) == (10_000, 500)


def test_a_program_that_refuses_credits_rejects_with_its_reason(
    program: LoyaltyProgram, connection: FakeExchangeHub, feed: Feed
) -> None:
    program.credit_policy = refuse_every_credit("account frozen")
    feed.deliver(credit("tr_in", "ppid-1", 3_000))

    program.sync_feed()

    [(_, request)] = connection.sent("RejectCredit")
    assert request.reason == "account frozen"
    assert program.balance("SKY-1") == 10_000


def test_a_debit_request_takes_the_points_back_once_and_confirms(
    program: LoyaltyProgram, connection: FakeExchangeHub, feed: Feed
) -> None:
    feed.deliver(debit("tr_rev", "ppid-1", 3_000))

    program.sync_feed()
    resync(program, feed)

    assert program.balance("SKY-1") == 7_000
    assert [r.transfer_id for _, r in connection.sent("ConfirmCredit")] == ["tr_rev"]


def test_a_debit_beyond_the_balance_is_rejected_and_takes_nothing(
    program: LoyaltyProgram, connection: FakeExchangeHub, feed: Feed
) -> None:
    feed.deliver(debit("tr_rev", "ppid-2", 3_000))

    program.sync_feed()

    [(_, request)] = connection.sent("RejectCredit")
    assert request.reason == INSUFFICIENT_POINTS_REASON
    assert program.balance("SKY-2") == 500


def test_an_unsent_answer_is_retried_with_the_key_it_was_queued_with(
    program: LoyaltyProgram, connection: FakeExchangeHub, feed: Feed
) -> None:
    feed.deliver(credit("tr_a", "ppid-1", 3_000))
    feed.deliver(credit("tr_b", "ppid-erased", 3_000))
    connection.failures["ConfirmCredit"].append(unreachable())

    program.sync_feed()

    assert connection.sent("RejectCredit") == []  # stops at the first unreachable answer
    assert [entry.sent for entry in program.outbox()] == [False, False]
    assert program.flush_outbox() == 2
    assert program.flush_outbox() == 0
    confirm, reject = program.outbox()
    assert [key for key, _ in connection.sent("ConfirmCredit")] == [confirm.idempotency_key] * 2
    assert [key for key, _ in connection.sent("RejectCredit")] == [reject.idempotency_key]
    assert confirm.idempotency_key != reject.idempotency_key
    assert program.balance("SKY-1") == 13_000


@pytest.mark.parametrize(
    "reason",
    # Voided by this late answer itself, or by the hub's sweeper before it arrived.
    ["TRANSFER_TIMED_OUT", "TRANSFER_NOT_PENDING"],
)
def test_a_confirmation_the_hub_timed_out_first_takes_the_credit_back(
    program: LoyaltyProgram, connection: FakeExchangeHub, feed: Feed, reason: str
) -> None:
    feed.deliver(credit("tr_late", "ppid-1", 3_000))
    connection.failures["ConfirmCredit"].append(refusal(reason))
    connection.states["tr_late"] = VOIDED

    program.sync_feed()
    program.flush_outbox()

    assert program.balance("SKY-1") == 10_000
    [entry] = program.outbox()
    assert (entry.sent, entry.outcome) == (True, OutboxOutcome.RESOLVED_FIRST)
    assert len(connection.sent("ConfirmCredit")) == 1


def test_a_debit_the_hub_timed_out_first_is_given_back(
    program: LoyaltyProgram, connection: FakeExchangeHub, feed: Feed
) -> None:
    feed.deliver(debit("tr_rev", "ppid-1", 3_000))
    connection.failures["ConfirmCredit"].append(refusal("TRANSFER_TIMED_OUT"))
    connection.states["tr_rev"] = VOIDED

    program.sync_feed()

    assert program.balance("SKY-1") == 10_000


def test_a_late_credit_already_spent_is_taken_back_as_far_as_the_balance_allows(
    program: LoyaltyProgram, connection: FakeExchangeHub, feed: Feed
) -> None:
    feed.deliver(credit("tr_late", "ppid-2", 3_000))
    connection.failures["ConfirmCredit"].append(unreachable())
    program.sync_feed()
    with program.store.transaction() as transaction:
        assert transaction.debit("SKY-2", 3_200)  # she spent most of it meanwhile
    connection.failures["ConfirmCredit"].append(refusal("TRANSFER_TIMED_OUT"))
    connection.states["tr_late"] = VOIDED

    program.flush_outbox()

    assert program.balance("SKY-2") == 0
