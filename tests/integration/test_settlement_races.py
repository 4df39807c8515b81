"""Closing a business day while transfers complete: each completed transfer lands in exactly
one day, the closed day's run holds exactly its transfers, and nothing posts into it after the
close (DESIGN §3.7, §7 inv. 6, 7).

On PostgreSQL the completions and the close really interleave (row locks: a completion holds
its day FOR SHARE, the close UPDATEs it); on SQLite every writer queues for one lock, so the
same outcomes must hold by serialization.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from coalition.keys import SigningKey
from coalition.v1 import exchange_pb2
from exchange.adapters.memory import FixedClock
from exchange.adapters.sql.business_days import SqlBusinessDayRepository
from exchange.adapters.sql.ledger_check import check_ledger
from exchange.config import Settings
from exchange.services.settlement import DaySettlement, settle_day
from partners.programs.program import LoyaltyProgram
from partners.sdk import ExchangeClient, HubError
from tests.support.programs import (
    WAIT_S_MAX,
    ClockedCoalition,
    Race,
    brand_programs,
    clocked_coalition,
    query_rows,
    wait_for_lock_waiters,
    wait_until,
)
from tests.support.transfers import Member, agree, linked_member, terms

COMPLETED = exchange_pb2.TRANSFER_STATE_COMPLETED
POINTS = 2_000
EARLY_TRANSFERS = 4  # confirmed before the close starts: the closed day's
RACING_TRANSFERS = 32  # confirmed while it closes: either day, never both, never neither
LATE_TRANSFERS = 4  # confirmed after it closed: the next day's
CONFIRMING_THREADS = 8
# The close starts once this many racing confirmations are through, so more are in flight.
CLOSE_AFTER_RACING = RACING_TRANSFERS // 4
# How long a blocked close is given to (wrongly) finish before the test looks.
BLOCKED_CHECK_S = 0.3


@pytest.fixture(autouse=True)
def ledger_checks_clean(engine: Engine) -> Iterator[None]:
    yield
    assert check_ledger(engine) == []


@pytest.fixture
def hub(settings: Settings, hub_key: SigningKey, engine: Engine) -> Iterator[ClockedCoalition]:
    """A hub at midday UTC: the default calendar's cut-off (midnight) is far either way."""
    noon = datetime.combine(datetime.now(UTC).date(), time(12), tzinfo=UTC)
    clock = FixedClock(int(noon.timestamp()) * 1_000_000)
    with clocked_coalition(settings, hub_key, engine, clock) as coalition:
        yield coalition


@pytest.fixture
def programs(hub: ClockedCoalition, tmp_path: Path) -> dict[str, LoyaltyProgram]:
    programs = brand_programs(hub, tmp_path / "programs")
    now = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=hub.clock.now_us())
    cap = POINTS * (EARLY_TRANSFERS + RACING_TRANSFERS + LATE_TRANSFERS)
    agree(programs["skyway"], programs["harbor"], terms(now, daily_cap=cap))
    return programs


@pytest.fixture
def member(programs: dict[str, LoyaltyProgram]) -> Member:
    skyway_points = POINTS * (EARLY_TRANSFERS + RACING_TRANSFERS + LATE_TRANSFERS)
    return linked_member(programs, "1", {"skyway": skyway_points})


def pending_transfers(programs: dict[str, LoyaltyProgram], member: Member, count: int) -> list[str]:
    """`count` skyway → harbor transfers the hub holds; harbor has not answered any yet."""
    skyway = programs["skyway"]
    ids = []
    for _ in range(count):
        sent = skyway.transfer_out(member.at(skyway), "harbor", POINTS)
        assert sent.transfer_id is not None
        ids.append(sent.transfer_id)
    return ids


def today(hub: ClockedCoalition) -> str:
    return hub.hub.settings.calendar.business_day_of(hub.clock.now_us()).isoformat()


def next_day(business_day: str) -> str:
    return (date.fromisoformat(business_day) + timedelta(days=1)).isoformat()


