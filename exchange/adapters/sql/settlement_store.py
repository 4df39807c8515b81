"""SQL side of settlement: streams a day's records, stores its runs, leaves and positions.

Records are read in transfer-id order in batches (yield_per), so a run's memory does not grow
with the number of transfers; the day's leaf hashes are written back in batches as they go.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from typing import cast

from sqlalchemy import Table, insert, select
from sqlalchemy.orm import Session

from exchange.adapters.sql.bulk import insert_rows
from exchange.adapters.sql.settlement_tables import (
    AdjustmentRow,
    BusinessDayRow,
    PaymentInstructionRow,
    SettlementDayRow,
    SettlementLeafRow,
    SettlementPositionRow,
    SettlementRunRow,
)
from exchange.adapters.sql.tables import TransferRow
from exchange.domain.settlement import SettledDay, SettlementRun, record_from_bytes
from settlement.model import Direction, NetPosition, PaymentInstruction, TransferRecord

STREAM_BATCH_ROWS = 5_000
LEAF_BATCH_ROWS = 5_000


def _transfer_records(session: Session, business_day: str) -> Iterator[TransferRecord]:
    query = (
        select(
            TransferRow.transfer_id,
            TransferRow.kind,
            TransferRow.source_partner_id,
            TransferRow.destination_partner_id,
            TransferRow.source_points,
            TransferRow.destination_points,
            TransferRow.currency,
            TransferRow.settlement_amount_minor,
            TransferRow.fee_minor,
            TransferRow.resolved_at_us,
        )
        .where(TransferRow.business_day == business_day, TransferRow.state == "completed")
        .order_by(TransferRow.transfer_id)
        .execution_options(yield_per=STREAM_BATCH_ROWS)
    )
    for row in session.execute(query):
        yield TransferRecord(
            row.transfer_id,
            row.kind,
            row.source_partner_id,
            row.destination_partner_id,
            row.source_points,
            row.destination_points,
            row.currency,
            row.settlement_amount_minor,
            row.fee_minor,
            business_day,
            row.resolved_at_us,
        )


def _adjustment_records(session: Session, business_day: str) -> Iterator[TransferRecord]:
    query = (
        select(AdjustmentRow)
        .where(AdjustmentRow.business_day == business_day)
        .order_by(AdjustmentRow.adjustment_id)
    )
    for row in session.execute(query).scalars():
        yield TransferRecord(
            row.adjustment_id,
            "adjustment",
            row.payer,
            row.payee,
            0,
            0,
            row.currency,
            row.amount_minor,
            0,
            business_day,
            row.created_at_us,
        )


def day_records(session: Session, business_day: str) -> Iterator[TransferRecord]:
    """Every record of a business day, transfers and adjustments, in id order."""
    return heapq.merge(
        _transfer_records(session, business_day),
        _adjustment_records(session, business_day),
        key=lambda record: record.transfer_id,
    )


class LeafWriter:
    """Buffers a day's leaf hashes and writes them in batches."""

    def __init__(self, session: Session, business_day: str) -> None:
        self.session = session
        self.business_day = business_day
        self.buffer: list[dict[str, object]] = []

    def add(self, index: int, transfer_id: str, leaf_hash: bytes, record: bytes) -> None:
        self.buffer.append(
            {
                "business_day": self.business_day,
                "leaf_index": index,
                "transfer_id": transfer_id,
                "leaf_hash": leaf_hash,
                "record": record,
            }
        )
        if len(self.buffer) >= LEAF_BATCH_ROWS:
            self.flush()

    def flush(self) -> None:
        if not self.buffer:
            return
        # COPY on PostgreSQL: an INSERT per leaf was half of a day's run.
        insert_rows(self.session, cast(Table, SettlementLeafRow.__table__), self.buffer)
        self.buffer = []


def settled_records(session: Session, business_day: str) -> Iterator[tuple[int, TransferRecord]]:
    """A settled day's records as they were settled, with their leaf indexes, in tree order."""
    query = (
        select(SettlementLeafRow.leaf_index, SettlementLeafRow.record)
        .where(SettlementLeafRow.business_day == business_day)
        .order_by(SettlementLeafRow.leaf_index)
        .execution_options(yield_per=STREAM_BATCH_ROWS)
    )
    for index, record in session.execute(query):
        yield index, record_from_bytes(record)


def settled_record(session: Session, business_day: str, transfer_id: str) -> TransferRecord | None:
    data = session.execute(
        select(SettlementLeafRow.record).where(
            SettlementLeafRow.business_day == business_day,
            SettlementLeafRow.transfer_id == transfer_id,
        )
    ).scalar()
    return record_from_bytes(data) if data is not None else None


