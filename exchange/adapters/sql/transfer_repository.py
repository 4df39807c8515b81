"""SQL storage of quotes and transfers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, or_, select, tuple_, update
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session

from exchange.adapters.sql.bulk import fetch_by_key, insert_rows
from exchange.adapters.sql.tables import QuoteRow, TransferRow
from exchange.domain.transfers import Quote, Transfer, TransferKind, TransferState, VoidReason

QUOTE_FIELDS = [f.name for f in fields(Quote)]
TRANSFER_FIELDS = [f.name for f in fields(Transfer)]
# Core table: rows written in bulk skip the ORM's per-row bookkeeping.
TRANSFERS = cast(Table, TransferRow.__table__)
QUOTES = cast(Table, QuoteRow.__table__)
# Built once: constructing and cache-keying a statement costs more than running it.
TRANSFERS_BY_ID = (
    select(TRANSFERS)
    .where(TRANSFERS.c.transfer_id.in_(bindparam("ids", expanding=True)))
    .order_by(TRANSFERS.c.transfer_id)
)
# Rows locked in id order, the order every batch takes them in.
TRANSFERS_LOCKED = TRANSFERS_BY_ID.with_for_update()
SAVE_RESOLUTION = (
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
SOURCE_POINTS_SINCE = (
    select(TRANSFERS.c.cmid, func.sum(TRANSFERS.c.source_points))
    .where(
        TRANSFERS.c.cmid.in_(bindparam("cmids", expanding=True)),
        TRANSFERS.c.source_partner_id == bindparam("source"),
        TRANSFERS.c.destination_partner_id == bindparam("destination"),
        TRANSFERS.c.kind == TransferKind.TRANSFER.value,
        TRANSFERS.c.state != TransferState.VOIDED.value,
        TRANSFERS.c.created_at_us >= bindparam("since_us"),
    )
    .group_by(TRANSFERS.c.cmid)
)


def _transfer(row: TransferRow | Row[Any]) -> Transfer:
    return Transfer(
        transfer_id=row.transfer_id,
        kind=TransferKind(row.kind),
        state=TransferState(row.state),
        source_partner_id=row.source_partner_id,
        destination_partner_id=row.destination_partner_id,
        cmid=row.cmid,
        source_ppid=row.source_ppid,
        destination_ppid=row.destination_ppid,
        source_points=row.source_points,
        destination_points=row.destination_points,
        bonus_points=row.bonus_points,
        currency=row.currency,
        settlement_amount_minor=row.settlement_amount_minor,
        fee_minor=row.fee_minor,
        agreement_id=row.agreement_id,
        agreement_version=row.agreement_version,
        quote_id=row.quote_id,
        original_transfer_id=row.original_transfer_id,
        created_at_us=row.created_at_us,
        timeout_at_us=row.timeout_at_us,
        resolved_at_us=row.resolved_at_us,
        void_reason=VoidReason(row.void_reason) if row.void_reason else None,
        reject_reason=row.reject_reason,
        business_day=row.business_day,
    )


def _transfer_values(transfer: Transfer) -> dict[str, object]:
    # Shallow: dataclasses.asdict deep-copies every field, a tenth of a transfer's CPU.
    values = {name: getattr(transfer, name) for name in TRANSFER_FIELDS}
    values["kind"] = transfer.kind.value
    values["state"] = transfer.state.value
    values["void_reason"] = transfer.void_reason.value if transfer.void_reason else None
    return values


class SqlTransferRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add_quote(self, quote: Quote) -> None:
        insert_rows(self.session, QUOTES, [{name: getattr(quote, name) for name in QUOTE_FIELDS}])

    def get_quote(self, quote_id: str, *, for_update: bool = False) -> Quote | None:
        row = fetch_by_key(self.session, QUOTES, for_update=for_update, quote_id=quote_id)
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
        query = TRANSFERS_LOCKED if for_update else TRANSFERS_BY_ID
        rows = self.session.execute(query, {"ids": sorted(set(transfer_ids))})
        return {row.transfer_id: _transfer(row) for row in rows}

    def save_many(self, transfers: Sequence[Transfer]) -> None:
        if not transfers:
            return
        self.session.execute(
            SAVE_RESOLUTION,
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
        parameters = {
            "cmids": sorted(set(cmids)),
            "source": source_partner_id,
            "destination": destination_partner_id,
            "since_us": since_us,
        }
        rows = self.session.execute(SOURCE_POINTS_SINCE, parameters)
        return {cmid: int(total) for cmid, total in rows}

    def get(self, transfer_id: str, *, for_update: bool = False) -> Transfer | None:
        # Core, so always read afresh: after the lock, never a stale copy from earlier.
        row = fetch_by_key(self.session, TRANSFERS, for_update=for_update, transfer_id=transfer_id)
        return _transfer(row) if row is not None else None

    def save(self, transfer: Transfer) -> None:
        self.save_many([transfer])

    def source_points_since(
        self, cmid: str, source_partner_id: str, destination_partner_id: str, since_us: int
    ) -> int:
        totals = self.source_points_since_by_member(
            [cmid], source_partner_id, destination_partner_id, since_us
        )
        return totals.get(cmid, 0)

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
