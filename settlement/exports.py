"""The files finance teams use: positions, instructions, settlement JSON, statements, pain.001.

Every function is pure and byte-for-byte deterministic: the same input gives identical bytes
whatever the input order (rows are sorted), no clock is read, text is UTF-8 with "\\n" line
endings. Amounts are integer minor units printed as exact decimals with the currency's ISO 4217
exponent, which the caller passes in as `minor_units` (settlement imports only the standard
library, so the hub's currency table is handed down rather than imported).
"""

from __future__ import annotations

import csv
import io
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from settlement.model import BankAccount, Direction, NetPosition, PaymentInstruction, TransferRecord

PAIN_001_NAMESPACE = "urn:iso:std:iso:20022:tech:xsd:pain.001.001.09"
XML_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'
SETTLEMENT_JSON_FORMAT_VERSION = 1
# ISO 20022 text limits (Max35Text, Max140Text); longer values are refused, never truncated.
ISO_IDENTIFIER_CHARS_MAX = 35
ISO_TEXT_CHARS_MAX = 140
# The XSD patterns of IBAN2007Identifier and BICFIDec2014Identifier.
IBAN_PATTERN = re.compile(r"[A-Z]{2}[0-9]{2}[a-zA-Z0-9]{1,30}")
BIC_PATTERN = re.compile(r"[A-Z0-9]{4}[A-Z]{2}[A-Z0-9]{2}([A-Z0-9]{3})?")
BUSINESS_DAY_PATTERN = re.compile(r"\d{4}-\d{2}-\d{2}")
# The day's Merkle root is a SHA-256 digest (coalition/merkle.py), printed in lowercase hex.
MERKLE_ROOT_HEX_PATTERN = re.compile(r"[0-9a-f]{64}")

# CSV header lines (plain names, so written as they are).
POSITIONS_HEADER = "business_day,currency,participant,receivable,payable,net"
INSTRUCTIONS_HEADER = "clearing_reference,business_day,currency,participant,direction,amount"
STATEMENT_HEADER = (
    "business_day,currency,partner,transfer_id,kind,counterparty,direction,points,amount,fee"
)
# Statement lines of one day run in completion order; a reversal sorts after its transfer.
STATEMENT_KIND_ORDER = {"transfer": 0, "reversal": 1, "adjustment": 2}


def format_minor(amount_minor: int, exponent: int) -> str:
    """`amount_minor` as an exact decimal string: (1234, 2) → "12.34", (-5, 3) → "-0.005"."""
    assert exponent >= 0, exponent
    sign = "-" if amount_minor < 0 else ""
    whole, fraction = divmod(abs(amount_minor), 10**exponent)
    if exponent == 0:
        return f"{sign}{whole}"
    return f"{sign}{whole}.{fraction:0{exponent}d}"


def positions_csv(
    business_day: str, positions: Sequence[NetPosition], minor_units: Mapping[str, int]
) -> bytes:
    """The day's net positions, one row per (currency, participant), sorted by both."""
    _check_business_day(business_day)
    rows = []
    for position in _sorted_positions(positions):
        exponent = _exponent(minor_units, position.currency)
        rows.append(
            (
                business_day,
                position.currency,
                position.participant,
                format_minor(position.receivable_minor, exponent),
                format_minor(position.payable_minor, exponent),
                format_minor(position.net_minor, exponent),
            )
        )
    return _csv_bytes(POSITIONS_HEADER, rows)


def instructions_csv(
    instructions: Sequence[PaymentInstruction], minor_units: Mapping[str, int]
) -> bytes:
    """Pay-ins and pay-outs, sorted by day, currency, participant, direction and reference."""
    rows = [
        (
            instruction.clearing_reference,
            instruction.business_day,
            instruction.currency,
            instruction.participant,
            instruction.direction.value,
            format_minor(instruction.amount_minor, _exponent(minor_units, instruction.currency)),
        )
        for instruction in _sorted_instructions(instructions)
    ]
    return _csv_bytes(INSTRUCTIONS_HEADER, rows)


def settlement_json(
    business_day: str,
    positions: Sequence[NetPosition],
    instructions: Sequence[PaymentInstruction],
    merkle_root_hex: str,
    tree_size: int,
    minor_units: Mapping[str, int],
) -> bytes:
    """The whole run as one JSON document; every amount as an exact decimal and in minor units."""
    _check_business_day(business_day)
    if MERKLE_ROOT_HEX_PATTERN.fullmatch(merkle_root_hex) is None:
        raise ValueError("merkle_root_hex must be 64 lowercase hexadecimal digits")
    if tree_size < 0:
        raise ValueError(f"tree_size must not be negative, got {tree_size}")
    for instruction in instructions:
        _check_same_day(instruction, business_day)
    currencies = {p.currency for p in positions} | {i.currency for i in instructions}
    document = {
        "format_version": SETTLEMENT_JSON_FORMAT_VERSION,
        "business_day": business_day,
        "merkle_root": merkle_root_hex,
        "tree_size": tree_size,
        "minor_units": {currency: _exponent(minor_units, currency) for currency in currencies},
        "positions": [_position_json(p, minor_units) for p in _sorted_positions(positions)],
        "instructions": [
            _instruction_json(i, minor_units) for i in _sorted_instructions(instructions)
        ],
    }
    text = json.dumps(document, sort_keys=True, indent=2, ensure_ascii=False) + "\n"
    return text.encode("utf-8")