def leaf_hashes(session: Session, business_day: str) -> list[bytes]:
    query = (
        select(SettlementLeafRow.leaf_hash)
        .where(SettlementLeafRow.business_day == business_day)
        .order_by(SettlementLeafRow.leaf_index)
    )
    return list(session.execute(query).scalars())


def settled_day(session: Session, business_day: str) -> SettledDay | None:
    row = (
        session.execute(
            select(SettlementDayRow).where(SettlementDayRow.business_day == business_day)
        )
        .scalars()
        .first()
    )
    if row is None:
        return None
    return SettledDay(
        business_day=row.business_day,
        merkle_root=row.merkle_root,
        tree_size=row.tree_size,
        settled_at_us=row.settled_at_us,
    )


def store_day(session: Session, day: SettledDay) -> None:
    session.execute(
        insert(SettlementDayRow).values(
            business_day=day.business_day,
            merkle_root=day.merkle_root,
            tree_size=day.tree_size,
            settled_at_us=day.settled_at_us,
        )
    )


def store_run(
    session: Session,
    run: SettlementRun,
    positions: list[NetPosition],
    instructions: list[PaymentInstruction],
) -> None:
    business_day, currency = run.business_day, run.currency
    session.execute(
        insert(SettlementRunRow).values(
            business_day=business_day,
            currency=currency,
            record_count=run.record_count,
            settled_at_us=run.settled_at_us,
        )
    )
    if positions:
        session.execute(
            insert(SettlementPositionRow),
            [
                {
                    "business_day": business_day,
                    "currency": currency,
                    "participant": p.participant,
                    "receivable_minor": p.receivable_minor,
                    "payable_minor": p.payable_minor,
                    "net_minor": p.net_minor,
                }
                for p in positions
            ],
        )
    if instructions:
        session.execute(
            insert(PaymentInstructionRow),
            [
                {
                    "clearing_reference": i.clearing_reference,
                    "business_day": i.business_day,
                    "currency": i.currency,
                    "participant": i.participant,
                    "direction": i.direction.value,
                    "amount_minor": i.amount_minor,
                }
                for i in instructions
            ],
        )


def runs(session: Session, business_day: str) -> list[SettlementRun]:
    rows = session.execute(
        select(SettlementRunRow)
        .where(SettlementRunRow.business_day == business_day)
        .order_by(SettlementRunRow.currency)
    ).scalars()
    return [
        SettlementRun(
            business_day=r.business_day,
            currency=r.currency,
            record_count=r.record_count,
            settled_at_us=r.settled_at_us,
        )
        for r in rows
    ]


def positions(session: Session, business_day: str, currency: str) -> list[NetPosition]:
    rows = session.execute(
        select(SettlementPositionRow)
        .where(
            SettlementPositionRow.business_day == business_day,
            SettlementPositionRow.currency == currency,
        )
        .order_by(SettlementPositionRow.participant)
    ).scalars()
    return [
        NetPosition(r.participant, r.currency, r.receivable_minor, r.payable_minor, r.net_minor)
        for r in rows
    ]


def instructions(
    session: Session, business_day: str, participant: str | None = None
) -> list[PaymentInstruction]:
    query = select(PaymentInstructionRow).where(PaymentInstructionRow.business_day == business_day)
    if participant is not None:
        query = query.where(PaymentInstructionRow.participant == participant)
    rows = session.execute(query.order_by(PaymentInstructionRow.clearing_reference)).scalars()
    return [
        PaymentInstruction(
            r.clearing_reference,
            r.business_day,
            r.currency,
            r.participant,
            Direction(r.direction),
            r.amount_minor,
        )
        for r in rows
    ]


def transfer_record(session: Session, transfer_id: str) -> TransferRecord | None:
    row = (
        session.execute(select(TransferRow).where(TransferRow.transfer_id == transfer_id))
        .scalars()
        .first()
    )
    if row is None or row.state != "completed" or row.business_day is None:
        return None
    return TransferRecord(
        row.transfer_id,
        row.kind,
        row.source_partner_id,
        row.destination_partner_id,
        row.source_points,
        row.destination_points,
        row.currency,
        row.settlement_amount_minor,
        row.fee_minor,
        row.business_day,
        row.resolved_at_us or 0,
    )


def unsettled_days_through(session: Session, business_day: str) -> list[str]:
    """Known business days up to and including this one that have no settlement yet."""
    settled = select(SettlementDayRow.business_day)
    return list(
        session.execute(
            select(BusinessDayRow.business_day)
            .where(
                BusinessDayRow.business_day <= business_day,
                BusinessDayRow.business_day.not_in(settled),
            )
            .order_by(BusinessDayRow.business_day)
        ).scalars()
    )
