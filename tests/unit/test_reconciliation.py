"""Reconciliation (DESIGN §3.8): every break kind, the partner's view, the upload's refusals."""

from __future__ import annotations

import csv
import io
import random
from collections.abc import Callable, Iterator
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from settlement import reconciliation
from settlement.model import Break, BreakKind, PartnerRecord, TransferRecord
from settlement.reconciliation import (
    ReconciliationInputError,
    breaks_csv,
    parse_partner_csv,
    partner_view,
    reconcile,
)

PARTNER = "alpha"
DAY = "2026-11-23"
NEXT_DAY = "2026-11-24"
HEADER = "transfer_id,direction,points,amount_minor,currency"


def record(
    transfer_id: str,
    *,
    kind: str = "transfer",
    source: str = PARTNER,
    destination: str = "bravo",
    source_points: int = 1000,
    destination_points: int = 800,
    currency: str = "USD",
    amount_minor: int = 1250,
    fee_minor: int = 3,
) -> TransferRecord:
    return TransferRecord(
        transfer_id=transfer_id, kind=kind, source_partner_id=source,
        destination_partner_id=destination, source_points=source_points,
        destination_points=destination_points, currency=currency, amount_minor=amount_minor,
        fee_minor=fee_minor, business_day=DAY, completed_at_us=1_700_000_000_000_000,
    )


def expected_line(partner_id: str, hub: TransferRecord) -> PartnerRecord:
    """The partner's view, written out from the spec independently of the module under test."""
    payer = hub.source_partner_id if hub.kind == "transfer" else hub.destination_partner_id
    is_source = partner_id == hub.source_partner_id
    return PartnerRecord(
        transfer_id=hub.transfer_id,
        direction="outgoing" if partner_id == payer else "incoming",
        points=hub.source_points if is_source else hub.destination_points,
        amount_minor=hub.amount_minor,
        currency=hub.currency,
    )


def never_completed(transfer_id: str) -> str | None:
    return None


def run(
    hub: list[TransferRecord],
    partner: list[PartnerRecord],
    hub_day_of: Callable[[str], str | None] = never_completed,
) -> list[Break]:
    return reconcile(PARTNER, DAY, iter(hub), iter(partner), hub_day_of)


HUB = [
    record("tr_a"),  # alpha pays bravo
    record("tr_b", source="bravo", destination=PARTNER),  # bravo pays alpha
    record("tr_c", kind="reversal"),  # alpha is the source; bravo pays it back
    record("tr_d", kind="reversal", source="charlie", destination=PARTNER),  # alpha pays back
]
CLEAN = [expected_line(PARTNER, hub) for hub in HUB]


# --- the partner's view ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hub", "direction", "points"),
    [
        (HUB[0], "outgoing", 1000),  # source of a transfer: pays, source points
        (HUB[1], "incoming", 800),  # destination of a transfer: paid, destination points
        (HUB[2], "incoming", 1000),  # source of a reversal: paid back, source points
        (HUB[3], "outgoing", 800),  # destination of a reversal: pays back, destination points
    ],
)
def test_partner_view_follows_payer_and_role(
    hub: TransferRecord, direction: str, points: int
) -> None:
    view = partner_view(PARTNER, hub)
    assert (view.direction, view.points) == (direction, points)
    assert (view.amount_minor, view.currency) == (1250, "USD")  # the fee (3) is not included


def test_a_clean_match_has_no_breaks() -> None:
    assert run(HUB, CLEAN) == []
    assert run(HUB, list(reversed(CLEAN))) == []


def test_the_fee_is_not_part_of_the_reconciled_amount() -> None:
    with_fee = replace(CLEAN[0], amount_minor=HUB[0].amount_minor + HUB[0].fee_minor)
    (found,) = run(HUB[:1], [with_fee])
    assert found.kind is BreakKind.AMOUNT_MISMATCH
    assert found.detail == "amount_minor: hub 1250, partner 1253"


# --- each break kind -------------------------------------------------------------------------


