"""Partner outages (issue 7 item 2; DESIGN §3.4, §3.6, §7 inv. 1-3), on SQLite and PostgreSQL.

The reference programs on a real hub: skyway and orbit send fifty transfers to harbor while
harbor is offline for hours (its feed piles up, it calls nothing). Offline past the transfer
timeout, every credit is voided, every source member refunded exactly once, and harbor, back
online, must not keep a single credit it applied. Back before the timeout, even with the hub
restarted in between, every credit is delivered exactly once and every balance adds up.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from coalition.keys import SigningKey
from coalition.v1 import event_pb2
from exchange.adapters.memory import FixedClock
from exchange.adapters.sql.engine import create_database_engine
from exchange.adapters.sql.ledger_check import check_ledger
from exchange.bootstrap import Hub, bootstrap
from exchange.config import Settings
from partners.programs.program import LoyaltyProgram
from partners.programs.transfer_store import OutboxOutcome, OutgoingState
from partners.sdk import HubError, verify_event
from tests.support.programs import (
    ClockedCoalition,
    brand_programs,
    clocked_coalition,
    feed_thread,
    processed_events,
    query_rows,
    wait_until,
)
from tests.support.transfer_setup import journal_kinds, transfer_states
from tests.support.transfers import Member, agree, linked_member, terms

# The coalition's transfer timeout in these tests, and how long harbor stays away.
TIMEOUT_S = 6 * 3600
OFFLINE_LONGER_S = 7 * 3600
OFFLINE_SHORTER_S = 5 * 3600
# Members whose transfers pile up for harbor: 5 transfers each (below), so 50 credits wait
# while it is away for hours and comes back in time; 30 when it comes back too late.
MEMBERS = 10
LATE_MEMBERS = 6
# Each member sends this many transfers from each source.
SENT_PER_MEMBER = {"skyway": 3, "orbit": 2}
POINTS = 2_000
CREDITED_POINTS = 1_500  # 2,000 points at 1000:750
OPENING_POINTS = 20_000
SOURCES = ("skyway", "orbit")
EVENT_PAGE_SIZE = 500
NOT_PENDING = "TRANSFER_NOT_PENDING"
TIMED_OUT = "TRANSFER_TIMED_OUT"
# Members whose transfers wait for harbor when the hub goes down during its catch-up.
OUTAGE_MEMBERS = 2
# Once the feed is caught up, how long a program is given to send an answer it still owes.
ANSWER_GRACE_S = 3.0


@dataclass(frozen=True)
class Sent:
    """One transfer a source started for a member while harbor was away."""

    source: str
    member: Member
    transfer_id: str


# Longer than any test: the hub's own scheduler never runs during one.
IDLE_S = 3600


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The hub's own sweeper and nightly settlement stay idle: the test decides when they run."""
    return dataclasses.replace(
        settings, timeout_sweep_interval_s=IDLE_S, settlement_check_interval_s=IDLE_S
    )


@pytest.fixture(autouse=True)
def ledger_checks_clean(engine: Engine) -> Iterator[None]:
    yield
    assert check_ledger(engine) == []


def noon_today() -> FixedClock:
    """Midday UTC: seven hours on is still the same day for daily caps."""
    today = datetime.now(UTC).date()
    noon = datetime(today.year, today.month, today.day, 12, tzinfo=UTC)
    return FixedClock(int(noon.timestamp()) * 1_000_000)


def clock_time(clock: FixedClock) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=clock.now_us())


@pytest.fixture
def hub(settings: Settings, hub_key: SigningKey, engine: Engine) -> Iterator[ClockedCoalition]:
    clock = noon_today()
    timed = dataclasses.replace(settings, transfer_timeout_s=TIMEOUT_S)
    with clocked_coalition(timed, hub_key, engine, clock) as coalition:
        yield coalition


@dataclass
class HubRestarts:
    """Stops the coalition's hub and starts another on the same port, clock, key and data."""

    coalition: ClockedCoalition
    database_url: str
    started: list[Hub] = field(default_factory=list)

    def stop(self) -> None:
        self.coalition.hub.stop(0)

    def start(self) -> Hub:
        stopped = self.coalition.hub
        settings = dataclasses.replace(stopped.settings, listen_address=f"127.0.0.1:{stopped.port}")
        hub = bootstrap(
            settings,
            clock=self.coalition.clock,
            hub_key=stopped.hub_key,
            engine=create_database_engine(self.database_url),
        )
        assert hub.port == stopped.port
        hub.start()
        self.started.append(hub)
        self.coalition.hub = hub
        return hub

    def restart(self) -> Hub:
        self.stop()
        return self.start()


