"""The demo's last act: each brand reads a few of the coalition's measures for the settled day.

What a brand sees is what the hub lets it see: pairs it is party to, its own figures, and no
member count below the release threshold (docs/metrics.md). The demo has two members, so its
member counts print as withheld: that is the privacy rule at work, not missing data.
"""

from __future__ import annotations

from decimal import Decimal

from coalition.v1 import analytics_pb2
from partners.sdk.analytics_client import AnalyticsClient, point_value
from partners.sdk.connection import HubConnection

# (partner asking, metric, what the figure is), in the order printed.
SHOWN = (
    ("skyway", "transfer_count", "transfers completed"),
    ("skyway", "transfer_points_out", "points sent"),
    ("skyway", "quote_conversion", "quotes used / issued"),
    ("harbor", "time_to_credit_p50_ms", "median time to credit (ms)"),
    ("harbor", "rejection_rate", "credits rejected / resolved"),
    ("orbit", "active_members_30d", "active members, last 30 days"),
)


def _figure(value: int | Decimal | None, suppressed: bool) -> str:
    if suppressed:
        return "withheld (fewer than 11 members)"
    if value is None:
        return "none"
    return f"{value:,}" if isinstance(value, int) else str(value)


def _label(series: analytics_pb2.MetricSeries) -> str:
    label = series.subject_partner_id
    if series.counterpart_partner_id:
        label += f" -> {series.counterpart_partner_id}"
    if series.dimension:
        label += f" [{series.dimension}]"
    return label


def show_kpis(connections: dict[str, HubConnection], business_day: str) -> None:
    """Prints each SHOWN metric for the day as its partner sees it (GetMetricSeries)."""
    print(f"\n== the coalition's measures for {business_day}, as each brand sees them ==")
    for partner_id, metric, meaning in SHOWN:
        client = AnalyticsClient(connections[partner_id])
        response = client.metric_series(metric, business_day, business_day)
        print(f"  {partner_id} asks for {metric} ({meaning}):")
        if not response.series:
            print("    no figures for the day")
        for series in response.series:
            for point in series.points:
                figure = _figure(point_value(point), point.suppressed)
                print(f"    {_label(series):<24} {figure}")
