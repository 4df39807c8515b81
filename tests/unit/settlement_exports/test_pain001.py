"""The pain.001 payment file: valid against the ISO 20022 schema; its header, totals, refusals."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from decimal import Decimal

import pytest
import xmlschema

from settlement.exports import format_minor, pain001
from settlement.model import Direction
from tests.unit.settlement_exports.support import (
    CLEARING,
    CREATED_AT_US,
    DAY,
    EUR_PAYOUTS,
    HARBOR_BANK,
    MINOR_UNITS,
    NS,
    SKYWAY_BANK,
    eur_pain001,
    instruction,
)


def test_pain001_is_valid_against_the_iso_20022_schema(pain001_schema: xmlschema.XMLSchema) -> None:
    document = eur_pain001(EUR_PAYOUTS)
    assert document is not None
    assert document.startswith(
        b'<?xml version="1.0" encoding="UTF-8"?>\n'
        b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.001.001.09">\n'
    )
    pain001_schema.validate(document.decode("utf-8"))


@pytest.mark.parametrize(("currency", "amount"), [("JPY", 1500), ("KWD", 1005), ("USD", 5)])
def test_pain001_amounts_in_each_exponent_are_schema_valid(
    pain001_schema: xmlschema.XMLSchema, currency: str, amount: int
) -> None:
    payout = instruction(currency, "skyway", Direction.PAY_OUT, amount)
    document = pain001(
        message_id="M1",
        created_at_us=CREATED_AT_US,
        business_day=DAY,
        currency=currency,
        debtor=CLEARING,
        payouts=[(payout, SKYWAY_BANK)],
        minor_units=MINOR_UNITS,
    )
    assert document is not None
    pain001_schema.validate(document.decode("utf-8"))
    root = ET.fromstring(document)
    instructed = root.find(".//p:InstdAmt", NS)
    assert instructed is not None
    assert (instructed.get("Ccy"), instructed.text) == (
        currency,
        format_minor(amount, MINOR_UNITS[currency]),
    )


def test_a_pain001_missing_a_creditor_iban_fails_validation(
    pain001_schema: xmlschema.XMLSchema,
) -> None:
    document = eur_pain001(EUR_PAYOUTS)
    assert document is not None
    root = ET.fromstring(document)
    assert pain001_schema.is_valid(ET.tostring(root, encoding="unicode"))  # the round trip is fine
    account_id = root.find(".//p:CdtTrfTxInf/p:CdtrAcct/p:Id", NS)
    assert account_id is not None
    iban = account_id.find("p:IBAN", NS)
    assert iban is not None
    account_id.remove(iban)
    errors = list(pain001_schema.iter_errors(ET.tostring(root, encoding="unicode")))
    assert [error.path for error in errors] == [
        "/ns0:Document/ns0:CstmrCdtTrfInitn/ns0:PmtInf/ns0:CdtTrfTxInf[1]/ns0:CdtrAcct/ns0:Id"
    ]


def test_pain001_header_and_totals(pain001_schema: xmlschema.XMLSchema) -> None:
    document = eur_pain001(EUR_PAYOUTS)
    assert document is not None
    root = ET.fromstring(document)

    def text(path: str) -> str:
        element = root.find(path, NS)
        assert element is not None and element.text is not None
        return element.text

    amounts = [Decimal(e.text or "") for e in root.iterfind(".//p:InstdAmt", NS)]
    assert sum(amounts) == Decimal(text(".//p:GrpHdr/p:CtrlSum")) == Decimal("2604.20")
    assert text(".//p:PmtInf/p:CtrlSum") == text(".//p:GrpHdr/p:CtrlSum")
    assert text(".//p:GrpHdr/p:NbOfTxs") == text(".//p:PmtInf/p:NbOfTxs") == "2"
    assert text(".//p:GrpHdr/p:CreDtTm") == "2026-11-24T01:00:00+00:00"
    assert text(".//p:ReqdExctnDt/p:Dt") == "2026-11-24"
    assert text(".//p:DbtrAcct/p:Id/p:IBAN") == CLEARING.iban
    assert text(".//p:ChrgBr") == "SLEV"
    end_to_end = [e.text for e in root.iterfind(".//p:EndToEndId", NS)]
    assert end_to_end == ["CX-20261123-EUR-harbor-OUT", "CX-20261123-EUR-skyway-OUT"]
    creditors = [e.text for e in root.iterfind(".//p:CdtrAcct/p:Id/p:IBAN", NS)]
    assert creditors == [HARBOR_BANK.iban, SKYWAY_BANK.iban]


def test_a_day_without_payouts_has_no_pain001() -> None:
    assert eur_pain001([]) is None


def test_pain001_refuses_a_pay_in() -> None:
    pay_in = instruction("EUR", "skyway", Direction.PAY_IN, 100)
    with pytest.raises(ValueError, match="not a pay-out"):
        eur_pain001([(pay_in, SKYWAY_BANK)])
