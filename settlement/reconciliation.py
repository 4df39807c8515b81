"""Reconciliation (DESIGN §3.8): a partner's own records of a day matched against the hub's.

Pure functions over streamed rows, standard library only. Mismatches are returned as `Break`
values, never raised; only a malformed upload is refused (`ReconciliationInputError`), and then
as a whole, so a partner never gets a report over half of its file.

The reconciled amount is the settlement amount `amount_minor` alone. The hub fee is owed by the
payer to the hub, not to the counterparty, so it is not part of what the two partners agree on;
it is billed (and checked) on the partner's statement instead.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable

from settlement.model import Break, BreakKind, PartnerRecord, TransferRecord

UPLOAD_BYTES_MAX = 64 * 1024 * 1024
UPLOAD_ROWS_MAX = 1_000_000  # data rows, the header not counted
TRANSFER_ID_CHARS_MAX = 64  # hub ids are "tr_" + 24 hex characters
INTEGER_VALUE_MAX = 2**63 - 1  # points and amounts are int64 on the wire
SHOWN_CHARS_MAX = 32  # of a refused value, quoted in the error message

UPLOAD_HEADER = ("transfer_id", "direction", "points", "amount_minor", "currency")
BREAKS_HEADER = ("kind", "transfer_id", "detail")
OUTGOING = "outgoing"  # the partner is the payer
INCOMING = "incoming"  # the partner is the payee
DIRECTIONS = (OUTGOING, INCOMING)

_UTF8_BOM = b"\xef\xbb\xbf"
_DIGITS = re.compile(r"[0-9]+")
_CURRENCY_CODE = re.compile(r"[A-Z]{3}")
# Breaks are ordered by the kinds' declaration order in the model, then by transfer id.
_KIND_RANK = {kind: rank for rank, kind in enumerate(BreakKind)}


class ReconciliationInputError(ValueError):
    """An upload refused as a whole. `column` is None when the whole row or file is at fault."""

    def __init__(self, line_number: int, column: str | None, message: str) -> None:
        where = f"line {line_number}" if column is None else f"line {line_number}, {column}"
        super().__init__(f"{where}: {message}")
        self.line_number = line_number
        self.column = column
        self.message = message


# --- matching -------------------------------------------------------------------------------


def reconcile(
    partner_id: str,
    business_day: str,
    hub_records: Iterable[TransferRecord],
    partner_records: Iterable[PartnerRecord],
    hub_day_of: Callable[[str], str | None],
) -> list[Break]:
    """The breaks between the hub's and `partner_id`'s records of `business_day`, sorted.

    `hub_records` are the hub's completed transfers of the day that involve the partner.
    `hub_day_of(transfer_id)` names the business day on which the hub completed a transfer, or
    None if it never did; it is asked only about ids the partner listed that the hub does not
    have on this day, and must only answer for transfers involving `partner_id` (else a TIMING
    break would reveal another partner's transfer).

    Both sides are streamed once and held as dicts keyed by transfer id: memory is bounded by
    one partner's volume for one day, and the upload side by UPLOAD_ROWS_MAX.
    """
    expected = _expected_views(partner_id, business_day, hub_records)
    listed, listed_count = _index_partner_records(partner_records)
    if not listed:
        return [Break(BreakKind.NO_DATA, "", f"no records uploaded for {business_day}")]
    breaks = [
        Break(BreakKind.DUPLICATE, transfer_id, f"listed {count} times")
        for transfer_id, count in listed_count.items()
        if count > 1
    ]
    for transfer_id, record in listed.items():
        if listed_count[transfer_id] > 1:
            continue  # which copy to compare is ambiguous; the duplicate is the break
        hub_view = expected.get(transfer_id)
        if hub_view is None:
            breaks.append(_absent_at_hub(business_day, record, hub_day_of(transfer_id)))
        else:
            breaks.extend(_compare(hub_view, record))
    breaks.extend(
        Break(BreakKind.MISSING_AT_PARTNER, transfer_id, f"hub has {_describe(hub_view)}")
        for transfer_id, hub_view in expected.items()
        if transfer_id not in listed
    )
    return sorted(breaks, key=_break_order)


def partner_view(partner_id: str, record: TransferRecord) -> PartnerRecord:
    """How `partner_id` should have recorded a hub transfer record."""
    assert partner_id in (record.payer, record.payee), (partner_id, record.transfer_id)
    is_source = partner_id == record.source_partner_id
    return PartnerRecord(
        transfer_id=record.transfer_id,
        direction=OUTGOING if partner_id == record.payer else INCOMING,
        points=record.source_points if is_source else record.destination_points,
        amount_minor=record.amount_minor,  # without the fee: see the module docstring
        currency=record.currency,
    )


def _expected_views(
    partner_id: str, business_day: str, hub_records: Iterable[TransferRecord]
) -> dict[str, PartnerRecord]:
    expected: dict[str, PartnerRecord] = {}
    for record in hub_records:
        # The hub's own rows breaking these is a hub bug, not a reconciliation break.
        assert record.business_day == business_day, (record.transfer_id, record.business_day)
        assert record.transfer_id not in expected, record.transfer_id
        expected[record.transfer_id] = partner_view(partner_id, record)
    return expected


def _index_partner_records(
    partner_records: Iterable[PartnerRecord],
) -> tuple[dict[str, PartnerRecord], dict[str, int]]:
    """The first record per transfer id, and how often each id was listed."""
    first: dict[str, PartnerRecord] = {}
    count: dict[str, int] = {}
    for record in partner_records:
        first.setdefault(record.transfer_id, record)
        count[record.transfer_id] = count.get(record.transfer_id, 0) + 1
    return first, count


def _absent_at_hub(business_day: str, record: PartnerRecord, hub_day: str | None) -> Break:
    # hub_day == business_day means the hub has it that day but not for this partner; saying
    # so would confirm another partner's transfer, so it is simply missing at the hub.
    if hub_day is None or hub_day == business_day:
        detail = f"partner lists {_describe(record)}; the hub has no such completed transfer"
        return Break(BreakKind.MISSING_AT_HUB, record.transfer_id, detail)
    detail = f"partner lists it on {business_day}; the hub settled it on {hub_day}"
    return Break(BreakKind.TIMING, record.transfer_id, detail)


def _compare(hub_view: PartnerRecord, record: PartnerRecord) -> list[Break]:
    """One AMOUNT_MISMATCH naming every field that differs, or nothing."""
    differences = [
        f"{field}: hub {hub_value}, partner {partner_value}"
        for field, hub_value, partner_value in (
            ("direction", hub_view.direction, record.direction),
            ("points", hub_view.points, record.points),
            ("amount_minor", hub_view.amount_minor, record.amount_minor),
            ("currency", hub_view.currency, record.currency),
        )
        if hub_value != partner_value
    ]
    if not differences:
        return []
    return [Break(BreakKind.AMOUNT_MISMATCH, record.transfer_id, "; ".join(differences))]


def _describe(record: PartnerRecord) -> str:
    return (
        f"{record.direction}, {record.points} points, "
        f"{record.amount_minor} {record.currency} minor units"
    )


def _break_order(item: Break) -> tuple[int, str, str]:
    return (_KIND_RANK[item.kind], item.transfer_id, item.detail)


# --- the upload -----------------------------------------------------------------------------


def parse_partner_csv(data: bytes) -> list[PartnerRecord]:
    """Parse an upload: UTF-8 (an optional BOM), `\\n` or `\\r\\n` lines, header UPLOAD_HEADER.

    Every row is checked before anything is returned; the first bad one refuses the file.
    A header alone is a valid, empty upload (which reconciles to NO_DATA).
    """
    if len(data) > UPLOAD_BYTES_MAX:
        raise ReconciliationInputError(0, None, f"upload exceeds {UPLOAD_BYTES_MAX} bytes")
    reader = csv.reader(io.StringIO(_decode(data), newline=""), strict=True)
    try:
        header = next(reader, None)
        if header is None or tuple(header) != UPLOAD_HEADER:
            expected = ",".join(UPLOAD_HEADER)
            raise ReconciliationInputError(1, None, f"header must be exactly {expected}")
        records: list[PartnerRecord] = []
        for row in reader:
            if len(records) == UPLOAD_ROWS_MAX:
                message = f"upload exceeds {UPLOAD_ROWS_MAX} rows"
                raise ReconciliationInputError(reader.line_num, None, message)
            records.append(_parse_row(reader.line_num, row))
    except csv.Error as error:
        raise ReconciliationInputError(reader.line_num, None, str(error)) from error
    return records


def _decode(data: bytes) -> str:
    body = data.removeprefix(_UTF8_BOM)
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as error:
        line_number = body.count(b"\n", 0, error.start) + 1
        raise ReconciliationInputError(line_number, None, "not valid UTF-8") from error


def _parse_row(line_number: int, row: list[str]) -> PartnerRecord:
    if len(row) != len(UPLOAD_HEADER):
        message = f"expected {len(UPLOAD_HEADER)} columns, found {len(row)}"
        raise ReconciliationInputError(line_number, None, message)
    transfer_id, direction, points, amount_minor, currency = row
    _check_transfer_id(line_number, transfer_id)
    if direction not in DIRECTIONS:
        message = f"must be {' or '.join(DIRECTIONS)}, not {_shown(direction)}"
        raise ReconciliationInputError(line_number, "direction", message)
    if _CURRENCY_CODE.fullmatch(currency) is None:
        message = f"must be a 3-letter upper-case ISO 4217 code, not {_shown(currency)}"
        raise ReconciliationInputError(line_number, "currency", message)
    return PartnerRecord(
        transfer_id=transfer_id,
        direction=direction,
        points=_parse_count(line_number, "points", points),
        amount_minor=_parse_count(line_number, "amount_minor", amount_minor),
        currency=currency,
    )


def _check_transfer_id(line_number: int, transfer_id: str) -> None:
    if not transfer_id:
        raise ReconciliationInputError(line_number, "transfer_id", "must not be empty")
    if len(transfer_id) > TRANSFER_ID_CHARS_MAX:
        message = f"longer than {TRANSFER_ID_CHARS_MAX} characters"
        raise ReconciliationInputError(line_number, "transfer_id", message)
    # Spaces or control characters would only ever turn into a puzzling MISSING_AT_HUB.
    if not transfer_id.isprintable() or transfer_id != transfer_id.strip():
        message = "must not contain control characters or surrounding spaces"
        raise ReconciliationInputError(line_number, "transfer_id", message)


def _parse_count(line_number: int, column: str, text: str) -> int:
    """A non-negative integer in plain ASCII digits: no sign, spaces, separators or exponent."""
    # The length check comes first so a huge digit string is never converted.
    if len(text) > len(str(INTEGER_VALUE_MAX)) or _DIGITS.fullmatch(text) is None:
        message = f"must be a non-negative whole number, not {_shown(text)}"
        raise ReconciliationInputError(line_number, column, message)
    value = int(text)
    if value > INTEGER_VALUE_MAX:
        raise ReconciliationInputError(line_number, column, f"exceeds {INTEGER_VALUE_MAX}")
    return value


def _shown(text: str) -> str:
    """A refused value as quoted in an error, cut short so a huge cell is not echoed back."""
    return repr(text if len(text) <= SHOWN_CHARS_MAX else text[:SHOWN_CHARS_MAX] + "...")


# --- the report -----------------------------------------------------------------------------


def breaks_csv(breaks: Iterable[Break]) -> bytes:
    """The breaks report: UTF-8, `\\n` lines, header BREAKS_HEADER, in the order of `reconcile`.

    The rows are sorted here too, so the same breaks give the same bytes however they arrive.
    """
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(BREAKS_HEADER)
    for item in sorted(breaks, key=_break_order):
        writer.writerow((item.kind.value, item.transfer_id, item.detail))
    return buffer.getvalue().encode("utf-8")
