"""What a partner reads of a settled day: its position, statement, proofs and instructions."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy.orm import Session

from coalition import merkle
from exchange.adapters.sql import settlement_store as store
from exchange.adapters.sql.tables import SettlementDayRow
from exchange.domain.errors import DomainError, ErrorCode, invalid
from exchange.services.settlement import record_bytes
from settlement.calendar import parse_day
from settlement.model import NetPosition, PaymentInstruction, TransferRecord


def check_day(business_day: str) -> str:
    try:
        parse_day(business_day)
    except ValueError:
        raise invalid("business_day", "must be a date written YYYY-MM-DD") from None
    return business_day


def settled(session: Session, business_day: str) -> SettlementDayRow:
    day = store.settled_day(session, check_day(business_day))
    if day is None:
        raise DomainError(ErrorCode.NOT_SETTLED, f"business day {business_day} is not settled")
    return day


@dataclass(frozen=True)
class StatementLine:
    record: TransferRecord
    record_bytes: bytes
    leaf_index: int
    payable: bool


@dataclass(frozen=True)
class StatementTotals:
    receivable_minor: int
    payable_minor: int
    fees_minor: int

    @property
    def net_minor(self) -> int:
        return self.receivable_minor - self.payable_minor - self.fees_minor


def statement_lines(
    session: Session, partner_id: str, business_day: str, currency: str | None = None
) -> Iterator[StatementLine]:
    """The partner's records of the day as settled (in one currency, or all), each with its
    index in the Merkle tree."""
    for index, record in store.settled_records(session, business_day):
        if currency is not None and record.currency != currency:
            continue
        if partner_id not in (record.source_partner_id, record.destination_partner_id):
            continue
        yield StatementLine(record, record_bytes(record), index, record.payer == partner_id)


def totals(lines: list[StatementLine]) -> StatementTotals:
    receivable = sum(line.record.amount_minor for line in lines if not line.payable)
    payable = sum(line.record.amount_minor for line in lines if line.payable)
    fees = sum(line.record.fee_minor for line in lines if line.payable)
    return StatementTotals(receivable, payable, fees)


def own_position(
    session: Session, partner_id: str, business_day: str, currency: str
) -> NetPosition | None:
    settled(session, business_day)
    return next(
        (
            p
            for p in store.positions(session, business_day, currency)
            if p.participant == partner_id
        ),
        None,
    )


def inclusion_proof(
    session: Session, partner_id: str, business_day: str, transfer_id: str
) -> tuple[int, int, list[bytes], bytes]:
    """(leaf index, tree size, audit path, record bytes) for one of the partner's records."""
    day = settled(session, business_day)
    record = next(
        (
            line
            for line in statement_lines(session, partner_id, business_day)
            if line.record.transfer_id == transfer_id
        ),
        None,
    )
    if record is None:
        raise DomainError(ErrorCode.RECORD_NOT_FOUND, "no such record of yours on that day")
    leaves = store.leaf_hashes(session, business_day)
    assert len(leaves) == day.tree_size, "a settled day keeps every leaf"
    return (
        record.leaf_index,
        day.tree_size,
        merkle.inclusion_proof(leaves, record.leaf_index),
        (record.record_bytes),
    )


def payment_instructions(
    session: Session, partner_id: str, business_day: str
) -> list[PaymentInstruction]:
    settled(session, business_day)
    return store.instructions(session, business_day, partner_id)
