"""From day cells to the series a viewer may see: privacy first, then buckets (docs/metrics.md).

Suppression is decided on all cells, before anything is filtered for the viewer, so every
viewer sees the same decision for the same cell. The rule that defeats differencing: a
member-count day cell is shown only when it is 0 or at least MEMBER_CELL_MIN, and a figure
that is a sum of cells (a week, a month, a coalition total, a cohort's size) is shown only
when every cell in the sum is. Every shown figure is then a sum of shown day cells alone, so
no combination of shown figures says anything about a hidden one.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import NamedTuple

from exchange.domain.metrics import (
    COALITION,
    COHORT_PARTS,
    MEMBER_CELL_MIN,
    STORED_MEMBER_METRICS,
    Cell,
    Kind,
    Metric,
    Period,
    Scope,
    bucket_start,
    days,
)

RATIO_PLACES = Decimal("0.000001")
SeriesKey = tuple[str, str, str]  # subject, counterpart, dimension
Value = int | Decimal | None


class Point(NamedTuple):
    start_date: date
    value: Value
    suppressed: bool = False


@dataclass(frozen=True)
class Series:
    subject: str
    counterpart: str
    dimension: str
    points: tuple[Point, ...]


@dataclass
class _Figure:
    """A day figure and whether it may be shown."""

    value: int
    shown: bool = True


Table = dict[tuple[str, str, str, str], dict[str, _Figure]]  # stored, s, c, d → day → figure


def shown_alone(metric: str, value: int) -> bool:
    return metric not in STORED_MEMBER_METRICS or value == 0 or value >= MEMBER_CELL_MIN


def decide(cells: Iterable[Cell]) -> Table:
    """Day figures with their primary and complementary suppression decided."""
    table: Table = defaultdict(dict)
    for cell in cells:
        key = (cell.metric, cell.subject, cell.counterpart, cell.dimension)
        table[key][cell.business_day] = _Figure(cell.value, shown_alone(cell.metric, cell.value))
    if any(key[0] in STORED_MEMBER_METRICS for key in table):
        _hide_coalition_totals(table)
        _hide_cohort_totals(table)
    return table


def _hide_coalition_totals(table: Table) -> None:
    """A coalition-wide member count is shown only when each partner's count that day is."""
    hidden: set[tuple[str, str, str]] = set()
    for (metric, subject, _, dimension), by_day in table.items():
        if metric in STORED_MEMBER_METRICS and subject != COALITION:
            hidden.update((metric, d, dimension) for d, f in by_day.items() if not f.shown)
    for (metric, subject, _, dimension), by_day in table.items():
        if subject == COALITION:
            for day, figure in by_day.items():
                figure.shown = figure.shown and (metric, day, dimension) not in hidden


def _hide_cohort_totals(table: Table) -> None:
    """Cohort size = retained + churned: shown only when both parts are."""
    for (metric, subject, counterpart, dimension), by_day in table.items():
        if metric != "cohort_size":
            continue
        for day, figure in by_day.items():
            parts = [
                table.get((p, subject, counterpart, dimension), {}).get(day) for p in COHORT_PARTS
            ]
            figure.shown = figure.shown and all(p is None or p.shown for p in parts)


def visible(scope: Scope, viewer: str | None, subject: str, counterpart: str) -> bool:
    """Pairs to their two parties, a partner's figures to that partner, all to the operator."""
    if viewer is None:
        return True
    if subject == COALITION or scope is Scope.COALITION:
        return False
    return viewer in (subject, counterpart)


def buckets(period: Period) -> list[tuple[date, list[str]]]:
    """Each bucket's label and its days (YYYY-MM-DD) inside the period; edge buckets can be
    partial, and a bucket is labelled by its first day inside the period (the contract's
    `start_date`), not by the calendar week's or month's first day."""
    found: dict[date, list[str]] = {}
    for day in days(period.start, period.end):
        found.setdefault(bucket_start(day, period.granularity), []).append(day.isoformat())
    return [(date.fromisoformat(in_bucket[0]), in_bucket) for _, in_bucket in sorted(found.items())]


def build_series(
    metric: Metric,
    period: Period,
    cells: Iterable[Cell],
    folded: Sequence[str],
    viewer: str | None,
    counterpart: str = "",
) -> list[Series]:
    table = decide(cells)
    keys = {
        key
        for key in table
        if key[0] in metric.stored
        and visible(metric.scope, viewer, key[1], key[2])
        and (not counterpart or counterpart in (key[1], key[2]))
    }
    if metric.kind is Kind.COHORT:
        return _cohort_series(metric, period, table, keys)
    if metric.kind is Kind.PERCENTILE:
        return _percentile_series(period, table, keys, viewer)
    if metric.scope is Scope.DESTINATION:
        table, keys = _by_destination(table, keys, viewer)
    if metric.kind is Kind.RATIO:
        keys = _ratio_keys(metric, keys)
    grouped: dict[SeriesKey, dict[str, dict[str, _Figure]]] = defaultdict(dict)
    for stored, subject, other, dimension in keys:
        grouped[(subject, other, dimension)][f"{stored}|{dimension}"] = table.get(
            (stored, subject, other, dimension), {}
        )
    folded_days, all_buckets = set(folded), buckets(period)
    return [
        Series(
            *series_key,
            tuple(
                _point(metric, start, in_bucket, parts, table, series_key, folded_days)
                for start, in_bucket in all_buckets
            ),
        )
        for series_key, parts in sorted(grouped.items())
    ]


