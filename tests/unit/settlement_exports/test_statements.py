"""A partner's statement CSV: its lines, its totals, and a one-pass stream of records."""

from __future__ import annotations

from collections.abc import Iterator

from settlement.exports import statement_csv
from settlement.model import TransferRecord
from tests.unit.settlement_exports.support import DAY, MINOR_UNITS, RECORDS, shuffled


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