def settle(hub: ClockedCoalition, business_day: str) -> DaySettlement:
    return settle_day(
        hub.hub.uow_factory, hub.hub.settings.calendar, hub.clock, business_day, close_early=True
    )


def business_days(engine: Engine) -> dict[str, str | None]:
    rows = query_rows(
        engine, "SELECT transfer_id, business_day FROM transfers WHERE state = 'completed'"
    )
    return {str(t): None if d is None else str(d) for t, d in rows}


def leaves(engine: Engine) -> list[tuple[str, str]]:
    """(business day, transfer id) of every settled leaf."""
    rows = query_rows(engine, "SELECT business_day, transfer_id FROM settlement_leaves")
    return [(str(day), str(transfer_id)) for day, transfer_id in rows]


def leaves_of(engine: Engine, business_day: str) -> set[str]:
    return {transfer_id for day, transfer_id in leaves(engine) if day == business_day}


def assert_completed(results: list[object]) -> None:
    for result in results:
        assert isinstance(result, exchange_pb2.Transfer), result
        assert result.state == COMPLETED


def test_transfers_completing_while_the_day_closes_land_in_exactly_one_day(
    hub: ClockedCoalition, programs: dict[str, LoyaltyProgram], member: Member, engine: Engine
) -> None:
    ids = pending_transfers(programs, member, EARLY_TRANSFERS + RACING_TRANSFERS + LATE_TRANSFERS)
    early = ids[:EARLY_TRANSFERS]
    racing = ids[EARLY_TRANSFERS : EARLY_TRANSFERS + RACING_TRANSFERS]
    late = ids[EARLY_TRANSFERS + RACING_TRANSFERS :]
    harbor = programs["harbor"].exchange
    day = today(hub)
    assert_completed([harbor.confirm_credit(transfer_id) for transfer_id in early])

    closed = confirm_while_the_day_closes(hub, harbor, racing, day)
    assert_completed([harbor.confirm_credit(transfer_id) for transfer_id in late])
    settled_next = settle(hub, next_day(day))

    days = business_days(engine)
    assert set(days) == set(ids)
    assert set(days.values()) <= {day, next_day(day)}
    in_day = {t for t, d in days.items() if d == day}
    in_next_day = {t for t, d in days.items() if d == next_day(day)}
    assert set(early) <= in_day and set(late) <= in_next_day
    assert_each_day_holds_its_own(engine, day, in_day, in_next_day, closed, settled_next)
    assert settle(hub, day).alarm is None  # nothing posted into the closed day afterwards


def confirm_while_the_day_closes(
    hub: ClockedCoalition, harbor: ExchangeClient, racing: list[str], day: str
) -> DaySettlement:
    """Confirms `racing` on several threads and closes `day` once some of them are done."""
    done: list[str] = []
    done_lock = threading.Lock()
    queue = list(racing)

    def confirm_some() -> list[object]:
        results: list[object] = []
        while True:
            with done_lock:
                if not queue:
                    return results
                transfer_id = queue.pop()
            try:
                results.append(harbor.confirm_credit(transfer_id))
            except HubError as error:
                results.append(error)
            with done_lock:
                done.append(transfer_id)

    def close_mid_stream() -> DaySettlement:
        wait_until(lambda: len(done) >= CLOSE_AFTER_RACING, "the first racing confirmations")
        return settle(hub, day)

    race = Race([confirm_some] * CONFIRMING_THREADS + [close_mid_stream])
    race.start()
    *confirmed, closed = race.join()
    assert isinstance(closed, DaySettlement)
    for results in confirmed:
        assert isinstance(results, list)
        assert_completed(results)
    return closed


def assert_each_day_holds_its_own(
    engine: Engine,
    day: str,
    in_day: set[str],
    in_next_day: set[str],
    closed: DaySettlement,
    settled_next: DaySettlement,
) -> None:
    """Each day's tree holds exactly its transfers, no transfer is in two, and each day nets."""
    assert leaves_of(engine, day) == in_day and closed.tree_size == len(in_day)
    assert leaves_of(engine, next_day(day)) == in_next_day
    assert settled_next.tree_size == len(in_next_day)
    assert set(Counter(t for _, t in leaves(engine)).values()) == {1}
    for run in (closed, settled_next):
        assert sum(p.net_minor for p in run.positions["USD"]) == 0


