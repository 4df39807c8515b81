"""SQL storage of quotes and transfers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, fields
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, insert, or_, select, tuple_, update
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session

from exchange.adapters.sql.bulk import insert_rows
from exchange.adapters.sql.tables import QuoteRow, TransferRow
from exchange.domain.transfers import Quote, Transfer, TransferKind, TransferState, VoidReason

QUOTE_FIELDS = [f.name for f in fields(Quote)]
# Core table: rows written in bulk skip the ORM's per-row bookkeeping.
TRANSFERS = cast(Table, TransferRow.__table__)


def _transfer(row: TransferRow | Row[Any]) -> Transfer:
    return Transfer(
        row.transfer_id,
        TransferKind(row.kind),
        TransferState(row.state),
        row.source_partner_id,
        row.destination_partner_id,
        row.cmid,
        row.source_ppid,
        row.destination_ppid,
        row.source_points,
        row.destination_points,
        row.bonus_points,
        row.currency,
        row.settlement_amount_minor,
        row.fee_minor,
        row.agreement_id,
        row.agreement_version,
        row.quote_id,
        row.original_transfer_id,
        row.created_at_us,
        row.timeout_at_us,
        row.resolved_at_us,
        VoidReason(row.void_reason) if row.void_reason else None,
        row.reject_reason,
        row.business_day,
    )


def _transfer_values(transfer: Transfer) -> dict[str, object]:
    values = asdict(transfer)
    values["kind"] = transfer.kind.value
    values["state"] = transfer.state.value
    values["void_reason"] = transfer.void_reason.value if transfer.void_reason else None
    return values


class SqlTransferRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add_quote(self, quote: Quote) -> None:
        self.session.execute(insert(QuoteRow).values(asdict(quote)))

    def get_quote(self, quote_id: str, *, for_update: bool = False) -> Quote | None:
        query = select(QuoteRow).where(QuoteRow.quote_id == quote_id)
        if for_update:
            query = query.with_for_update()
        row = self.session.scalars(query.execution_options(populate_existing=True)).first()
        if row is None:
            return None
        return Quote(**{name: getattr(row, name) for name in QUOTE_FIELDS})

    def mark_quote_used(self, quote_id: str, transfer_id: str) -> None:
        self.session.execute(
            update(QuoteRow).where(QuoteRow.quote_id == quote_id).values(transfer_id=transfer_id)
        )

    def add(self, transfer: Transfer) -> None:
        self.add_many([transfer])

    def add_many(self, transfers: Sequence[Transfer]) -> None:
        if transfers:
            insert_rows(self.session, TRANSFERS, [_transfer_values(t) for t in transfers])

    def get_many(
        self, transfer_ids: Sequence[str], *, for_update: bool = False
    ) -> dict[str, Transfer]:
        # Core rows, not entities: always read afresh, and cheap by the thousand.
        query = (
            select(TRANSFERS)
            .where(TRANSFERS.c.transfer_id.in_(sorted(set(transfer_ids))))
            .order_by(TRANSFERS.c.transfer_id)
        )
        if for_update:
            query = query.with_for_update()
        return {row.transfer_id: _transfer(row) for row in self.session.execute(query)}

    def save_many(self, transfers: Sequence[Transfer]) -> None:
        if not transfers:
            return
        statement = (
            update(TRANSFERS)
            .where(TRANSFERS.c.transfer_id == bindparam("id"))
            .values(
                state=bindparam("new_state"),
                resolved_at_us=bindparam("new_resolved_at_us"),
                void_reason=bindparam("new_void_reason"),
                reject_reason=bindparam("new_reject_reason"),
                business_day=bindparam("new_business_day"),
            )
        )
        self.session.execute(
            statement,
            [
                {
                    "id": t.transfer_id,
                    "new_state": t.state.value,
                    "new_resolved_at_us": t.resolved_at_us,
                    "new_void_reason": t.void_reason.value if t.void_reason else None,
                    "new_reject_reason": t.reject_reason,
                    "new_business_day": t.business_day,
                }
                for t in transfers
            ],
        )

    def source_points_since_by_member(
        self,
        cmids: Sequence[str],
        source_partner_id: str,
        destination_partner_id: str,
        since_us: int,
    ) -> dict[str, int]:
        if not cmids:
            return {}
        query = (
            select(TransferRow.cmid, func.sum(TransferRow.source_points))
            .where(
                TransferRow.cmid.in_(sorted(set(cmids))),
                TransferRow.source_partner_id == source_partner_id,
                TransferRow.destination_partner_id == destination_partner_id,
                TransferRow.kind == TransferKind.TRANSFER.value,
                TransferRow.state != TransferState.VOIDED.value,
                TransferRow.created_at_us >= since_us,
            )
            .group_by(TransferRow.cmid)
        )
        return {cmid: int(total) for cmid, total in self.session.execute(query)}

    def get(self, transfer_id: str, *, for_update: bool = False) -> Transfer | None:
        query = select(TransferRow).where(TransferRow.transfer_id == transfer_id)
        if for_update:
            query = query.with_for_update()
        # populate_existing: a row read earlier in this session is read again after the lock.
        row = self.session.scalars(query.execution_options(populate_existing=True)).first()
        return _transfer(row) if row is not None else None

    def save(self, transfer: Transfer) -> None:
        self.save_many([transfer])

    def source_points_since(
        self, cmid: str, source_partner_id: str, destination_partner_id: str, since_us: int
    ) -> int:
        total = self.session.scalar(
            select(func.coalesce(func.sum(TransferRow.source_points), 0)).where(
                TransferRow.cmid == cmid,
                TransferRow.source_partner_id == source_partner_id,
                TransferRow.destination_partner_id == destination_partner_id,
                TransferRow.kind == TransferKind.TRANSFER.value,
                TransferRow.state != TransferState.VOIDED.value,
                TransferRow.created_at_us >= since_us,
            )
        )
        return int(total or 0)

    def live_reversal_of(self, transfer_id: str) -> Transfer | None:
        row = self.session.scalars(
            select(TransferRow).where(
                TransferRow.original_transfer_id == transfer_id,
                TransferRow.state != TransferState.VOIDED.value,
            )
        ).first()
        return _transfer(row) if row is not None else None

    def list_for(
        self,
        partner_id: str,
        state: TransferState | None,
        window_us: tuple[int | None, int | None],
        before: tuple[int, str] | None,
        limit: int,
    ) -> list[Transfer]:
        query = select(TransferRow).where(
            or_(
                TransferRow.source_partner_id == partner_id,
                TransferRow.destination_partner_id == partner_id,
            )
        )
        if state is not None:
            query = query.where(TransferRow.state == state.value)
        start_us, end_us = window_us
        if start_us is not None:
            query = query.where(TransferRow.created_at_us >= start_us)
        if end_us is not None:
            query = query.where(TransferRow.created_at_us < end_us)
        if before is not None:
            position = tuple_(TransferRow.created_at_us, TransferRow.transfer_id)
            query = query.where(position < tuple_(*before))
        query = query.order_by(
            TransferRow.created_at_us.desc(), TransferRow.transfer_id.desc()
        ).limit(limit)
        return [_transfer(row) for row in self.session.scalars(query)]

    def timed_out(self, now_us: int, limit: int) -> list[str]:
        return list(
            self.session.scalars(
                select(TransferRow.transfer_id)
                .where(
                    TransferRow.state == TransferState.PENDING.value,
                    TransferRow.timeout_at_us <= now_us,
                )
                .order_by(TransferRow.timeout_at_us)
                .limit(limit)
            )
        )

    def move_member(self, from_cmid: str, to_cmid: str) -> None:
        for table in (TransferRow, QuoteRow):
            self.session.execute(update(table).where(table.cmid == from_cmid).values(cmid=to_cmid))

    def scrub_member(self, cmid: str) -> None:
        for table in (TransferRow, QuoteRow):
            self.session.execute(
                update(table).where(table.cmid == cmid).values(source_ppid="", destination_ppid="")
            )
