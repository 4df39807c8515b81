"""The KPI page's query and figures: one metric's series, read as AnalyticsService reads them.

Every figure comes from `analytics.metric_series` with the viewer AnalyticsService would use:
a partner user's own partner, or None (every pair, the coalition totals) for the operator. So
the privacy rules (pairs to their parties, member counts below the threshold withheld) are
the hub's, applied before the console sees anything.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from functools import partial

from exchange.console.kpi_chart import Chart, series_chart
from exchange.console.kpi_values import (
    NO_FIGURE,
    SUPPRESSED,
    figure,
    label_of,
    series_title,
    unit_of,
)
from exchange.domain.errors import InvalidArgument
from exchange.domain.metrics import Granularity, Kind, Metric, MetricsRepository, Period
from exchange.domain.metrics import parse_period as parse_series_period
from exchange.domain.metrics_release import Point, Series
from exchange.services import analytics

PERIOD_DAYS_DEFAULT = 90
DAILY_SPAN_DAYS_MAX = 366  # a daily chart of more days has bars under a pixel wide
METRIC_DEFAULT = "transfer_count"
GRANULARITY_DEFAULT = Granularity.DAY.value
SERIES_DRAWN_MAX = 24
FIELD_CHARS_MAX = 40
# The service's field names → the form's fields and the labels the user reads.
FORM_FIELDS = {
    "metric": ("metric", "Metric"),
    "start_date": ("from", "From"),
    "end_date": ("to", "To"),
    "granularity": ("granularity", "Granularity"),
}


@dataclass(frozen=True)
class KpiQuery:
    """The form's values as typed (defaults filled in), kept for showing the form again."""

    metric: str
    start_date: str
    end_date: str
    granularity: str
    partner: str


@dataclass(frozen=True)
class FieldError:
    field: str  # the form field's name
    label: str
    message: str

    @property
    def text(self) -> str:
        return f"{self.label}: {self.message}"


class BadQuery(Exception):
    """Form values the page cannot use; each names its field."""

    def __init__(self, errors: list[FieldError]) -> None:
        merged: dict[str, FieldError] = {}
        for error in errors:  # one message per field, so each field points at one message
            before = merged.get(error.field)
            message = f"{before.message}; {error.message}" if before else error.message
            merged[error.field] = FieldError(error.field, error.label, message)
        self.errors = list(merged.values())
        super().__init__("; ".join(error.text for error in self.errors))


def read_query(params: Mapping[str, str], today: date) -> KpiQuery:
    """The form's values, defaults for those left empty: the last PERIOD_DAYS_DEFAULT days up
    to the current business day, daily, transfers completed."""

    def value(name: str) -> str:
        return params.get(name, "").strip()[:FIELD_CHARS_MAX]

    end = value("to") or today.isoformat()
    start = value("from")
    if not start:
        try:
            start = (date.fromisoformat(end) - timedelta(days=PERIOD_DAYS_DEFAULT - 1)).isoformat()
        except ValueError:
            start = (today - timedelta(days=PERIOD_DAYS_DEFAULT - 1)).isoformat()
    return KpiQuery(
        metric=value("metric") or METRIC_DEFAULT,
        start_date=start,
        end_date=end,
        granularity=value("granularity") or GRANULARITY_DEFAULT,
        partner=value("partner"),
    )


def checked_period(query: KpiQuery) -> Period:
    """The hub's own period rules (parse_period), with the console's one more: a daily chart
    spans at most DAILY_SPAN_DAYS_MAX days."""
    try:
        period = parse_series_period(
            query.metric, query.start_date, query.end_date, query.granularity
        )
    except InvalidArgument as refused:
        errors = [_form_error(v.field, v.description) for v in refused.field_violations]
        raise BadQuery(errors) from None
    days = (period.end - period.start).days + 1
    if period.granularity is Granularity.DAY and days > DAILY_SPAN_DAYS_MAX:
        message = f"a daily chart spans at most {DAILY_SPAN_DAYS_MAX} days; choose week or month"
        raise BadQuery([_form_error("granularity", message)])
    return period


def _form_error(service_field: str, message: str) -> FieldError:
    field, label = FORM_FIELDS.get(service_field, (service_field, service_field))
    if service_field == "end_date" and "before start_date" in message:
        message = "must not be before From"
    return FieldError(field, label, message)


def series_of(
    metrics: MetricsRepository, viewer: str | None, query: KpiQuery, granularity: str = ""
) -> tuple[Metric, list[Series]]:
    """One metric's series for the viewer, exactly as GetMetricSeries answers it."""
    found = analytics.SeriesQuery(
        query.metric, query.start_date, query.end_date, granularity or query.granularity
    )
    return analytics.metric_series(metrics, viewer, found)


@dataclass(frozen=True)
class Row:
    start_date: str
    text: str  # the figure as written, "suppressed", or "no figure"
    suppressed: bool
    negative: bool


@dataclass(frozen=True)
class SeriesView:
    title: str
    unit: str
    chart: Chart
    rows: list[Row]
    suppressed_count: int


def series_views(metric: Metric, found: list[Series]) -> list[SeriesView]:
    """A chart and a table per series, the first SERIES_DRAWN_MAX of them."""
    whole = metric.kind is not Kind.RATIO
    views = []
    for series in found[:SERIES_DRAWN_MAX]:
        title = series_title(metric, series.subject, series.counterpart, series.dimension)
        label = partial(figure, metric, series.dimension)
        rows = [_row(metric, series.dimension, point) for point in series.points]
        chart = series_chart(series.points, label, f"{label_of(metric.name)}, {title}", whole)
        suppressed = sum(1 for row in rows if row.suppressed)
        unit = unit_of(metric, series.dimension)
        views.append(SeriesView(title, unit, chart, rows, suppressed))
    return views


def _row(metric: Metric, dimension: str, point: Point) -> Row:
    day = point.start_date.isoformat()
    if point.suppressed:
        return Row(day, SUPPRESSED, True, False)
    if point.value is None:
        return Row(day, NO_FIGURE, False, False)
    return Row(day, figure(metric, dimension, point.value), False, point.value < 0)
