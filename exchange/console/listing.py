"""What every list shares: the business-date range, search, paging, money and the CSV view."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Generic, TypeVar

from exchange.domain.rates import CURRENCY_MINOR_UNITS
from settlement.exports import format_minor

T = TypeVar("T")

PAGE_ROWS = 20
DAYS_SHOWN_DEFAULT = 30
DAYS_SPAN_MAX = 366
SEARCH_CHARS_MAX = 80
# A spreadsheet runs a cell starting with one of these as a formula (CSV injection).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
# A plain number is no formula: a negative amount stays a number a spreadsheet can add up.
_PLAIN_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?")


class BadFilter(ValueError):
    """A filter value the console cannot use; shown to the user beside the form."""


@dataclass(frozen=True)
class DateRange:
    first: date
    last: date

    @property
    def days(self) -> list[str]:
        """Newest first, as lists show them."""
        span = (self.last - self.first).days
        return [(self.last - timedelta(days=n)).isoformat() for n in range(span + 1)]


def date_range(query: Mapping[str, str], today: date) -> DateRange:
    """`from`/`to` (YYYY-MM-DD, inclusive); by default the last DAYS_SHOWN_DEFAULT days up to
    the current business day."""
    last = _day(query.get("to", ""), "to") or today
    first = _day(query.get("from", ""), "from") or last - timedelta(days=DAYS_SHOWN_DEFAULT - 1)
    if first > last:
        raise BadFilter("The first day is after the last day.")
    if (last - first).days >= DAYS_SPAN_MAX:
        raise BadFilter(f"Choose at most {DAYS_SPAN_MAX} days.")
    return DateRange(first, last)


def _day(text: str, name: str) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise BadFilter(f"The {name} day must be a date written YYYY-MM-DD.") from None


def search_text(query: Mapping[str, str]) -> str:
    return query.get("q", "").strip()[:SEARCH_CHARS_MAX]


@dataclass(frozen=True)
class Page(Generic[T]):
    rows: Sequence[T]
    number: int
    count: int
    total_rows: int

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.count


def page_of(rows: Sequence[T], query: Mapping[str, str], size: int = PAGE_ROWS) -> Page[T]:
    count = max(1, -(-len(rows) // size))
    try:
        number = min(max(1, int(query.get("page", "1"))), count)
    except ValueError:
        number = 1
    start = (number - 1) * size
    return Page(rows[start : start + size], number, count, len(rows))


def money(amount_minor: int, currency: str) -> str:
    """Minor units as the currency writes them: 123456 USD -> "1,234.56"."""
    exponent = CURRENCY_MINOR_UNITS.get(currency, 0)
    text = format_minor(amount_minor, exponent)
    sign, digits = ("-", text[1:]) if text.startswith("-") else ("", text)
    whole, _, fraction = digits.partition(".")
    grouped = f"{int(whole):,}"
    return f"{sign}{grouped}.{fraction}" if fraction else f"{sign}{grouped}"


def plain_money(amount_minor: int, currency: str) -> str:
    """The exact decimal for a CSV cell: no grouping."""
    return format_minor(amount_minor, CURRENCY_MINOR_UNITS.get(currency, 0))


def safe_cell(value: object) -> str:
    """A cell a spreadsheet shows as text: a leading = + - @ is quoted with an apostrophe."""
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_PREFIXES) and _PLAIN_NUMBER.fullmatch(text) is None:
        return "'" + text
    return text


def csv_bytes(header: Sequence[str], rows: Iterable[Sequence[object]]) -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([safe_cell(name) for name in header])
    for row in rows:
        writer.writerow([safe_cell(cell) for cell in row])
    return buffer.getvalue().encode("utf-8")
