"""The terms: quote expiry, increments and maximums, the daily cap, bonus windows and agreement
versions."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import pytest

from exchange.adapters.memory import FixedClock
from exchange.domain.limits import QUOTE_TTL_S
from partners.programs.program import LoyaltyProgram, accept_every_credit, refuse_every_credit
from partners.programs.transfer_store import OutgoingState
from partners.sdk import HubError
from tests.e2e.transfers_e2e.support import (
    AMOUNT_MINOR,
    COMPLETED,
    HOTEL_POINTS,
    MILES,
    OPENING,
    assert_balances_follow_the_hub,
    clock_time,
    hub_transfer,
    intercept_once,
    local_state,
    never_arrives,
    ppid_at,
    transfers_of,
)
from tests.support.coalition import TestCoalition
from tests.support.programs import ClockedCoalition
from tests.support.transfers import DAILY_CAP_POINTS, agree, linked_member, sync_all, terms

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
