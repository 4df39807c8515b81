"""Starting a transfer: the debit, quotes, refusals, unknown outcomes and resuming."""

from __future__ import annotations

import grpc
import pytest

from coalition.keys import SigningKey
from coalition.v1 import exchange_pb2
from partners.programs.errors import (
    InsufficientPoints,
    QuoteMismatch,
    TransferNotReversible,
    UnknownTransfer,
)
from partners.programs.program import LoyaltyProgram
from partners.programs.transfer_store import OutgoingState
from partners.sdk import HubError, PayloadVerificationError
from tests.partners.program_transfers.support import FakeExchangeHub, refusal, unreachable


def test_a_transfer_debits_the_member_and_starts_with_the_rows_own_key(
    program: LoyaltyProgram, connection: FakeExchangeHub
) -> None:
    row = program.transfer_out("SKY-1", "harbor", 4_000)

    assert program.balance("SKY-1") == 6_000
    assert (row.state, row.transfer_id, row.points, row.destination_points) == (
        OutgoingState.STARTED,
        "tr_1",
        4_000,
        3_000,
    )
    [(key, request)] = connection.sent("CreateTransfer")
    assert key == row.idempotency_key
    assert request.quote_id == row.quote_id


def test_a_transfer_above_the_balance_is_refused_before_asking_the_hub(
    program: LoyaltyProgram, connection: FakeExchangeHub
) -> None:
    calls_before = len(connection.calls)

    with pytest.raises(InsufficientPoints):
        program.transfer_out("SKY-2", "harbor", 1_000)

    assert program.balance("SKY-2") == 500
    assert len(connection.calls) == calls_before
    assert program.store.outgoing_of("SKY-2") == []


def test_a_quote_for_other_points_debits_nothing(
    program: LoyaltyProgram, connection: FakeExchangeHub
) -> None:
    connection.quote_points_offset = 1_000

    with pytest.raises(QuoteMismatch):
        program.transfer_out("SKY-1", "harbor", 4_000)

    assert program.balance("SKY-1") == 10_000
    assert connection.sent("CreateTransfer") == []


def test_a_quote_signed_by_an_untrusted_key_debits_nothing(
    program: LoyaltyProgram, connection: FakeExchangeHub
) -> None:
    connection.hub_key = SigningKey.generate()

    with pytest.raises(PayloadVerificationError):
        program.transfer_out("SKY-1", "harbor", 4_000)

    assert program.balance("SKY-1") == 10_000


def test_a_refused_transfer_is_refunded_and_marked_refused(
    program: LoyaltyProgram, connection: FakeExchangeHub
) -> None:
    connection.failures["CreateTransfer"].append(refusal("QUOTE_EXPIRED"))

    row = program.transfer_out("SKY-1", "harbor", 4_000)

    assert (row.state, row.detail, row.transfer_id) == (
        OutgoingState.REFUSED,
        "QUOTE_EXPIRED",
        None,
    )
    assert program.balance("SKY-1") == 10_000
    assert program.resume_outgoing() == []


@pytest.mark.parametrize(
    "failure",
    [
        unreachable(),
        HubError(grpc.StatusCode.ABORTED, "in progress", "IDEMPOTENCY_IN_PROGRESS"),
        refusal("IDEMPOTENCY_KEY_REUSED"),
        HubError(grpc.StatusCode.INTERNAL, "internal error"),
    ],
    ids=["unavailable", "in-progress", "key-reused", "internal"],
)
def test_an_unknown_outcome_keeps_the_debit_and_resumes_with_the_same_key(
    program: LoyaltyProgram, connection: FakeExchangeHub, failure: HubError
) -> None:
    connection.failures["CreateTransfer"].append(failure)

    row = program.transfer_out("SKY-1", "harbor", 4_000)

    assert row.state is OutgoingState.PENDING
    assert program.balance("SKY-1") == 6_000
    [resumed] = program.resume_outgoing()
    assert (resumed.state, resumed.transfer_id) == (OutgoingState.STARTED, "tr_1")
    keys = [key for key, _ in connection.sent("CreateTransfer")]
    assert keys == [row.idempotency_key, row.idempotency_key]
    assert program.balance("SKY-1") == 6_000


def test_a_transfer_started_before_its_stored_response_expired_is_adopted_not_refunded(
    program: LoyaltyProgram, connection: FakeExchangeHub
) -> None:
    """Resumed after the hub forgot the key's response (7 days): its quote is used already."""
    connection.failures["CreateTransfer"].append(unreachable())
    row = program.transfer_out("SKY-1", "harbor", 4_000)
    connection.listed = [
        exchange_pb2.Transfer(transfer_id="tr_other", quote_id="qt_other"),
        exchange_pb2.Transfer(transfer_id="tr_started", quote_id=row.quote_id),
    ]
    connection.failures["CreateTransfer"].append(refusal("QUOTE_ALREADY_USED"))

    [resumed] = program.resume_outgoing()

    assert (resumed.state, resumed.transfer_id) == (OutgoingState.STARTED, "tr_started")
    assert program.balance("SKY-1") == 6_000


def test_only_a_completed_outgoing_transfer_can_be_reversed(program: LoyaltyProgram) -> None:
    row = program.transfer_out("SKY-1", "harbor", 4_000)
    assert row.transfer_id is not None

    with pytest.raises(TransferNotReversible):
        program.request_reversal(row.transfer_id)
    with pytest.raises(UnknownTransfer):
        program.request_reversal("tr_unknown")
