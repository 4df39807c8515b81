"""Settlement exports: exact bytes, determinism, currency exponents and a schema-valid pain.001."""

from __future__ import annotations

import importlib.resources
import json
import random
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator, Sequence
from decimal import Decimal
from typing import TypeVar

import pytest
import xmlschema

from settlement.exports import (
    PAIN_001_NAMESPACE,
    format_minor,
    instructions_csv,
    pain001,
    positions_csv,
    settlement_json,
    statement_csv,
)
from settlement.model import (
    BankAccount,
    Direction,
    NetPosition,
    PaymentInstruction,
    TransferRecord,
)

DAY = "2026-11-23"
MINOR_UNITS = {"EUR": 2, "JPY": 0, "KWD": 3, "USD": 2}
ROOT_HEX = "ab" * 32
NS = {"p": PAIN_001_NAMESPACE}
T = TypeVar("T")

POSITIONS = [
    NetPosition("skyway", "USD", 12345, 2000, 10345),
    NetPosition("harbor", "USD", 2000, 12395, -10395),
    NetPosition("hub", "USD", 50, 0, 50),
    NetPosition("skyway", "JPY", 0, 1500, -1500),
    NetPosition("harbor", "JPY", 1500, 0, 1500),
    NetPosition("harbor", "KWD", 1005, 0, 1005),
    NetPosition("skyway", "KWD", 0, 1005, -1005),
]


def instruction(
    currency: str, participant: str, direction: Direction, amount: int
) -> PaymentInstruction:
    suffix = "IN" if direction is Direction.PAY_IN else "OUT"
    reference = f"CX-20261123-{currency}-{participant}-{suffix}"
    return PaymentInstruction(reference, DAY, currency, participant, direction, amount)


INSTRUCTIONS = [
    instruction("USD", "harbor", Direction.PAY_IN, 10395),
    instruction("USD", "skyway", Direction.PAY_OUT, 10345),
    instruction("JPY", "skyway", Direction.PAY_IN, 1500),
    instruction("JPY", "harbor", Direction.PAY_OUT, 1500),
    instruction("KWD", "harbor", Direction.PAY_OUT, 1005),
    instruction("KWD", "skyway", Direction.PAY_IN, 1005),
]


def record(
    transfer_id: str,
    kind: str,
    source: str,
    destination: str,
    amount: int,
    fee: int,
    completed_at_us: int,
    currency: str = "USD",
) -> TransferRecord:
    return TransferRecord(
        transfer_id=transfer_id,
        kind=kind,
        source_partner_id=source,
        destination_partner_id=destination,
        source_points=1000,
        destination_points=6000,
        currency=currency,
        amount_minor=amount,
        fee_minor=fee,
        business_day=DAY,
        completed_at_us=completed_at_us,
    )


RECORDS = [
    record("t-002", "transfer", "harbor", "skyway", 12345, 30, 200),
    record("t-001", "reversal", "skyway", "harbor", 2000, 0, 300),
    record("t-003", "transfer", "harbor", "lagoon", 777, 7, 150),  # not skyway's
    record("t-001", "transfer", "skyway", "harbor", 2000, 20, 100),
    record("t-004", "transfer", "skyway", "harbor", 900, 9, 120, currency="JPY"),
]

CLEARING = BankAccount("Coalition Exchange Clearing", "DE89370400440532013000", "COBADEFFXXX")
SKYWAY_BANK = BankAccount("Skyway Miles Ltd", "GB82WEST12345698765432", "NWBKGB2L")
HARBOR_BANK = BankAccount("Harbor Hotels SA", "FR1420041010050500013M02606", "BNPAFRPP")
CREATED_AT_US = 1_795_482_000_000_000  # 2026-11-24T01:00:00Z


def shuffled(items: Sequence[T], seed: int) -> list[T]:
    copy = list(items)
    random.Random(seed).shuffle(copy)
    return copy


@pytest.mark.parametrize(
    ("amount_minor", "exponent", "text"),
    [
        (1500, 0, "1500"),
        (-1500, 0, "-1500"),
        (0, 0, "0"),
        (12345, 2, "123.45"),
        (5, 2, "0.05"),
        (-5, 2, "-0.05"),
        (0, 2, "0.00"),
        (1005, 3, "1.005"),
        (-1, 3, "-0.001"),
        (123_456_789_012_345_678, 3, "123456789012345.678"),
    ],
)
def test_amounts_print_exactly_with_the_currency_exponent(
    amount_minor: int, exponent: int, text: str
) -> None:
    assert format_minor(amount_minor, exponent) == text