def statement_csv(
    partner_id: str,
    business_day: str,
    currency: str,
    records: Iterable[TransferRecord],
    minor_units: Mapping[str, int],
) -> bytes:
    """One partner's statement for one day and currency: its lines, two totals lines and the net.

    `records` is consumed once (a generator over the day's rows is fine); records of other
    partners or other currencies are skipped, a record of another business day is refused.
    Only the formatted lines are kept, so the lines are sorted (by completion time, transfer id,
    kind) whatever order the rows arrive in.

    From the partner's view a line is "payable" when it is the payer (it then also owes the
    fee, printed in `fee`) and "receivable" when it is the payee; `points` are the points on
    the partner's own side. The net is receivable - payable - fees: negative when it owes.
    """
    _check_business_day(business_day)
    exponent = _exponent(minor_units, currency)
    totals = _StatementTotals()
    keyed_rows: list[tuple[tuple[int, str, int], tuple[str, ...]]] = []
    seen: set[tuple[str, str]] = set()
    for record in records:
        if partner_id not in (record.source_partner_id, record.destination_partner_id):
            continue
        if record.currency != currency:
            continue
        if (record.transfer_id, record.kind) in seen:
            raise ValueError(f"duplicate {record.kind} record {record.transfer_id}")
        seen.add((record.transfer_id, record.kind))
        keyed_rows.append(_statement_line(partner_id, business_day, record, exponent, totals))
    rows = [line for _, line in sorted(keyed_rows)]
    prefix = (business_day, currency, partner_id)
    rows.extend(prefix + line for line in totals.lines(exponent))
    return _csv_bytes(STATEMENT_HEADER, rows)


def pain001(
    *,
    message_id: str,
    created_at_us: int,
    business_day: str,
    currency: str,
    debtor: BankAccount,
    payouts: Sequence[tuple[PaymentInstruction, BankAccount]],
    minor_units: Mapping[str, int],
) -> bytes | None:
    """An ISO 20022 pain.001.001.09 credit-transfer initiation paying the day's net creditors.

    The hub's clearing account (`debtor`) pays each PAY_OUT instruction to the participant's
    account, in one payment-information block. Returns None when there is nothing to pay: the
    schema requires at least one transaction, and a day without pay-outs has no file.

    The requested execution date is the day after `business_day`: the file is produced after
    the day's cut-off, so the next calendar day is the earliest it can be executed; a bank rolls
    a non-banking day forward to its next banking day.
    """
    _check_business_day(business_day)
    _check_iso_text(message_id, ISO_IDENTIFIER_CHARS_MAX, "message_id")
    if not payouts:
        return None
    exponent = _exponent(minor_units, currency)
    _check_bank_account(debtor)
    ordered = sorted(payouts, key=lambda payout: payout[0].clearing_reference)
    for instruction, account in ordered:
        _check_payout(instruction, account, business_day, currency)
    _check_unique_references([instruction for instruction, _ in ordered])
    control_sum = format_minor(sum(i.amount_minor for i, _ in ordered), exponent)
    # Unqualified names under a literal default xmlns: ElementTree's own namespace handling
    # refuses the unqualified Ccy attribute the schema requires.
    document = ET.Element("Document", xmlns=PAIN_001_NAMESPACE)
    initiation = ET.SubElement(document, "CstmrCdtTrfInitn")
    _group_header(initiation, message_id, created_at_us, len(ordered), control_sum, debtor)
    payment_information = _payment_information(
        initiation, business_day, currency, len(ordered), control_sum, debtor
    )
    for instruction, account in ordered:
        _credit_transfer(payment_information, instruction, account, exponent)
    ET.indent(document)
    body = ET.tostring(document, encoding="unicode")
    return XML_DECLARATION + body.encode("utf-8") + b"\n"


