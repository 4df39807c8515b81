"""Parsing a partner's upload: line endings, refusals naming line and column, size limits."""

from __future__ import annotations

import pytest

from settlement import reconciliation
from settlement.model import BreakKind, PartnerRecord
from settlement.reconciliation import ReconciliationInputError, parse_partner_csv
from tests.unit.reconciliation.support import HEADER, HUB, run

GOOD_ROW = "tr_a,outgoing,1000,1250,USD"


def test_parse_accepts_a_bom_and_crlf_lines() -> None:
    data = (
        "\ufeff" + HEADER + "\r\ntr_a,outgoing,1000,1250,USD\r\ntr_b,incoming,0,0,EUR\r\n"
    ).encode()
    assert parse_partner_csv(data) == [
        PartnerRecord("tr_a", "outgoing", 1000, 1250, "USD"),
        PartnerRecord("tr_b", "incoming", 0, 0, "EUR"),
    ]


def test_parse_accepts_lf_lines_and_no_final_newline() -> None:
    data = f"{HEADER}\ntr_a,outgoing,1,2,JPY".encode()
    assert parse_partner_csv(data) == [PartnerRecord("tr_a", "outgoing", 1, 2, "JPY")]


def test_a_header_alone_parses_to_nothing_and_reconciles_to_no_data() -> None:
    records = parse_partner_csv(f"{HEADER}\r\n".encode())
    assert records == []
    assert [item.kind for item in run(HUB, records)] == [BreakKind.NO_DATA]


@pytest.mark.parametrize(
    ("data", "line_number", "column"),
    [
        (b"", 1, None),
        (b"transfer_id,direction,points,amount,currency\n" + GOOD_ROW.encode(), 1, None),
        (b"TRANSFER_ID,direction,points,amount_minor,currency\n", 1, None),
        (f"{HEADER},extra\n".encode(), 1, None),
        (f"{HEADER}\n{GOOD_ROW}\ntr_b,outgoing,1,2\n".encode(), 3, None),
        (f"{HEADER}\n{GOOD_ROW},x\n".encode(), 2, None),
        (f"{HEADER}\n{GOOD_ROW}\n\n{GOOD_ROW}\n".encode(), 3, None),
        (f"{HEADER}\n,outgoing,1,2,USD\n".encode(), 2, "transfer_id"),
        (f"{HEADER}\n tr_a,outgoing,1,2,USD\n".encode(), 2, "transfer_id"),
        (f"{HEADER}\ntr\x00a,outgoing,1,2,USD\n".encode(), 2, "transfer_id"),
        (f"{HEADER}\n{'t' * 65},outgoing,1,2,USD\n".encode(), 2, "transfer_id"),
        (f"{HEADER}\ntr_a,sideways,1,2,USD\n".encode(), 2, "direction"),
        (f"{HEADER}\ntr_a,Outgoing,1,2,USD\n".encode(), 2, "direction"),
        (f"{HEADER}\n{GOOD_ROW}\ntr_b,outgoing,-1,2,USD\n".encode(), 3, "points"),
        (f"{HEADER}\ntr_a,outgoing,1.5,2,USD\n".encode(), 2, "points"),
        (f"{HEADER}\ntr_a,outgoing,+1,2,USD\n".encode(), 2, "points"),
        (f"{HEADER}\ntr_a,outgoing, 1,2,USD\n".encode(), 2, "points"),
        (f"{HEADER}\ntr_a,outgoing,1_000,2,USD\n".encode(), 2, "points"),
        (f"{HEADER}\ntr_a,outgoing,\u0661,2,USD\n".encode(), 2, "points"),  # Arabic-Indic 1
        (f"{HEADER}\ntr_a,outgoing,,2,USD\n".encode(), 2, "points"),
        (f"{HEADER}\ntr_a,outgoing,1,-2,USD\n".encode(), 2, "amount_minor"),
        (f"{HEADER}\ntr_a,outgoing,1,2e3,USD\n".encode(), 2, "amount_minor"),
        (f"{HEADER}\ntr_a,outgoing,1,{2**63},USD\n".encode(), 2, "amount_minor"),
        (f"{HEADER}\ntr_a,outgoing,1,{'9' * 5000},USD\n".encode(), 2, "amount_minor"),
        (f"{HEADER}\ntr_a,outgoing,1,2,usd\n".encode(), 2, "currency"),
        (f"{HEADER}\ntr_a,outgoing,1,2,US\n".encode(), 2, "currency"),
        (f"{HEADER}\ntr_a,outgoing,1,2,USDX\n".encode(), 2, "currency"),
        (f"{HEADER}\ntr_a,outgoing,1,2,USD \n".encode(), 2, "currency"),
        (f"{HEADER}\n{GOOD_ROW}\n".encode() + b"tr_\xff,outgoing,1,2,USD\n", 3, None),
        (f'{HEADER}\n{GOOD_ROW}\n"tr_b,outgoing,1,2,USD\n'.encode(), 3, None),
    ],
)
def test_parse_refuses_the_whole_file_naming_line_and_column(
    data: bytes, line_number: int, column: str | None
) -> None:
    with pytest.raises(ReconciliationInputError) as refused:
        parse_partner_csv(data)
    assert isinstance(refused.value, ValueError)
    assert (refused.value.line_number, refused.value.column) == (line_number, column)
    assert str(refused.value).startswith(f"line {line_number}")
    if column is not None:
        assert str(refused.value).startswith(f"line {line_number}, {column}: ")


def test_a_refusal_does_not_echo_a_huge_value() -> None:
    data = f"{HEADER}\ntr_a,{'x' * 10_000},1,2,USD\n".encode()
    with pytest.raises(ReconciliationInputError) as refused:
        parse_partner_csv(data)
    assert len(str(refused.value)) < 200


def test_parse_refuses_more_rows_than_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reconciliation, "UPLOAD_ROWS_MAX", 2)
    rows = [f"tr_{index},outgoing,1,2,USD" for index in range(3)]
    assert len(parse_partner_csv("\n".join([HEADER, *rows[:2]]).encode())) == 2
    with pytest.raises(ReconciliationInputError) as refused:
        parse_partner_csv("\n".join([HEADER, *rows]).encode())
    assert (refused.value.line_number, refused.value.column) == (4, None)


def test_parse_refuses_more_bytes_than_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    data = f"{HEADER}\n{GOOD_ROW}\n".encode()
    monkeypatch.setattr(reconciliation, "UPLOAD_BYTES_MAX", len(data))
    assert len(parse_partner_csv(data)) == 1
    with pytest.raises(ReconciliationInputError) as refused:
        parse_partner_csv(data + b"tr_b,outgoing,1,2,USD\n")
    assert (refused.value.line_number, refused.value.column) == (0, None)


def test_the_limits_are_the_documented_ones() -> None:
    assert reconciliation.UPLOAD_ROWS_MAX == 1_000_000
    assert reconciliation.UPLOAD_BYTES_MAX == 64 * 1024 * 1024
