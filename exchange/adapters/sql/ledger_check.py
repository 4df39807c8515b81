"""`coalition check`: recomputes the ledger from its entries and reports every difference.

It streams entries in journal order, so memory grows with the number of accounts and
journals in flight, not with the number of entries.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from itertools import groupby

from sqlalchemy import Engine, select

from exchange.adapters.sql.tables import (
    JournalRow,
    LedgerAccountRow,
    LedgerEntryRow,
    TransferRow,
)
from exchange.domain.ledger import AccountRef, Counters, Entry, Phase, Side, imbalances
from exchange.domain.transfers import TransferState

STREAM_BATCH_ROWS = 5_000
# The journals each transfer state must have, exactly.
JOURNALS_BY_STATE = {
    TransferState.PENDING.value: {"hold"},
    TransferState.COMPLETED.value: {"hold", "post"},
    TransferState.VOIDED.value: {"hold", "void"},
}


def _entries(engine: Engine) -> Iterator[tuple[str, str, Entry]]:
    query = (
        select(
            LedgerEntryRow.journal_id,
            LedgerEntryRow.account_id,
            LedgerAccountRow.owner,
            LedgerAccountRow.purpose,
            LedgerAccountRow.asset,
            LedgerEntryRow.side,
            LedgerEntryRow.phase,
            LedgerEntryRow.amount,
        )
        .join(LedgerAccountRow, LedgerAccountRow.account_id == LedgerEntryRow.account_id)
        .order_by(LedgerEntryRow.journal_id, LedgerEntryRow.entry_id)
        .execution_options(yield_per=STREAM_BATCH_ROWS)
    )
    with engine.connect() as connection:
        for (
            journal_id,
            account_id,
            owner,
            purpose,
            asset,
            side,
            phase,
            amount,
        ) in connection.execute(query):
            entry = Entry(
                account=AccountRef(owner=owner, purpose=purpose, asset=asset),
                side=Side(side),
                phase=Phase(phase),
                amount=amount,
            )
            yield journal_id, account_id, entry


def check_ledger(engine: Engine) -> list[str]:
    """Every difference between what the entries say and what is stored; empty if none."""
    problems: list[str] = []
    recomputed: dict[str, Counters] = defaultdict(Counters)
    for journal_id, rows in groupby(_entries(engine), key=lambda row: row[0]):
        entries = []
        for _journal, account_id, entry in rows:
            recomputed[account_id].apply(entry)
            entries.append(entry)
        for (asset, phase), difference in imbalances(entries).items():
            problems.append(f"journal {journal_id} is off by {difference} {asset} ({phase.value})")
    problems += _compare_counters(engine, recomputed)
    problems += _check_transfers(engine)
    return problems


def _compare_counters(engine: Engine, recomputed: dict[str, Counters]) -> list[str]:
    problems = []
    with engine.connect() as connection:
        for row in connection.execute(select(LedgerAccountRow)):
            cached = Counters(
                row.debits_pending, row.credits_pending, row.debits_posted, row.credits_posted
            )
            expected = recomputed.pop(row.account_id, Counters())
            if cached != expected:
                problems.append(f"account {row.account_id} caches {cached}, entries say {expected}")
    problems += [f"entries name a missing account {account}" for account in recomputed]
    return problems


def _check_transfers(engine: Engine) -> list[str]:
    problems = []
    kinds: dict[str, set[str]] = defaultdict(set)
    with engine.connect() as connection:
        # Settlement journals belong to a business day, not to a transfer.
        transfer_journals = select(JournalRow.transfer_id, JournalRow.kind).where(
            JournalRow.kind.in_(["hold", "post", "void"])
        )
        for transfer_id, kind in connection.execute(transfer_journals):
            kinds[transfer_id].add(kind)
        for transfer_id, state in connection.execute(
            select(TransferRow.transfer_id, TransferRow.state).execution_options(
                yield_per=STREAM_BATCH_ROWS
            )
        ):
            found = kinds.pop(transfer_id, set())
            if found != JOURNALS_BY_STATE[state]:
                problems.append(
                    f"transfer {transfer_id} is {state} but has journals {sorted(found)}"
                )
    problems += [f"journals for unknown transfer {transfer_id}" for transfer_id in kinds]
    return problems