class _StatementTotals:
    """Running sums of a statement, so its records need not be kept."""

    def __init__(self) -> None:
        self.receivable_minor = 0
        self.receivable_points = 0
        self.payable_minor = 0
        self.payable_points = 0
        self.fee_minor = 0

    def lines(self, exponent: int) -> list[tuple[str, ...]]:
        """The two totals lines and the net line, shaped like transfer lines (kind total|net)."""
        net_minor = self.receivable_minor - self.payable_minor - self.fee_minor
        receivable = format_minor(self.receivable_minor, exponent)
        payable = format_minor(self.payable_minor, exponent)
        fee = format_minor(self.fee_minor, exponent)
        return [
            ("", "total", "", "receivable", str(self.receivable_points), receivable, ""),
            ("", "total", "", "payable", str(self.payable_points), payable, fee),
            ("", "net", "", "", "", format_minor(net_minor, exponent), ""),
        ]


def _statement_line(
    partner_id: str,
    business_day: str,
    record: TransferRecord,
    exponent: int,
    totals: _StatementTotals,
) -> tuple[tuple[int, str, int], tuple[str, ...]]:
    """The sort key and CSV row of one record, adding it to `totals`."""
    if record.business_day != business_day:
        raise ValueError(
            f"record {record.transfer_id} belongs to {record.business_day}, not {business_day}"
        )
    if record.kind not in STATEMENT_KIND_ORDER:
        raise ValueError(f"record {record.transfer_id} has unknown kind {record.kind!r}")
    if record.source_partner_id == record.destination_partner_id:
        raise ValueError(f"record {record.transfer_id} moves points within one partner")
    is_source = record.source_partner_id == partner_id
    counterparty = record.destination_partner_id if is_source else record.source_partner_id
    points = record.source_points if is_source else record.destination_points
    fee = ""
    if record.payer == partner_id:
        direction = "payable"
        totals.payable_minor += record.amount_minor
        totals.payable_points += points
        totals.fee_minor += record.fee_minor
        fee = format_minor(record.fee_minor, exponent)
    else:
        direction = "receivable"
        totals.receivable_minor += record.amount_minor
        totals.receivable_points += points
    key = (record.completed_at_us, record.transfer_id, STATEMENT_KIND_ORDER[record.kind])
    line = (
        business_day,
        record.currency,
        partner_id,
        record.transfer_id,
        record.kind,
        counterparty,
        direction,
        str(points),
        format_minor(record.amount_minor, exponent),
        fee,
    )
    return key, line


def _group_header(
    parent: ET.Element,
    message_id: str,
    created_at_us: int,
    transaction_count: int,
    control_sum: str,
    initiating_party: BankAccount,
) -> None:
    created_at = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=created_at_us)
    header = ET.SubElement(parent, "GrpHdr")
    _text(header, "MsgId", message_id)
    _text(header, "CreDtTm", created_at.isoformat(timespec="seconds"))
    _text(header, "NbOfTxs", str(transaction_count))
    _text(header, "CtrlSum", control_sum)
    _text(ET.SubElement(header, "InitgPty"), "Nm", initiating_party.name)


def _payment_information(
    parent: ET.Element,
    business_day: str,
    currency: str,
    transaction_count: int,
    control_sum: str,
    debtor: BankAccount,
) -> ET.Element:
    execution_day = date.fromisoformat(business_day) + timedelta(days=1)
    block = ET.SubElement(parent, "PmtInf")
    _text(block, "PmtInfId", f"CX-{business_day.replace('-', '')}-{currency}-OUT")
    _text(block, "PmtMtd", "TRF")
    _text(block, "NbOfTxs", str(transaction_count))
    _text(block, "CtrlSum", control_sum)
    _text(ET.SubElement(block, "ReqdExctnDt"), "Dt", execution_day.isoformat())
    _text(ET.SubElement(block, "Dbtr"), "Nm", debtor.name)
    _account(block, "DbtrAcct", debtor)
    _agent(block, "DbtrAgt", debtor)
    _text(block, "ChrgBr", "SLEV")
    return block


def _credit_transfer(
    parent: ET.Element, instruction: PaymentInstruction, creditor: BankAccount, exponent: int
) -> None:
    transaction = ET.SubElement(parent, "CdtTrfTxInf")
    _text(ET.SubElement(transaction, "PmtId"), "EndToEndId", instruction.clearing_reference)
    amount = _text(
        ET.SubElement(transaction, "Amt"),
        "InstdAmt",
        format_minor(instruction.amount_minor, exponent),
    )
    amount.set("Ccy", instruction.currency)
    _agent(transaction, "CdtrAgt", creditor)
    _text(ET.SubElement(transaction, "Cdtr"), "Nm", creditor.name)
    _account(transaction, "CdtrAcct", creditor)
    remittance = (
        f"Coalition Exchange settlement {instruction.business_day} {instruction.clearing_reference}"
    )
    _text(ET.SubElement(transaction, "RmtInf"), "Ustrd", remittance)


def _account(parent: ET.Element, name: str, account: BankAccount) -> None:
    identification = ET.SubElement(ET.SubElement(parent, name), "Id")
    _text(identification, "IBAN", account.iban)


