"""AnalyticsService: translates requests into the measures' handlers and results into responses."""

from __future__ import annotations

from decimal import Decimal

from google.protobuf.descriptor import ServiceDescriptor

from coalition.v1 import analytics_pb2 as pb
from exchange.api.convert import timestamp
from exchange.api.pipeline import READ_ONLY, STATE_CHANGING, CallContext
from exchange.api.registry import rpc
from exchange.domain.metrics import Metric
from exchange.domain.metrics_release import Point, Series
from exchange.domain.ports import Clock
from exchange.services import analytics

GRANULARITY_NAMES = {
    pb.GRANULARITY_DAY: "day",
    pb.GRANULARITY_WEEK: "week",
    pb.GRANULARITY_MONTH: "month",
}


def point_message(point: Point) -> pb.MetricPoint:
    message = pb.MetricPoint(start_date=point.start_date.isoformat(), suppressed=point.suppressed)
    if isinstance(point.value, Decimal):
        message.decimal_value = str(point.value)
    elif point.value is not None:
        message.integer_value = point.value
    return message


def series_response(metric: Metric, found: list[Series]) -> pb.GetMetricSeriesResponse:
    return pb.GetMetricSeriesResponse(
        metric=metric.name,
        unit=metric.unit,
        series=[
            pb.MetricSeries(
                subject_partner_id=s.subject,
                counterpart_partner_id=s.counterpart,
                dimension=s.dimension,
                points=[point_message(p) for p in s.points],
            )
            for s in found
        ],
    )


def comparison_response(
    comparison: analytics.ProgrammeComparison,
) -> pb.GetProgrammeComparisonResponse:
    response = pb.GetProgrammeComparisonResponse(
        period=comparison.period,
        reporting_partners=comparison.reporters,
        coalition_shown=comparison.coalition is not None,
    )
    for name in analytics.PROGRAMME_FIGURES:
        figure = pb.ProgrammeFigure(name=name)
        if comparison.own is not None:
            figure.own_value = getattr(comparison.own, name)
        if comparison.coalition is not None:
            summary = comparison.coalition[name]
            figure.lower_quartile = str(summary.lower)
            figure.median = str(summary.median)
            figure.upper_quartile = str(summary.upper)
        response.figures.append(figure)
    return response


class AnalyticsServicer:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock

    @rpc("GetMetricSeries", READ_ONLY)
    def get_metric_series(
        self, request: pb.GetMetricSeriesRequest, call: CallContext
    ) -> pb.GetMetricSeriesResponse:
        query = analytics.SeriesQuery(
            request.metric,
            request.start_date,
            request.end_date,
            GRANULARITY_NAMES.get(request.granularity, ""),
            request.counterpart_partner_id,
        )
        metric, found = analytics.metric_series(call.uow.metrics, call.partner_id, query)
        return series_response(metric, found)

    @rpc("ReportProgrammeTotals", STATE_CHANGING)
    def report_programme_totals(
        self, request: pb.ReportProgrammeTotalsRequest, call: CallContext
    ) -> pb.ReportProgrammeTotalsResponse:
        figures = {name: getattr(request, name) for name in analytics.PROGRAMME_FIGURES}
        report = analytics.report_programme(
            call.uow, self.clock, call.partner_id, request.period, figures
        )
        return pb.ReportProgrammeTotalsResponse(report_time=timestamp(report.reported_at_us))

    @rpc("GetProgrammeComparison", READ_ONLY)
    def get_programme_comparison(
        self, request: pb.GetProgrammeComparisonRequest, call: CallContext
    ) -> pb.GetProgrammeComparisonResponse:
        comparison = analytics.programme_comparison(call.uow, call.partner_id, request.period)
        return comparison_response(comparison)


def analytics_service(clock: Clock) -> tuple[ServiceDescriptor, AnalyticsServicer]:
    """The service and its servicer, as the composition root registers them."""
    return pb.DESCRIPTOR.services_by_name["AnalyticsService"], AnalyticsServicer(clock)
