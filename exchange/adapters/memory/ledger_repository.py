"""In-memory fake of the ledger port, behaving like SqlLedger."""

from __future__ import annotations

import secrets
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from exchange.adapters.memory.ledger_check import check_ledger
from exchange.adapters.memory.store import AccountRow, EntryRow, InMemoryStore, JournalRow
from exchange.domain.ledger import AccountRef, Counters, Journal

if TYPE_CHECKING:
    from exchange.domain.ports import Ledger


class InMemoryLedger:
    """Journals, entries and accounts with cached counters, kept exactly like SqlLedger."""

    def __init__(self, store: InMemoryStore) -> None:
        self._store = store

    def record_many(self, journals: Sequence[Journal], at_us: int) -> None:
        for journal in journals:
            self.record(journal, at_us)

    def record(self, journal: Journal, at_us: int) -> None:
        store = self._store
        # The unique key (transfer_id, kind): a hold is posted or voided at most once.
        if any(
            (row.transfer_id, row.kind) == (journal.transfer_id, journal.kind)
            for row in store.journals.values()
        ):
            raise ValueError(f"duplicate {journal.kind.value} journal for {journal.transfer_id!r}")
        journal_id = "jr_" + secrets.token_hex(12)
        store.journals[journal_id] = JournalRow(journal.kind, journal.transfer_id, at_us)
        deltas: dict[AccountRef, Counters] = defaultdict(Counters)
        for entry in journal.entries:
            deltas[entry.account].apply(entry)
        for account, delta in deltas.items():
            row = store.ledger_accounts.get(account.account_id, AccountRow(account))
            store.ledger_accounts[account.account_id] = replace(
                row,
                debits_pending=row.debits_pending + delta.debits_pending,
                credits_pending=row.credits_pending + delta.credits_pending,
                debits_posted=row.debits_posted + delta.debits_posted,
                credits_posted=row.credits_posted + delta.credits_posted,
            )
        store.ledger_entries.extend(EntryRow(journal_id, entry) for entry in journal.entries)

    def accounts(self) -> dict[str, Counters]:
        """Not a port method (SqlLedger has it too): every account's cached counters."""
        return {key: row.counters() for key, row in self._store.ledger_accounts.items()}

    def check(self) -> list[str]:
        """Not a port method: what `check_ledger` finds in this unit of work's store."""
        return check_ledger(self._store)


if TYPE_CHECKING:
    # mypy proves the fakes satisfy the ports structurally.
    _ledger_check: Ledger = InMemoryLedger(InMemoryStore())