def _by_destination(
    table: Table, keys: set[tuple[str, str, str, str]], viewer: str | None
) -> tuple[Table, set[tuple[str, str, str, str]]]:
    """Re-keys visible pair cells by destination, summing over the sources. The destination
    and the operator get the whole destination; a source gets its own pair, so labelled."""
    merged: Table = defaultdict(dict)
    for stored, source, destination, dimension in keys:
        whole = viewer is None or viewer == destination
        target = merged[(stored, destination, "" if whole else source, dimension)]
        for day, figure in table[(stored, source, destination, dimension)].items():
            target.setdefault(day, _Figure(0)).value += figure.value
    return merged, set(merged)


def _point(
    metric: Metric,
    start: date,
    in_bucket: list[str],
    parts: Mapping[str, dict[str, _Figure]],
    table: Table,
    series_key: SeriesKey,
    folded: set[str],
) -> Point:
    if metric.kind is Kind.FLOW:
        total, shown = _sum(parts.values(), in_bucket)
        return Point(start, total if shown else None, not shown)
    if metric.kind is Kind.STOCK:
        last = max((day for day in in_bucket if day in folded), default=None)
        figures = [by_day.get(last) for by_day in parts.values()] if last else []
        figure = next((f for f in figures if f is not None), _Figure(0))
        return Point(start, figure.value if figure.shown else None, not figure.shown)
    if metric.kind is Kind.TREND:
        end = date.fromisoformat(in_bucket[-1])
        window = [(end - timedelta(days=n)).isoformat() for n in range(metric.window_days)]
        total, _ = _sum(parts.values(), window)
        return Point(start, total)
    assert metric.kind is Kind.RATIO, "percentiles and cohorts have their own series"
    return Point(start, _ratio(metric, parts, table, series_key, in_bucket))


def _sum(series: Iterable[Mapping[str, _Figure]], in_bucket: list[str]) -> tuple[int, bool]:
    total, shown = 0, True
    for by_day in series:
        for day in in_bucket:
            figure = by_day.get(day)
            if figure is not None:
                total += figure.value
                shown = shown and figure.shown
    return total, shown


def _ratio_keys(
    metric: Metric, keys: set[tuple[str, str, str, str]]
) -> set[tuple[str, str, str, str]]:
    """A ratio's series: one per numerator key, and one per denominator key whose pair has no
    numerator (a zero numerator stores no cell)."""
    numerator, denominator = metric.stored
    found = {key for key in keys if key[0] == numerator}
    pairs = {(s, c) for _, s, c, _ in found}
    found |= {
        (numerator, s, c, d) for m, s, c, d in keys if m == denominator and (s, c) not in pairs
    }
    return found


def _ratio(
    metric: Metric,
    parts: Mapping[str, dict[str, _Figure]],
    table: Table,
    series_key: SeriesKey,
    in_bucket: list[str],
) -> Decimal | None:
    subject, other, dimension = series_key
    numerator, _ = _sum(parts.values(), in_bucket)
    denominator_series = table.get((metric.stored[1], subject, other, dimension))
    if denominator_series is None:
        denominator_series = table.get((metric.stored[1], subject, other, ""), {})
    denominator, _ = _sum([denominator_series], in_bucket)
    if denominator == 0:
        return None
    return (Decimal(numerator) / Decimal(denominator)).quantize(RATIO_PLACES, ROUND_HALF_EVEN)


def _percentile_series(
    period: Period, table: Table, keys: set[tuple[str, str, str, str]], viewer: str | None
) -> list[Series]:
    """Percentiles are folded per calendar bucket (day, ISO week, month): a point is its whole
    bucket's figure, even where the period cuts the bucket. The destination and the operator
    get the destination's figure; a source gets its own pair's."""
    granularity = period.granularity.value
    series: list[Series] = []
    for stored, destination, source, dimension in sorted(keys):
        whole = viewer is None or viewer == destination
        if dimension != granularity or (source == "") != whole:
            continue
        by_day = table[(stored, destination, source, dimension)]
        points = []
        for start, in_bucket in buckets(period):
            calendar_start = bucket_start(date.fromisoformat(in_bucket[0]), period.granularity)
            figure = by_day.get(calendar_start.isoformat())
            points.append(Point(start, figure.value if figure is not None else None))
        series.append(Series(destination, source, "", tuple(points)))
    return series


def _cohort_series(
    metric: Metric, period: Period, table: Table, keys: set[tuple[str, str, str, str]]
) -> list[Series]:
    """One series per (partner, months since first link); one point per cohort month."""
    months = sorted({day.replace(day=1) for day in days(period.start, period.end)})
    series: list[Series] = []
    for stored, subject, other, dimension in sorted(
        keys, key=lambda k: (k[1], k[2], int(k[3] or 0))
    ):
        if stored != metric.name:
            continue
        by_day = table[(stored, subject, other, dimension)]
        points = []
        for month in months:
            figure = by_day.get(month.isoformat())
            if figure is not None:
                points.append(
                    Point(month, figure.value if figure.shown else None, not figure.shown)
                )
        series.append(Series(subject, other, dimension, tuple(points)))
    return series
