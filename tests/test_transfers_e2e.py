"""Points transfers end to end: the real hub, the partner SDK and the reference programs.

Completion, rejection and refund, timeouts, reversals, quote expiry, daily caps, increments
and minimums, bonus windows and agreement versions (DESIGN §3.3, §3.4). After every test the
hub's ledger checks clean (§5, §7 inv. 1-3), and each member's balances at every brand follow
the hub's own record of what completed: points that left a source either arrived once at the
destination or came back.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
import pytest
from sqlalchemy import Engine, select

from coalition.keys import SigningKey
from coalition.v1 import event_pb2, exchange_pb2
from exchange.adapters.memory import FixedClock
from exchange.adapters.sql.ledger_check import check_ledger
from exchange.adapters.sql.tables import LedgerAccountRow
from exchange.bootstrap import bootstrap
from exchange.config import Settings
from exchange.domain.limits import QUOTE_TTL_S
from partners.programs.program import LoyaltyProgram, accept_every_credit, refuse_every_credit
from partners.programs.transfer_store import OutboxOutcome, OutgoingKind, OutgoingState
from partners.sdk import HubError, verify_event, verify_receipt
from partners.sdk.exchange_client import ExchangeClient
from tests.support.coalition import TestCoalition, seed_partners
from tests.support.programs import (
    ClockedCoalition,
    brand_programs,
    clocked_coalition,
    feed_thread,
    wait_until,
)
from tests.support.transfers import (
    DAILY_CAP_POINTS,
    Member,
    agree,
    linked_member,
    sync_all,
    terms,
)

COMPLETED = exchange_pb2.TRANSFER_STATE_COMPLETED
VOIDED = exchange_pb2.TRANSFER_STATE_VOIDED
TRANSFER = exchange_pb2.TRANSFER_KIND_TRANSFER
REVERSAL = exchange_pb2.TRANSFER_KIND_REVERSAL
TIMEOUT_S = 60
OPENING = {"skyway": 10_000, "harbor": 0, "orbit": 10_000}
# 4,000 miles at 1000:750 are 3,000 hotel points, at 0.0040 USD each: 12.00 USD, fee 25 bp.
MILES, HOTEL_POINTS, AMOUNT_MINOR, FEE_MINOR = 4_000, 3_000, 1_200, 3


@pytest.fixture(autouse=True)
def ledger_checks_clean(engine: Engine) -> Iterator[None]:
    yield
    assert check_ledger(engine) == []


def clock_time(clock: FixedClock) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=clock.now_us())


def noon_today() -> FixedClock:
    """Midday UTC today: half a day from either edge of the daily cap's UTC day."""
    today = datetime.now(UTC).date()
    noon = datetime(today.year, today.month, today.day, 12, tzinfo=UTC)
    return FixedClock(int(noon.timestamp()) * 1_000_000)


@pytest.fixture
def programs(coalition: TestCoalition, tmp_path: Path) -> dict[str, LoyaltyProgram]:
    """The three brands; skyway → harbor at the standard terms, in force from now."""
    programs = brand_programs(coalition, tmp_path / "programs")
    agree(programs["skyway"], programs["harbor"], terms(datetime.now(UTC)))
    return programs


@pytest.fixture
def clock() -> FixedClock:
    return noon_today()


@pytest.fixture
def clocked(
    settings: Settings, hub_key: SigningKey, engine: Engine, clock: FixedClock
) -> Iterator[ClockedCoalition]:
    """A hub on `clock` whose transfers time out after TIMEOUT_S."""
    short = dataclasses.replace(settings, transfer_timeout_s=TIMEOUT_S)
    with clocked_coalition(short, hub_key, engine, clock) as coalition:
        yield coalition


@pytest.fixture
def clocked_programs(
    clocked: ClockedCoalition, clock: FixedClock, tmp_path: Path
) -> dict[str, LoyaltyProgram]:
    programs = brand_programs(clocked, tmp_path / "programs")
    agree(programs["skyway"], programs["harbor"], terms(clock_time(clock)))
    return programs


@contextmanager
def hub_without_sweeper(
    settings: Settings, hub_key: SigningKey, engine: Engine, clock: FixedClock
) -> Iterator[ClockedCoalition]:
    """A serving hub whose timeout sweeper never runs: what happens before it gets to work."""
    hub = bootstrap(settings, clock=clock, hub_key=hub_key, engine=engine)
    keys = seed_partners(hub)
    hub.server.start()
    coalition = ClockedCoalition(hub, keys, clock=clock)
    try:
        yield coalition
    finally:
        coalition.close()
        hub.stop(0)


def intercept_once(
    monkeypatch: pytest.MonkeyPatch,
    client: ExchangeClient,
    method: str,
    around: Callable[[Callable[[], Any]], Any],
) -> None:
    """The next call of `client.method` runs `around(call_the_hub)` instead; later ones don't."""
    real = getattr(client, method)

    def once(*args: Any, **kwargs: Any) -> Any:
        monkeypatch.setattr(client, method, real)
        return around(lambda: real(*args, **kwargs))

    monkeypatch.setattr(client, method, once)


