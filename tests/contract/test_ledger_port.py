"""Ledger: journals and the accounts' cached counters they move.

The port only writes; the counters are read through `accounts()`, which both SqlLedger and
the fake offer outside the port."""

from __future__ import annotations

from typing import Protocol, cast

import pytest

from exchange.domain.ledger import AccountRef, Counters, Entry, Journal, JournalKind, Phase, Side
from exchange.domain.ports import UnitOfWork, UnitOfWorkFactory
from tests.contract.support import ALPHA, BRAVO, CONFLICT, T0, commit, read, seed_partners

COVERS = {"Ledger.record", "Ledger.record_many"}
MEMBER_POINTS = AccountRef(owner=ALPHA, purpose="member", asset="ALPHA_PTS")
HELD_POINTS = AccountRef(owner=ALPHA, purpose="held", asset="ALPHA_PTS")
SETTLEMENT = AccountRef(owner=BRAVO, purpose="settlement", asset="USD")
HUB_CASH = AccountRef(owner="hub", purpose="clearing", asset="USD")


class ReadableLedger(Protocol):
    def accounts(self) -> dict[str, Counters]: ...


def accounts(uow: UnitOfWork) -> dict[str, Counters]:
    return cast(ReadableLedger, uow.ledger).accounts()


def journal(kind: JournalKind, transfer_id: str, phase: Phase, amount: int) -> Journal:
    entries = (
        Entry(account=MEMBER_POINTS, side=Side.DEBIT, phase=phase, amount=amount),
        Entry(account=HELD_POINTS, side=Side.CREDIT, phase=phase, amount=amount),
    )
    return Journal(kind=kind, transfer_id=transfer_id, entries=entries)


@pytest.fixture
def factory(uow_factory: UnitOfWorkFactory) -> UnitOfWorkFactory:
    seed_partners(uow_factory)
    return uow_factory


def test_a_journal_moves_its_accounts_counters(factory: UnitOfWorkFactory) -> None:
    commit(
        factory, lambda uow: uow.ledger.record(journal(JournalKind.HOLD, "t1", Phase.HOLD, 100), T0)
    )
    assert read(factory, accounts) == {
        MEMBER_POINTS.account_id: Counters(debits_pending=100),
        HELD_POINTS.account_id: Counters(credits_pending=100),
    }


def test_journals_add_up_per_account(factory: UnitOfWorkFactory) -> None:
    def record(uow: UnitOfWork) -> None:
        uow.ledger.record_many(
            [
                journal(JournalKind.HOLD, "t1", Phase.HOLD, 100),
                journal(JournalKind.HOLD, "t2", Phase.HOLD, 50),
                journal(JournalKind.POST, "t1", Phase.RELEASE, 100),
            ],
            T0,
        )
        uow.ledger.record_many([], T0)

    commit(factory, record)
    commit(
        factory, lambda uow: uow.ledger.record(journal(JournalKind.POST, "t2", Phase.POST, 50), T0)
    )
    assert read(factory, accounts) == {
        MEMBER_POINTS.account_id: Counters(debits_pending=50, debits_posted=50),
        HELD_POINTS.account_id: Counters(credits_pending=50, credits_posted=50),
    }


def test_a_transfer_has_one_journal_of_each_kind(factory: UnitOfWorkFactory) -> None:
    commit(
        factory, lambda uow: uow.ledger.record(journal(JournalKind.HOLD, "t1", Phase.HOLD, 1), T0)
    )
    with pytest.raises(CONFLICT), factory() as uow:
        uow.ledger.record(journal(JournalKind.HOLD, "t1", Phase.HOLD, 1), T0)
    with pytest.raises(CONFLICT), factory() as uow:
        uow.ledger.record_many([journal(JournalKind.VOID, "t2", Phase.RELEASE, 1)] * 2, T0)


def test_journals_not_committed_move_nothing(factory: UnitOfWorkFactory) -> None:
    def record_then_roll_back(uow: UnitOfWork) -> None:
        uow.ledger.record(journal(JournalKind.HOLD, "t1", Phase.HOLD, 100), T0)
        uow.rollback()
        settle = Journal(
            kind=JournalKind.SETTLE,
            transfer_id="day",
            entries=(
                Entry(account=SETTLEMENT, side=Side.DEBIT, phase=Phase.POST, amount=7),
                Entry(account=HUB_CASH, side=Side.CREDIT, phase=Phase.POST, amount=7),
            ),
        )
        uow.ledger.record(settle, T0)
        uow.commit()

    commit(factory, record_then_roll_back)
    read(factory, lambda uow: uow.ledger.record(journal(JournalKind.HOLD, "t2", Phase.HOLD, 5), T0))
    assert read(factory, accounts) == {
        SETTLEMENT.account_id: Counters(debits_posted=7),
        HUB_CASH.account_id: Counters(credits_posted=7),
    }
