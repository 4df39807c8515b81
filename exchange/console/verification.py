"""The hub-signed statement of a partner's day, and the console's own check of it.

The payload is built exactly as `SettlementService.GetStatement` builds it (same fields, same
deterministic encoding), so the signature shown is the one a partner's systems receive. The
"verified" mark is then computed, not asserted: the signature checks against the hub's public
key and every line's record sits in the day's Merkle tree at its index, proved against the root.
"""

from __future__ import annotations

from dataclasses import dataclass

from coalition import merkle, wire
from coalition.keys import SigningKey, verify_signature
from coalition.records import decode_record
from coalition.v1 import common_pb2
from coalition.v1 import settlement_pb2 as pb
from exchange.domain.settlement import SettlementReader
from exchange.services import statements

STATEMENT_SIGNING_KIND = "statement"


@dataclass(frozen=True)
class CheckedLine:
    line: statements.StatementLine
    proof_ok: bool

    @property
    def counterparty(self) -> str:
        record = self.line.record
        return record.payee if self.line.payable else record.payer


@dataclass(frozen=True)
class CheckedStatement:
    partner_id: str
    business_day: str
    currency: str
    lines: list[CheckedLine]
    totals: statements.StatementTotals
    merkle_root: bytes
    tree_size: int
    signing_key_id: str
    signature: bytes
    signature_ok: bool

    @property
    def verified(self) -> bool:
        return self.signature_ok and all(line.proof_ok for line in self.lines)


def _money(amount_minor: int, currency: str) -> common_pb2.Money:
    return common_pb2.Money(amount_minor=amount_minor, currency_code=currency)


def _payload(
    partner_id: str, day: tuple[str, str, bytes, int], lines: list[statements.StatementLine]
) -> bytes:
    business_day, currency, root, size = day
    totals = statements.totals(lines)
    return pb.StatementPayload(
        partner_id=partner_id,
        business_day=business_day,
        currency_code=currency,
        lines=[
            pb.StatementLine(
                transfer_id=line.record.transfer_id,
                record=line.record_bytes,
                leaf_index=line.leaf_index,
                direction=pb.LINE_DIRECTION_PAYABLE
                if line.payable
                else pb.LINE_DIRECTION_RECEIVABLE,
                counterparty_id=line.record.payee if line.payable else line.record.payer,
                amount=_money(line.record.amount_minor, currency),
                fee=_money(line.record.fee_minor if line.payable else 0, currency),
            )
            for line in lines
        ],
        total_receivable=_money(totals.receivable_minor, currency),
        total_payable=_money(totals.payable_minor, currency),
        total_fees=_money(totals.fees_minor, currency),
        net=_money(totals.net_minor, currency),
        merkle_root=root,
        tree_size=size,
    ).SerializeToString(deterministic=True)


def _line_matches(line: statements.StatementLine) -> bool:
    """The canonical record decodes strictly and says what the line says."""
    try:
        decoded = decode_record(line.record_bytes)
    except ValueError:
        return False
    record = line.record
    return (decoded["transfer_id"], decoded["amount_minor"], decoded["currency"]) == (
        record.transfer_id,
        record.amount_minor,
        record.currency,
    )


def checked_statement(
    uow: SettlementReader, hub_key: SigningKey, partner_id: str, business_day: str, currency: str
) -> CheckedStatement:
    """Raises DomainError(NOT_SETTLED) for a day that is not settled."""
    day = statements.settled(uow, business_day)
    lines = list(statements.statement_lines(uow, partner_id, business_day, currency))
    payload = _payload(partner_id, (business_day, currency, day.merkle_root, day.tree_size), lines)
    signed = wire.payload_signing_bytes(kind=STATEMENT_SIGNING_KIND, payload=payload)
    signature = hub_key.sign(signed)
    checked = [
        CheckedLine(
            line,
            _line_matches(line)
            and merkle.verify_inclusion(
                merkle.leaf_hash(line.record_bytes),
                line.leaf_index,
                day.tree_size,
                statements.audit_path(
                    uow, day, line.leaf_index, merkle.leaf_hash(line.record_bytes)
                ),
                day.merkle_root,
            ),
        )
        for line in lines
    ]
    return CheckedStatement(
        partner_id,
        business_day,
        currency,
        checked,
        statements.totals(lines),
        day.merkle_root,
        day.tree_size,
        hub_key.key_id,
        signature,
        verify_signature(hub_key.public_key_bytes, signature, signed),
    )
