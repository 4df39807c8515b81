"""End-to-end helpers: the reference brands on a real hub, feeds on threads, clocks, restarts."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from coalition.keys import SigningKey
from exchange.adapters.memory import FixedClock
from exchange.adapters.sql.engine import create_database_engine
from exchange.bootstrap import Hub, bootstrap
from exchange.config import Settings
from partners.programs import brands
from partners.programs.program import LoyaltyProgram
from partners.sdk import HubConnection, HubError
from partners.sdk.events import FeedRunResult
from tests.support.coalition import TestCoalition, seed_partners
from tests.support.databases import REPLAY_BOOKKEEPING, table_snapshot

# Every wait on another thread or a stream is bounded by this, so a hang fails instead.
WAIT_S_MAX = 20.0
POLL_S = 0.02
FEED_THREAD_JOIN_S_MAX = 10.0

BRAND_FACTORIES: dict[str, Callable[..., LoyaltyProgram]] = {
    brands.AIRLINE_PARTNER_ID: brands.airline,
    brands.HOTEL_PARTNER_ID: brands.hotel,
    brands.CARD_ISSUER_PARTNER_ID: brands.card_issuer,
}


@dataclass
class ClockedCoalition(TestCoalition):
    """A coalition whose hub reads a FixedClock; its connections sign with that clock too.

    Request signatures must be fresh by the hub's clock, so the SDK's clock follows it.
    """

    clock: FixedClock = field(default_factory=FixedClock)

    def connection(self, partner_id: str, key: SigningKey | None = None) -> HubConnection:
        connection = super().connection(partner_id, key)
        connection.clock_s = lambda: self.clock.now_us() / 1_000_000
        return connection


def real_time_clock() -> FixedClock:
    """A fixed clock starting now, so it can be advanced without leaving the signature window."""
    return FixedClock(time.time_ns() // 1000)


@contextmanager
def clocked_coalition(
    settings: Settings, hub_key: SigningKey, engine: Engine, clock: FixedClock
) -> Iterator[ClockedCoalition]:
    """Like the `coalition` fixture, but the hub's clock is `clock`."""
    hub = bootstrap(settings, clock=clock, hub_key=hub_key, engine=engine)
    keys = seed_partners(hub)
    hub.start()
    coalition = ClockedCoalition(hub, keys, clock=clock)
    try:
        yield coalition
    finally:
        coalition.close()
        hub.stop(0)


def brand_programs(coalition: TestCoalition, directory: Path) -> dict[str, LoyaltyProgram]:
    """The airline, hotel and card issuer, each with its own store under `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    return {
        partner_id: factory(
            directory / f"{partner_id}.db",
            coalition.connection(partner_id),
            coalition.hub_public_keys,
        )
        for partner_id, factory in BRAND_FACTORIES.items()
    }


def publish_ladders(programs: dict[str, LoyaltyProgram], canonical_matching: bool = True) -> None:
    for program in programs.values():
        program.publish_ladder(canonical_matching=canonical_matching)


def link(source: LoyaltyProgram, source_number: str, *others: tuple[LoyaltyProgram, str]) -> None:
    """Links already enrolled members: each other brand redeems a fresh code from `source`."""
    for program, number in others:
        program.redeem_link_code(number, source.link_code(source_number))


def ppid_of(program: LoyaltyProgram, member_number: str) -> str:
    member = program.member(member_number)
    assert member is not None, f"{program.partner_id} has no member {member_number}"
    return member.ppid


def processed_events(program: LoyaltyProgram) -> list[tuple[str, int]]:
    """(event id, sequence) of every event the program recorded as applied, in feed order."""
    connection = sqlite3.connect(program.store.path)
    try:
        rows = connection.execute(
            "SELECT event_id, sequence FROM processed_events ORDER BY sequence"
        ).fetchall()
    finally:
        connection.close()
    return [(str(event_id), int(sequence)) for event_id, sequence in rows]


def wait_until(condition: Callable[[], bool], what: str, timeout_s: float = WAIT_S_MAX) -> None:
    """Polls `condition` until it holds; fails the test after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout_s} s waiting for {what}")
        threading.Event().wait(POLL_S)


