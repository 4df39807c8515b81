"""Races, round after round (issue 7 item 3; DESIGN §3.4, §3.7, §4.2, §7 inv. 3, 4, 6, 7).

tests/test_transfer_concurrency.py and tests/test_settlement_races.py each run one burst of a
race; here every race runs for many rounds, with jitter, so the interleavings vary, and the
races they leave out are added: one idempotency key carrying two different requests at once;
confirm, reject and the timeout (the clock passing it, then the sweeper) on one transfer at
once; ConfirmCredits batches in those races; one batch entry's key in two batches (or a batch
and a lone CreateTransfer) at once; closing a day early, twice at once, while its transfers
complete and void; and the cut-off passing while transfers complete, with two settlers.
Whatever the interleaving, each thing resolves exactly once. Run on SQLite and PostgreSQL
(where the calls really interleave).
"""

from __future__ import annotations

import dataclasses
import functools
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as wall_time
from typing import Any

import grpc
import pytest
from sqlalchemy import Engine

from coalition.keys import SigningKey
from coalition.v1 import common_pb2
from coalition.v1 import exchange_pb2 as xpb
from exchange.adapters.memory import FixedClock
from exchange.adapters.sql.ledger_check import check_ledger
from exchange.bootstrap import bootstrap
from exchange.config import Settings
from exchange.services.settlement import DaySettlement, settle_day
from partners.sdk import BatchTransfer, EventClient, HubConnection, HubError, verify_event
from partners.sdk.exchange_client import ExchangeClient
from tests.support.coalition import TestCoalition, seed_partners
from tests.support.programs import WAIT_S_MAX, ClockedCoalition, clocked_coalition, query_rows
from tests.support.transfer_setup import (
    CONFIRM_CREDIT,
    CREATE_TRANSFER,
    REJECT_CREDIT,
    OffsetClock,
    Outcome,
    agree_rates,
    all_at_once,
    create_transfer,
    journal_kinds,
    linked_member,
    quote_id,
    sdk_outcome,
    transfer_count,
    transfer_states,
)

TIMEOUT_S = 30
POINTS = 1_000
# A racer waits up to this long after the barrier, so who goes first differs between rounds.
JITTER_S_MAX = 0.02
NEVER = frozenset({grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN})
IN_PROGRESS = "ABORTED IDEMPOTENCY_IN_PROGRESS"
KEY_REUSED = "FAILED_PRECONDITION IDEMPOTENCY_KEY_REUSED"
NOT_PENDING = "FAILED_PRECONDITION TRANSFER_NOT_PENDING"
TIMED_OUT = "FAILED_PRECONDITION TRANSFER_TIMED_OUT"
STATUS_BY_NUMBER = {status.value[0]: status for status in grpc.StatusCode}
COMPLETED = ("completed", None)
REJECTED = ("voided", "rejected")
VOIDED_TIMED_OUT = ("voided", "timed_out")
EVENT_PAGE_SIZE = 500

# Longer than any test: the hub's own scheduler never runs during one.
IDLE_S = 3600


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The hub's background sweeper and nightly settlement stay idle: only racers run them."""
    return dataclasses.replace(
        settings, timeout_sweep_interval_s=IDLE_S, settlement_check_interval_s=IDLE_S
    )


@pytest.fixture(autouse=True)
def ledger_checks_clean(engine: Engine) -> Iterator[None]:
    yield
    assert check_ledger(engine) == []


def jittered(rng: random.Random, call: Callable[[], Any]) -> Callable[[], Any]:
    delay_s = rng.uniform(0, JITTER_S_MAX)

    def run() -> Any:
        time.sleep(delay_s)
        return call()

    return run


def assert_no_internal(outcomes: list[Outcome]) -> None:
    escaped = [o.label for o in outcomes if o.code in NEVER]
    assert not escaped, f"{len(escaped)} calls failed inside the hub: {Counter(escaped)}"


def item_label(error: common_pb2.ItemError) -> str:
    """An ItemError written like an Outcome label: 'FAILED_PRECONDITION TRANSFER_NOT_PENDING'."""
    return f"{STATUS_BY_NUMBER[error.code].name} {error.reason}"