@pytest.mark.parametrize("hub", [HUB, []], ids=["hub-has-records", "hub-has-none"])
def test_an_empty_upload_is_exactly_one_no_data(hub: list[TransferRecord]) -> None:
    assert run(hub, []) == [Break(BreakKind.NO_DATA, "", f"no records uploaded for {DAY}")]


def test_missing_at_partner() -> None:
    assert run(HUB, CLEAN[1:]) == [
        Break(
            BreakKind.MISSING_AT_PARTNER, "tr_a",
            "hub has outgoing, 1000 points, 1250 USD minor units",
        )
    ]


def test_missing_at_hub_when_the_hub_never_completed_it() -> None:
    stray = PartnerRecord("tr_zz", "incoming", 5, 60, "EUR")
    assert run(HUB, [*CLEAN, stray]) == [
        Break(
            BreakKind.MISSING_AT_HUB, "tr_zz",
            "partner lists incoming, 5 points, 60 EUR minor units; "
            "the hub has no such completed transfer",
        )
    ]


def test_timing_when_the_hub_settled_it_on_another_day() -> None:
    late = expected_line(PARTNER, record("tr_late"))
    breaks = run(HUB, [*CLEAN, late], {"tr_late": NEXT_DAY}.get)
    assert breaks == [
        Break(
            BreakKind.TIMING, "tr_late",
            f"partner lists it on {DAY}; the hub settled it on {NEXT_DAY}",
        )
    ]


def test_a_transfer_the_hub_has_today_for_someone_else_is_only_missing_at_hub() -> None:
    """Saying "timing, same day" would confirm another partner's transfer exists."""
    (found,) = run(HUB, [*CLEAN, PartnerRecord("tr_other", "incoming", 1, 1, "USD")],
                   {"tr_other": DAY}.get)
    assert (found.kind, found.transfer_id) == (BreakKind.MISSING_AT_HUB, "tr_other")
    assert DAY not in found.detail


def test_the_hub_is_asked_only_about_ids_it_lacks_today() -> None:
    asked: list[str] = []

    def hub_day_of(transfer_id: str) -> str | None:
        asked.append(transfer_id)
        return None

    run(HUB, [*CLEAN, PartnerRecord("tr_zz", "incoming", 5, 60, "EUR")], hub_day_of)
    assert asked == ["tr_zz"]


@pytest.mark.parametrize(
    ("change", "detail"),
    [
        ({"points": 999}, "points: hub 1000, partner 999"),
        ({"amount_minor": 1200}, "amount_minor: hub 1250, partner 1200"),
        ({"currency": "EUR"}, "currency: hub USD, partner EUR"),
        ({"direction": "incoming"}, "direction: hub outgoing, partner incoming"),
        (
            {"points": 1, "currency": "GBP"},
            "points: hub 1000, partner 1; currency: hub USD, partner GBP",
        ),
    ],
)
def test_amount_mismatch_names_each_field_and_both_values(
    change: dict[str, object], detail: str
) -> None:
    altered = replace(CLEAN[0], **change)  # type: ignore[arg-type]
    assert run(HUB, [altered, *CLEAN[1:]]) == [
        Break(BreakKind.AMOUNT_MISMATCH, "tr_a", detail)
    ]


def test_a_duplicate_is_reported_once_and_not_compared() -> None:
    wrong_copy = replace(CLEAN[0], points=1)
    stray = PartnerRecord("tr_zz", "incoming", 5, 60, "EUR")
    partner = [*CLEAN, CLEAN[0], wrong_copy, stray, stray]
    assert run(HUB, partner) == [
        Break(BreakKind.DUPLICATE, "tr_a", "listed 3 times"),
        Break(BreakKind.DUPLICATE, "tr_zz", "listed 2 times"),
    ]


