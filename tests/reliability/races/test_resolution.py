"""Confirm, reject and the timeout racing on one transfer, alone and in ConfirmCredits batches:
each transfer resolves once."""

from __future__ import annotations

import functools
import random
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from coalition.v1 import exchange_pb2 as xpb
from partners.sdk.exchange_client import ExchangeClient
from tests.reliability.races.support import (
    COMPLETED,
    NOT_PENDING,
    REJECTED,
    TIMED_OUT,
    TIMEOUT_S,
    VOIDED_TIMED_OUT,
    RacingCoalition,
    answer,
    assert_each_resolved_once,
    assert_no_internal,
    item_label,
    jittered,
    pending_transfers,
    require_batch_rpcs,
)
from tests.support.programs import WAIT_S_MAX
from tests.support.transfer_setup import Outcome, all_at_once, linked_member, transfer_states

# --- 2. confirm, reject and the timeout on one transfer ------------------------------------------

RESOLVE_ROUNDS = 20
RESOLVE_TRANSFERS = 3  # pending transfers raced per round


@dataclass
class Resolution:
    """The racers of one round: answers per transfer, and how many the sweeper voided."""

    answers: dict[str, list[tuple[str, Outcome]]] = field(default_factory=dict)
    swept: int = 0


class Finishing:
    """Counts racing calls as they return, so the timeout can pass after the first few: the
    clock moves at once while an answer takes a round trip, so a timeout released with the
    answers would win nearly every round."""

    def __init__(self) -> None:
        self.count = 0
        self.changed = threading.Condition()

    def counted(self, call: Callable[[], Any]) -> Callable[[], Any]:
        def run() -> Any:
            try:
                return call()
            finally:
                with self.changed:
                    self.count += 1
                    self.changed.notify_all()

        return run

    def wait_for(self, count: int) -> None:
        with self.changed:
            assert self.changed.wait_for(lambda: self.count >= count, WAIT_S_MAX), "stuck"


def the_timeout(
    coalition: RacingCoalition, finishing: Finishing, after_answers: int
) -> Callable[[], int]:
    """Once `after_answers` answers are back, the clock passes every pending transfer's
    timeout, and the sweeper runs; the other answers are still racing it."""

    def pass_it() -> int:
        finishing.wait_for(after_answers)
        coalition.clock.advance_s(TIMEOUT_S + 1)
        return coalition.hub.void_timed_out_transfers()

    return pass_it


def check_answers(
    state: tuple[str, str | None], answers: list[tuple[str, Outcome]]
) -> Counter[str]:
    """Each answer agrees with the one final state; returns the answers' labels."""
    labels = Counter(outcome.label for _, outcome in answers)
    for action, outcome in answers:
        if state == COMPLETED:
            expected = {"OK"} if action == "confirm" else {NOT_PENDING}
        elif state == REJECTED:
            expected = {"OK"} if action == "reject" else {NOT_PENDING}
        else:
            expected = {TIMED_OUT, NOT_PENDING}
        assert outcome.label in expected, (state, action, outcome.label)
    winning = "confirm" if state == COMPLETED else "reject"
    if state != VOIDED_TIMED_OUT:
        # The winner and its twin (an idempotent no-op) answer with the same transfer.
        assert len({o.response for a, o in answers if a == winning}) <= 1
    return labels


def test_confirm_reject_and_the_timeout_racing_resolve_each_transfer_once(
    racing: RacingCoalition, reliability_tally: Any
) -> None:
    """Per round, three pending transfers; on each, two confirms (own keys) and a reject race
    the clock passing the timeout followed by a sweep. Confirm, reject or timeout may win;
    exactly one does, once, and the losers are told the transfer is no longer pending."""
    skyway, harbor = racing.connection("skyway"), racing.connection("harbor")
    source_ppid, _ = linked_member(skyway, harbor)
    everything: list[str] = []
    for round_index in range(RESOLVE_ROUNDS):
        rng = random.Random(round_index)
        transfer_ids = pending_transfers(skyway, source_ppid, RESOLVE_TRANSFERS)
        racers = [
            (transfer_id, action)
            for transfer_id in transfer_ids
            for action in ("confirm", "confirm", "reject")
        ]
        rng.shuffle(racers)
        finishing = Finishing()
        results = all_at_once(
            [finishing.counted(jittered(rng, answer(harbor, a, t))) for t, a in racers]
            + [the_timeout(racing, finishing, rng.randrange(len(racers)))]
        )
        *outcomes, swept = results
        assert_no_internal(outcomes)
        states = transfer_states(racing.hub.engine)
        labels: Counter[str] = Counter()
        for transfer_id in transfer_ids:
            mine = [
                (action, outcome)
                for (t, action), outcome in zip(racers, outcomes, strict=True)
                if t == transfer_id
            ]
            labels += check_answers(states[transfer_id], mine)
        timed_out = sum(states[t] == VOIDED_TIMED_OUT for t in transfer_ids)
        # Each timed-out transfer was voided once: by the sweeper, or by one late answer.
        assert swept + labels[TIMED_OUT] == timed_out, (round_index, swept, labels)
        everything += transfer_ids
        reliability_tally.add("race rounds resolved exactly once")
    assert racing.hub.void_timed_out_transfers() == 0
    finals = assert_each_resolved_once(racing, skyway, everything)
    print(f"\n[{racing.hub.engine.dialect.name}] confirm/reject/timeout: {dict(finals)}")
    reliability_tally.add("transfers resolved exactly once under racing answers", len(everything))


