"""Coalition measures: folding a settled day into rollups, and answering for them."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction

from exchange.domain import metrics_rollup as rollup
from exchange.domain.errors import FieldChecks
from exchange.domain.metrics import (
    ACTIVE_WINDOWS_DAYS,
    HELD_AFTER_DAYS,
    METRICS,
    PERIOD_PATTERN,
    PROGRAMME_REPORTERS_MIN,
    Cell,
    Granularity,
    Kind,
    Metric,
    MetricsRepository,
    ProgrammeReport,
    bucket_start,
    month_of,
    parse_period,
)
from exchange.domain.metrics_release import Series, build_series
from exchange.domain.ports import Clock, UnitOfWork, UnitOfWorkFactory, WriteConflict
from settlement.calendar import CoalitionCalendar

log = logging.getLogger(__name__)
PROGRAMME_FIGURES = ("points_issued", "points_redeemed", "points_expired", "active_members")
PROGRAMME_FIGURE_MAX = 10**15


def day_window(calendar: CoalitionCalendar, business_day: date) -> tuple[int, int]:
    """[previous cut-off, this cut-off): the instants of one business day."""
    return (calendar.cutoff_us(business_day - timedelta(days=1)), calendar.cutoff_us(business_day))


def fold_day(
    metrics: MetricsRepository, calendar: CoalitionCalendar, business_day: str, at_us: int
) -> None:
    """Rolls one settled business day up into day cells; folding it again stores the same."""
    day = date.fromisoformat(business_day)
    window = day_window(calendar, day)
    transfers = metrics.completed_transfers(business_day)
    grants = metrics.grants(window)
    replace = metrics.replace_cells
    volume = rollup.transfer_cells(business_day, transfers)
    replace(business_day, rollup.TRANSFER_METRICS, volume)
    _fold_time_to_credit(metrics, day, [c for c in volume if c.metric == "ttc_bucket"])
    outcomes = rollup.outcome_cells(business_day, metrics.resolutions(window))
    replace(business_day, rollup.OUTCOME_METRICS, outcomes)
    replace(
        business_day, rollup.QUOTE_METRICS, rollup.quote_cells(business_day, metrics.quotes(window))
    )
    granted = rollup.grant_cells(business_day, "status_match_granted", grants)
    replace(business_day, ["status_match_granted"], granted)
    positions = rollup.net_position_cells(business_day, metrics.net_positions(business_day))
    replace(business_day, ["net_position"], positions)
    _fold_held(metrics, calendar, day, window[1])
    linked = _fold_links(metrics, business_day)
    active = rollup.day_activity(transfers, metrics.tier_reports(window), grants, linked)
    metrics.record_activity(sorted(active), business_day)
    _fold_active(metrics, day)
    _fold_cohorts(metrics, business_day)
    metrics.mark_folded(business_day, at_us)
    log.info("metrics of business day %s rolled up", business_day)


def _fold_time_to_credit(metrics: MetricsRepository, day: date, histogram: list[Cell]) -> None:
    """Percentiles of the day, and of its week and month so far (histograms kept per week and
    month, each day's added once), so no series merges histograms."""
    names = list(rollup.PERCENTILE_METRICS)
    metrics.replace_cells(
        day.isoformat(), names, rollup.percentile_cells(day.isoformat(), "day", histogram), "day"
    )
    for granularity in (Granularity.WEEK, Granularity.MONTH):
        start = bucket_start(day, granularity).isoformat()
        metric = rollup.HISTOGRAM_METRICS[granularity.value]
        merged = rollup.merged_histograms(
            [*metrics.cells([metric], start, start), *histogram], metric, start
        )
        metrics.replace_cells(start, [metric], merged)
        cells = rollup.percentile_cells(start, granularity.value, merged)
        metrics.replace_cells(start, names, cells, granularity.value)


def _fold_held(
    metrics: MetricsRepository, calendar: CoalitionCalendar, day: date, held_at_us: int
) -> None:
    """Grants made HELD_AFTER_DAYS before this day, still held at its end."""
    granted_day = day - timedelta(days=HELD_AFTER_DAYS)
    held = metrics.grants(day_window(calendar, granted_day), held_at_us=held_at_us)
    cells = rollup.grant_cells(granted_day.isoformat(), "status_match_held_90d", held)
    metrics.replace_cells(granted_day.isoformat(), ["status_match_held_90d"], cells)


def _fold_links(metrics: MetricsRepository, business_day: str) -> dict[str, frozenset[str]]:
    linked = metrics.linked_brands()
    cells, added, removed = rollup.link_changes(business_day, linked, metrics.link_snapshot())
    metrics.save_link_snapshot(added, removed)
    cells += rollup.linked_stock_cells(business_day, linked)
    metrics.replace_cells(business_day, rollup.LINK_METRICS, cells)
    return linked


def _fold_active(metrics: MetricsRepository, day: date) -> None:
    for window_days in ACTIVE_WINDOWS_DAYS:
        since = (day - timedelta(days=window_days - 1)).isoformat()
        cells = rollup.active_cells(day.isoformat(), window_days, metrics.active_counts(since))
        metrics.replace_cells(day.isoformat(), [f"active_members_{window_days}d"], cells)


def _fold_cohorts(metrics: MetricsRepository, business_day: str) -> None:
    """This month's column of every cohort's retention, as of this day."""
    month = month_of(business_day)
    cells = rollup.cohort_cells(month, metrics.cohort_counts(month))
    by_cohort: dict[tuple[str, str], list[Cell]] = {}
    for cell in cells:
        by_cohort.setdefault((cell.business_day, cell.dimension), []).append(cell)
    for (cohort_day, dimension), cohort in sorted(by_cohort.items()):
        metrics.replace_cells(cohort_day, rollup.COHORT_METRICS, cohort, dimension=dimension)


@dataclass(frozen=True)
class SeriesQuery:
    metric: str
    start_date: str
    end_date: str
    granularity: str
    counterpart_partner_id: str = ""


def metric_series(
    metrics: MetricsRepository, viewer: str | None, query: SeriesQuery
) -> tuple[Metric, list[Series]]:
    """The series of one metric the viewer may see (None: the operator, who sees all)."""
    period = parse_period(query.metric, query.start_date, query.end_date, query.granularity)
    metric = METRICS[query.metric]
    first = period.start - timedelta(days=metric.window_days)
    if metric.kind is Kind.COHORT:
        first = period.start.replace(day=1)
    if metric.kind is Kind.PERCENTILE:
        first = bucket_start(period.start, period.granularity)
    # A partner's view reads its own cells only: every release decision about a cell it may
    # see depends on cells of the same partner (docs/metrics.md), never on others'.
    cells = metrics.cells(metric.stored, first.isoformat(), period.end.isoformat(), viewer)
    folded = metrics.folded_days(period.start.isoformat(), period.end.isoformat())
    series = build_series(metric, period, cells, folded, viewer, query.counterpart_partner_id)
    return metric, series


def report_programme(
    uow: UnitOfWork, clock: Clock, partner_id: str, period: str, figures: dict[str, int]
) -> ProgrammeReport:
    checks = FieldChecks()
    checks.require(bool(PERIOD_PATTERN.fullmatch(period)), "period", "must be a month, YYYY-MM")
    for name in PROGRAMME_FIGURES:
        value = figures.get(name, 0)
        checks.require(0 <= value <= PROGRAMME_FIGURE_MAX, name, "must be 0 or more")
    checks.raise_if_any()
    issued, redeemed, expired, active = (figures.get(n, 0) for n in PROGRAMME_FIGURES)
    report = ProgrammeReport(partner_id, period, issued, redeemed, expired, active, clock.now_us())
    uow.metrics.save_report(report)
    return report


@dataclass(frozen=True)
class Quartiles:
    lower: Decimal
    median: Decimal
    upper: Decimal


@dataclass(frozen=True)
class ProgrammeComparison:
    period: str
    own: ProgrammeReport | None
    reporters: int
    # None until PROGRAMME_REPORTERS_MIN partners reported the period.
    coalition: dict[str, Quartiles] | None


def programme_comparison(
    uow: UnitOfWork, partner_id: str | None, period: str
) -> ProgrammeComparison:
    checks = FieldChecks()
    checks.require(bool(PERIOD_PATTERN.fullmatch(period)), "period", "must be a month, YYYY-MM")
    checks.raise_if_any()
    reports = uow.metrics.reports(period)
    own = next((r for r in reports if r.partner_id == partner_id), None)
    if len(reports) < PROGRAMME_REPORTERS_MIN:
        return ProgrammeComparison(period, own, len(reports), None)
    summary = {
        name: quartiles(sorted(getattr(r, name) for r in reports)) for name in PROGRAMME_FIGURES
    }
    return ProgrammeComparison(period, own, len(reports), summary)


def quartiles(values: list[int]) -> Quartiles:
    """Exact linear-interpolation quartiles (the 'inclusive' method), as Decimals."""
    return Quartiles(*(_quantile(values, Fraction(q, 4)) for q in (1, 2, 3)))


def _quantile(values: list[int], q: Fraction) -> Decimal:
    position = q * (len(values) - 1)
    below = int(position)
    above = min(below + 1, len(values) - 1)
    exact = values[below] + (position - below) * (values[above] - values[below])
    return Decimal(exact.numerator) / Decimal(exact.denominator)


def roll_up_settled_day(
    uows: UnitOfWorkFactory, calendar: CoalitionCalendar, business_day: str, at_us: int
) -> bool:
    """Folds a settled day once, in its own unit of work; False if it was folded already.

    Runs after the settlement commits: a failure here never holds up a settlement, and the
    next settlement call for the day (which finds it settled) folds it then.
    """

    def fold(uow: UnitOfWork) -> bool:
        if uow.metrics.folded_days(business_day, business_day):
            return False
        fold_day(uow.metrics, calendar, business_day, at_us)
        return True

    try:
        return uows.run(fold)
    except WriteConflict:
        return False  # another process folded the day at the same moment
