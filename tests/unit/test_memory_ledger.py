"""The fake ledger keeps what SqlLedger keeps, and its checker finds each kind of difference."""

from __future__ import annotations

from dataclasses import replace

import pytest

from exchange.adapters.memory.ledger_check import check_ledger
from exchange.adapters.memory.ledger_repository import InMemoryLedger
from exchange.adapters.memory.store import InMemoryStore
from exchange.domain.ledger import (
    AccountRef,
    Counters,
    Entry,
    Journal,
    JournalKind,
    Leg,
    Phase,
    Side,
    hold_journal,
    post_journal,
    void_journal,
)
from exchange.domain.transfers import Transfer, TransferState
from tests.unit.transfer_values import a_transfer

AT_US = 1_700_000_000_000_000
MEMBERS = AccountRef(owner="skyway", purpose="members", asset="SKYWAY_MILES")
EXCHANGED_OUT = AccountRef(owner="skyway", purpose="exchanged_out", asset="SKYWAY_MILES")
LEGS = [Leg(debit=MEMBERS, credit=EXCHANGED_OUT, amount=1_000)]


def transfer(transfer_id: str, state: TransferState) -> Transfer:
    return a_transfer(
        transfer_id=transfer_id, state=state, created_at_us=AT_US, timeout_at_us=AT_US + 1
    )


@pytest.fixture
def store() -> InMemoryStore:
    return InMemoryStore()


@pytest.fixture
def ledger(store: InMemoryStore) -> InMemoryLedger:
    return InMemoryLedger(store)


def test_holding_then_posting_moves_pending_into_posted(
    store: InMemoryStore, ledger: InMemoryLedger
) -> None:
    store.transfers["tr_1"] = transfer("tr_1", TransferState.COMPLETED)

    ledger.record(hold_journal("tr_1", LEGS), AT_US)
    assert ledger.accounts()[MEMBERS.account_id] == Counters(debits_pending=1_000)
    ledger.record(post_journal("tr_1", LEGS), AT_US)

    assert ledger.accounts() == {
        MEMBERS.account_id: Counters(debits_posted=1_000),
        EXCHANGED_OUT.account_id: Counters(credits_posted=1_000),
    }
    assert check_ledger(store) == []


def test_a_second_journal_of_one_kind_for_a_transfer_is_refused(ledger: InMemoryLedger) -> None:
    ledger.record(hold_journal("tr_1", LEGS), AT_US)
    ledger.record(void_journal("tr_1", LEGS), AT_US)
    before = ledger.accounts()

    for journal in (hold_journal("tr_1", LEGS), void_journal("tr_1", LEGS)):
        with pytest.raises(ValueError, match="duplicate"):
            ledger.record(journal, AT_US)

    assert ledger.accounts() == before
    ledger.record(hold_journal("tr_2", LEGS), AT_US)  # another transfer is fine


def test_the_checker_finds_an_unbalanced_journal(
    store: InMemoryStore, ledger: InMemoryLedger
) -> None:
    store.transfers["tr_1"] = transfer("tr_1", TransferState.PENDING)
    debit = Entry(account=MEMBERS, side=Side.DEBIT, phase=Phase.HOLD, amount=1_000)
    lopsided = Journal(kind=JournalKind.HOLD, transfer_id="tr_1", entries=(debit,))

    ledger.record(lopsided, AT_US)

    [problem] = check_ledger(store)
    assert "is off by 1000 SKYWAY_MILES (hold)" in problem


def test_the_checker_finds_a_cached_counter_that_differs(
    store: InMemoryStore, ledger: InMemoryLedger
) -> None:
    store.transfers["tr_1"] = transfer("tr_1", TransferState.PENDING)
    ledger.record(hold_journal("tr_1", LEGS), AT_US)
    row = store.ledger_accounts[MEMBERS.account_id]
    store.ledger_accounts[MEMBERS.account_id] = replace(row, debits_pending=999)

    [problem] = check_ledger(store)
    assert problem.startswith(f"account {MEMBERS.account_id} caches")


def test_the_checker_finds_a_missing_account(store: InMemoryStore, ledger: InMemoryLedger) -> None:
    store.transfers["tr_1"] = transfer("tr_1", TransferState.PENDING)
    ledger.record(hold_journal("tr_1", LEGS), AT_US)
    del store.ledger_accounts[EXCHANGED_OUT.account_id]

    assert check_ledger(store) == [f"entries name a missing account {EXCHANGED_OUT.account_id}"]


@pytest.mark.parametrize(
    ("state", "kinds"),
    [
        (TransferState.PENDING, []),
        (TransferState.PENDING, [JournalKind.HOLD, JournalKind.POST]),
        (TransferState.COMPLETED, [JournalKind.HOLD]),
        (TransferState.COMPLETED, [JournalKind.HOLD, JournalKind.POST, JournalKind.VOID]),
        (TransferState.VOIDED, [JournalKind.HOLD, JournalKind.POST]),
    ],
)
def test_the_checker_finds_journals_that_do_not_match_the_state(
    store: InMemoryStore, ledger: InMemoryLedger, state: TransferState, kinds: list[JournalKind]
) -> None:
    store.transfers["tr_1"] = transfer("tr_1", state)
    builders = {
        JournalKind.HOLD: hold_journal,
        JournalKind.POST: post_journal,
        JournalKind.VOID: void_journal,
    }
    for kind in kinds:
        ledger.record(builders[kind]("tr_1", LEGS), AT_US)

    problems = check_ledger(store)

    assert len(problems) == 1
    assert problems[0].startswith(f"transfer tr_1 is {state.value} but has")


def test_the_checker_finds_journals_of_an_unknown_transfer(
    store: InMemoryStore, ledger: InMemoryLedger
) -> None:
    ledger.record(hold_journal("tr_ghost", LEGS), AT_US)

    assert check_ledger(store) == ["journals for unknown transfer tr_ghost"]