@contextmanager
def completion_paused(
    monkeypatch: pytest.MonkeyPatch, *, before_reading_the_day: bool
) -> Iterator[tuple[threading.Event, threading.Event]]:
    """The next completion stops inside its transaction, just before or just after it reads
    (and, on PostgreSQL, share-locks) its business day; `release` lets it go on."""
    real = SqlBusinessDayRepository.open_day_at_or_after
    reached, release = threading.Event(), threading.Event()
    claimed = threading.Lock()

    def paused(self: SqlBusinessDayRepository, business_day: str) -> str:
        mine = claimed.acquire(blocking=False)  # only the first caller pauses
        if mine and before_reading_the_day:
            reached.set()
            release.wait(WAIT_S_MAX)
        found = real(self, business_day)
        if mine and not before_reading_the_day:
            reached.set()
            release.wait(WAIT_S_MAX)
        return found

    monkeypatch.setattr(SqlBusinessDayRepository, "open_day_at_or_after", paused)
    try:
        yield reached, release
    finally:
        release.set()


def in_thread(work: Callable[[], object]) -> Race:
    race = Race([work])
    race.start()
    return race


def test_a_completion_in_flight_holds_the_close_back_and_settles_in_the_closing_day(
    hub: ClockedCoalition,
    programs: dict[str, LoyaltyProgram],
    member: Member,
    engine: Engine,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first, transfer_id = pending_transfers(programs, member, 2)
    harbor = programs["harbor"].exchange
    day = today(hub)
    assert_completed([harbor.confirm_credit(first)])  # the day exists; the next one shares it

    with completion_paused(monkeypatch, before_reading_the_day=False) as (reached, release):
        confirming = in_thread(lambda: harbor.confirm_credit(transfer_id))
        assert reached.wait(WAIT_S_MAX)  # it has found the day open, and is not committed
        closing = in_thread(lambda: settle(hub, day))
        if database_url.startswith("postgresql"):
            wait_for_lock_waiters(engine, 1)  # the close's UPDATE waits on the share lock
        else:
            # The close waits for the completion's write lock (every SQLite writer queues).
            threading.Event().wait(BLOCKED_CHECK_S)
        assert closing.threads[0].is_alive(), "the day closed under an uncommitted completion"
        release.set()
        [confirmed] = confirming.join()
        [closed] = closing.join()

    assert_completed([confirmed])
    assert isinstance(closed, DaySettlement) and closed.tree_size == 2
    assert business_days(engine) == {first: day, transfer_id: day}
    assert leaves_of(engine, day) == {first, transfer_id}


@pytest.mark.postgres_only
def test_a_completion_that_reads_its_day_after_the_close_lands_in_the_next_day(
    hub: ClockedCoalition,
    programs: dict[str, LoyaltyProgram],
    member: Member,
    engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """PostgreSQL only: on SQLite a started completion holds the one write lock, so a close
    cannot happen between its start and its reading of the day."""
    first, second = pending_transfers(programs, member, 2)
    harbor = programs["harbor"].exchange
    day = today(hub)
    assert_completed([harbor.confirm_credit(first)])

    with completion_paused(monkeypatch, before_reading_the_day=True) as (reached, release):
        confirming = in_thread(lambda: harbor.confirm_credit(second))
        assert reached.wait(WAIT_S_MAX)  # inside its transaction, the transfer row locked
        closed = settle(hub, day)  # the close does not wait for a completion not yet in the day
        release.set()
        [confirmed] = confirming.join()

    assert_completed([confirmed])
    assert closed.tree_size == 1 and leaves_of(engine, day) == {first}
    assert business_days(engine) == {first: day, second: next_day(day)}
    assert settle(hub, day).alarm is None
    assert settle(hub, next_day(day)).tree_size == 1
    assert leaves_of(engine, next_day(day)) == {second}
