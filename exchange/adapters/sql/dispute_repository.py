"""SQL storage of disputes, their adjustments and reconciliation uploads."""

from __future__ import annotations

from dataclasses import asdict

from sqlalchemy import insert, or_, select, update
from sqlalchemy.orm import Session

from exchange.adapters.sql.settlement_tables import AdjustmentRow, DisputeRow, ReconciliationRow
from exchange.domain.disputes import OPEN, Adjustment, Dispute, Reconciliation


def _dispute(row: DisputeRow) -> Dispute:
    return Dispute(
        dispute_id=row.dispute_id,
        business_day=row.business_day,
        transfer_id=row.transfer_id,
        opened_by=row.opened_by,
        counterparty=row.counterparty,
        currency=row.currency,
        claimed_minor=row.claimed_minor,
        recorded_minor=row.recorded_minor,
        reason=row.reason,
        state=row.state,
        resolution_reason=row.resolution_reason,
        adjustment_business_day=row.adjustment_business_day,
        opened_at_us=row.opened_at_us,
        resolved_at_us=row.resolved_at_us,
    )


class SqlDisputeRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, dispute: Dispute) -> None:
        self.session.execute(insert(DisputeRow).values(asdict(dispute)))

    def get(self, dispute_id: str, *, for_update: bool = False) -> Dispute | None:
        query = select(DisputeRow).where(DisputeRow.dispute_id == dispute_id)
        if for_update:
            query = query.with_for_update()
        query = query.execution_options(populate_existing=True)
        row = self.session.execute(query).scalars().first()
        return _dispute(row) if row is not None else None

    def save(self, dispute: Dispute) -> None:
        values = asdict(dispute)
        self.session.execute(
            update(DisputeRow)
            .where(DisputeRow.dispute_id == values.pop("dispute_id"))
            .values(values)
        )

    def of_partner(self, partner_id: str) -> list[Dispute]:
        query = (
            select(DisputeRow)
            .where(or_(DisputeRow.opened_by == partner_id, DisputeRow.counterparty == partner_id))
            .order_by(DisputeRow.opened_at_us, DisputeRow.dispute_id)
            .execution_options(populate_existing=True)
        )
        return [_dispute(row) for row in self.session.execute(query).scalars()]

    def open_exists(self, transfer_id: str, partner_id: str) -> bool:
        query = select(DisputeRow.dispute_id).where(
            DisputeRow.transfer_id == transfer_id,
            DisputeRow.opened_by == partner_id,
            DisputeRow.state == OPEN,
        )
        return self.session.execute(query).first() is not None

    def add_adjustment(self, adjustment: Adjustment) -> None:
        self.session.execute(insert(AdjustmentRow).values(asdict(adjustment)))

    def reconciliation_id(self, partner_id: str, business_day: str, digest: bytes) -> str | None:
        return self.session.execute(
            select(ReconciliationRow.reconciliation_id).where(
                ReconciliationRow.partner_id == partner_id,
                ReconciliationRow.business_day == business_day,
                ReconciliationRow.upload_sha256 == digest,
            )
        ).scalar()

    def add_reconciliation(self, reconciliation: Reconciliation) -> None:
        self.session.execute(insert(ReconciliationRow).values(asdict(reconciliation)))
