"""SQL storage of the ledger: journals, entries and accounts with cached counters."""

from __future__ import annotations

import secrets
from collections import defaultdict

from sqlalchemy import insert, select, update
from sqlalchemy.dialects.postgresql import insert as postgres_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from exchange.adapters.sql.tables import JournalRow, LedgerAccountRow, LedgerEntryRow
from exchange.domain.ledger import AccountRef, Counters, Journal


class SqlLedger:
    def __init__(self, session: Session) -> None:
        self.session = session
        self.dialect = session.get_bind().dialect.name

    def record(self, journal: Journal, at_us: int) -> None:
        journal_id = "jr_" + secrets.token_hex(12)
        self.session.execute(
            insert(JournalRow).values(
                journal_id=journal_id,
                kind=journal.kind.value,
                transfer_id=journal.transfer_id,
                created_at_us=at_us,
            )
        )
        deltas: dict[AccountRef, Counters] = defaultdict(Counters)
        for entry in journal.entries:
            deltas[entry.account].apply(entry)
        # Accounts in one fixed order: concurrent journals lock them without deadlocking.
        for account in sorted(deltas):
            self._ensure_account(account)
            self._add_counters(account, deltas[account])
        self.session.execute(
            insert(LedgerEntryRow),
            [
                {
                    "journal_id": journal_id,
                    "account_id": entry.account.account_id,
                    "side": entry.side.value,
                    "phase": entry.phase.value,
                    "amount": entry.amount,
                }
                for entry in journal.entries
            ],
        )

    def _ensure_account(self, account: AccountRef) -> None:
        dialect_insert = postgres_insert if self.dialect == "postgresql" else sqlite_insert
        self.session.execute(
            dialect_insert(LedgerAccountRow)
            .values(
                account_id=account.account_id,
                owner=account.owner,
                purpose=account.purpose,
                asset=account.asset,
                debits_pending=0,
                credits_pending=0,
                debits_posted=0,
                credits_posted=0,
            )
            .on_conflict_do_nothing()
        )

    def _add_counters(self, account: AccountRef, delta: Counters) -> None:
        row = LedgerAccountRow
        self.session.execute(
            update(row)
            .where(row.account_id == account.account_id)
            .values(
                debits_pending=row.debits_pending + delta.debits_pending,
                credits_pending=row.credits_pending + delta.credits_pending,
                debits_posted=row.debits_posted + delta.debits_posted,
                credits_posted=row.credits_posted + delta.credits_posted,
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