def test_breaks_are_sorted_by_kind_then_transfer_id_and_a_rerun_is_identical() -> None:
    partner = [
        PartnerRecord("tr_y", "incoming", 1, 1, "USD"),
        replace(CLEAN[3], amount_minor=1),
        CLEAN[2], CLEAN[2],
        PartnerRecord("tr_late", "outgoing", 1, 1, "USD"),
        PartnerRecord("tr_x", "incoming", 1, 1, "USD"),
        replace(CLEAN[1], points=2),
    ]
    hub_day_of = {"tr_late": NEXT_DAY}.get
    breaks = run(HUB, partner, hub_day_of)
    assert [(item.kind, item.transfer_id) for item in breaks] == [
        (BreakKind.MISSING_AT_HUB, "tr_x"),
        (BreakKind.MISSING_AT_HUB, "tr_y"),
        (BreakKind.MISSING_AT_PARTNER, "tr_a"),
        (BreakKind.AMOUNT_MISMATCH, "tr_b"),
        (BreakKind.AMOUNT_MISMATCH, "tr_d"),
        (BreakKind.DUPLICATE, "tr_c"),
        (BreakKind.TIMING, "tr_late"),
    ]
    rerun = run(list(reversed(HUB)), list(reversed(partner)), hub_day_of)
    assert rerun == breaks
    assert breaks_csv(rerun) == breaks_csv(breaks) == breaks_csv(reversed(breaks))


def test_a_hub_record_not_involving_the_partner_is_a_broken_invariant() -> None:
    with pytest.raises(AssertionError):
        run([record("tr_q", source="bravo", destination="charlie")], CLEAN)


# --- the breaks report -----------------------------------------------------------------------


def test_breaks_csv_is_quoted_and_exact() -> None:
    breaks = [
        Break(BreakKind.DUPLICATE, "tr_a", "listed 2 times"),
        Break(BreakKind.AMOUNT_MISMATCH, "tr_b", "points: hub 1, partner 2; currency: hub A, b"),
    ]
    assert breaks_csv(breaks) == (
        b"kind,transfer_id,detail\n"
        b'amount_mismatch,tr_b,"points: hub 1, partner 2; currency: hub A, b"\n'
        b"duplicate,tr_a,listed 2 times\n"
    )
    rows = list(csv.reader(io.StringIO(breaks_csv(breaks).decode())))
    assert rows[1][2] == breaks[1].detail


def test_breaks_csv_of_no_breaks_is_the_header() -> None:
    assert breaks_csv([]) == b"kind,transfer_id,detail\n"


# --- parsing the upload ----------------------------------------------------------------------