def terminal_events(connection: HubConnection, keys: dict[str, bytes]) -> dict[str, list[str]]:
    """transfer id -> the completion and void events the partner's feed carries for it."""
    events = EventClient(connection)
    found: dict[str, list[str]] = {}
    after = 0
    while True:
        page = events.list_events(after_sequence=after, page_size=EVENT_PAGE_SIZE)
        if not page.events:
            return found
        for event in page.events:
            payload = verify_event(event, keys, connection.partner_id)
            body = payload.WhichOneof("body") or ""
            if body == "transfer_completed":
                found.setdefault(payload.transfer_completed.transfer_id, []).append("completed")
            elif body == "transfer_voided":
                reason = xpb.VoidReason.Name(payload.transfer_voided.reason)
                found.setdefault(payload.transfer_voided.transfer_id, []).append(reason)
        after = page.events[-1].sequence


TERMINAL_EVENT = {
    COMPLETED: ["completed"],
    REJECTED: ["VOID_REASON_REJECTED"],
    VOIDED_TIMED_OUT: ["VOID_REASON_TIMED_OUT"],
}


def assert_each_resolved_once(
    coalition: TestCoalition, source: HubConnection, transfer_ids: list[str]
) -> Counter[tuple[str, str | None]]:
    """One final state per transfer; one hold and exactly one post or void journal; exactly
    one TransferCompleted or TransferVoided (with the matching reason) in the source's feed."""
    engine = coalition.hub.engine
    states, journals = transfer_states(engine), journal_kinds(engine)
    events = terminal_events(source, coalition.hub_public_keys)
    finals: Counter[tuple[str, str | None]] = Counter()
    for transfer_id in transfer_ids:
        state = states[transfer_id]
        assert state in TERMINAL_EVENT, (transfer_id, state)
        journal = "post" if state == COMPLETED else "void"
        assert journals[transfer_id] == ["hold", journal], (transfer_id, journals[transfer_id])
        assert events.get(transfer_id) == TERMINAL_EVENT[state], (transfer_id, events)
        finals[state] += 1
    return finals


# --- hubs ----------------------------------------------------------------------------------------


@dataclass
class RacingCoalition(TestCoalition):
    """A hub on an OffsetClock (real time plus what the test adds); its connections sign with
    that clock, so requests stay fresh however far the test moves it."""

    clock: OffsetClock = field(default_factory=OffsetClock)

    def connection(self, partner_id: str, key: SigningKey | None = None) -> HubConnection:
        connection = super().connection(partner_id, key)
        connection.clock_s = lambda: self.clock.now_us() / 1_000_000
        return connection


@pytest.fixture
def racing(settings: Settings, hub_key: SigningKey, engine: Engine) -> Iterator[RacingCoalition]:
    """A hub whose transfers time out after TIMEOUT_S of its clock; skyway → harbor agreed."""
    clock = OffsetClock()
    hub = bootstrap(
        dataclasses.replace(settings, transfer_timeout_s=TIMEOUT_S),
        clock=clock,
        hub_key=hub_key,
        engine=engine,
    )
    keys = seed_partners(hub)
    hub.start()
    coalition = RacingCoalition(hub, keys, clock=clock)
    agree_rates(coalition.connection("skyway"), coalition.connection("harbor"))
    yield coalition
    coalition.close()
    hub.stop(0)


def require_batch_rpcs(connection: HubConnection) -> None:
    """The hub serves the batch RPCs: empty calls are refused as bad input."""
    client = ExchangeClient(connection)
    for probe in (lambda: client.confirm_credits([]), lambda: client.create_transfer_batch([])):
        with pytest.raises(HubError) as refused:
            probe()
        assert refused.value.code is grpc.StatusCode.INVALID_ARGUMENT, refused.value


# --- 1. one idempotency key, two different requests ----------------------------------------------

KEY_ROUNDS = 20
KEY_TWINS = 4  # callers sending the very same request
KEY_RIVALS = 2  # callers sending another request under the same key


