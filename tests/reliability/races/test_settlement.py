"""Settlement racing in-flight transfers: a day closed early twice at once, and the cut-off passing
with two settlers; each completion settles in exactly one day."""

from __future__ import annotations

import functools
import random
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine

from coalition.v1 import exchange_pb2 as xpb
from exchange.services.settlement import DaySettlement, settle_day
from partners.sdk import HubConnection
from partners.sdk.exchange_client import ExchangeClient
from tests.reliability.races.support import (
    answer,
    assert_no_internal,
    jittered,
    pending_transfers,
    require_batch_rpcs,
)
from tests.support.programs import ClockedCoalition, query_rows
from tests.support.transfer_setup import Outcome, all_at_once, linked_member

# --- 4. settlement racing in-flight transfers ----------------------------------------------------

SETTLE_ROUNDS = 10
SETTLE_CONFIRMS = 4  # pending transfers per round that harbor confirms
SETTLE_REJECTS = 2  # ... and that it rejects
DAY_S = 24 * 3600


def today(coalition: ClockedCoalition) -> str:
    return coalition.hub.settings.calendar.business_day_of(coalition.clock.now_us()).isoformat()


def next_day(business_day: str) -> str:
    return (date.fromisoformat(business_day) + timedelta(days=1)).isoformat()


def close_early(coalition: ClockedCoalition, business_day: str) -> Callable[[], DaySettlement]:
    hub = coalition.hub
    return lambda: settle_day(
        hub.uow_factory, hub.settings.calendar, coalition.clock, business_day, close_early=True
    )


def completed_days(engine: Engine) -> dict[str, str]:
    rows = query_rows(
        engine, "SELECT transfer_id, business_day FROM transfers WHERE state = 'completed'"
    )
    return {str(transfer_id): str(day) for transfer_id, day in rows}


def leaves(engine: Engine) -> list[tuple[str, str]]:
    """(business day, transfer id) of every settled leaf."""
    rows = query_rows(engine, "SELECT business_day, transfer_id FROM settlement_leaves")
    return [(str(day), str(transfer_id)) for day, transfer_id in rows]


def assert_same_settlement(settled: list[DaySettlement]) -> None:
    """Settlers of one day, however they raced, report the one stored settlement."""
    assert {(s.business_day, s.merkle_root, s.tree_size) for s in settled} == {
        (settled[0].business_day, settled[0].merkle_root, settled[0].tree_size)
    }
    assert all(s.alarm is None for s in settled)


def assert_every_completion_settled_once(coalition: ClockedCoalition) -> int:
    """Each completed transfer is a leaf of exactly its own day's run, and nothing else is;
    every run's nets sum to zero and its pay-ins equal its pay-outs; settling any day again
    changes nothing and raises no alarm. Returns how many days were settled."""
    engine = coalition.hub.engine
    days = completed_days(engine)
    settled = leaves(engine)
    assert Counter(transfer_id for _, transfer_id in settled) == Counter(set(days)), (
        "each completed transfer in exactly one run, and only completed transfers"
    )
    assert {transfer_id: day for day, transfer_id in settled} == days
    nets = query_rows(
        engine,
        "SELECT business_day, currency, sum(net_minor) FROM settlement_positions"
        " GROUP BY business_day, currency",
    )
    assert nets and {int(str(net)) for _, _, net in nets} == {0}
    flows = query_rows(
        engine,
        "SELECT business_day, currency, direction, sum(amount_minor) FROM payment_instructions"
        " GROUP BY business_day, currency, direction",
    )
    paid: dict[tuple[str, str], dict[str, int]] = {}
    for day, currency, direction, amount in flows:
        paid.setdefault((str(day), str(currency)), {})[str(direction)] = int(str(amount))
    assert all(by["pay_in"] == by["pay_out"] for by in paid.values()), paid
    settled_days = [
        str(day) for (day,) in query_rows(engine, "SELECT business_day FROM settlement_days")
    ]
    for day in settled_days:
        again = close_early(coalition, day)()
        assert again.already_settled and again.alarm is None
        assert again.tree_size == sum(1 for d, _ in settled if d == day)
    return len(settled_days)


@dataclass
class Answering:
    """Skyway starts transfers for one linked member; harbor answers them."""

    skyway: HubConnection
    harbor: HubConnection
    source_ppid: str

    @classmethod
    def linked(cls, coalition: ClockedCoalition) -> Answering:
        skyway, harbor = coalition.connection("skyway"), coalition.connection("harbor")
        return cls(skyway, harbor, linked_member(skyway, harbor)[0])

    def racing(
        self, rng: random.Random, confirmed: int, rejected: int
    ) -> tuple[list[str], list[Callable[[], Any]]]:
        """New pending transfers (`confirmed` then `rejected`), and a jittered answer each."""
        transfer_ids = pending_transfers(self.skyway, self.source_ppid, confirmed + rejected)
        actions = ["confirm"] * confirmed + ["reject"] * rejected
        calls = [
            jittered(rng, answer(self.harbor, action, transfer_id))
            for action, transfer_id in zip(actions, transfer_ids, strict=True)
        ]
        return transfer_ids, calls


def expect_answered(results: list[Any]) -> None:
    """Every racing answer went through: single answers OK, batch items completed."""
    outcomes = [r for r in results if isinstance(r, Outcome)]
    assert_no_internal(outcomes)
    assert {o.label for o in outcomes} <= {"OK"}, Counter(o.label for o in outcomes)
    for items in (r for r in results if isinstance(r, list)):
        assert {item.transfer.state for item in items} == {xpb.TRANSFER_STATE_COMPLETED}