def _agent(parent: ET.Element, name: str, account: BankAccount) -> None:
    institution = ET.SubElement(ET.SubElement(parent, name), "FinInstnId")
    _text(institution, "BICFI", account.bic)


def _text(parent: ET.Element, name: str, value: str) -> ET.Element:
    element = ET.SubElement(parent, name)
    element.text = value
    return element


def _check_payout(
    instruction: PaymentInstruction, account: BankAccount, business_day: str, currency: str
) -> None:
    if instruction.direction is not Direction.PAY_OUT:
        raise ValueError(f"{instruction.clearing_reference} is not a pay-out")
    if instruction.currency != currency:
        raise ValueError(f"{instruction.clearing_reference} is in {instruction.currency}")
    _check_same_day(instruction, business_day)
    if instruction.amount_minor <= 0:
        raise ValueError(f"{instruction.clearing_reference} pays a non-positive amount")
    _check_iso_text(instruction.clearing_reference, ISO_IDENTIFIER_CHARS_MAX, "EndToEndId")
    _check_bank_account(account)


def _check_bank_account(account: BankAccount) -> None:
    _check_iso_text(account.name, ISO_TEXT_CHARS_MAX, "account name")
    if IBAN_PATTERN.fullmatch(account.iban) is None:
        raise ValueError(f"not an IBAN: {account.iban!r}")
    if BIC_PATTERN.fullmatch(account.bic) is None:
        raise ValueError(f"not a BIC: {account.bic!r}")


def _check_iso_text(value: str, chars_max: int, field: str) -> None:
    if not 1 <= len(value) <= chars_max:
        raise ValueError(f"{field} must be 1 to {chars_max} characters, got {len(value)}")


def _check_business_day(business_day: str) -> None:
    if BUSINESS_DAY_PATTERN.fullmatch(business_day) is None:
        raise ValueError(f"business_day must be YYYY-MM-DD, got {business_day!r}")
    date.fromisoformat(business_day)  # refuses 2026-02-30


def _check_same_day(instruction: PaymentInstruction, business_day: str) -> None:
    if instruction.business_day != business_day:
        raise ValueError(
            f"{instruction.clearing_reference} belongs to {instruction.business_day}, "
            f"not {business_day}"
        )


def _check_unique_references(instructions: Sequence[PaymentInstruction]) -> None:
    references = [instruction.clearing_reference for instruction in instructions]
    if len(set(references)) != len(references):
        raise ValueError("clearing references must be unique")


def _exponent(minor_units: Mapping[str, int], currency: str) -> int:
    exponent = minor_units.get(currency)
    if exponent is None or exponent < 0:
        raise ValueError(f"no minor-unit exponent for currency {currency!r}")
    return exponent


def _sorted_positions(positions: Sequence[NetPosition]) -> list[NetPosition]:
    """Positions ordered by (currency, participant), each checked to be self-consistent."""
    keys = {(position.currency, position.participant) for position in positions}
    if len(keys) != len(positions):
        raise ValueError("a participant has two positions in one currency")
    ordered = sorted(positions, key=lambda position: (position.currency, position.participant))
    for position in ordered:
        if position.receivable_minor - position.payable_minor != position.net_minor:
            raise ValueError(f"{position.currency} position of {position.participant} does not net")
    return ordered


def _sorted_instructions(instructions: Sequence[PaymentInstruction]) -> list[PaymentInstruction]:
    _check_unique_references(instructions)
    return sorted(
        instructions,
        key=lambda i: (
            i.business_day,
            i.currency,
            i.participant,
            i.direction.value,
            i.clearing_reference,
        ),
    )


def _position_json(position: NetPosition, minor_units: Mapping[str, int]) -> dict[str, Any]:
    exponent = _exponent(minor_units, position.currency)
    return {
        "currency": position.currency,
        "participant": position.participant,
        "receivable": format_minor(position.receivable_minor, exponent),
        "receivable_minor": position.receivable_minor,
        "payable": format_minor(position.payable_minor, exponent),
        "payable_minor": position.payable_minor,
        "net": format_minor(position.net_minor, exponent),
        "net_minor": position.net_minor,
    }


def _instruction_json(
    instruction: PaymentInstruction, minor_units: Mapping[str, int]
) -> dict[str, Any]:
    exponent = _exponent(minor_units, instruction.currency)
    return {
        "clearing_reference": instruction.clearing_reference,
        "business_day": instruction.business_day,
        "currency": instruction.currency,
        "participant": instruction.participant,
        "direction": instruction.direction.value,
        "amount": format_minor(instruction.amount_minor, exponent),
        "amount_minor": instruction.amount_minor,
    }


def _csv_bytes(header: str, rows: Iterable[Sequence[str]]) -> bytes:
    buffer = io.StringIO()
    buffer.write(header + "\n")
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue().encode("utf-8")
