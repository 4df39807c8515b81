"""Rejected credits, lost responses recovered with the same key, early outcomes, and timeouts."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from sqlalchemy import Engine

from coalition.keys import SigningKey
from coalition.v1 import event_pb2, exchange_pb2
from exchange.adapters.memory import FixedClock
from exchange.config import Settings
from partners.programs.program import LoyaltyProgram, refuse_every_credit
from partners.programs.transfer_store import OutboxOutcome, OutgoingState
from tests.e2e.transfers_e2e.support import (
    COMPLETED,
    MILES,
    OPENING,
    TIMEOUT_S,
    VOIDED,
    assert_balances_follow_the_hub,
    clock_time,
    hub_transfer,
    hub_without_sweeper,
    intercept_once,
    response_lost,
    transfers_of,
)
from tests.support.coalition import TestCoalition
from tests.support.programs import ClockedCoalition, brand_programs
from tests.support.transfers import agree, linked_member, sync_all, terms

# Rejection, lost responses and timeouts


@pytest.mark.parametrize("cause", ["policy", "closed account"])
def test_a_rejected_credit_is_voided_and_refunded_at_the_source(
    coalition: TestCoalition, programs: dict[str, LoyaltyProgram], cause: str
) -> None:
    skyway, harbor = programs["skyway"], programs["harbor"]
    member = linked_member(programs, "1", OPENING)
    if cause == "policy":
        harbor.credit_policy = refuse_every_credit("account frozen")
        expected_reason = "account frozen"
    else:
        with harbor.store.transaction() as transaction:  # closed here, still linked at the hub
            transaction.delete_member(member.at(harbor))
        expected_reason = "unknown or closed account"

    sent = skyway.transfer_out(member.at(skyway), "harbor", MILES)
    harbor.sync_feed()
    skyway.sync_feed()

    transfer = hub_transfer(skyway, sent.transfer_id)
    assert (transfer.state, transfer.void_reason, transfer.reject_reason) == (
        VOIDED,
        exchange_pb2.VOID_REASON_REJECTED,
        expected_reason,
    )
    row = skyway.outgoing(transfer.transfer_id)
    assert row is not None and (row.state, row.detail) == (OutgoingState.VOIDED, "rejected")
    assert skyway.balance(member.at(skyway)) == 10_000
    if cause == "policy":
        assert harbor.balance(member.at(harbor)) == 0
        assert_balances_follow_the_hub(programs, member)


def test_a_lost_create_transfer_response_is_recovered_with_the_same_key(
    coalition: TestCoalition, programs: dict[str, LoyaltyProgram], monkeypatch: pytest.MonkeyPatch
) -> None:
    skyway = programs["skyway"]
    member = linked_member(programs, "1", OPENING)
    intercept_once(monkeypatch, skyway.exchange, "create_transfer", response_lost)

    sent = skyway.transfer_out(member.at(skyway), "harbor", MILES)
    assert (sent.state, skyway.balance(member.at(skyway))) == (OutgoingState.PENDING, 6_000)
    [resumed] = skyway.resume_outgoing()
    sync_all(programs)

    assert resumed.state is OutgoingState.STARTED
    [transfer] = transfers_of(skyway, member)  # one transfer, however many times it was asked
    assert (transfer.transfer_id, transfer.state) == (resumed.transfer_id, COMPLETED)
    assert_balances_follow_the_hub(programs, member)


def test_a_lost_confirmation_response_is_resent_with_the_same_key_and_completes_once(
    coalition: TestCoalition, programs: dict[str, LoyaltyProgram], monkeypatch: pytest.MonkeyPatch
) -> None:
    skyway, harbor = programs["skyway"], programs["harbor"]
    member = linked_member(programs, "1", OPENING)
    skyway.transfer_out(member.at(skyway), "harbor", MILES)
    intercept_once(monkeypatch, harbor.exchange, "confirm_credit", response_lost)

    harbor.sync_feed()  # credited and confirmed, but the answer's fate is unknown here
    [unsent] = harbor.outbox()
    assert harbor.flush_outbox() == 1
    sync_all(programs)

    [answer] = harbor.outbox()
    assert (answer.idempotency_key, unsent.sent, answer.sent) == (
        unsent.idempotency_key,
        False,
        True,
    )
    completions = [
        event
        for event in skyway.events.list_events(after_sequence=0).events
        if event.type == event_pb2.EVENT_TYPE_TRANSFER_COMPLETED
    ]
    assert len(completions) == 1
    assert (skyway.balance(member.at(skyway)), harbor.balance(member.at(harbor))) == (6_000, 3_000)
    assert_balances_follow_the_hub(programs, member)


def test_an_outcome_that_arrives_before_the_source_recorded_the_transfer_id_is_kept(
    coalition: TestCoalition, programs: dict[str, LoyaltyProgram], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The source crashed between the hub starting the transfer and writing its id down."""
    skyway = programs["skyway"]
    member = linked_member(programs, "1", OPENING)
    intercept_once(monkeypatch, skyway.exchange, "create_transfer", response_lost)
    sent = skyway.transfer_out(member.at(skyway), "harbor", MILES)

    sync_all(programs)  # harbor confirms; skyway hears of a transfer it has no id for yet
    [resumed] = skyway.resume_outgoing()

    assert (resumed.idempotency_key, resumed.state) == (
        sent.idempotency_key,
        OutgoingState.COMPLETED,
    )
    assert_balances_follow_the_hub(programs, member)


