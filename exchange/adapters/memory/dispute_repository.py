"""In-memory fake of the dispute port, behaving like SqlDisputeRepository."""

from __future__ import annotations

from typing import TYPE_CHECKING

from exchange.adapters.memory.store import InMemoryStore
from exchange.domain.disputes import OPEN, Adjustment, Dispute, Reconciliation
from exchange.domain.ports import WriteConflict

if TYPE_CHECKING:
    from exchange.domain.disputes import DisputeRepository


class InMemoryDisputeRepository:
    def __init__(self, store: InMemoryStore) -> None:
        self._store = store

    def add(self, dispute: Dispute) -> None:
        disputes = self._store.settlement.disputes
        if dispute.dispute_id in disputes:
            raise WriteConflict(f"dispute {dispute.dispute_id} exists")
        disputes[dispute.dispute_id] = dispute

    def get(self, dispute_id: str, *, for_update: bool = False) -> Dispute | None:
        return self._store.settlement.disputes.get(dispute_id)

    def save(self, dispute: Dispute) -> None:
        assert dispute.dispute_id in self._store.settlement.disputes, "saves a stored dispute"
        self._store.settlement.disputes[dispute.dispute_id] = dispute

    def of_partner(self, partner_id: str) -> list[Dispute]:
        found = [
            d
            for d in self._store.settlement.disputes.values()
            if partner_id in (d.opened_by, d.counterparty)
        ]
        return sorted(found, key=lambda d: (d.opened_at_us, d.dispute_id))

    def open_exists(self, transfer_id: str, partner_id: str) -> bool:
        return any(
            d.transfer_id == transfer_id and d.opened_by == partner_id and d.state == OPEN
            for d in self._store.settlement.disputes.values()
        )

    def add_adjustment(self, adjustment: Adjustment) -> None:
        adjustments = self._store.settlement.adjustments
        if adjustment.adjustment_id in adjustments:
            raise WriteConflict(f"adjustment {adjustment.adjustment_id} exists")
        if any(a.dispute_id == adjustment.dispute_id for a in adjustments.values()):
            raise WriteConflict(f"dispute {adjustment.dispute_id} has an adjustment")
        adjustments[adjustment.adjustment_id] = adjustment

    def reconciliation_id(self, partner_id: str, business_day: str, digest: bytes) -> str | None:
        return next(
            (
                r.reconciliation_id
                for r in self._store.settlement.reconciliations.values()
                if (r.partner_id, r.business_day, r.upload_sha256)
                == (partner_id, business_day, digest)
            ),
            None,
        )

    def add_reconciliation(self, reconciliation: Reconciliation) -> None:
        r = reconciliation
        reconciliations = self._store.settlement.reconciliations
        if r.reconciliation_id in reconciliations:
            raise WriteConflict(f"reconciliation {r.reconciliation_id} exists")
        if self.reconciliation_id(r.partner_id, r.business_day, r.upload_sha256) is not None:
            raise WriteConflict("this upload is reconciled already")
        reconciliations[r.reconciliation_id] = r


if TYPE_CHECKING:
    # mypy proves the fakes satisfy the ports structurally.
    _dispute_check: DisputeRepository = InMemoryDisputeRepository(InMemoryStore())