BATCH_RESOLVE_ROUNDS = 12
BATCH_RESOLVE_TRANSFERS = 4


def check_batch_items(
    states: dict[str, tuple[str, str | None]], ids: list[str], items: list[xpb.ConfirmCreditResult]
) -> Counter[str]:
    """One batch's results follow its request: a transfer only for a completed one, else a
    refusal its final state allows. Counts the refusals by label."""
    labels: Counter[str] = Counter()
    assert [item.transfer_id for item in items] == ids, "results follow the request"
    for item in items:
        state = states[item.transfer_id]
        if item.WhichOneof("outcome") == "transfer":
            assert state == COMPLETED, (item.transfer_id, state)
            assert item.transfer.state == xpb.TRANSFER_STATE_COMPLETED
            continue
        label = item_label(item.error)
        # A completed transfer is confirmed again as a no-op, never refused.
        expected = {
            COMPLETED: set(),
            REJECTED: {NOT_PENDING},
            VOIDED_TIMED_OUT: {TIMED_OUT, NOT_PENDING},
        }[state]
        assert label in expected, (item.transfer_id, state, label)
        labels[label] += 1
    return labels


def test_confirm_credits_batches_racing_single_answers_and_the_timeout_resolve_each_once(
    racing: RacingCoalition, reliability_tally: Any
) -> None:
    """Per round, four pending transfers: two ConfirmCredits batches naming all four (in
    opposite orders), single confirms of two, rejects of the other two, and the timeout."""
    skyway, harbor = racing.connection("skyway"), racing.connection("harbor")
    require_batch_rpcs(harbor)
    client = ExchangeClient(harbor)
    source_ppid, _ = linked_member(skyway, harbor)
    everything: list[str] = []
    for round_index in range(BATCH_RESOLVE_ROUNDS):
        rng = random.Random(round_index)
        transfer_ids = pending_transfers(skyway, source_ppid, BATCH_RESOLVE_TRANSFERS)
        singles = [(t, "confirm") for t in transfer_ids[:2]] + [
            (t, "reject") for t in transfer_ids[2:]
        ]
        batches = [list(transfer_ids), list(reversed(transfer_ids))]
        finishing = Finishing()
        answers = [jittered(rng, answer(harbor, action, t)) for t, action in singles] + [
            jittered(rng, functools.partial(client.confirm_credits, ids)) for ids in batches
        ]
        results = all_at_once(
            [finishing.counted(call) for call in answers]
            + [the_timeout(racing, finishing, rng.randrange(len(answers)))]
        )
        outcomes = results[: len(singles)]
        batch_results = results[len(singles) : len(singles) + len(batches)]
        swept = results[-1]
        assert_no_internal(outcomes)
        states = transfer_states(racing.hub.engine)
        labels: Counter[str] = Counter()
        for transfer_id, action in singles:
            [outcome] = [o for (t, a), o in zip(singles, outcomes, strict=True) if t == transfer_id]
            labels += check_answers(states[transfer_id], [(action, outcome)])
        for ids, items in zip(batches, batch_results, strict=True):
            labels += check_batch_items(states, ids, items)
        timed_out = sum(states[t] == VOIDED_TIMED_OUT for t in transfer_ids)
        assert swept + labels[TIMED_OUT] == timed_out, (round_index, swept, labels)
        everything += transfer_ids
        reliability_tally.add("race rounds resolved exactly once")
    finals = assert_each_resolved_once(racing, skyway, everything)
    print(f"\n[{racing.hub.engine.dialect.name}] batch confirm/reject/timeout: {dict(finals)}")
    reliability_tally.add("transfers resolved exactly once under racing answers", len(everything))