def test_positions_csv_bytes() -> None:
    assert positions_csv(DAY, POSITIONS, MINOR_UNITS) == (
        b"business_day,currency,participant,receivable,payable,net\n"
        b"2026-11-23,JPY,harbor,1500,0,1500\n"
        b"2026-11-23,JPY,skyway,0,1500,-1500\n"
        b"2026-11-23,KWD,harbor,1.005,0.000,1.005\n"
        b"2026-11-23,KWD,skyway,0.000,1.005,-1.005\n"
        b"2026-11-23,USD,harbor,20.00,123.95,-103.95\n"
        b"2026-11-23,USD,hub,0.50,0.00,0.50\n"
        b"2026-11-23,USD,skyway,123.45,20.00,103.45\n"
    )


def test_instructions_csv_bytes() -> None:
    assert instructions_csv(INSTRUCTIONS, MINOR_UNITS) == (
        b"clearing_reference,business_day,currency,participant,direction,amount\n"
        b"CX-20261123-JPY-harbor-OUT,2026-11-23,JPY,harbor,pay_out,1500\n"
        b"CX-20261123-JPY-skyway-IN,2026-11-23,JPY,skyway,pay_in,1500\n"
        b"CX-20261123-KWD-harbor-OUT,2026-11-23,KWD,harbor,pay_out,1.005\n"
        b"CX-20261123-KWD-skyway-IN,2026-11-23,KWD,skyway,pay_in,1.005\n"
        b"CX-20261123-USD-harbor-IN,2026-11-23,USD,harbor,pay_in,103.95\n"
        b"CX-20261123-USD-skyway-OUT,2026-11-23,USD,skyway,pay_out,103.45\n"
    )


EXPECTED_SETTLEMENT_JSON = """{
  "business_day": "2026-11-23",
  "format_version": 1,
  "instructions": [
    {
      "amount": "1.005",
      "amount_minor": 1005,
      "business_day": "2026-11-23",
      "clearing_reference": "CX-20261123-KWD-harbor-OUT",
      "currency": "KWD",
      "direction": "pay_out",
      "participant": "harbor"
    },
    {
      "amount": "103.95",
      "amount_minor": 10395,
      "business_day": "2026-11-23",
      "clearing_reference": "CX-20261123-USD-harbor-IN",
      "currency": "USD",
      "direction": "pay_in",
      "participant": "harbor"
    }
  ],
  "merkle_root": "abababababababababababababababababababababababababababababababab",
  "minor_units": {
    "JPY": 0,
    "KWD": 3,
    "USD": 2
  },
  "positions": [
    {
      "currency": "JPY",
      "net": "-1500",
      "net_minor": -1500,
      "participant": "skyway",
      "payable": "1500",
      "payable_minor": 1500,
      "receivable": "0",
      "receivable_minor": 0
    },
    {
      "currency": "USD",
      "net": "0.50",
      "net_minor": 50,
      "participant": "hub",
      "payable": "0.00",
      "payable_minor": 0,
      "receivable": "0.50",
      "receivable_minor": 50
    }
  ],
  "tree_size": 3
}
"""


def test_settlement_json_bytes() -> None:
    positions = [POSITIONS[2], POSITIONS[3]]  # hub USD, skyway JPY
    instructions = [INSTRUCTIONS[0], INSTRUCTIONS[4]]  # harbor USD in, harbor KWD out
    produced = settlement_json(DAY, positions, instructions, ROOT_HEX, 3, MINOR_UNITS)
    assert produced == EXPECTED_SETTLEMENT_JSON.encode("utf-8")


def test_settlement_json_amounts_agree_with_minor_units() -> None:
    document = json.loads(settlement_json(DAY, POSITIONS, INSTRUCTIONS, ROOT_HEX, 5, MINOR_UNITS))
    for row in document["instructions"]:
        scale = Decimal(10) ** -document["minor_units"][row["currency"]]
        assert Decimal(row["amount"]) == row["amount_minor"] * scale
    assert sum(row["net_minor"] for row in document["positions"]) == 0


def test_statement_csv_bytes() -> None:
    assert statement_csv("skyway", DAY, "USD", RECORDS, MINOR_UNITS) == (
        b"business_day,currency,partner,transfer_id,kind,counterparty,direction,points,amount,fee\n"
        b"2026-11-23,USD,skyway,t-001,transfer,harbor,payable,1000,20.00,0.20\n"
        b"2026-11-23,USD,skyway,t-002,transfer,harbor,receivable,6000,123.45,\n"
        b"2026-11-23,USD,skyway,t-001,reversal,harbor,receivable,1000,20.00,\n"
        b"2026-11-23,USD,skyway,,total,,receivable,7000,143.45,\n"
        b"2026-11-23,USD,skyway,,total,,payable,1000,20.00,0.20\n"
        b"2026-11-23,USD,skyway,,net,,,,123.25,\n"
    )


