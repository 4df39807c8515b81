"""Typed calls to AnalyticsService: the coalition's measures as the calling partner may see them.

Every answer is hub-signed and verified by the connection like any other. A member-count figure
the hub withholds (too few members to be shown, docs/metrics.md) arrives as a point with
`suppressed` set and no value: `point_value` gives None for it, never a number.
"""

from __future__ import annotations

from decimal import Decimal

from coalition.v1 import analytics_pb2
from partners.sdk.connection import HubConnection

SERVICE = "/coalition.v1.AnalyticsService/"
GRANULARITIES = {
    "day": analytics_pb2.GRANULARITY_DAY,
    "week": analytics_pb2.GRANULARITY_WEEK,
    "month": analytics_pb2.GRANULARITY_MONTH,
}


def point_value(point: analytics_pb2.MetricPoint) -> int | Decimal | None:
    """The point's figure: an integer, an exact decimal, or None (withheld or undefined)."""
    which = point.WhichOneof("value")
    if point.suppressed or which is None:
        return None
    if which == "integer_value":
        return point.integer_value
    return Decimal(point.decimal_value)


class AnalyticsClient:
    def __init__(self, connection: HubConnection) -> None:
        self.connection = connection

    def metric_series(
        self,
        metric: str,
        start_date: str,
        end_date: str,
        granularity: str = "day",
        counterpart_partner_id: str = "",
    ) -> analytics_pb2.GetMetricSeriesResponse:
        """One metric over [start_date, end_date] (YYYY-MM-DD), grouped by day, week or month."""
        return self.connection.call(
            SERVICE + "GetMetricSeries",
            analytics_pb2.GetMetricSeriesRequest(
                metric=metric,
                start_date=start_date,
                end_date=end_date,
                granularity=GRANULARITIES[granularity],
                counterpart_partner_id=counterpart_partner_id,
            ),
            analytics_pb2.GetMetricSeriesResponse,
            changes_state=False,
        )

    def report_programme_totals(
        self,
        request: analytics_pb2.ReportProgrammeTotalsRequest,
        idempotency_key: str | None = None,
    ) -> analytics_pb2.ReportProgrammeTotalsResponse:
        """Reports this partner's own totals for a month (YYYY-MM), replacing an earlier one."""
        return self.connection.call(
            SERVICE + "ReportProgrammeTotals",
            request,
            analytics_pb2.ReportProgrammeTotalsResponse,
            changes_state=True,
            idempotency_key=idempotency_key,
        )

    def programme_comparison(self, period: str) -> analytics_pb2.GetProgrammeComparisonResponse:
        """This partner's totals for a month beside the coalition's quartiles."""
        return self.connection.call(
            SERVICE + "GetProgrammeComparison",
            analytics_pb2.GetProgrammeComparisonRequest(period=period),
            analytics_pb2.GetProgrammeComparisonResponse,
            changes_state=False,
        )