def connection_reset() -> HubError:
    return HubError(grpc.StatusCode.UNAVAILABLE, "connection reset")


def never_arrives(call_the_hub: Callable[[], Any]) -> Any:
    raise connection_reset()


def response_lost(call_the_hub: Callable[[], Any]) -> Any:
    call_the_hub()
    raise connection_reset()


def hub_transfer(program: LoyaltyProgram, transfer_id: str | None) -> exchange_pb2.Transfer:
    assert transfer_id is not None
    return program.exchange.get_transfer(transfer_id)


def transfers_of(program: LoyaltyProgram, member: Member) -> list[exchange_pb2.Transfer]:
    """The member's transfers as `program` sees them at the hub, oldest first."""
    own = program.member(member.at(program))
    assert own is not None
    return [t for t in program.exchange.transfers() if t.ppid == own.ppid][::-1]


def assert_balances_follow_the_hub(
    programs: dict[str, LoyaltyProgram], member: Member, opening: dict[str, int] = OPENING
) -> None:
    """Every brand's balance is its opening balance, less the source points of completed
    transfers out, plus the destination points of completed transfers in (a completed reversal
    the other way round); a voided transfer moved nothing once the source refunded it."""
    for program in programs.values():
        expected = opening.get(program.partner_id, 0)
        for transfer in transfers_of(program, member):
            assert transfer.state != exchange_pb2.TRANSFER_STATE_PENDING, "resolve first"
            if transfer.state != COMPLETED:
                continue
            sign = 1 if transfer.kind == TRANSFER else -1
            if transfer.source_partner_id == program.partner_id:
                expected -= sign * transfer.source_points
            else:
                expected += sign * transfer.destination_points
        assert program.balance(member.at(program)) == expected, program.partner_id


def ledger_accounts(engine: Engine) -> dict[str, tuple[int, int, int, int]]:
    """account id -> (debits posted, credits posted, debits pending, credits pending)."""
    with engine.connect() as connection:
        rows = connection.execute(select(LedgerAccountRow)).all()
    return {
        row.account_id: (
            row.debits_posted,
            row.credits_posted,
            row.debits_pending,
            row.credits_pending,
        )
        for row in rows
    }


def local_state(program: LoyaltyProgram, transfer_id: str | None) -> OutgoingState:
    """The transfer's state as the program recorded it."""
    row = program.outgoing(transfer_id or "")
    assert row is not None, f"{program.partner_id} has no outgoing {transfer_id}"
    return row.state


def ppid_at(program: LoyaltyProgram, member: Member) -> str:
    own = program.member(member.at(program))
    assert own is not None
    return own.ppid


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


# Quotes and terms


def test_an_expired_quote_starts_nothing_and_the_member_is_refunded(
    clocked: ClockedCoalition,
    clocked_programs: dict[str, LoyaltyProgram],
    clock: FixedClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    skyway = clocked_programs["skyway"]
    member = linked_member(clocked_programs, "1", OPENING)
    intercept_once(monkeypatch, skyway.exchange, "create_transfer", never_arrives)
    sent = skyway.transfer_out(member.at(skyway), "harbor", MILES)
    assert sent.state is OutgoingState.PENDING

    clock.advance_s(QUOTE_TTL_S)
    [resumed] = skyway.resume_outgoing()

    assert (resumed.state, resumed.detail) == (OutgoingState.REFUSED, "QUOTE_EXPIRED")
    assert skyway.balance(member.at(skyway)) == 10_000
    assert transfers_of(skyway, member) == []


@pytest.mark.parametrize(
    ("points", "reason"),
    [(1_000, "BELOW_MINIMUM"), (2_500, "NOT_AN_INCREMENT"), (51_000, "ABOVE_MAXIMUM")],
)
def test_points_outside_the_minimum_increment_or_maximum_are_refused_before_any_debit(
    coalition: TestCoalition, programs: dict[str, LoyaltyProgram], points: int, reason: str
) -> None:
    skyway = programs["skyway"]
    member = linked_member(programs, "1", {"skyway": 60_000})

    with pytest.raises(HubError) as refused:
        skyway.transfer_out(member.at(skyway), "harbor", points)

    assert (refused.value.code, refused.value.reason) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        reason,
    )
    assert skyway.balance(member.at(skyway)) == 60_000
    assert skyway.store.outgoing_of(member.at(skyway)) == []


