"""Every break kind, its detail, its order, and the breaks CSV."""

from __future__ import annotations

import csv
import io
from dataclasses import replace

import pytest

from settlement.model import Break, BreakKind, PartnerRecord, TransferRecord
from settlement.reconciliation import breaks_csv, partner_view
from tests.unit.reconciliation.support import (
    CLEAN,
    DAY,
    HUB,
    NEXT_DAY,
    PARTNER,
    expected_line,
    record,
    run,
)


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


@pytest.mark.parametrize("hub", [HUB, []], ids=["hub-has-records", "hub-has-none"])
def test_an_empty_upload_is_exactly_one_no_data(hub: list[TransferRecord]) -> None:
    assert run(hub, []) == [Break(BreakKind.NO_DATA, "", f"no records uploaded for {DAY}")]


def test_missing_at_partner() -> None:
    assert run(HUB, CLEAN[1:]) == [
        Break(
            BreakKind.MISSING_AT_PARTNER,
            "tr_a",
            "hub has outgoing, 1000 points, 1250 USD minor units",
        )
    ]


def test_missing_at_hub_when_the_hub_never_completed_it() -> None:
    stray = PartnerRecord("tr_zz", "incoming", 5, 60, "EUR")
    assert run(HUB, [*CLEAN, stray]) == [
        Break(
            BreakKind.MISSING_AT_HUB,
            "tr_zz",
            "partner lists incoming, 5 points, 60 EUR minor units; "
            "the hub has no such completed transfer",
        )
    ]


def test_timing_when_the_hub_settled_it_on_another_day() -> None:
    late = expected_line(PARTNER, record("tr_late"))
    breaks = run(HUB, [*CLEAN, late], {"tr_late": NEXT_DAY}.get)
    assert breaks == [
        Break(
            BreakKind.TIMING,
            "tr_late",
            f"partner lists it on {DAY}; the hub settled it on {NEXT_DAY}",
        )
    ]


def test_a_transfer_the_hub_has_today_for_someone_else_is_only_missing_at_hub() -> None:
    """Saying "timing, same day" would confirm another partner's transfer exists."""
    (found,) = run(
        HUB, [*CLEAN, PartnerRecord("tr_other", "incoming", 1, 1, "USD")], {"tr_other": DAY}.get
    )
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
    assert run(HUB, [altered, *CLEAN[1:]]) == [Break(BreakKind.AMOUNT_MISMATCH, "tr_a", detail)]


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
        CLEAN[2],
        CLEAN[2],
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