def test_one_key_carrying_two_different_requests_at_once_starts_one_transfer(
    racing: RacingCoalition, reliability_tally: Any
) -> None:
    """Per round, two quotes and one key: four callers send quote A, two send quote B, all
    under that key. One request wins; every OK answer is its stored bytes; the other request
    is refused as a reused key (or told to wait) and its quote stays unused."""
    skyway = racing.connection("skyway")
    engine = racing.hub.engine
    source_ppid, _ = linked_member(skyway, racing.connection("harbor"))
    winners: Counter[str] = Counter()
    for round_index in range(KEY_ROUNDS):
        rng = random.Random(round_index)
        quotes = {name: quote_id(skyway, source_ppid, "harbor", POINTS) for name in "AB"}
        key = str(uuid.uuid4())

        def send(quote: str, key: str = key) -> Outcome:
            request = xpb.CreateTransferRequest(quote_id=quote)
            return sdk_outcome(skyway, CREATE_TRANSFER, request, xpb.CreateTransferResponse, key)

        callers = ["A"] * KEY_TWINS + ["B"] * KEY_RIVALS
        rng.shuffle(callers)
        before = transfer_count(engine)
        outcomes = all_at_once([jittered(rng, functools.partial(send, quotes[c])) for c in callers])
        assert_no_internal(outcomes)

        answers = {o.response for o in outcomes if o.ok}
        assert len(answers) == 1, "every OK answer is the one stored response"
        answer = answers.pop()
        assert answer is not None
        started = xpb.CreateTransferResponse.FromString(answer).transfer
        won = next(name for name, quote in quotes.items() if quote == started.quote_id)
        lost = "B" if won == "A" else "A"
        for caller, outcome in zip(callers, outcomes, strict=True):
            allowed = {"OK", IN_PROGRESS} if caller == won else {KEY_REUSED, IN_PROGRESS}
            assert outcome.label in allowed, (round_index, caller, won, outcome.label)
        if engine.dialect.name == "sqlite":
            # Writers queue for SQLite's one lock: nobody finds the key in progress.
            assert IN_PROGRESS not in {o.label for o in outcomes}
        # Those told to wait retry the same request: the winner's bytes, or "reused".
        for caller in set(callers):
            retried = send(quotes[caller])
            if caller == won:
                assert (retried.label, retried.response) == ("OK", answer)
            else:
                assert retried.label == KEY_REUSED
        assert transfer_count(engine) == before + 1, "one key, one transfer"
        # The losing request wrote nothing: its quote still starts a transfer of its own.
        create_transfer(skyway, quotes[lost])
        winners[won] += 1
        reliability_tally.add("race rounds resolved exactly once")
    print(f"\n[{engine.dialect.name}] one key, two requests: winners {dict(winners)}")
    assert transfer_count(engine) == 2 * KEY_ROUNDS
    reliability_tally.add("duplicate requests collapsed into one transfer", KEY_ROUNDS)


# --- 2. confirm, reject and the timeout on one transfer ------------------------------------------

RESOLVE_ROUNDS = 20
RESOLVE_TRANSFERS = 3  # pending transfers raced per round


@dataclass
class Resolution:
    """The racers of one round: answers per transfer, and how many the sweeper voided."""

    answers: dict[str, list[tuple[str, Outcome]]] = field(default_factory=dict)
    swept: int = 0


def pending_transfers(skyway: HubConnection, source_ppid: str, count: int) -> list[str]:
    return [
        create_transfer(skyway, quote_id(skyway, source_ppid, "harbor", POINTS))
        for _ in range(count)
    ]


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


def answer(harbor: HubConnection, action: str, transfer_id: str) -> Callable[[], Outcome]:
    if action == "reject":
        request: Any = xpb.RejectCreditRequest(transfer_id=transfer_id, reason="account closed")
        return lambda: sdk_outcome(harbor, REJECT_CREDIT, request, xpb.RejectCreditResponse)
    request = xpb.ConfirmCreditRequest(transfer_id=transfer_id)
    return lambda: sdk_outcome(harbor, CONFIRM_CREDIT, request, xpb.ConfirmCreditResponse)


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
        timed_out = sum(states[t] == VOIDED_TIMED_OUT for t in transfer_ids)
        assert swept + labels[TIMED_OUT] == timed_out, (round_index, swept, labels)
        everything += transfer_ids
        reliability_tally.add("race rounds resolved exactly once")
    finals = assert_each_resolved_once(racing, skyway, everything)
    print(f"\n[{racing.hub.engine.dialect.name}] batch confirm/reject/timeout: {dict(finals)}")
    reliability_tally.add("transfers resolved exactly once under racing answers", len(everything))


# --- 3. one batch entry's key, sent twice at once ------------------------------------------------

ENTRY_ROUNDS = 15


def send_alone(client: ExchangeClient, entry: BatchTransfer) -> xpb.Transfer | HubError:
    """The entry as a lone CreateTransfer under its own key; a refusal is returned."""
    try:
        return client.create_transfer(
            idempotency_key=entry.idempotency_key,
            ppid=entry.ppid,
            destination_partner_id=entry.destination_partner_id,
            source_points=entry.source_points,
        )
    except HubError as error:
        return error


