"""SQL storage of the ledger: journals, entries and accounts with cached counters."""

from __future__ import annotations

import secrets
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any, cast

from sqlalchemy import Executable, Table, select
from sqlalchemy.dialects.postgresql import insert as postgres_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from exchange.adapters.sql.bulk import insert_rows
from exchange.adapters.sql.tables import JournalRow, LedgerAccountRow, LedgerEntryRow
from exchange.domain.ledger import AccountRef, Counters, Journal

# Core tables: rows written in bulk skip the ORM's per-row bookkeeping.
JOURNALS = cast(Table, JournalRow.__table__)
ENTRIES = cast(Table, LedgerEntryRow.__table__)
ACCOUNTS = cast(Table, LedgerAccountRow.__table__)
COUNTER_COLUMNS = ("debits_pending", "credits_pending", "debits_posted", "credits_posted")


class SqlLedger:
    """Journals go in at once (their unique key refuses a second post or void on the spot);
    entries and account counters wait for `flush`, which the unit of work runs just before
    COMMIT. Every transfer touches its partners' accounts and the hub's fee account, so
    those rows are the hub's hottest: taking their locks last keeps each transaction's hold
    on them to the upsert and the commit, not the whole handler."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.dialect = session.get_bind().dialect.name
        self._deltas: dict[AccountRef, Counters] = defaultdict(Counters)
        self._entry_rows: list[dict[str, object]] = []

    def record(self, journal: Journal, at_us: int) -> None:
        self.record_many([journal], at_us)

    def record_many(self, journals: Sequence[Journal], at_us: int) -> None:
        """Journals now; their entries and counters at `flush`. Core tables, not ORM entities:
        nothing here is read back, so the ORM's bookkeeping would only cost time."""
        journal_rows: list[dict[str, object]] = []
        entry_rows, deltas = self._entry_rows, self._deltas
        for journal in journals:
            journal_id = "jr_" + secrets.token_hex(12)
            journal_rows.append(
                {
                    "journal_id": journal_id,
                    "kind": journal.kind.value,
                    "transfer_id": journal.transfer_id,
                    "created_at_us": at_us,
                }
            )
            for entry in journal.entries:
                deltas[entry.account].apply(entry)
                entry_rows.append(
                    {
                        "journal_id": journal_id,
                        "account_id": entry.account.account_id,
                        "side": entry.side.value,
                        "phase": entry.phase.value,
                        "amount": entry.amount,
                    }
                )
        insert_rows(self.session, JOURNALS, journal_rows)

    def flush(self) -> None:
        """Counters first (entries reference their accounts), in one fixed account order."""
        if self._deltas:
            self._add_counters(self._deltas)
        insert_rows(self.session, ENTRIES, self._entry_rows)
        self.discard()

    def discard(self) -> None:
        self._deltas = defaultdict(Counters)
        self._entry_rows = []

    def _add_counters(self, deltas: dict[AccountRef, Counters]) -> None:
        """One upsert for every account: created on first use, counters added in place.

        Rows go in one fixed order (sorted account refs), so concurrent journals take the
        accounts' row locks in the same order and cannot deadlock.
        """
        rows = [
            {
                "account_id": account.account_id,
                "owner": account.owner,
                "purpose": account.purpose,
                "asset": account.asset,
                "debits_pending": delta.debits_pending,
                "credits_pending": delta.credits_pending,
                "debits_posted": delta.debits_posted,
                "credits_posted": delta.credits_posted,
            }
            for account, delta in sorted(deltas.items())
        ]
        # One prepared upsert, run for each account in order (psycopg pipelines them).
        self.session.execute(ACCOUNT_UPSERTS[self.dialect], rows)

    def accounts(self) -> dict[str, Counters]:
        self.flush()
        rows = self.session.scalars(select(LedgerAccountRow))
        return {
            r.account_id: Counters(
                r.debits_pending, r.credits_pending, r.debits_posted, r.credits_posted
            )
            for r in rows
        }


def _account_upsert(dialect_insert: Callable[[Table], Any]) -> Executable:
    """Creates the account on first use; otherwise adds the deltas to its counters."""
    statement = dialect_insert(ACCOUNTS)
    upsert: Executable = statement.on_conflict_do_update(
        index_elements=[ACCOUNTS.c.account_id],
        set_={name: ACCOUNTS.c[name] + statement.excluded[name] for name in COUNTER_COLUMNS},
    )
    return upsert


# Built once: constructing and cache-keying a statement costs more than running it.
ACCOUNT_UPSERTS = {
    "postgresql": _account_upsert(postgres_insert),
    "sqlite": _account_upsert(sqlite_insert),
}