@dataclass
class FeedThread:
    """A program's run_feed on its own thread; `result` is set once it has stopped."""

    stop: threading.Event
    thread: threading.Thread
    result: FeedRunResult | None = None
    error: BaseException | None = None


@contextmanager
def feed_thread(program: LoyaltyProgram) -> Iterator[FeedThread]:
    """Runs `program.run_feed` until the block ends; then stops it and joins it (bounded)."""
    stop = threading.Event()
    holder = FeedThread(stop, threading.Thread())

    def run() -> None:
        try:
            holder.result = program.run_feed(stop)
        except BaseException as error:  # handed to the test thread below
            holder.error = error

    holder.thread = threading.Thread(target=run, name=f"feed-{program.partner_id}", daemon=True)
    holder.thread.start()
    try:
        yield holder
    finally:
        stop.set()
        holder.thread.join(FEED_THREAD_JOIN_S_MAX)
    assert not holder.thread.is_alive(), "run_feed did not stop when asked"
    if holder.error is not None:
        raise holder.error


def restart_hub(hub: Hub, database_url: str) -> Hub:
    """Stops `hub` at once and starts a new process-equivalent on the same port, key and data."""
    port = hub.port
    hub.stop(0)
    settings = replace(hub.settings, listen_address=f"127.0.0.1:{port}")
    restarted = bootstrap(
        settings, hub_key=hub.hub_key, engine=create_database_engine(database_url)
    )
    assert restarted.port == port
    restarted.start()
    return restarted


def refused(
    engine: Engine, call: Callable[[], object], also_changes: frozenset[str] = frozenset()
) -> HubError:
    """Runs a call the hub must refuse; proves it wrote nothing beyond its nonce (and
    `also_changes`, for refusals that are deliberately recorded)."""
    excluded = REPLAY_BOOKKEEPING | also_changes
    before = table_snapshot(engine, exclude=excluded)
    with pytest.raises(HubError) as caught:
        call()
    assert table_snapshot(engine, exclude=excluded) == before
    return caught.value


@contextmanager
def held_row_lock(engine: Engine, table: str, column: str, value: object) -> Iterator[None]:
    """PostgreSQL: holds FOR UPDATE on one row while the block runs, so hub transactions that
    write that row wait behind the test; the lock is released when the block ends."""
    with engine.connect() as connection, connection.begin():
        locked = connection.execute(
            text(f'SELECT 1 FROM "{table}" WHERE "{column}" = :value FOR UPDATE'),
            {"value": value},
        ).all()
        assert locked, f"no {table} row with {column} = {value!r} to lock"
        yield


def wait_for_lock_waiters(engine: Engine, count: int) -> None:
    """PostgreSQL: polls until `count` sessions of this database wait on a lock."""

    def waiting() -> int:
        with engine.connect() as connection:
            return int(
                connection.scalar(
                    text(
                        "SELECT count(*) FROM pg_stat_activity"
                        " WHERE datname = current_database() AND wait_event_type = 'Lock'"
                    )
                )
                or 0
            )

    wait_until(lambda: waiting() >= count, f"{count} hub transactions to wait on the lock")


class Race:
    """Calls started together on their own threads; `join` gives each result or its HubError."""

    def __init__(self, calls: list[Callable[[], object]]) -> None:
        self.results: list[object] = [None] * len(calls)
        self.threads = [
            threading.Thread(target=self._run, args=(index, call), daemon=True)
            for index, call in enumerate(calls)
        ]

    def _run(self, index: int, call: Callable[[], object]) -> None:
        try:
            self.results[index] = call()
        except HubError as error:
            self.results[index] = error

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def join(self) -> list[object]:
        for thread in self.threads:
            thread.join(WAIT_S_MAX)
            assert not thread.is_alive(), "a racing call did not finish"
        return self.results


def error_shape(error: HubError) -> tuple[object, ...]:
    """Everything a caller can tell about a refusal, for 'looks exactly the same' checks."""
    return (error.code, error.reason, error.message, error.field_violations)


def query_rows(engine: Engine, query: str, **parameters: object) -> list[tuple[object, ...]]:
    with engine.connect() as connection:
        return [tuple(row) for row in connection.execute(text(query), parameters).all()]
