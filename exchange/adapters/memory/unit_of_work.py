"""The in-memory unit of work and its factory, behaving like SqlUnitOfWork and its factory."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, TypeVar

from exchange.adapters.memory.business_days import InMemoryBusinessDayRepository
from exchange.adapters.memory.clock import FixedClock
from exchange.adapters.memory.dispute_repository import InMemoryDisputeRepository
from exchange.adapters.memory.feed_repository import InMemoryEventFeed
from exchange.adapters.memory.ledger_repository import InMemoryLedger
from exchange.adapters.memory.member_repositories import (
    InMemoryMemberRepository,
    InMemoryMemberVault,
)
from exchange.adapters.memory.metrics_repository import InMemoryMetricsRepository
from exchange.adapters.memory.rate_repository import InMemoryRateAgreementRepository
from exchange.adapters.memory.repositories import InMemoryPartnerRepository, InMemoryRequestLedger
from exchange.adapters.memory.settlement_repository import InMemorySettlementRepository
from exchange.adapters.memory.store import InMemoryStore
from exchange.adapters.memory.tier_repository import InMemoryTierRepository
from exchange.adapters.memory.transfer_repository import InMemoryTransferRepository
from exchange.domain.ports import Clock, EventEncoder, UnitOfWork

if TYPE_CHECKING:
    from exchange.domain.ports import UnitOfWorkFactory

# Like SQLite's busy timeout: a unit of work waiting this long for the store gives up
# instead of hanging a test (e.g. one opened inside another on the same thread).
LOCK_WAIT_S_MAX = 10.0


_Repository = TypeVar("_Repository")
_Result = TypeVar("_Result")


FeedListener = Callable[[Iterable[str]], None]


class _Database:
    """The committed store shared by every unit of work of one factory."""

    def __init__(
        self, encoder: EventEncoder | None, clock: Clock, feed_listener: FeedListener
    ) -> None:
        self.committed = InMemoryStore()
        self.lock = threading.Lock()
        self.encoder = encoder
        self.clock = clock
        self.feed_listener = feed_listener


class InMemoryUnitOfWork:
    """Works on a private copy of the store; commit publishes it, exit discards the rest."""

    def __init__(self, database: _Database) -> None:
        self._database = database
        self._working = InMemoryStore()
        self._partners = InMemoryPartnerRepository(self._working)
        self._requests = InMemoryRequestLedger(self._working)
        self._members = InMemoryMemberRepository(self._working)
        self._vault = InMemoryMemberVault(self._working)
        self._events = InMemoryEventFeed(self._working, database.encoder, database.clock)
        self._tiers = InMemoryTierRepository(self._working)
        self._rates = InMemoryRateAgreementRepository(self._working)
        self._transfers = InMemoryTransferRepository(self._working)
        self._ledger = InMemoryLedger(self._working)
        self._business_days = InMemoryBusinessDayRepository(self._working)
        self._metrics = InMemoryMetricsRepository(self._working)
        self._settlement = InMemorySettlementRepository(self._working)
        self._disputes = InMemoryDisputeRepository(self._working)
        self._open = False

    def _opened(self, repository: _Repository) -> _Repository:
        assert self._open, "use the unit of work inside its with block"
        return repository

    @property
    def partners(self) -> InMemoryPartnerRepository:
        return self._opened(self._partners)

    @property
    def requests(self) -> InMemoryRequestLedger:
        return self._opened(self._requests)

    @property
    def events(self) -> InMemoryEventFeed:
        return self._opened(self._events)

    @property
    def members(self) -> InMemoryMemberRepository:
        return self._opened(self._members)

    @property
    def vault(self) -> InMemoryMemberVault:
        return self._opened(self._vault)

    @property
    def tiers(self) -> InMemoryTierRepository:
        return self._opened(self._tiers)

    @property
    def rates(self) -> InMemoryRateAgreementRepository:
        return self._opened(self._rates)

    @property
    def transfers(self) -> InMemoryTransferRepository:
        return self._opened(self._transfers)

    @property
    def ledger(self) -> InMemoryLedger:
        return self._opened(self._ledger)

    @property
    def business_days(self) -> InMemoryBusinessDayRepository:
        return self._opened(self._business_days)

    @property
    def metrics(self) -> InMemoryMetricsRepository:
        return self._opened(self._metrics)

    @property
    def settlement(self) -> InMemorySettlementRepository:
        return self._opened(self._settlement)

    @property
    def disputes(self) -> InMemoryDisputeRepository:
        return self._opened(self._disputes)

    def __enter__(self) -> InMemoryUnitOfWork:
        # Held until exit, like BEGIN IMMEDIATE: one unit of work at a time, so no lost updates.
        if not self._database.lock.acquire(timeout=LOCK_WAIT_S_MAX):
            raise TimeoutError("another unit of work holds the in-memory store")
        self._working.load(self._database.committed)
        self._open = True
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._open = False
        self._working.load(InMemoryStore())
        self._events.appended_partner_ids = set()
        self._database.lock.release()

    def commit(self) -> None:
        assert self._open, "commit inside the with block"
        self._database.committed = self._working.copy()
        if self._events.appended_partner_ids:
            self._database.feed_listener(self._events.appended_partner_ids)
            self._events.appended_partner_ids = set()

    def rollback(self) -> None:
        assert self._open, "roll back inside the with block"
        self._working.load(self._database.committed)
        self._events.appended_partner_ids = set()


class InMemoryUnitOfWorkFactory:
    """Like SqlUnitOfWorkFactory: events are encoded with `encoder` and stamped by `clock`."""

    def __init__(
        self,
        *,
        encoder: EventEncoder | None = None,
        clock: Clock | None = None,
        feed_listener: FeedListener = lambda partner_ids: None,
    ) -> None:
        self._database = _Database(encoder, clock or FixedClock(), feed_listener)

    def __call__(self) -> InMemoryUnitOfWork:
        return InMemoryUnitOfWork(self._database)

    def retrying(self, work: Callable[[], _Result]) -> _Result:
        """Nothing here fails transiently, so `work` runs once."""
        return work()

    def run(self, work: Callable[[UnitOfWork], _Result]) -> _Result:
        """Nothing here fails transiently, so `work` runs once."""
        with self() as uow:
            result = work(uow)
            uow.commit()
            return result


if TYPE_CHECKING:
    # mypy proves the fakes satisfy the ports structurally.
    _factory_check: UnitOfWorkFactory = InMemoryUnitOfWorkFactory()
