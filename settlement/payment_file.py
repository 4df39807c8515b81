"""The ISO 20022 pain.001.001.09 credit-transfer file that pays the day's net creditors."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta

from settlement.export_format import (
    check_business_day,
    check_same_day,
    check_unique_references,
    currency_exponent,
    format_minor,
)
from settlement.model import BankAccount, Direction, PaymentInstruction

PAIN_001_NAMESPACE = "urn:iso:std:iso:20022:tech:xsd:pain.001.001.09"
XML_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'
# ISO 20022 text limits (Max35Text, Max140Text); longer values are refused, never truncated.
ISO_IDENTIFIER_CHARS_MAX = 35
ISO_TEXT_CHARS_MAX = 140
# The XSD patterns of IBAN2007Identifier and BICFIDec2014Identifier.
IBAN_PATTERN = re.compile(r"[A-Z]{2}[0-9]{2}[a-zA-Z0-9]{1,30}")
BIC_PATTERN = re.compile(r"[A-Z0-9]{4}[A-Z]{2}[A-Z0-9]{2}([A-Z0-9]{3})?")


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
    check_business_day(business_day)
    _check_iso_text(message_id, ISO_IDENTIFIER_CHARS_MAX, "message_id")
    if not payouts:
        return None
    exponent = currency_exponent(minor_units, currency)
    _check_bank_account(debtor)
    ordered = sorted(payouts, key=lambda payout: payout[0].clearing_reference)
    for instruction, account in ordered:
        _check_payout(instruction, account, business_day, currency)
    check_unique_references([instruction for instruction, _ in ordered])
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
    check_same_day(instruction, business_day)
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
