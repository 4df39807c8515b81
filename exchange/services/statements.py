"""What a partner reads of a settled day: its position, statement, proofs and instructions."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass

from coalition import merkle
from exchange.domain.errors import DomainError, ErrorCode, invalid
from exchange.domain.settlement import (
    SettledDay,
    SettlementReader,
    SettlementRepository,
    record_bytes,
    record_from_bytes,
)
from settlement.calendar import parse_day
from settlement.model import NetPosition, PaymentInstruction, TransferRecord

log = logging.getLogger(__name__)


def check_day(business_day: str) -> str:
    try:
        parse_day(business_day)
    except ValueError:
        raise invalid("business_day", "must be a date written YYYY-MM-DD") from None
    return business_day


def _store(uow: SettlementReader) -> SettlementRepository:
    return uow.settlement


def settled(uow: SettlementReader, business_day: str) -> SettledDay:
    day = _store(uow).settled_day(check_day(business_day))
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
    uow: SettlementReader, partner_id: str, business_day: str, currency: str | None = None
) -> Iterator[StatementLine]:
    """The partner's records of the day as settled (in one currency, or all), each with its
    index in the Merkle tree."""
    for index, record in _store(uow).settled_records(business_day):
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
    uow: SettlementReader, partner_id: str, business_day: str, currency: str
) -> NetPosition | None:
    settled(uow, business_day)
    positions = _store(uow).positions(business_day, currency)
    return next((p for p in positions if p.participant == partner_id), None)


def inclusion_proof(
    uow: SettlementReader, partner_id: str, business_day: str, transfer_id: str
) -> tuple[int, int, list[bytes], bytes]:
    """(leaf index, tree size, audit path, record bytes) for one of the partner's records.

    A handful of indexed reads: the record by (day, transfer id), then the path's stored nodes.
    """
    day = settled(uow, business_day)
    found = _store(uow).settled_leaf(business_day, transfer_id)
    if found is None:
        raise _no_such_record()
    index, data = found
    record = record_from_bytes(data)
    if partner_id not in (record.source_partner_id, record.destination_partner_id):
        raise _no_such_record()  # the same answer as for a record that does not exist
    path = audit_path(uow, day, index, merkle.leaf_hash(data))
    return index, day.tree_size, path, record_bytes(record)


def _no_such_record() -> DomainError:
    return DomainError(ErrorCode.RECORD_NOT_FOUND, "no such record of yours on that day")


def audit_path(uow: SettlementReader, day: SettledDay, index: int, leaf: bytes) -> list[bytes]:
    """The audit path of leaf `index` of a settled day, from its stored nodes and checked
    against the day's root; a day without them (none should be since migration 0007), or
    whose nodes do not give its root, is rehashed from all its leaves."""
    store = _store(uow)
    keys = merkle.audit_path_keys(index, day.tree_size)
    nodes = store.node_hashes(day.business_day, (k for p in keys for k in p))
    try:
        path = merkle.proof_from_nodes(keys, nodes)
    except KeyError:
        log.warning("business day %s has no stored tree nodes", day.business_day)
    else:
        if merkle.verify_inclusion(leaf, index, day.tree_size, path, day.merkle_root):
            return path
        log.error("the stored tree nodes of business day %s do not give its root", day.business_day)
    leaves = store.leaf_hashes(day.business_day)
    assert len(leaves) == day.tree_size, "a settled day keeps every leaf"
    return merkle.inclusion_proof(leaves, index)


def payment_instructions(
    uow: SettlementReader, partner_id: str, business_day: str
) -> list[PaymentInstruction]:
    settled(uow, business_day)
    return _store(uow).instructions(business_day, partner_id)