@pytest.fixture
def restarts(hub: ClockedCoalition, database_url: str) -> Iterator[HubRestarts]:
    restarts = HubRestarts(hub, database_url)
    yield restarts
    for started in restarts.started:
        started.stop(0)


@pytest.fixture
def programs(hub: ClockedCoalition, tmp_path: Path) -> dict[str, LoyaltyProgram]:
    """The three brands; skyway and orbit each agreed 1000:750 into harbor points."""
    programs = brand_programs(hub, tmp_path / "programs")
    for source in SOURCES:
        agree(programs[source], programs["harbor"], terms(clock_time(hub.clock)))
    return programs


@pytest.fixture
def enrol(programs: dict[str, LoyaltyProgram]) -> Callable[[int], list[Member]]:
    """Enrols `count` members at every brand, linked, with OPENING_POINTS at each source."""
    opening = {source: OPENING_POINTS for source in SOURCES}

    def members(count: int) -> list[Member]:
        return [linked_member(programs, str(index), opening) for index in range(count)]

    return members


def send_credits(
    programs: dict[str, LoyaltyProgram], members: list[Member], rounds: range
) -> list[Sent]:
    """Each member sends one transfer from each source per round (while it has some left)."""
    sent = []
    for round_index in rounds:
        for member in members:
            for source, count in SENT_PER_MEMBER.items():
                if round_index >= count:
                    continue
                program = programs[source]
                row = program.transfer_out(member.at(program), "harbor", POINTS)
                assert row.state is OutgoingState.STARTED and row.transfer_id is not None
                sent.append(Sent(source, member, row.transfer_id))
    return sent


SEND_ROUNDS = max(SENT_PER_MEMBER.values())
FIRST_ROUNDS, LATER_ROUNDS = range(1), range(1, SEND_ROUNDS)


def feed_payloads(program: LoyaltyProgram) -> list[event_pb2.EventPayload]:
    """The program's whole feed at the hub, every event verified."""
    payloads: list[event_pb2.EventPayload] = []
    after = 0
    while True:
        page = program.events.list_events(after_sequence=after, page_size=EVENT_PAGE_SIZE)
        if not page.events:
            return payloads
        payloads += [
            verify_event(event, program.feed.hub_public_keys, program.partner_id)
            for event in page.events
        ]
        after = page.events[-1].sequence


def transfer_events(program: LoyaltyProgram) -> Counter[tuple[str, str]]:
    """(event body, transfer id) -> how many times the program's feed carries it."""
    found: Counter[tuple[str, str]] = Counter()
    for payload in feed_payloads(program):
        body = payload.WhichOneof("body") or ""
        found[(body, getattr(payload, body).transfer_id)] += 1
    return found


def record_confirm_refusals(
    monkeypatch: pytest.MonkeyPatch, program: LoyaltyProgram
) -> Counter[str]:
    """Counts the refusal reasons the hub gives the program's ConfirmCredit calls."""
    refusals: Counter[str] = Counter()
    real = program.exchange.confirm_credit

    def confirm_credit(*args: Any, **kwargs: Any) -> Any:
        try:
            return real(*args, **kwargs)
        except HubError as error:
            refusals[error.reason] += 1
            raise

    monkeypatch.setattr(program.exchange, "confirm_credit", confirm_credit)
    return refusals


def sync_sources_twice(programs: dict[str, LoyaltyProgram]) -> None:
    """Each source applies its feed; then reads all of it again, as after a lost ack, and
    applies nothing: a redelivered outcome never refunds or completes twice."""
    for source in SOURCES:
        programs[source].sync_feed()
    for source in SOURCES:
        programs[source].feed.acked_sequence = 0
        assert programs[source].sync_feed() == 0


def all_answers_sent(program: LoyaltyProgram, count: int) -> Callable[[], bool]:
    def sent() -> bool:
        outbox = program.outbox()
        return len(outbox) == count and all(entry.sent for entry in outbox)

    return sent


def states_of(engine: Engine, sent: list[Sent]) -> Counter[tuple[str, str | None]]:
    states = transfer_states(engine)
    return Counter(states[one.transfer_id] for one in sent)


def feed_position(engine: Engine, partner_id: str) -> tuple[int, int]:
    [(last, acked)] = query_rows(
        engine,
        "SELECT last_sequence, acked_sequence FROM partner_feeds WHERE partner_id = :partner_id",
        partner_id=partner_id,
    )
    return int(str(last)), int(str(acked))


