"""The hub's own work, beside the calls it serves: voiding transfers past their timeout,
settling each ended business day, purging expired nonces and stored responses.

Every hub process runs the loops, but only the one holding the scheduler lease does the work:
on PostgreSQL the lease is a session advisory lock on a connection of its own, so exactly one
process at a time, on any number of machines, runs it. A process that dies (even SIGKILLed)
loses its session and with it the lease; another process takes it at its next tick. SQLite
serves one process, which always holds it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Protocol

from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from exchange import operations
from exchange.adapters.sql import partitions
from exchange.adapters.sql.engine import is_connection_lost, is_sqlite, run_with_retries
from exchange.adapters.telemetry import HubTelemetry, quiet
from exchange.config import Settings
from exchange.domain import limits
from exchange.domain.ports import Clock, UnitOfWorkFactory
from exchange.services.settlement import DaySettlement, settle_day
from exchange.services.transfers import timed_out_transfers, void_if_timed_out

log = logging.getLogger(__name__)

# The advisory lock key of the scheduler lease: 'cxsched' as a number, one per database.
SCHEDULER_LOCK_KEY = 0x63787363686564
# The lease's connection notices a peer gone (a machine lost, not a process) within ~20 s.
LEASE_KEEPALIVES = {
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 3,
    "keepalives_count": 3,
}


class Lease(Protocol):
    def held(self) -> bool:
        """Whether this process may run the background work now (taking the lease if free)."""

    def release(self) -> None: ...


class SoleProcessLease:
    """SQLite: one hub process per database file, so it always holds the lease."""

    def held(self) -> bool:
        return True

    def release(self) -> None:
        return None


class DatabaseLease:
    """A session advisory lock held on a dedicated connection for as long as it lives."""

    def __init__(self, engine: Engine) -> None:
        connect_args = {**LEASE_KEEPALIVES, "application_name": lease_holder_name(os.getpid())}
        self._engine = create_engine(engine.url, poolclass=NullPool, connect_args=connect_args)
        self._connection: Connection | None = None
        self._lock = threading.Lock()

    def held(self) -> bool:
        with self._lock:
            if self._connection is not None and self._alive(self._connection):
                return True
            self._drop()
            return self._take()

    def release(self) -> None:
        with self._lock:
            self._drop()
        self._engine.dispose()

    def _alive(self, connection: Connection) -> bool:
        try:
            connection.execute(text("SELECT 1"))
            connection.commit()
            return True
        except DBAPIError:
            log.warning("the scheduler lease's connection is gone; the lease with it")
            return False

    def _take(self) -> bool:
        try:
            connection = self._engine.connect()
        except DBAPIError:
            return False
        try:
            taken = connection.execute(
                text("SELECT pg_try_advisory_lock(:key)"), {"key": SCHEDULER_LOCK_KEY}
            ).scalar_one()
            connection.commit()
        except DBAPIError:
            connection.close()
            return False
        if not taken:
            connection.close()
            return False
        log.info("this process holds the scheduler lease and runs the background work")
        self._connection = connection
        return True

    def _drop(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(DBAPIError):
                self._connection.close()
            self._connection = None


def lease_holder_name(pid: int) -> str:
    """The application_name of a process's lease connection, as pg_stat_activity shows it."""
    return f"coalition-scheduler-{pid}"


def lease_for(engine: Engine) -> Lease:
    return SoleProcessLease() if is_sqlite(str(engine.url)) else DatabaseLease(engine)


