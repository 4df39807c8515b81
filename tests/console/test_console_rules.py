"""Pure rules of the console: the cross-site check, CSV escaping, amounts, date filters."""

from __future__ import annotations

from datetime import date

import pytest

from exchange.console.listing import BadFilter, csv_bytes, date_range, money, safe_cell
from exchange.console.security import is_cross_site
from exchange.console.work import Refused, minor_units


def scope(method: str, **headers: str) -> dict[str, object]:
    raw = [(b"host", b"127.0.0.1:8080")]
    raw += [(name.replace("_", "-").encode(), value.encode()) for name, value in headers.items()]
    return {"type": "http", "method": method, "scheme": "http", "headers": raw}


@pytest.mark.parametrize(
    ("method", "headers", "refused"),
    [
        ("GET", {"sec_fetch_site": "cross-site"}, False),
        ("POST", {"sec_fetch_site": "same-origin"}, False),
        ("POST", {"sec_fetch_site": "none"}, False),
        ("POST", {"sec_fetch_site": "same-site"}, True),
        ("POST", {"sec_fetch_site": "cross-site", "origin": "http://127.0.0.1:8080"}, True),
        ("POST", {"origin": "http://127.0.0.1:8080"}, False),
        ("POST", {"origin": "http://127.0.0.1:9999"}, True),
        ("POST", {"origin": "null"}, True),
        ("POST", {}, True),
        ("DELETE", {"origin": "https://evil.example"}, True),
    ],
)
def test_cross_site_writes_are_refused_and_same_origin_ones_are_not(
    method: str, headers: dict[str, str], refused: bool
) -> None:
    assert is_cross_site(scope(method, **headers)) is refused


@pytest.mark.parametrize("cell", ["=1+1", "+cmd", "-cmd|x", "@SUM(A1)", "\t=1"])
def test_formula_cells_are_escaped_in_csv_views(cell: str) -> None:
    assert safe_cell(cell) == "'" + cell
    assert csv_bytes(["reason"], [[cell]]).decode().splitlines()[1].lstrip('"').startswith("'")


def test_numbers_and_plain_text_pass_unchanged() -> None:
    assert [safe_cell(v) for v in ("-12.50", "42", "tr_abc", None)] == [
        "-12.50",
        "42",
        "tr_abc",
        "",
    ]


def test_amounts_are_shown_and_read_in_the_currency_s_minor_units() -> None:
    assert money(123456, "USD") == "1,234.56"
    assert money(-5, "USD") == "-0.05"
    assert money(1500, "JPY") == "1,500"
    assert minor_units("12.5", "USD") == 1250
    assert minor_units("1,000.05", "USD") == 100005
    for bad in ("12.345", "-1", "1e3", "", "12.5.1"):
        with pytest.raises(Refused):
            minor_units(bad, "USD")


def test_the_date_filter_defaults_to_the_last_30_days_and_refuses_nonsense() -> None:
    today = date(2026, 12, 3)
    default = date_range({}, today)
    assert (default.first, default.last, len(default.days)) == (date(2026, 11, 4), today, 30)
    assert date_range({"from": "2026-12-01", "to": "2026-12-02"}, today).days == [
        "2026-12-02",
        "2026-12-01",
    ]
    for query in ({"from": "2026-12-05", "to": "2026-12-01"}, {"to": "yesterday"},
                  {"from": "2020-01-01", "to": "2026-01-01"}):  # fmt: skip
        with pytest.raises(BadFilter):
            date_range(query, today)