def assert_each_resolved_once(
    programs: dict[str, LoyaltyProgram], engine: Engine, sent: list[Sent], outcome: str
) -> None:
    """At the hub and in every feed: one hold and one post (or void) journal per transfer,
    one CreditRequested to harbor, one TransferCompleted (or TransferVoided) to its source."""
    journal = "post" if outcome == "transfer_completed" else "void"
    journals = journal_kinds(engine)
    assert {journals[one.transfer_id] == ["hold", journal] for one in sent} == {True}
    credits = transfer_events(programs["harbor"])
    assert set(credits) == {("credit_requested", one.transfer_id) for one in sent}
    assert set(credits.values()) == {1}
    outcomes = transfer_events(programs["skyway"]) + transfer_events(programs["orbit"])
    assert outcomes == Counter({(outcome, one.transfer_id): 1 for one in sent})


# --- offline longer than the timeout -------------------------------------------------------------


@pytest.mark.parametrize("sweeper_first", [True, False], ids=["swept", "answered-late"])
def test_a_destination_offline_past_the_timeout_gets_every_credit_voided_and_undone(
    hub: ClockedCoalition,
    programs: dict[str, LoyaltyProgram],
    enrol: Callable[[int], list[Member]],
    monkeypatch: pytest.MonkeyPatch,
    reliability_tally: Any,
    sweeper_first: bool,
) -> None:
    """Harbor applied the first credits, then went down before answering; the rest piled up
    in its feed. `swept`: the hub's sweeper voids everything before harbor is back;
    `answered-late`: harbor's late answers find the transfers still pending past the timeout."""
    harbor, engine = programs["harbor"], hub.hub.engine
    members = enrol(LATE_MEMBERS)
    sent = send_credits(programs, members, FIRST_ROUNDS)
    harbor.feed.drain()  # credited, answers queued; then harbor goes dark before sending them
    first_credits = len(SENT_PER_MEMBER) * CREDITED_POINTS  # one from each source
    assert {harbor.balance(m.at(harbor)) for m in members} == {first_credits}
    sent += send_credits(programs, members, LATER_ROUNDS)
    assert len(sent) == LATE_MEMBERS * sum(SENT_PER_MEMBER.values())

    hub.clock.advance_s(OFFLINE_LONGER_S)
    if sweeper_first:
        assert hub.hub.void_timed_out_transfers() == len(sent)
        sync_sources_twice(programs)
    refusals = record_confirm_refusals(monkeypatch, harbor)
    with feed_thread(harbor):  # back online: follows its stream, answering as it goes
        wait_until(all_answers_sent(harbor, len(sent)), "harbor to answer every credit")
    assert hub.hub.void_timed_out_transfers() == 0, "nothing is left for the sweeper"
    if not sweeper_first:
        sync_sources_twice(programs)

    # The hub voided each transfer exactly once, as timed out; a late confirm never completes.
    assert states_of(engine, sent) == Counter({("voided", "timed_out"): len(sent)})
    # Already voided by the sweeper, a late answer hears "not pending"; past its timeout but
    # still pending, the answer itself voids it and hears "timed out".
    assert refusals == Counter({NOT_PENDING if sweeper_first else TIMED_OUT: len(sent)})
    assert_each_resolved_once(programs, engine, sent, "transfer_voided")
    for one in sent:
        row = programs[one.source].outgoing(one.transfer_id)
        assert row is not None and (row.state, row.detail) == (OutgoingState.VOIDED, "timed_out")
    # Every source member is whole again (refunded once), and harbor kept none of the credits.
    for member in members:
        for source in SOURCES:
            assert programs[source].balance(member.at(programs[source])) == OPENING_POINTS
        assert harbor.balance(member.at(harbor)) == 0
    outcomes = Counter((entry.sent, entry.outcome) for entry in harbor.outbox())
    assert outcomes == Counter({(True, OutboxOutcome.RESOLVED_FIRST): len(sent)})
    reliability_tally.add("credits voided and refunded after outage", len(sent))
    reliability_tally.add("late credits undone at the destination", len(sent))


# --- offline shorter than the timeout ------------------------------------------------------------


