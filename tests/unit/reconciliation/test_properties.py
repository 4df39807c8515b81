"""Properties: each change to an upload of the hub's own view is exactly one break."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import replace

from hypothesis import given
from hypothesis import strategies as st

from settlement.model import Break, BreakKind, PartnerRecord, TransferRecord
from settlement.reconciliation import parse_partner_csv, reconcile
from tests.unit.reconciliation.support import (
    DAY,
    HEADER,
    NEXT_DAY,
    PARTNER,
    expected_line,
    never_completed,
    record,
)

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
        day.append(
            record(
                f"tr_{number:024x}",
                kind=draw(st.sampled_from(("transfer", "reversal"))),
                source=PARTNER if partner_is_source else counterparty,
                destination=counterparty if partner_is_source else PARTNER,
                source_points=draw(AMOUNTS),
                destination_points=draw(AMOUNTS),
                currency=draw(st.sampled_from(CURRENCIES)),
                amount_minor=draw(AMOUNTS),
                fee_minor=draw(AMOUNTS),
            )
        )
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
    return reconcile(
        PARTNER, DAY, hub_rows, iter(parse_partner_csv(upload(lines))), never_completed
    )


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
            BreakKind.AMOUNT_MISMATCH,
            original.transfer_id,
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