@pytest.mark.parametrize("with_batches", [False, True], ids=["single", "batch"])
def test_closing_a_day_early_twice_while_transfers_complete_settles_each_once(
    settling: ClockedCoalition, with_batches: bool, reliability_tally: Any
) -> None:
    """Per round, the first open day is closed early by two settlers at once while six of its
    transfers are answered (four confirmed, two rejected; with `batch`, the four are also
    confirmed by a ConfirmCredits batch racing the single confirms). A completion lands in
    the closing day or the next one, never both, never neither."""
    answering = Answering.linked(settling)
    if with_batches:
        require_batch_rpcs(answering.harbor)
    client = ExchangeClient(answering.harbor)
    engine = settling.hub.engine
    day = today(settling)
    for round_index in range(SETTLE_ROUNDS):
        rng = random.Random(round_index)
        ids, answers = answering.racing(rng, SETTLE_CONFIRMS, SETTLE_REJECTS)
        if with_batches:
            confirmed = ids[:SETTLE_CONFIRMS]
            answers.append(jittered(rng, functools.partial(client.confirm_credits, confirmed)))
        settlers = [jittered(rng, close_early(settling, day)) for _ in range(2)]
        *results, first, second = all_at_once(answers + settlers)
        expect_answered(results)
        assert_same_settlement([first, second])
        days = completed_days(engine)
        in_flight = {t: days.get(t) for t in ids}
        assert set(in_flight.values()) <= {day, next_day(day), None}
        assert sum(d is not None for d in in_flight.values()) == SETTLE_CONFIRMS
        assert first.tree_size == sum(1 for d in days.values() if d == day)
        day = next_day(day)
        reliability_tally.add("race rounds resolved exactly once")
    close_early(settling, day)()
    settled_days = assert_every_completion_settled_once(settling)
    assert settled_days >= SETTLE_ROUNDS
    reliability_tally.add("settlement runs raced and settled once", settled_days)
    reliability_tally.add(
        "completed transfers settled in exactly one day", len(completed_days(engine))
    )


CUTOFF_ROUNDS = 10
CUTOFF_CONFIRMS = 6
# Each round starts this close to midnight, and the clock then steps this far: across it.
BEFORE_CUTOFF_S = 2
CUTOFF_STEP_S = 3


def midnight(coalition: ClockedCoalition) -> Callable[[], list[DaySettlement]]:
    """The clock passes the cut-off; the nightly run follows."""

    def pass_it() -> list[DaySettlement]:
        coalition.clock.advance_s(CUTOFF_STEP_S)
        return coalition.hub.settle_ended_days()

    return pass_it


def second_settler(
    coalition: ClockedCoalition, day_ended_after_us: int
) -> Callable[[], list[DaySettlement]]:
    """Another hub process's nightly run: starts as soon as it sees the day has ended."""

    def settle() -> list[DaySettlement]:
        while coalition.clock.now_us() < day_ended_after_us:
            threading.Event().wait(0.001)
        return coalition.hub.settle_ended_days()

    return settle


def test_the_cut_off_passing_while_transfers_complete_settles_each_in_exactly_one_day(
    settling: ClockedCoalition, reliability_tally: Any
) -> None:
    """Per round, six transfers are confirmed while the clock passes midnight and two
    nightly runs (one per hub process) settle the day that just ended. A confirmation that
    read the clock before midnight belongs to the ended day unless the day closed first."""
    answering = Answering.linked(settling)
    engine = settling.hub.engine
    empty_days = 0
    settling.clock.advance_s(DAY_S // 2 - BEFORE_CUTOFF_S)  # from midday to just before midnight
    for round_index in range(CUTOFF_ROUNDS):
        rng = random.Random(round_index)
        ended = today(settling)
        ids, answers = answering.racing(rng, CUTOFF_CONFIRMS, 0)
        after_midnight_us = settling.clock.now_us() + BEFORE_CUTOFF_S * 1_000_000
        settlers = [
            jittered(rng, midnight(settling)),
            jittered(rng, second_settler(settling, after_midnight_us)),
        ]
        *results, first, second = all_at_once(answers + settlers)
        expect_answered(results)
        runs = [run for run in first + second if run.business_day == ended]
        days = completed_days(engine)
        assert {days[t] for t in ids} <= {ended, next_day(ended)}
        if runs:
            assert_same_settlement(runs)
            assert runs[0].tree_size == sum(1 for d in days.values() if d == ended)
        else:
            # Every confirmation came after midnight: the day was never opened, so there is
            # nothing to settle (a straggler that opens it is settled the next night).
            empty_days += 1
        settling.clock.advance_s(DAY_S - CUTOFF_STEP_S)  # just before the next midnight
        reliability_tally.add("race rounds resolved exactly once")
    settling.clock.advance_s(CUTOFF_STEP_S)
    settling.hub.settle_ended_days()
    settled_days = assert_every_completion_settled_once(settling)
    print(f"\n[{engine.dialect.name}] cut-off: {settled_days} days settled, {empty_days} empty")
    assert settled_days + empty_days >= CUTOFF_ROUNDS
    reliability_tally.add("settlement runs raced and settled once", settled_days)
    reliability_tally.add(
        "completed transfers settled in exactly one day", len(completed_days(engine))
    )
