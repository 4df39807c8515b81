"""What every export file shares: exact amounts, currency exponents, checks and CSV bytes."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import date

from settlement.model import PaymentInstruction

BUSINESS_DAY_PATTERN = re.compile(r"\d{4}-\d{2}-\d{2}")


def format_minor(amount_minor: int, exponent: int) -> str:
    """`amount_minor` as an exact decimal string: (1234, 2) → "12.34", (-5, 3) → "-0.005"."""
    assert exponent >= 0, exponent
    sign = "-" if amount_minor < 0 else ""
    whole, fraction = divmod(abs(amount_minor), 10**exponent)
    if exponent == 0:
        return f"{sign}{whole}"
    return f"{sign}{whole}.{fraction:0{exponent}d}"


def currency_exponent(minor_units: Mapping[str, int], currency: str) -> int:
    exponent = minor_units.get(currency)
    if exponent is None or exponent < 0:
        raise ValueError(f"no minor-unit exponent for currency {currency!r}")
    return exponent


def check_business_day(business_day: str) -> None:
    if BUSINESS_DAY_PATTERN.fullmatch(business_day) is None:
        raise ValueError(f"business_day must be YYYY-MM-DD, got {business_day!r}")
    date.fromisoformat(business_day)  # refuses 2026-02-30


def check_same_day(instruction: PaymentInstruction, business_day: str) -> None:
    if instruction.business_day != business_day:
        raise ValueError(
            f"{instruction.clearing_reference} belongs to {instruction.business_day}, "
            f"not {business_day}"
        )


def check_unique_references(instructions: Sequence[PaymentInstruction]) -> None:
    references = [instruction.clearing_reference for instruction in instructions]
    if len(set(references)) != len(references):
        raise ValueError("clearing references must be unique")


def csv_bytes(header: str, rows: Iterable[Sequence[str]]) -> bytes:
    buffer = io.StringIO()
    buffer.write(header + "\n")
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue().encode("utf-8")
