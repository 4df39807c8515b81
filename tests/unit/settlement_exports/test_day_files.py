"""Positions and instructions CSV and the settlement JSON: exact bytes, determinism, refusals."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal

import pytest

from settlement.exports import (
    format_minor,
    instructions_csv,
    positions_csv,
    settlement_json,
    statement_csv,
)
from settlement.model import NetPosition
from tests.unit.settlement_exports.support import (
    DAY,
    EUR_PAYOUTS,
    INSTRUCTIONS,
    MINOR_UNITS,
    POSITIONS,
    RECORDS,
    ROOT_HEX,
    eur_pain001,
    shuffled,
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