def test_a_credit_nobody_confirms_is_voided_at_the_timeout_and_refunded(
    clocked: ClockedCoalition, clocked_programs: dict[str, LoyaltyProgram], clock: FixedClock
) -> None:
    skyway, harbor = clocked_programs["skyway"], clocked_programs["harbor"]
    member = linked_member(clocked_programs, "1", OPENING)
    sent = skyway.transfer_out(member.at(skyway), "harbor", MILES)  # harbor is offline

    clock.advance_s(TIMEOUT_S + 1)
    clocked.hub.void_timed_out_transfers()
    skyway.sync_feed()

    transfer = hub_transfer(skyway, sent.transfer_id)
    assert (transfer.state, transfer.void_reason) == (VOIDED, exchange_pb2.VOID_REASON_TIMED_OUT)
    row = skyway.outgoing(transfer.transfer_id)
    assert row is not None and (row.state, row.detail) == (OutgoingState.VOIDED, "timed_out")
    assert skyway.balance(member.at(skyway)) == 10_000

    harbor.sync_feed()  # back online: credits, is told it is too late, takes the credit back
    [answer] = harbor.outbox()
    assert (answer.sent, answer.outcome) == (True, OutboxOutcome.RESOLVED_FIRST)
    assert harbor.balance(member.at(harbor)) == 0
    assert_balances_follow_the_hub(clocked_programs, member)


def test_a_confirmation_after_the_timeout_does_not_complete_the_transfer(
    settings: Settings, hub_key: SigningKey, engine: Engine, clock: FixedClock, tmp_path: Path
) -> None:
    short = dataclasses.replace(settings, transfer_timeout_s=TIMEOUT_S)
    with hub_without_sweeper(short, hub_key, engine, clock) as coalition:
        programs = brand_programs(coalition, tmp_path / "programs")
        agree(programs["skyway"], programs["harbor"], terms(clock_time(clock)))
        member = linked_member(programs, "1", OPENING)
        sent = programs["skyway"].transfer_out(member.at(programs["skyway"]), "harbor", MILES)

        clock.advance_s(TIMEOUT_S + 1)
        programs["harbor"].sync_feed()  # credits and confirms, after the timeout: undone
        programs["skyway"].sync_feed()

        transfer = hub_transfer(programs["skyway"], sent.transfer_id)
        assert (transfer.state, transfer.void_reason) == (
            VOIDED,
            exchange_pb2.VOID_REASON_TIMED_OUT,
        )
        [answer] = programs["harbor"].outbox()
        assert answer.outcome is OutboxOutcome.RESOLVED_FIRST
        assert_balances_follow_the_hub(programs, member)
