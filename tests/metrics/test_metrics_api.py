"""AnalyticsService through a real hub, and `coalition metrics` agreeing with it."""

from __future__ import annotations

import argparse
import json
from datetime import date

import grpc
import pytest
from sqlalchemy import Engine

from coalition.v1 import analytics_pb2 as pb
from exchange.metrics_cli import add_metrics_command, cmd_metrics
from partners.sdk.connection import HubError
from tests.metrics.records import Records, noon_us
from tests.support.coalition import TestCoalition

SERVICE = "/coalition.v1.AnalyticsService/"
DAY1, DAY2 = date(2026, 3, 2), date(2026, 3, 3)
METRICS = (
    "transfer_count",
    "links_new",
    "transfer_settlement_value",
    "members_linked_2",
    "time_to_credit_p95_ms",
    "quote_conversion",
    "net_position_30d",
)


def _seed(engine: Engine) -> None:
    """Two settled days on the hub's own database: 12 members at skyway and harbor, 3 at
    skyway and orbit, transfers both ways (the test coalition's partners already exist)."""
    records = Records(engine)
    members = [records.member(("skyway", "harbor")) for _ in range(12)]
    orbit = [records.member(("skyway", "orbit")) for _ in range(3)]
    for n, cmid in enumerate(members[:5]):
        records.transfer(
            ("skyway", "harbor"), cmid, (1000, 750), 300, noon_us(DAY1), duration_s=n + 1
        )
        records.quote(("skyway", "harbor"), cmid, noon_us(DAY1), used=n % 2 == 0)
    records.transfer(("orbit", "skyway"), orbit[0], (2000, 1000), 500, noon_us(DAY2))
    records.settle(DAY1)
    records.settle(DAY2)


def _series(
    coalition: TestCoalition, partner: str, metric: str, granularity: int
) -> pb.GetMetricSeriesResponse:
    request = pb.GetMetricSeriesRequest(
        metric=metric,
        start_date=DAY1.isoformat(),
        end_date=DAY2.isoformat(),
        granularity=granularity,
    )
    return coalition.connection(partner).call(
        SERVICE + "GetMetricSeries", request, pb.GetMetricSeriesResponse, changes_state=False
    )


def _cli_json(
    database_url: str,
    partner: str,
    metric: str,
    granularity: str,
    capsys: pytest.CaptureFixture[str],
) -> dict[str, object]:
    parser = argparse.ArgumentParser()
    add_metrics_command(parser.add_subparsers(dest="command"))
    args = parser.parse_args(
        [
            "metrics",
            "--metric",
            metric,
            "--from",
            DAY1.isoformat(),
            "--to",
            DAY2.isoformat(),
            "--granularity",
            granularity,
            "--partner",
            partner,
            "--format",
            "json",
            "--database-url",
            database_url,
        ]
    )
    capsys.readouterr()
    cmd_metrics(args)
    result: dict[str, object] = json.loads(capsys.readouterr().out)
    return result


def _as_json(response: pb.GetMetricSeriesResponse) -> dict[str, object]:
    def value(point: pb.MetricPoint) -> object:
        kind = point.WhichOneof("value")
        return None if kind is None else getattr(point, kind)

    return {
        "metric": response.metric,
        "unit": response.unit,
        "series": [
            {
                "subject": s.subject_partner_id,
                "counterpart": s.counterpart_partner_id,
                "dimension": s.dimension,
                "points": [
                    {"start_date": p.start_date, "value": value(p), "suppressed": p.suppressed}
                    for p in s.points
                ],
            }
            for s in response.series
        ],
    }


@pytest.mark.parametrize("partner", ["skyway", "orbit"])
def test_the_cli_and_the_rpc_agree(
    coalition: TestCoalition,
    database_url: str,
    partner: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _seed(coalition.hub.engine)
    for metric in METRICS:
        for granularity, name in ((pb.GRANULARITY_DAY, "day"), (pb.GRANULARITY_WEEK, "week")):
            rpc = _as_json(_series(coalition, partner, metric, granularity))
            assert rpc == _cli_json(database_url, partner, metric, name, capsys), metric
    orbit_view = _as_json(_series(coalition, "orbit", "transfer_count", pb.GRANULARITY_DAY))
    assert [(s["subject"], s["counterpart"]) for s in orbit_view["series"]] == [  # type: ignore[index, union-attr]
        ("orbit", "skyway")
    ]


def test_bad_periods_and_granularities_are_refused_naming_each_field(
    coalition: TestCoalition,
) -> None:
    request = pb.GetMetricSeriesRequest(
        metric="transfer_count", start_date="2026-03-09", end_date="2026-03-02"
    )
    with pytest.raises(HubError) as refused:
        coalition.connection("skyway").call(
            SERVICE + "GetMetricSeries", request, pb.GetMetricSeriesResponse, changes_state=False
        )
    assert refused.value.code is grpc.StatusCode.INVALID_ARGUMENT
    assert set(refused.value.field_violations) == {"end_date", "granularity"}


def _report(coalition: TestCoalition, partner: str, issued: int) -> None:
    request = pb.ReportProgrammeTotalsRequest(
        period="2026-03",
        points_issued=issued,
        points_redeemed=issued // 2,
        points_expired=issued // 10,
        active_members=issued // 100,
    )
    coalition.connection(partner).call(
        SERVICE + "ReportProgrammeTotals",
        request,
        pb.ReportProgrammeTotalsResponse,
        changes_state=True,
    )


def _comparison(coalition: TestCoalition, partner: str) -> pb.GetProgrammeComparisonResponse:
    return coalition.connection(partner).call(
        SERVICE + "GetProgrammeComparison",
        pb.GetProgrammeComparisonRequest(period="2026-03"),
        pb.GetProgrammeComparisonResponse,
        changes_state=False,
    )


def test_programme_quartiles_only_once_three_partners_reported(
    coalition: TestCoalition,
) -> None:
    _report(coalition, "skyway", 10_000)
    _report(coalition, "harbor", 30_000)
    early = _comparison(coalition, "skyway")
    assert not early.coalition_shown and early.reporting_partners == 2
    assert all(f.median == "" and f.lower_quartile == "" for f in early.figures)
    assert early.figures[0].own_value == 10_000
    _report(coalition, "orbit", 20_000)
    _report(coalition, "skyway", 40_000)  # a second report replaces the first
    shown = _comparison(coalition, "harbor")
    issued = shown.figures[0]
    assert shown.coalition_shown and shown.reporting_partners == 3
    assert (issued.name, issued.own_value) == ("points_issued", 30_000)
    assert (issued.lower_quartile, issued.median, issued.upper_quartile) == (
        "25000",
        "30000",
        "35000",
    )