def test_a_destination_back_before_the_timeout_gets_every_credit_once_across_a_hub_restart(
    hub: ClockedCoalition,
    programs: dict[str, LoyaltyProgram],
    enrol: Callable[[int], list[Member]],
    restarts: HubRestarts,
    reliability_tally: Any,
) -> None:
    harbor = programs["harbor"]
    members = enrol(MEMBERS)
    sent = send_credits(programs, members, FIRST_ROUNDS)
    harbor.feed.drain()  # credited, answers queued; then harbor goes dark before sending them
    hub.clock.advance_s(OFFLINE_SHORTER_S // 2)
    restarts.restart()  # the hub restarts while harbor is away
    sent += send_credits(programs, members, LATER_ROUNDS)
    hub.clock.advance_s(OFFLINE_SHORTER_S - OFFLINE_SHORTER_S // 2)
    engine = hub.hub.engine
    assert hub.hub.void_timed_out_transfers() == 0, "five hours is inside the six-hour timeout"

    with feed_thread(harbor):  # back online
        wait_until(
            lambda: states_of(engine, sent) == Counter({("completed", None): len(sent)}),
            "every transfer to complete",
        )
        wait_until(all_answers_sent(harbor, len(sent)), "harbor to record every answer")
    sync_sources_twice(programs)

    assert_each_resolved_once(programs, engine, sent, "transfer_completed")
    applied = [event_id for event_id, _ in processed_events(harbor)]
    assert len(applied) == len(set(applied)) == len(sent), "each credit applied exactly once"
    outcomes = Counter((entry.sent, entry.outcome) for entry in harbor.outbox())
    assert outcomes == Counter({(True, OutboxOutcome.ACCEPTED): len(sent)})
    for one in sent:
        row = programs[one.source].outgoing(one.transfer_id)
        assert row is not None and row.state is OutgoingState.COMPLETED
    # Points are conserved: what left each source arrived once at harbor.
    for member in members:
        for source, count in SENT_PER_MEMBER.items():
            program = programs[source]
            assert program.balance(member.at(program)) == OPENING_POINTS - count * POINTS
        credited = sum(SENT_PER_MEMBER.values()) * CREDITED_POINTS
        assert harbor.balance(member.at(harbor)) == credited

    hub.clock.advance_s(TIMEOUT_S)  # long past every original timeout: nothing to void
    assert hub.hub.void_timed_out_transfers() == 0
    assert states_of(engine, sent) == Counter({("completed", None): len(sent)})
    reliability_tally.add("credits delivered after outage", len(sent))
    reliability_tally.add("hub restarts during a partner outage", 1)


@dataclass
class OutageAtConfirm:
    """The hub goes down just as the program confirms one transfer, and comes back once that
    call has given up: down for the SDK's whole retry budget, and not a moment longer."""

    restarts: HubRestarts
    transfer_id: str
    back: threading.Event = field(default_factory=threading.Event)

    def wrap(self, monkeypatch: pytest.MonkeyPatch, program: LoyaltyProgram) -> None:
        real = program.exchange.confirm_credit

        def confirm_credit(transfer_id: str, *args: Any, **kwargs: Any) -> Any:
            if transfer_id != self.transfer_id or self.back.is_set():
                return real(transfer_id, *args, **kwargs)
            self.restarts.stop()
            try:
                return real(transfer_id, *args, **kwargs)
            finally:
                self.restarts.start()
                self.back.set()

        monkeypatch.setattr(program.exchange, "confirm_credit", confirm_credit)


def held_for(condition: Callable[[], bool], timeout_s: float) -> bool:
    """Polls `condition` for up to `timeout_s`; whether it came to hold."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_a_hub_outage_during_the_catch_up_still_gets_every_credit_confirmed(
    hub: ClockedCoalition,
    programs: dict[str, LoyaltyProgram],
    enrol: Callable[[int], list[Member]],
    restarts: HubRestarts,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Harbor is back within the timeout and follows its stream; the hub goes down just as
    harbor confirms the last credit, stays down through the SDK's retries, then returns."""
    harbor = programs["harbor"]
    sent = send_credits(programs, enrol(OUTAGE_MEMBERS), range(SEND_ROUNDS))
    hub.clock.advance_s(OFFLINE_SHORTER_S)
    outage = OutageAtConfirm(restarts, sent[-1].transfer_id)
    outage.wrap(monkeypatch, harbor)

    with feed_thread(harbor):
        wait_until(outage.back.is_set, "the hub to go down and come back")
        engine = hub.hub.engine
        last, _ = feed_position(engine, "harbor")
        wait_until(
            lambda: feed_position(engine, "harbor")[1] == last,
            "harbor to catch up with its feed after the hub came back",
        )

        # Harbor is online, its feed is caught up: every credit it applied gets confirmed, and
        # harbor records each answer as taken (the hub commits a confirmation a moment before
        # harbor reads its response, so both are awaited together).
        def unsent() -> list[str]:
            return [entry.transfer_id for entry in harbor.store.outbox(unsent_only=True)]

        everything_confirmed = held_for(
            lambda: (
                states_of(engine, sent) == Counter({("completed", None): len(sent)})
                and not unsent()
            ),
            ANSWER_GRACE_S,
        )
    assert everything_confirmed, f"answers never sent: {unsent()}"
