"""In-memory fake of the transfer port, behaving like SqlTransferRepository."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from exchange.adapters.memory.store import InMemoryStore
from exchange.domain.transfers import Quote, Transfer, TransferKind, TransferState

if TYPE_CHECKING:
    from exchange.domain.ports import TransferRepository


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


if TYPE_CHECKING:
    # mypy proves the fakes satisfy the ports structurally.
    _transfers_check: TransferRepository = InMemoryTransferRepository(InMemoryStore())