def test_the_daily_cap_holds_at_quote_and_at_transfer_and_resets_the_next_day(
    clocked: ClockedCoalition,
    clocked_programs: dict[str, LoyaltyProgram],
    clock: FixedClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    skyway, harbor = clocked_programs["skyway"], clocked_programs["harbor"]
    member = linked_member(clocked_programs, "1", {"skyway": 50_000})
    number = member.at(skyway)
    intercept_once(monkeypatch, skyway.exchange, "create_transfer", never_arrives)
    first = skyway.transfer_out(number, "harbor", 12_000)  # quoted, not started yet
    second = skyway.transfer_out(number, "harbor", 12_000)  # started: 12,000 of 20,000 used
    sync_all(clocked_programs)

    [late] = skyway.resume_outgoing()  # 24,000 would pass the cap now
    with pytest.raises(HubError) as over_cap:
        skyway.transfer_out(number, "harbor", 10_000)
    harbor.credit_policy = refuse_every_credit("account frozen")
    rejected = skyway.transfer_out(number, "harbor", DAILY_CAP_POINTS - 12_000)
    sync_all(clocked_programs)  # voided: it no longer counts against the cap
    harbor.credit_policy = accept_every_credit
    refilled = skyway.transfer_out(number, "harbor", DAILY_CAP_POINTS - 12_000)
    sync_all(clocked_programs)
    clock.advance_s(12 * 3600)
    next_day = skyway.transfer_out(number, "harbor", 10_000)
    sync_all(clocked_programs)

    assert (late.idempotency_key, late.state, late.detail) == (
        first.idempotency_key,
        OutgoingState.REFUSED,
        "DAILY_CAP_EXCEEDED",
    )
    assert over_cap.value.reason == "DAILY_CAP_EXCEEDED"
    rows = (second, rejected, refilled, next_day)
    assert [local_state(skyway, row.transfer_id) for row in rows] == [
        OutgoingState.COMPLETED,
        OutgoingState.VOIDED,
        OutgoingState.COMPLETED,
        OutgoingState.COMPLETED,
    ]
    assert skyway.balance(number) == 50_000 - 12_000 - 8_000 - 10_000
    assert_balances_follow_the_hub(clocked_programs, member, {"skyway": 50_000})


def test_a_bonus_applies_only_to_quotes_made_inside_its_window(
    clocked: ClockedCoalition,
    clocked_programs: dict[str, LoyaltyProgram],
    clock: FixedClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    skyway, harbor = clocked_programs["skyway"], clocked_programs["harbor"]
    window_start = clock_time(clock) + timedelta(hours=1)
    window = (window_start, window_start + timedelta(hours=1))
    agree(skyway, harbor, terms(clock_time(clock), bonus_percent=10, bonus_window=window))
    member = linked_member(clocked_programs, "1", OPENING)
    ppid = ppid_at(skyway, member)

    before = skyway.exchange.create_quote(ppid, "harbor", MILES)
    clock.advance_s(2 * 3600 - 60)  # a minute before the window closes

    def after_the_window(call_the_hub: Callable[[], Any]) -> Any:
        clock.advance_s(61)
        return call_the_hub()

    intercept_once(monkeypatch, skyway.exchange, "create_transfer", after_the_window)
    inside = skyway.transfer_out(member.at(skyway), "harbor", MILES)
    sync_all(clocked_programs)
    after = skyway.exchange.create_quote(ppid, "harbor", MILES)

    assert (before.destination_points, before.bonus_points) == (HOTEL_POINTS, 0)
    assert (inside.destination_points, after.destination_points) == (3_300, HOTEL_POINTS)
    # Started after the window closed, the transfer keeps the bonus its quote promised.
    transfer = hub_transfer(skyway, inside.transfer_id)
    assert (transfer.state, transfer.destination_points, transfer.bonus_points) == (
        COMPLETED,
        3_300,
        300,
    )
    assert transfer.settlement_amount.amount_minor == AMOUNT_MINOR  # the bonus is harbor's gift
    assert harbor.balance(member.at(harbor)) == 3_300
    assert_balances_follow_the_hub(clocked_programs, member)


def test_a_transfer_keeps_its_quotes_terms_when_the_agreement_changes_in_between(
    coalition: TestCoalition, programs: dict[str, LoyaltyProgram], monkeypatch: pytest.MonkeyPatch
) -> None:
    skyway, harbor = programs["skyway"], programs["harbor"]
    member = linked_member(programs, "1", OPENING)

    def new_terms_first(call_the_hub: Callable[[], Any]) -> Any:
        agree(skyway, harbor, terms(datetime.now(UTC), ratio=(1_000, 500)))
        return call_the_hub()

    intercept_once(monkeypatch, skyway.exchange, "create_transfer", new_terms_first)
    sent = skyway.transfer_out(member.at(skyway), "harbor", MILES)
    sync_all(programs)
    ppid = ppid_at(skyway, member)
    fresh = skyway.exchange.create_quote(ppid, "harbor", MILES)

    transfer = hub_transfer(skyway, sent.transfer_id)
    assert (transfer.agreement_version, transfer.destination_points) == (1, HOTEL_POINTS)
    assert (fresh.agreement_version, fresh.destination_points) == (2, 2_000)
    assert harbor.balance(member.at(harbor)) == HOTEL_POINTS
    assert_balances_follow_the_hub(programs, member)
