"""Completions, voids and reversals from the feed, each applied once."""

from __future__ import annotations

from coalition.v1 import event_pb2, exchange_pb2
from partners.programs.program import LoyaltyProgram
from partners.programs.transfer_store import OutgoingKind, OutgoingState
from tests.partners.program_transfers.support import (
    REVERSAL,
    TRANSFER,
    FakeExchangeHub,
    Feed,
    resync,
    state_of,
    unreachable,
)
from tests.support.transfers import TransferBody


def completed(
    transfer_id: str,
    ppid: str,
    points: int = 0,
    kind: exchange_pb2.TransferKind = TRANSFER,
) -> TransferBody:
    return event_pb2.TransferCompleted(transfer_id=transfer_id, kind=kind, ppid=ppid, points=points)


def voided(
    transfer_id: str, ppid: str, points: int, kind: exchange_pb2.TransferKind = TRANSFER
) -> TransferBody:
    return event_pb2.TransferVoided(
        transfer_id=transfer_id,
        kind=kind,
        ppid=ppid,
        points=points,
        reason=exchange_pb2.VOID_REASON_TIMED_OUT,
    )


def test_completion_is_recorded_once_and_moves_no_points(
    program: LoyaltyProgram, feed: Feed
) -> None:
    row = program.transfer_out("SKY-1", "harbor", 4_000)
    assert row.transfer_id is not None
    feed.deliver(completed(row.transfer_id, "ppid-1"))

    assert program.sync_feed() == 1
    resync(program, feed)

    assert state_of(program, row.transfer_id) is OutgoingState.COMPLETED
    assert program.balance("SKY-1") == 6_000


def test_a_void_refunds_the_member_once(program: LoyaltyProgram, feed: Feed) -> None:
    row = program.transfer_out("SKY-1", "harbor", 4_000)
    assert row.transfer_id is not None
    feed.deliver(voided(row.transfer_id, "ppid-1", 4_000))

    program.sync_feed()
    resync(program, feed)

    voided_row = program.outgoing(row.transfer_id)
    assert voided_row is not None
    assert (voided_row.state, voided_row.detail) == (OutgoingState.VOIDED, "timed_out")
    assert program.balance("SKY-1") == 10_000


def test_a_completed_reversal_gives_the_points_back_once(
    program: LoyaltyProgram, connection: FakeExchangeHub, feed: Feed
) -> None:
    row = program.transfer_out("SKY-1", "harbor", 4_000)
    assert row.transfer_id is not None
    feed.deliver(completed(row.transfer_id, "ppid-1"))
    program.sync_feed()

    reversal = program.request_reversal(row.transfer_id)
    assert reversal.transfer_id is not None
    feed.deliver(completed(reversal.transfer_id, "ppid-1", 4_000, REVERSAL))
    program.sync_feed()
    resync(program, feed)

    assert reversal.kind is OutgoingKind.REVERSAL
    assert [key for key, _ in connection.sent("CreateReversal")] == [reversal.idempotency_key]
    assert state_of(program, reversal.transfer_id) is OutgoingState.COMPLETED
    assert program.balance("SKY-1") == 10_000


def test_a_voided_reversal_changes_no_balance(program: LoyaltyProgram, feed: Feed) -> None:
    row = program.transfer_out("SKY-1", "harbor", 4_000)
    assert row.transfer_id is not None
    feed.deliver(completed(row.transfer_id, "ppid-1"))
    program.sync_feed()
    reversal = program.request_reversal(row.transfer_id)
    assert reversal.transfer_id is not None

    feed.deliver(voided(reversal.transfer_id, "ppid-1", 0, REVERSAL))
    program.sync_feed()

    assert state_of(program, reversal.transfer_id) is OutgoingState.VOIDED
    assert program.balance("SKY-1") == 6_000


def test_an_outcome_that_arrives_before_the_transfer_id_is_recorded_applies_on_resume(
    program: LoyaltyProgram, connection: FakeExchangeHub, feed: Feed
) -> None:
    """A crash after the hub started the transfer but before the program wrote down its id."""
    connection.failures["CreateTransfer"].append(unreachable())
    row = program.transfer_out("SKY-1", "harbor", 4_000)
    transfer_id = connection.start(row.idempotency_key).transfer_id  # the hub did start it
    feed.deliver(voided(transfer_id, "ppid-1", 4_000))
    program.sync_feed()
    assert program.balance("SKY-1") == 10_000

    [resumed] = program.resume_outgoing()

    assert (resumed.transfer_id, resumed.state) == (transfer_id, OutgoingState.VOIDED)
    assert program.balance("SKY-1") == 10_000
