"""Transitional: the settlement handlers' ports for callers that still pass a SQLAlchemy
Engine (to settle a day) or Session (to read a settled one, or to reconcile on it).

The handlers take a unit-of-work factory or a unit of work; tests/test_settlement_e2e.py,
tests/test_settled_day_fixture.py, tests/reliability, benchmarks/ and `coalition reconcile`
(exchange/cli.py) still pass an engine or a session. Delete this module once they pass a
factory (SqlUnitOfWorkFactory(engine)) or a unit of work.
"""

from __future__ import annotations

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from exchange.adapters.sql.dispute_repository import SqlDisputeRepository
from exchange.adapters.sql.settlement_repository import SqlSettlementRepository
from exchange.adapters.sql.unit_of_work import SqlUnitOfWorkFactory
from exchange.domain.ports import UnitOfWork, UnitOfWorkFactory
from exchange.domain.settlement import SettlementReader

Units = UnitOfWorkFactory | Engine
Reads = SettlementReader | Session
Writes = UnitOfWork | Session


class SessionPorts:
    """The settlement and dispute ports on a session its caller owns, commits and closes."""

    def __init__(self, session: Session) -> None:
        self.settlement = SqlSettlementRepository(session)
        self.disputes = SqlDisputeRepository(session)


def factory_of(units: Units) -> UnitOfWorkFactory:
    return SqlUnitOfWorkFactory(units) if isinstance(units, Engine) else units


def reader_of(reads: Reads) -> SettlementReader:
    return SessionPorts(reads) if isinstance(reads, Session) else reads


def ports_of(writes: Writes) -> UnitOfWork | SessionPorts:
    return SessionPorts(writes) if isinstance(writes, Session) else writes
