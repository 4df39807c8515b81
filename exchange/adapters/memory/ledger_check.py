"""The SQL ledger checker's checks over the in-memory fake's tables."""

from __future__ import annotations

from collections import defaultdict

from exchange.adapters.memory.store import EntryRow, InMemoryStore
from exchange.domain.ledger import Counters, JournalKind, imbalances
from exchange.domain.transfers import TransferState

# The journals each transfer state must have, exactly (as in the SQL checker).
JOURNALS_BY_STATE = {
    TransferState.PENDING: {JournalKind.HOLD},
    TransferState.COMPLETED: {JournalKind.HOLD, JournalKind.POST},
    TransferState.VOIDED: {JournalKind.HOLD, JournalKind.VOID},
}


def check_ledger(store: InMemoryStore) -> list[str]:
    """The SQL checker's three checks over the fake's tables; empty if all is well."""
    problems: list[str] = []
    recomputed: dict[str, Counters] = defaultdict(Counters)
    by_journal: dict[str, list[EntryRow]] = defaultdict(list)
    for entry_row in store.ledger_entries:
        by_journal[entry_row.journal_id].append(entry_row)
        recomputed[entry_row.entry.account.account_id].apply(entry_row.entry)
    for journal_id in sorted(by_journal):
        entries = [entry_row.entry for entry_row in by_journal[journal_id]]
        for (asset, phase), difference in imbalances(entries).items():
            problems.append(f"journal {journal_id} is off by {difference} {asset} ({phase.value})")
    problems += [f"entries of a missing journal {j}" for j in by_journal if j not in store.journals]
    for account_id, account in store.ledger_accounts.items():
        cached, expected = account.counters(), recomputed.pop(account_id, Counters())
        if cached != expected:
            problems.append(f"account {account_id} caches {cached}, entries say {expected}")
    problems += [f"entries name a missing account {account}" for account in recomputed]
    return problems + _check_transfers(store)


def _check_transfers(store: InMemoryStore) -> list[str]:
    problems = []
    kinds: dict[str, set[JournalKind]] = defaultdict(set)
    for journal in store.journals.values():
        kinds[journal.transfer_id].add(journal.kind)
    for transfer_id, transfer in store.transfers.items():
        found = kinds.pop(transfer_id, set())
        if found != JOURNALS_BY_STATE[transfer.state]:
            names = sorted(kind.value for kind in found)
            problems.append(f"transfer {transfer_id} is {transfer.state.value} but has {names}")
    problems += [f"journals for unknown transfer {transfer_id}" for transfer_id in kinds]
    return problems