@dataclass
class BackgroundWork:
    settings: Settings
    engine: Engine
    uow_factory: UnitOfWorkFactory
    clock: Clock
    telemetry: HubTelemetry
    lease: Lease
    _stopping: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> None:
        self._partitions_ahead()
        loops: tuple[tuple[str, float, Callable[[], None]], ...] = (
            ("purge", self.settings.purge_interval_s, self._purge),
            ("timeouts", self.settings.timeout_sweep_interval_s, self._void),
            ("settlement", self.settings.settlement_check_interval_s, self._settle_ended),
        )
        for name, interval_s, work in loops:
            thread = threading.Thread(
                target=self._loop, args=(name, interval_s, work), name=name, daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def _partitions_ahead(self) -> None:
        """Today's partitions before the first purge tick, even after a long shutdown."""
        if is_sqlite(str(self.engine.url)):
            return
        try:
            with quiet():
                partitions.ensure_partitions(self.engine, self.clock.now_us())
        except DBAPIError:
            log.warning("could not create partitions ahead at start; the purge will", exc_info=True)

    def stop(self, grace_s: float) -> None:
        self._stopping.set()
        for thread in self._threads:
            thread.join(timeout=grace_s)
        self.lease.release()

    def _loop(self, name: str, interval_s: float, work: Callable[[], None]) -> None:
        while not self._stopping.wait(interval_s):
            try:
                if self.lease.held():
                    work()
            except Exception as error:
                if not is_connection_lost(error):
                    log.exception("background work %s failed; will try again", name)
                    continue
                log.warning("background work %s: the database is unreachable; will try again", name)

    def _purge(self) -> None:
        log.debug("purged %s expired nonces and idempotency records", self.purge_expired())

    def _void(self) -> None:
        voided = self.void_timed_out_transfers()
        if voided:
            log.info("voided %s transfers past their timeout", voided)

    def _settle_ended(self) -> None:
        for settled in self.settle_ended_days():
            log.info("settled business day %s", settled.business_day)

    def purge_expired(self) -> int:
        now_us = self.clock.now_us()

        def purge() -> int:
            with quiet(), self.uow_factory() as uow:
                removed = uow.requests.purge(
                    nonces_before_s=now_us // 1_000_000 - limits.NONCE_RETENTION_S,
                    responses_before_us=now_us - limits.IDEMPOTENCY_RETENTION_S * 1_000_000,
                )
                uow.commit()
                return removed

        return run_with_retries(purge)

    def void_timed_out_transfers(self) -> int:
        """Voids every pending transfer past its timeout, in batches; returns how many."""
        voided_total = 0
        while True:
            with quiet(), self.uow_factory() as uow:
                batch = timed_out_transfers(uow, self.clock, limits.TIMEOUT_SWEEP_BATCH_MAX)
            voided_total += sum(self._void_one(transfer_id) for transfer_id in batch)
            if len(batch) < limits.TIMEOUT_SWEEP_BATCH_MAX or self._stopping.is_set():
                return voided_total

    def _void_one(self, transfer_id: str) -> bool:
        def void() -> bool:
            with self.uow_factory() as uow:
                voided = void_if_timed_out(uow, self.clock, transfer_id)
                uow.commit()
                return voided

        with self.telemetry.background("coalition.void_timed_out", transfer_id):
            return run_with_retries(void)

    def settle_ended_days(self) -> list[DaySettlement]:
        """Settles every ended business day (cut-off plus delay passed) not yet settled,
        oldest first: days missed while no hub ran are caught up, each exactly once."""
        calendar = self.settings.calendar
        delay_us = self.settings.settlement_delay_s * 1_000_000
        current = calendar.business_day_of(self.clock.now_us() - delay_us)
        ended = (current - timedelta(days=1)).isoformat()
        with quiet(), self.uow_factory() as uow:
            days = uow.settlement.unsettled_days_through(ended)
        return [self._settle(day) for day in days]

    def _settle(self, business_day: str) -> DaySettlement:
        with self.telemetry.settling(business_day) as observed:
            settled = settle_day(self.uow_factory, self.settings.calendar, self.clock, business_day)
            observed.outcome = settlement_outcome(settled)
        out = self.settings.export_directory / business_day
        banks = operations.bank_accounts(self.settings.bank_accounts_path)
        written = operations.export_day(self.engine, business_day, out, banks)
        log.info("business day %s: %s files in %s", business_day, len(written.sizes), out)
        for note in written.notes:
            log.warning("business day %s: %s", business_day, note)
        return settled


def settlement_outcome(settled: DaySettlement) -> str:
    """The `coalition.outcome` of a settlement duration: one of a few fixed values."""
    if settled.alarm:
        return "alarm"
    return "already_settled" if settled.already_settled else "settled"
