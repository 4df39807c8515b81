"""In-memory fakes of the rate, transfer and ledger ports, and a checker for the fake's ledger."""

from __future__ import annotations

import secrets
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace
from datetime import date, timedelta
from typing import TYPE_CHECKING

from exchange.adapters.memory_store import AccountRow, EntryRow, InMemoryStore, JournalRow
from exchange.domain.agreements import AgreementState
from exchange.domain.ledger import AccountRef, Counters, Journal, JournalKind, imbalances
from exchange.domain.rates import RateAgreement
from exchange.domain.transfers import Quote, Transfer, TransferKind, TransferState

if TYPE_CHECKING:
    from exchange.domain.ports import Ledger, RateAgreementRepository, TransferRepository

# The journals each transfer state must have, exactly (as in the SQL checker).
JOURNALS_BY_STATE = {
    TransferState.PENDING: {JournalKind.HOLD},
    TransferState.COMPLETED: {JournalKind.HOLD, JournalKind.POST},
    TransferState.VOIDED: {JournalKind.HOLD, JournalKind.VOID},
}


class InMemoryRateAgreementRepository:
    """Raises ValueError where the database's keys and foreign keys would refuse a write."""

    def __init__(self, store: InMemoryStore) -> None:
        self._store = store

    def versions(self, source_partner_id: str, destination_partner_id: str) -> list[RateAgreement]:
        direction = (source_partner_id, destination_partner_id)
        found = [
            a
            for a in self._store.rate_agreements.values()
            if (a.source_partner_id, a.destination_partner_id) == direction
        ]
        return sorted(found, key=lambda a: a.version)

    def get(self, agreement_id: str, version: int) -> RateAgreement | None:
        return self._store.rate_agreements.get((agreement_id, version))

    def agreement_id_for(self, source_partner_id: str, destination_partner_id: str) -> str | None:
        versions = self.versions(source_partner_id, destination_partner_id)
        return versions[0].agreement_id if versions else None

    def add(self, agreement: RateAgreement) -> None:
        key = (agreement.agreement_id, agreement.version)
        if key in self._store.rate_agreements:
            raise ValueError(f"duplicate rate agreement version {key}")
        for partner_id in agreement.parties:
            if partner_id not in self._store.partners:
                raise ValueError(f"rate agreement with unknown partner {partner_id!r}")
        self._store.rate_agreements[key] = agreement

    def mark_accepted(self, agreement_id: str, version: int, at_us: int) -> None:
        agreement = self._store.rate_agreements.get((agreement_id, version))
        if agreement is not None:
            self._store.rate_agreements[(agreement_id, version)] = replace(
                agreement, state=AgreementState.ACCEPTED, accepted_at_us=at_us
            )

    def list_for(
        self, partner_id: str, after: tuple[str, int] | None, limit: int
    ) -> list[RateAgreement]:
        found = sorted(
            (key, a)
            for key, a in self._store.rate_agreements.items()
            if a.has_party(partner_id) and (after is None or key > after)
        )
        return [agreement for _, agreement in found[:limit]]


