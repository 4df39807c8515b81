"""One partner's statement for one day and currency, as CSV: its lines, totals and net."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from settlement.export_format import check_business_day, csv_bytes, currency_exponent, format_minor
from settlement.model import TransferRecord

STATEMENT_HEADER = (
    "business_day,currency,partner,transfer_id,kind,counterparty,direction,points,amount,fee"
)
# Statement lines of one day run in completion order; a reversal sorts after its transfer.
STATEMENT_KIND_ORDER = {"transfer": 0, "reversal": 1, "adjustment": 2}


def statement_csv(
    partner_id: str,
    business_day: str,
    currency: str,
    records: Iterable[TransferRecord],
    minor_units: Mapping[str, int],
) -> bytes:
    """One partner's statement for one day and currency: its lines, two totals lines and the net.

    `records` is consumed once (a generator over the day's rows is fine); records of other
    partners or other currencies are skipped, a record of another business day is refused.
    Only the formatted lines are kept, so the lines are sorted (by completion time, transfer id,
    kind) whatever order the rows arrive in.

    From the partner's view a line is "payable" when it is the payer (it then also owes the
    fee, printed in `fee`) and "receivable" when it is the payee; `points` are the points on
    the partner's own side. The net is receivable - payable - fees: negative when it owes.
    """
    check_business_day(business_day)
    exponent = currency_exponent(minor_units, currency)
    totals = _StatementTotals()
    keyed_rows: list[tuple[tuple[int, str, int], tuple[str, ...]]] = []
    seen: set[tuple[str, str]] = set()
    for record in records:
        if partner_id not in (record.source_partner_id, record.destination_partner_id):
            continue
        if record.currency != currency:
            continue
        if (record.transfer_id, record.kind) in seen:
            raise ValueError(f"duplicate {record.kind} record {record.transfer_id}")
        seen.add((record.transfer_id, record.kind))
        keyed_rows.append(_statement_line(partner_id, business_day, record, exponent, totals))
    rows = [line for _, line in sorted(keyed_rows)]
    prefix = (business_day, currency, partner_id)
    rows.extend(prefix + line for line in totals.lines(exponent))
    return csv_bytes(STATEMENT_HEADER, rows)


class _StatementTotals:
    """Running sums of a statement, so its records need not be kept."""

    def __init__(self) -> None:
        self.receivable_minor = 0
        self.receivable_points = 0
        self.payable_minor = 0
        self.payable_points = 0
        self.fee_minor = 0

    def lines(self, exponent: int) -> list[tuple[str, ...]]:
        """The two totals lines and the net line, shaped like transfer lines (kind total|net)."""
        net_minor = self.receivable_minor - self.payable_minor - self.fee_minor
        receivable = format_minor(self.receivable_minor, exponent)
        payable = format_minor(self.payable_minor, exponent)
        fee = format_minor(self.fee_minor, exponent)
        return [
            ("", "total", "", "receivable", str(self.receivable_points), receivable, ""),
            ("", "total", "", "payable", str(self.payable_points), payable, fee),
            ("", "net", "", "", "", format_minor(net_minor, exponent), ""),
        ]


def _statement_line(
    partner_id: str,
    business_day: str,
    record: TransferRecord,
    exponent: int,
    totals: _StatementTotals,
) -> tuple[tuple[int, str, int], tuple[str, ...]]:
    """The sort key and CSV row of one record, adding it to `totals`."""
    if record.business_day != business_day:
        raise ValueError(
            f"record {record.transfer_id} belongs to {record.business_day}, not {business_day}"
        )
    if record.kind not in STATEMENT_KIND_ORDER:
        raise ValueError(f"record {record.transfer_id} has unknown kind {record.kind!r}")
    if record.source_partner_id == record.destination_partner_id:
        raise ValueError(f"record {record.transfer_id} moves points within one partner")
    is_source = record.source_partner_id == partner_id
    counterparty = record.destination_partner_id if is_source else record.source_partner_id
    points = record.source_points if is_source else record.destination_points
    fee = ""
    if record.payer == partner_id:
        direction = "payable"
        totals.payable_minor += record.amount_minor
        totals.payable_points += points
        totals.fee_minor += record.fee_minor
        fee = format_minor(record.fee_minor, exponent)
    else:
        direction = "receivable"
        totals.receivable_minor += record.amount_minor
        totals.receivable_points += points
    key = (record.completed_at_us, record.transfer_id, STATEMENT_KIND_ORDER[record.kind])
    line = (
        business_day,
        record.currency,
        partner_id,
        record.transfer_id,
        record.kind,
        counterparty,
        direction,
        str(points),
        format_minor(record.amount_minor, exponent),
        fee,
    )
    return key, line
