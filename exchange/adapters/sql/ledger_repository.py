"""SQL storage of the ledger: journals, entries and accounts with cached counters."""

from __future__ import annotations

import secrets
from collections import defaultdict
from collections.abc import Sequence
from typing import cast

from sqlalchemy import Table, select
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
    def __init__(self, session: Session) -> None:
        self.session = session
        self.dialect = session.get_bind().dialect.name

    def record(self, journal: Journal, at_us: int) -> None:
        self.record_many([journal], at_us)

    def record_many(self, journals: Sequence[Journal], at_us: int) -> None:
        """Journals, their entries and every touched account's counters: three statements.

        Core tables, not ORM entities: nothing here is read back, so the ORM's bookkeeping
        would only cost time on the hottest path of the hub.
        """
        journal_rows: list[dict[str, object]] = []
        entry_rows: list[dict[str, object]] = []
        deltas: dict[AccountRef, Counters] = defaultdict(Counters)
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
        if not journal_rows:
            return
        insert_rows(self.session, JOURNALS, journal_rows)
        self._add_counters(deltas)
        if entry_rows:
            insert_rows(self.session, ENTRIES, entry_rows)

    def _add_counters(self, deltas: dict[AccountRef, Counters]) -> None:
        """One upsert for every account: created on first use, counters added in place.

        Rows go in one fixed order (sorted account refs), so concurrent journals take the
        accounts' row locks in the same order and cannot deadlock.
        """
        dialect_insert = postgres_insert if self.dialect == "postgresql" else sqlite_insert
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
        statement = dialect_insert(ACCOUNTS).values(rows)
        self.session.execute(
            statement.on_conflict_do_update(
                index_elements=[ACCOUNTS.c.account_id],
                set_={
                    name: ACCOUNTS.c[name] + statement.excluded[name] for name in COUNTER_COLUMNS
                },
            )
        )

    def accounts(self) -> dict[str, Counters]:
        rows = self.session.scalars(select(LedgerAccountRow))
        return {
            r.account_id: Counters(
                r.debits_pending, r.credits_pending, r.debits_posted, r.credits_posted
            )
            for r in rows
        }