@pytest.mark.parametrize("rival", ["batch", "alone"])
def test_one_entry_key_in_two_calls_at_once_starts_one_transfer(
    racing: RacingCoalition, rival: str, reliability_tally: Any
) -> None:
    """Per round, one entry (inline terms, so no quote guards it: only its key) is sent in two
    different batches at once, or in a batch and alone with CreateTransfer under its key.
    It starts one transfer, and every call that got an answer for it got that transfer."""
    skyway = racing.connection("skyway")
    require_batch_rpcs(skyway)
    client = ExchangeClient(skyway)
    engine = racing.hub.engine
    source_ppid, _ = linked_member(skyway, racing.connection("harbor"))
    for round_index in range(ENTRY_ROUNDS):
        rng = random.Random(round_index)
        shared = BatchTransfer(str(uuid.uuid4()), source_ppid, "harbor", POINTS)
        own = [BatchTransfer(str(uuid.uuid4()), source_ppid, "harbor", POINTS) for _ in "12"]

        calls: list[Callable[[], Any]]
        calls = [functools.partial(client.create_transfer_batch, [shared, own[0]])]
        if rival == "batch":
            calls.append(functools.partial(client.create_transfer_batch, [own[1], shared]))
        else:
            calls.append(functools.partial(send_alone, client, shared))
        before = transfer_count(engine)
        first, second = all_at_once([jittered(rng, call) for call in calls])

        seen: list[str] = []  # the transfer id each call got for the shared entry
        busy = 0
        for results in (first, second):
            if isinstance(results, HubError):
                assert f"{results.code.name} {results.reason}" == IN_PROGRESS, results
                busy += 1
                continue
            if isinstance(results, xpb.Transfer):
                seen.append(results.transfer_id)
                continue
            by_key = {result.idempotency_key: result for result in results}
            for entry in (e for e in own if e.idempotency_key in by_key):
                assert by_key[entry.idempotency_key].WhichOneof("outcome") == "transfer"
            result = by_key[shared.idempotency_key]
            if result.WhichOneof("outcome") == "transfer":
                seen.append(result.transfer.transfer_id)
            else:
                assert item_label(result.error) == IN_PROGRESS, result.error
                busy += 1
        assert len(seen) >= 1 and len(set(seen)) == 1, (round_index, seen, busy)
        own_sent = 2 if rival == "batch" else 1
        assert transfer_count(engine) == before + 1 + own_sent, "the shared entry started once"
        # A retry of the entry, alone and under its key, gets that same transfer.
        again = send_alone(client, shared)
        assert isinstance(again, xpb.Transfer) and again.transfer_id == seen[0]
        reliability_tally.add("race rounds resolved exactly once")
    reliability_tally.add("duplicate requests collapsed into one transfer", ENTRY_ROUNDS)


# --- 4. settlement racing in-flight transfers ----------------------------------------------------

SETTLE_ROUNDS = 10
SETTLE_CONFIRMS = 4  # pending transfers per round that harbor confirms
SETTLE_REJECTS = 2  # ... and that it rejects
SETTLING_TIMEOUT_S = 3 * 24 * 3600  # transfers outlive the days the clock moves through
DAY_S = 24 * 3600


@pytest.fixture
def settling(settings: Settings, hub_key: SigningKey, engine: Engine) -> Iterator[ClockedCoalition]:
    """A hub at midday UTC today (its cut-off, midnight, is half a day either way) that
    settles a day as soon as it ends; skyway → harbor agreed."""
    noon = datetime.combine(datetime.now(UTC).date(), wall_time(12), tzinfo=UTC)
    clock = FixedClock(int(noon.timestamp()) * 1_000_000)
    timed = dataclasses.replace(
        settings, transfer_timeout_s=SETTLING_TIMEOUT_S, settlement_delay_s=0
    )
    with clocked_coalition(timed, hub_key, engine, clock) as coalition:
        agree_rates(coalition.connection("skyway"), coalition.connection("harbor"))
        yield coalition


def today(coalition: ClockedCoalition) -> str:
    return coalition.hub.settings.calendar.business_day_of(coalition.clock.now_us()).isoformat()


def next_day(business_day: str) -> str:
    return (date.fromisoformat(business_day) + timedelta(days=1)).isoformat()


def close_early(coalition: ClockedCoalition, business_day: str) -> Callable[[], DaySettlement]:
    hub = coalition.hub
    return lambda: settle_day(
        hub.engine, hub.settings.calendar, coalition.clock, business_day, close_early=True
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