class InMemoryTransferRepository:
    """Raises ValueError where the database's keys and foreign keys would refuse a write."""

    def __init__(self, store: InMemoryStore) -> None:
        self._store = store

    def add_quote(self, quote: Quote) -> None:
        if quote.quote_id in self._store.quotes:
            raise ValueError(f"duplicate quote_id {quote.quote_id!r}")
        if quote.cmid not in self._store.members:
            raise ValueError(f"quote for unknown member {quote.cmid!r}")
        if quote.transfer_id is not None:
            self._check_transfer_id_free(quote.transfer_id)
        self._store.quotes[quote.quote_id] = quote

    def get_quote(self, quote_id: str, *, for_update: bool = False) -> Quote | None:
        # The unit of work holds the whole store, so every read is already "for update".
        return self._store.quotes.get(quote_id)

    def mark_quote_used(self, quote_id: str, transfer_id: str) -> None:
        quote = self._store.quotes.get(quote_id)
        if quote is None or quote.transfer_id == transfer_id:
            return
        self._check_transfer_id_free(transfer_id)
        self._store.quotes[quote_id] = replace(quote, transfer_id=transfer_id)

    def add(self, transfer: Transfer) -> None:
        store = self._store
        if transfer.transfer_id in store.transfers:
            raise ValueError(f"duplicate transfer_id {transfer.transfer_id!r}")
        for partner_id in transfer.parties:
            if partner_id not in store.partners:
                raise ValueError(f"transfer with unknown partner {partner_id!r}")
        if transfer.cmid not in store.members:
            raise ValueError(f"transfer for unknown member {transfer.cmid!r}")
        if transfer.quote_id is not None and any(
            t.quote_id == transfer.quote_id for t in store.transfers.values()
        ):
            raise ValueError(f"duplicate quote_id {transfer.quote_id!r} among transfers")
        store.transfers[transfer.transfer_id] = transfer

    def add_many(self, transfers: Sequence[Transfer]) -> None:
        for transfer in transfers:
            self.add(transfer)

    def get(self, transfer_id: str, *, for_update: bool = False) -> Transfer | None:
        # The unit of work holds the whole store, so every read is already "for update".
        return self._store.transfers.get(transfer_id)

    def get_many(
        self, transfer_ids: Sequence[str], *, for_update: bool = False
    ) -> dict[str, Transfer]:
        found = {i: self._store.transfers.get(i) for i in transfer_ids}
        return {i: transfer for i, transfer in found.items() if transfer is not None}

    def save_many(self, transfers: Sequence[Transfer]) -> None:
        for transfer in transfers:
            self.save(transfer)

    def source_points_since_by_member(
        self,
        cmids: Sequence[str],
        source_partner_id: str,
        destination_partner_id: str,
        since_us: int,
    ) -> dict[str, int]:
        totals = {
            cmid: self.source_points_since(
                cmid, source_partner_id, destination_partner_id, since_us
            )
            for cmid in cmids
        }
        return {cmid: total for cmid, total in totals.items() if total}

    def save(self, transfer: Transfer) -> None:
        row = self._store.transfers.get(transfer.transfer_id)
        if row is None:
            return
        # Like the SQL update, only the resolution columns change.
        self._store.transfers[transfer.transfer_id] = replace(
            row,
            state=transfer.state,
            resolved_at_us=transfer.resolved_at_us,
            void_reason=transfer.void_reason,
            reject_reason=transfer.reject_reason,
            business_day=transfer.business_day,
        )

    def source_points_since(
        self, cmid: str, source_partner_id: str, destination_partner_id: str, since_us: int
    ) -> int:
        return sum(
            t.source_points
            for t in self._store.transfers.values()
            if (t.cmid, t.source_partner_id, t.destination_partner_id)
            == (cmid, source_partner_id, destination_partner_id)
            and t.kind is TransferKind.TRANSFER
            and t.state is not TransferState.VOIDED
            and t.created_at_us >= since_us
        )

    def live_reversal_of(self, transfer_id: str) -> Transfer | None:
        return next(
            (
                t
                for t in self._store.transfers.values()
                if t.original_transfer_id == transfer_id and t.state is not TransferState.VOIDED
            ),
            None,
        )

    def list_for(
        self,
        partner_id: str,
        state: TransferState | None,
        window_us: tuple[int | None, int | None],
        before: tuple[int, str] | None,
        limit: int,
    ) -> list[Transfer]:
        start_us, end_us = window_us
        found = [
            t
            for t in self._store.transfers.values()
            if t.has_party(partner_id)
            and (state is None or t.state is state)
            and (start_us is None or t.created_at_us >= start_us)
            and (end_us is None or t.created_at_us < end_us)
            and (before is None or (t.created_at_us, t.transfer_id) < before)
        ]
        found.sort(key=lambda t: (t.created_at_us, t.transfer_id), reverse=True)
        return found[:limit]

    def timed_out(self, now_us: int, limit: int) -> list[str]:
        found = sorted(
            (t.timeout_at_us, t.transfer_id)
            for t in self._store.transfers.values()
            if t.state is TransferState.PENDING and t.timeout_at_us <= now_us
        )
        return [transfer_id for _, transfer_id in found[:limit]]

    def move_member(self, from_cmid: str, to_cmid: str) -> None:
        store = self._store
        store.transfers = {
            k: replace(t, cmid=to_cmid) if t.cmid == from_cmid else t
            for k, t in store.transfers.items()
        }
        store.quotes = {
            k: replace(q, cmid=to_cmid) if q.cmid == from_cmid else q
            for k, q in store.quotes.items()
        }

    def scrub_member(self, cmid: str) -> None:
        store = self._store
        store.transfers = {
            k: replace(t, source_ppid="", destination_ppid="") if t.cmid == cmid else t
            for k, t in store.transfers.items()
        }
        store.quotes = {
            k: replace(q, source_ppid="", destination_ppid="") if q.cmid == cmid else q
            for k, q in store.quotes.items()
        }

    def _check_transfer_id_free(self, transfer_id: str) -> None:
        """The unique key on quotes.transfer_id."""
        if any(q.transfer_id == transfer_id for q in self._store.quotes.values()):
            raise ValueError(f"transfer {transfer_id!r} already has a quote")


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


if TYPE_CHECKING:
    # mypy proves the fakes satisfy the ports structurally.
    _rates_check: RateAgreementRepository = InMemoryRateAgreementRepository(InMemoryStore())
    _transfers_check: TransferRepository = InMemoryTransferRepository(InMemoryStore())
    _ledger_check: Ledger = InMemoryLedger(InMemoryStore())


class InMemoryBusinessDayRepository:
    """Business days: opened on first use, closed once (a unit holds the whole store)."""

    def __init__(self, store: InMemoryStore) -> None:
        self._store = store

    def open_day_at_or_after(self, business_day: str) -> str:
        day = date.fromisoformat(business_day)
        while self._store.business_days.setdefault(day.isoformat(), "open") != "open":
            day += timedelta(days=1)
        return day.isoformat()

    def close(self, business_day: str, at_us: int) -> bool:
        if self._store.business_days.get(business_day) == "closed":
            return False
        self._store.business_days[business_day] = "closed"
        return True

    def state(self, business_day: str) -> str | None:
        return self._store.business_days.get(business_day)
