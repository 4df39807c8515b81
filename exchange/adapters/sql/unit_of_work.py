"""The SQL unit of work: one session, one transaction, rollback unless committed."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from exchange.adapters.clock import SystemClock
from exchange.adapters.sql.business_days import SqlBusinessDayRepository
from exchange.adapters.sql.dispute_repository import SqlDisputeRepository
from exchange.adapters.sql.engine import CommitOutcomeUnknown, is_connection_lost, run_with_retries
from exchange.adapters.sql.feed_repository import SqlEventFeed
from exchange.adapters.sql.ledger_repository import SqlLedger
from exchange.adapters.sql.member_repositories import SqlMemberRepository, SqlMemberVault
from exchange.adapters.sql.metrics_repository import SqlMetricsRepository
from exchange.adapters.sql.rate_repository import SqlRateAgreementRepository
from exchange.adapters.sql.repositories import SqlPartnerRepository, SqlRequestLedger
from exchange.adapters.sql.settlement_repository import SqlSettlementRepository
from exchange.adapters.sql.tier_repository import SqlTierRepository
from exchange.adapters.sql.transfer_repository import SqlTransferRepository
from exchange.domain.ports import (
    Clock,
    EventEncoder,
    StorageUnavailable,
    UnitOfWork,
    WriteConflict,
)

FeedListener = Callable[[Iterable[str]], None]
_Result = TypeVar("_Result")


class SqlUnitOfWork:
    session: Session
    partners: SqlPartnerRepository
    requests: SqlRequestLedger
    members: SqlMemberRepository
    vault: SqlMemberVault
    events: SqlEventFeed
    tiers: SqlTierRepository
    rates: SqlRateAgreementRepository
    transfers: SqlTransferRepository
    ledger: SqlLedger
    business_days: SqlBusinessDayRepository
    metrics: SqlMetricsRepository
    settlement: SqlSettlementRepository
    disputes: SqlDisputeRepository

    def __init__(self, factory: SqlUnitOfWorkFactory) -> None:
        self._factory = factory

    def __enter__(self) -> SqlUnitOfWork:
        factory = self._factory
        self.session = factory.sessions()
        self.partners = SqlPartnerRepository(self.session)
        self.requests = SqlRequestLedger(self.session, factory.response_key)
        self.members = SqlMemberRepository(self.session)
        self.vault = SqlMemberVault(self.session, factory.vault_key)
        self.events = SqlEventFeed(self.session, factory.encoder, factory.clock or SystemClock())
        self.tiers = SqlTierRepository(self.session)
        self.rates = SqlRateAgreementRepository(self.session)
        self.transfers = SqlTransferRepository(self.session)
        self.ledger = SqlLedger(self.session)
        self.business_days = SqlBusinessDayRepository(self.session)
        self.metrics = SqlMetricsRepository(self.session)
        self.settlement = SqlSettlementRepository(self.session)
        self.disputes = SqlDisputeRepository(self.session)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.session.rollback()
        self.session.close()

    def commit(self) -> None:
        self.ledger.flush()
        try:
            self.session.commit()
        except DBAPIError as error:
            if is_connection_lost(error):
                raise CommitOutcomeUnknown("connection lost during COMMIT") from error
            raise
        if self.events.appended_partner_ids:
            # Wake this process's feed subscribers; other processes find events by polling.
            self._factory.feed_listener(self.events.appended_partner_ids)
            self.events.appended_partner_ids = set()

    def rollback(self) -> None:
        self.ledger.discard()
        self.session.rollback()
        self.events.appended_partner_ids = set()


class SqlUnitOfWorkFactory:
    def __init__(
        self,
        engine: Engine,
        *,
        encoder: EventEncoder | None = None,
        clock: Clock | None = None,
        vault_key: bytes | None = None,
        response_key: bytes | None = None,
        feed_listener: FeedListener = lambda partner_ids: None,
    ) -> None:
        self.engine = engine
        self.encoder = encoder
        self.clock = clock
        self.vault_key = vault_key
        self.response_key = response_key
        self.feed_listener = feed_listener
        self.sessions = sessionmaker(engine, expire_on_commit=False, autoflush=True)

    def __call__(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self)

    def retrying(self, work: Callable[[], _Result]) -> _Result:
        try:
            return run_with_retries(work)
        except Exception as error:
            if is_connection_lost(error):
                raise StorageUnavailable("the database is unreachable") from error
            raise

    def run(self, work: Callable[[UnitOfWork], _Result]) -> _Result:
        def attempt() -> _Result:
            with self() as uow:
                result = work(uow)
                uow.commit()
                return result

        try:
            return self.retrying(attempt)
        except IntegrityError as error:
            raise WriteConflict("a unique key was taken by another transaction") from error
