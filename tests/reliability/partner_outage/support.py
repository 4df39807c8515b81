"""Credits sent to a destination that is offline, and what each side saw of them: feed events,
confirm refusals, positions, each transfer resolved once."""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine

from coalition.v1 import event_pb2
from exchange.adapters.memory import FixedClock
from exchange.adapters.sql.engine import create_database_engine
from exchange.bootstrap import Hub, bootstrap
from partners.programs.program import LoyaltyProgram
from partners.programs.transfer_store import OutgoingState
from partners.sdk import HubError, verify_event
from tests.support.programs import ClockedCoalition, query_rows
from tests.support.transfer_setup import journal_kinds, transfer_states
from tests.support.transfers import Member

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


def noon_today() -> FixedClock:
    """Midday UTC: seven hours on is still the same day for daily caps."""
    today = datetime.now(UTC).date()
    noon = datetime(today.year, today.month, today.day, 12, tzinfo=UTC)
    return FixedClock(int(noon.timestamp()) * 1_000_000)


def clock_time(clock: FixedClock) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=clock.now_us())


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