def test_statement_of_a_partner_without_transfers_still_has_its_totals() -> None:
    assert statement_csv("quiet", DAY, "KWD", RECORDS, MINOR_UNITS) == (
        b"business_day,currency,partner,transfer_id,kind,counterparty,direction,points,amount,fee\n"
        b"2026-11-23,KWD,quiet,,total,,receivable,0,0.000,\n"
        b"2026-11-23,KWD,quiet,,total,,payable,0,0.000,0.000\n"
        b"2026-11-23,KWD,quiet,,net,,,,0.000,\n"
    )


def test_statement_consumes_a_one_pass_stream() -> None:
    def stream() -> Iterator[TransferRecord]:
        yield from shuffled(RECORDS, seed=7)

    assert statement_csv("harbor", DAY, "USD", stream(), MINOR_UNITS) == statement_csv(
        "harbor", DAY, "USD", RECORDS, MINOR_UNITS
    )


def test_every_export_is_identical_when_called_again_or_fed_in_another_order() -> None:
    def all_exports(seed: int) -> list[bytes | None]:
        positions = shuffled(POSITIONS, seed)
        instructions = shuffled(INSTRUCTIONS, seed)
        return [
            positions_csv(DAY, positions, MINOR_UNITS),
            instructions_csv(instructions, MINOR_UNITS),
            settlement_json(DAY, positions, instructions, ROOT_HEX, 5, MINOR_UNITS),
            statement_csv("skyway", DAY, "USD", shuffled(RECORDS, seed), MINOR_UNITS),
            statement_csv("harbor", DAY, "USD", shuffled(RECORDS, seed), MINOR_UNITS),
            eur_pain001(shuffled(EUR_PAYOUTS, seed)),
        ]

    first = all_exports(seed=0)
    assert all_exports(seed=0) == first
    for seed in range(1, 6):
        assert all_exports(seed) == first


@pytest.mark.parametrize(
    "export",
    [
        lambda: positions_csv(DAY, [NetPosition("a", "USD", 10, 3, 8)], MINOR_UNITS),
        lambda: positions_csv(DAY, [NetPosition("a", "XXX", 0, 0, 0)], MINOR_UNITS),
        lambda: positions_csv("23/11/2026", POSITIONS, MINOR_UNITS),
        lambda: instructions_csv(INSTRUCTIONS + INSTRUCTIONS[:1], MINOR_UNITS),
        lambda: settlement_json(DAY, POSITIONS, INSTRUCTIONS, "AB" * 32, 5, MINOR_UNITS),
        lambda: statement_csv(
            "skyway", "2026-11-24", "USD", RECORDS, MINOR_UNITS
        ),  # a record of another day
        lambda: statement_csv("skyway", DAY, "USD", RECORDS + RECORDS[:1], MINOR_UNITS),
    ],
    ids=[
        "position-does-not-net",
        "unknown-currency",
        "bad-business-day",
        "duplicate-reference",
        "uppercase-root",
        "record-of-another-day",
        "duplicate-record",
    ],
)
def test_inconsistent_input_is_refused(export: Callable[[], object]) -> None:
    with pytest.raises(ValueError):
        export()


# --- pain.001 -------------------------------------------------------------------------------

EUR_PAYOUTS = [
    (instruction("EUR", "skyway", Direction.PAY_OUT, 10345), SKYWAY_BANK),
    (instruction("EUR", "harbor", Direction.PAY_OUT, 250075), HARBOR_BANK),
]


def eur_pain001(payouts: Sequence[tuple[PaymentInstruction, BankAccount]]) -> bytes | None:
    return pain001(
        message_id="CX-20261123-EUR",
        created_at_us=CREATED_AT_US,
        business_day=DAY,
        currency="EUR",
        debtor=CLEARING,
        payouts=payouts,
        minor_units=MINOR_UNITS,
    )


@pytest.fixture(scope="module")
def pain001_schema() -> xmlschema.XMLSchema:
    path = importlib.resources.files("sepaxml") / "schemas" / "pain.001.001.09.xsd"
    return xmlschema.XMLSchema(str(path))


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
