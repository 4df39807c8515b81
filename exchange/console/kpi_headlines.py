"""The KPI page's headline figures for a period, built from the series the viewer may see.

Each headline is a sum over points the hub released to this viewer, or one released point,
never a figure of its own making from withheld ones: a sum that would include a suppressed
point is itself shown as suppressed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal

from exchange.console.kpi_values import SUPPRESSED, party
from exchange.console.listing import money
from exchange.domain.metrics import COALITION, Granularity
from exchange.domain.metrics_release import Point, Series

PERCENT_PLACES = Decimal("0.1")
SLOWEST_SHOWN_MAX = 3
ACTIVE_METRIC = "active_members_30d"

# (metric, granularity) → the viewer's series of it over the page's period.
Fetch = Callable[[str, str], list[Series]]


@dataclass(frozen=True)
class Headline:
    title: str
    value: str
    details: tuple[str, ...] = ()
    suppressed: bool = False


def headlines(fetch: Fetch, viewer: str | None) -> list[Headline]:
    return [transfers(fetch), quote_conversion(fetch), time_to_credit(fetch), active(fetch, viewer)]


def _total(found: list[Series]) -> int | None:
    """The sum of every point, None when any point is suppressed."""
    points = [p for s in found for p in s.points]
    if any(p.suppressed for p in points):
        return None
    return sum(int(p.value or 0) for p in points)


def transfers(fetch: Fetch) -> Headline:
    month = Granularity.MONTH.value
    counts = fetch("transfer_count", month)
    count = _total(counts)
    values = fetch("transfer_settlement_value", month)
    details = []
    for currency in sorted({s.dimension for s in values}):
        total = _total([s for s in values if s.dimension == currency])
        shown = SUPPRESSED if total is None else money(total, currency)
        details.append(f"settlement value {currency} {shown}")
    pairs = len({(s.subject, s.counterpart) for s in counts})
    details.append(f"over {pairs} pair{'' if pairs == 1 else 's'} you may see")
    if count is None:
        return Headline("Transfers completed", SUPPRESSED, tuple(details), True)
    return Headline("Transfers completed", f"{count:,}", tuple(details))


def quote_conversion(fetch: Fetch) -> Headline:
    month = Granularity.MONTH.value
    used, issued = _total(fetch("quotes_used", month)), _total(fetch("quotes_issued", month))
    title = "Quote conversion"
    if used is None or issued is None:
        return Headline(title, SUPPRESSED, (), True)
    if not issued:
        return Headline(title, "no quotes", ("no quote was issued in the period",))
    percent = (Decimal(100) * used / issued).quantize(PERCENT_PLACES, ROUND_HALF_EVEN)
    return Headline(title, f"{percent} %", (f"{used:,} of {issued:,} quotes used",))


def _latest(series: Series) -> Point | None:
    shown = [p for p in series.points if p.value is not None or p.suppressed]
    return shown[-1] if shown else None


def time_to_credit(fetch: Fetch) -> Headline:
    """The latest calendar month with transfers, per destination (or own pair), slowest first:
    percentiles are per calendar bucket, so no figure spans the whole period."""
    month = Granularity.MONTH.value
    p50 = {(s.subject, s.counterpart): s for s in fetch("time_to_credit_p50_ms", month)}
    found = []
    for series in fetch("time_to_credit_p95_ms", month):
        latest = _latest(series)
        median = p50.get((series.subject, series.counterpart))
        if latest is None or latest.value is None or median is None:
            continue
        same = [p for p in median.points if p.start_date == latest.start_date]
        who = f"{series.counterpart} → {series.subject}" if series.counterpart else series.subject
        found.append((int(latest.value), who, same[0].value if same else None, latest))
    title = "Time to credit, p50 / p95"
    if not found:
        return Headline(title, "no transfers", ("no transfer was credited in the period",))
    found.sort(key=lambda item: (-item[0], item[1]))
    p95, who, median_ms, latest = found[0]
    value = f"{int(median_ms or 0):,} ms / {p95:,} ms"
    details = [f"slowest: {who}, month of {latest.start_date.strftime('%Y-%m')}"]
    for other_p95, other, other_median, _ in found[1:SLOWEST_SHOWN_MAX]:
        details.append(f"{other}: {int(other_median or 0):,} ms / {other_p95:,} ms")
    if len(found) > SLOWEST_SHOWN_MAX:
        details.append(f"and {len(found) - SLOWEST_SHOWN_MAX} more")
    return Headline(title, value, tuple(details))


def active(fetch: Fetch, viewer: str | None) -> Headline:
    """The viewer's own count (the operator's: the coalition's) on the period's last folded
    day."""
    subject = viewer or COALITION
    title = "Active linked members, 30 days"
    mine = [s for s in fetch(ACTIVE_METRIC, Granularity.MONTH.value) if s.subject == subject]
    latest = _latest(mine[0]) if mine else None
    if latest is None:
        return Headline(title, "no figure", ("no business day of the period is folded yet",))
    where = f"{party(subject)}, month of {latest.start_date.strftime('%Y-%m')}"
    if latest.suppressed or latest.value is None:
        note = "withheld: fewer than 11 members, or a total that would reveal such a count"
        return Headline(title, SUPPRESSED, (where, note), suppressed=True)
    return Headline(title, f"{int(latest.value):,}", (where,))