def test_parse_accepts_a_bom_and_crlf_lines() -> None:
    data = (
        "\ufeff" + HEADER + "\r\n"
        "tr_a,outgoing,1000,1250,USD\r\n"
        "tr_b,incoming,0,0,EUR\r\n"
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


GOOD_ROW = "tr_a,outgoing,1000,1250,USD"


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


# --- properties ------------------------------------------------------------------------------

CURRENCIES = ("USD", "EUR", "JPY")
AMOUNTS = st.integers(min_value=0, max_value=10**12)


@st.composite
def hub_days(draw: st.DrawFn, min_size: int = 0) -> list[TransferRecord]:
    """A day of the hub's completed transfers involving PARTNER, in either role and kind."""
    numbers = draw(st.lists(st.integers(0, 2**96 - 1), min_size=min_size, max_size=12, unique=True))
    day = []
    for number in numbers:
        counterparty = draw(st.sampled_from(("bravo", "charlie")))
        partner_is_source = draw(st.booleans())
        day.append(record(
            f"tr_{number:024x}",
            kind=draw(st.sampled_from(("transfer", "reversal"))),
            source=PARTNER if partner_is_source else counterparty,
            destination=counterparty if partner_is_source else PARTNER,
            source_points=draw(AMOUNTS), destination_points=draw(AMOUNTS),
            currency=draw(st.sampled_from(CURRENCIES)),
            amount_minor=draw(AMOUNTS), fee_minor=draw(AMOUNTS),
        ))
    return day


def upload(lines: list[PartnerRecord]) -> bytes:
    """The partner's records as the CSV a partner would upload."""
    rows = [
        f"{line.transfer_id},{line.direction},{line.points},{line.amount_minor},{line.currency}"
        for line in lines
    ]
    return "\r\n".join([HEADER, *rows, ""]).encode()


def reconcile_upload(hub: list[TransferRecord], lines: list[PartnerRecord]) -> list[Break]:
    """Through the whole path: hub rows and the parsed upload streamed as one-shot iterators."""
    hub_rows: Iterator[TransferRecord] = iter(hub)
    return reconcile(PARTNER, DAY, hub_rows, iter(parse_partner_csv(upload(lines))),
                     never_completed)


@given(hub_days(min_size=1), st.randoms(use_true_random=False))
def test_uploading_exactly_the_hubs_view_has_no_breaks(
    hub: list[TransferRecord], shuffler: random.Random
) -> None:
    lines = [expected_line(PARTNER, transfer) for transfer in hub]
    shuffler.shuffle(lines)
    assert reconcile_upload(hub, lines) == []


@given(hub_days(min_size=2), st.data())
def test_dropping_one_line_is_exactly_missing_at_partner(
    hub: list[TransferRecord], data: st.DataObject
) -> None:
    lines = [expected_line(PARTNER, transfer) for transfer in hub]
    dropped = lines.pop(data.draw(st.integers(0, len(lines) - 1)))
    breaks = reconcile_upload(hub, lines)
    assert [(item.kind, item.transfer_id) for item in breaks] == [
        (BreakKind.MISSING_AT_PARTNER, dropped.transfer_id)
    ]


@given(hub_days(min_size=1), st.data())
def test_duplicating_one_line_is_exactly_duplicate(
    hub: list[TransferRecord], data: st.DataObject
) -> None:
    lines = [expected_line(PARTNER, transfer) for transfer in hub]
    copied = lines[data.draw(st.integers(0, len(lines) - 1))]
    lines.insert(data.draw(st.integers(0, len(lines))), copied)
    assert reconcile_upload(hub, lines) == [
        Break(BreakKind.DUPLICATE, copied.transfer_id, "listed 2 times")
    ]


@given(hub_days(min_size=1), st.data())
def test_altering_one_field_is_exactly_one_amount_mismatch_naming_it(
    hub: list[TransferRecord], data: st.DataObject
) -> None:
    lines = [expected_line(PARTNER, transfer) for transfer in hub]
    index = data.draw(st.integers(0, len(lines) - 1))
    original = lines[index]
    field = data.draw(st.sampled_from(("direction", "points", "amount_minor", "currency")))
    value: object
    if field == "direction":
        value = "incoming" if original.direction == "outgoing" else "outgoing"
    elif field == "currency":
        value = data.draw(st.sampled_from([c for c in CURRENCIES if c != original.currency]))
    else:
        value = data.draw(AMOUNTS.filter(lambda amount: amount != getattr(original, field)))
    lines[index] = replace(original, **{field: value})  # type: ignore[arg-type]
    assert reconcile_upload(hub, lines) == [
        Break(
            BreakKind.AMOUNT_MISMATCH, original.transfer_id,
            f"{field}: hub {getattr(original, field)}, partner {value}",
        )
    ]


@given(hub_days(), st.integers(2**97, 2**98), st.booleans())
def test_adding_one_unknown_line_is_exactly_missing_at_hub_or_timing(
    hub: list[TransferRecord], number: int, settled_later: bool
) -> None:
    lines = [expected_line(PARTNER, transfer) for transfer in hub]
    stray = PartnerRecord(f"tr_{number:025x}", "incoming", 1, 2, "USD")
    hub_day = NEXT_DAY if settled_later else None
    breaks = reconcile(PARTNER, DAY, iter(hub), iter([*lines, stray]), lambda _: hub_day)
    kind = BreakKind.TIMING if settled_later else BreakKind.MISSING_AT_HUB
    assert [(item.kind, item.transfer_id) for item in breaks] == [(kind, stray.transfer_id)]
