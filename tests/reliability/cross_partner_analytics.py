"""The cross-partner cases of AnalyticsService (docs/metrics.md, "Who sees what"): orbit, party
to no pair of skyway and harbor, gets no cell about them, no member count below the release
threshold, no coalition total, and no other partner's programme totals.

Kept apart from test_cross_partner.py, which composes these into its table of cases; the world
is that module's (skyway -> harbor and orbit -> harbor each completed one transfer on the
settled, folded business day).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol, TypeVar

from google.protobuf.message import Message

from coalition.v1 import analytics_pb2 as apb
from exchange.domain.metrics import COALITION, MEMBER_CELL_MIN, METRICS, Kind, Metric, Scope
from partners.sdk import HubConnection
from tests.support.databases import REPLAY_BOOKKEEPING, table_snapshot

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from tests.reliability.conftest import ReliabilityTally

OWNER, COUNTERPARTY, OUTSIDER = "skyway", "harbor", "orbit"
ANALYTICS = "/coalition.v1.AnalyticsService/"
# A read stores nothing; a signed call still spends its nonce and records its idempotency key.
REQUEST_BOOKKEEPING = REPLAY_BOOKKEEPING | {"idempotency_records"}
NO_PARTNER = "nobody"  # a counterpart no partner of the coalition is
# Months the cases report for, one per case, so they hold in any order on a shared world.
OWN_REPORT_PERIOD, OTHERS_REPORT_PERIOD, THREE_REPORTERS_PERIOD = "2021-03", "2021-04", "2021-05"
Reply = TypeVar("Reply", bound=Message)


class CrossPartnerWorld(Protocol):
    """What the cases need of test_cross_partner's world."""

    business_day: str

    @property
    def engine(self) -> Engine: ...

    @property
    def outsider(self) -> HubConnection: ...

    def connection(self, partner_id: str) -> HubConnection: ...


AnalyticsCase = Callable[[CrossPartnerWorld, "ReliabilityTally"], None]


def call(connection: HubConnection, method: str, request: Message, reply: type[Reply]) -> Reply:
    return connection.call(ANALYTICS + method, request, reply, changes_state=True)


def series(
    connection: HubConnection, world: CrossPartnerWorld, metric: Metric, counterpart: str = ""
) -> apb.GetMetricSeriesResponse:
    """One metric over the settled day, as `connection`'s partner sees it."""
    granularity = apb.GRANULARITY_MONTH if metric.kind is Kind.COHORT else apb.GRANULARITY_DAY
    request = apb.GetMetricSeriesRequest(
        metric=metric.name,
        start_date=world.business_day,
        end_date=world.business_day,
        granularity=granularity,
        counterpart_partner_id=counterpart,
    )
    return call(connection, "GetMetricSeries", request, apb.GetMetricSeriesResponse)


def day_values(response: apb.GetMetricSeriesResponse) -> dict[tuple[str, str], list[int]]:
    return {
        (s.subject_partner_id, s.counterpart_partner_id): [p.integer_value for p in s.points]
        for s in response.series
    }


def released_member_counts(response: apb.GetMetricSeriesResponse) -> tuple[list[int], int]:
    """(the member counts shown, how many points were withheld)."""
    points = [point for s in response.series for point in s.points]
    shown = [p.integer_value for p in points if p.WhichOneof("value") == "integer_value"]
    return shown, sum(p.suppressed for p in points)


def check_outsider_series(world: CrossPartnerWorld, metric: Metric) -> int:
    """orbit's series of one metric; returns how many of its member counts were withheld."""
    view = series(world.outsider, world, metric)
    keys = [(s.subject_partner_id, s.counterpart_partner_id) for s in view.series]
    assert all(OUTSIDER in key for key in keys), f"{metric.name}: orbit is shown {keys}"
    assert all(subject != COALITION for subject, _ in keys), f"{metric.name}: {keys}"
    if metric.scope is Scope.COALITION:
        assert not keys, f"{metric.name} is the operator's alone, orbit is shown {keys}"
    withheld = 0
    if metric.counts_members:
        shown, withheld = released_member_counts(view)
        small = [n for n in shown if 0 < n < MEMBER_CELL_MIN]
        assert not small, f"{metric.name}: member counts {small} shown to orbit"
    # About the pair skyway -> harbor, orbit learns what it learns about a partner that is not.
    about_pair = series(world.outsider, world, metric, OWNER)
    about_nobody = series(world.outsider, world, metric, NO_PARTNER)
    assert about_pair == about_nobody, f"{metric.name}: orbit asking about skyway: {about_pair}"
    assert not about_pair.series, f"{metric.name}: {about_pair}"
    return withheld


def metric_series_case(world: CrossPartnerWorld, tally: ReliabilityTally) -> None:
    """Every measure, as orbit sees it: its own pairs and figures only, and nothing about
    skyway -> harbor that it would not get for a partner that does not exist."""
    transfers = METRICS["transfer_count"]
    owner_view = day_values(series(world.connection(OWNER), world, transfers))
    assert owner_view.get((OWNER, COUNTERPARTY)) == [1], "the world holds the pair to hide"
    outsider_view = day_values(series(world.outsider, world, transfers))
    assert outsider_view.get((OUTSIDER, COUNTERPARTY)) == [1], "orbit sees its own pair"
    before = table_snapshot(world.engine, exclude=REQUEST_BOOKKEEPING)
    withheld = sum(check_outsider_series(world, metric) for metric in METRICS.values())
    assert table_snapshot(world.engine, exclude=REQUEST_BOOKKEEPING) == before
    assert withheld, "orbit's own member counts (one member) are withheld, not shown"
    tally.add("cross-partner: measures probed", len(METRICS))


FIGURES = {
    OWNER: (500_000, 300_000, 20_000, 900),
    COUNTERPARTY: (700_000, 400_000, 10_000, 1_200),
    OUTSIDER: (90_000, 60_000, 3_000, 150),
}


def report(connection: HubConnection, period: str) -> None:
    issued, redeemed, expired, active = FIGURES[connection.partner_id]
    request = apb.ReportProgrammeTotalsRequest(
        period=period,
        points_issued=issued,
        points_redeemed=redeemed,
        points_expired=expired,
        active_members=active,
    )
    call(connection, "ReportProgrammeTotals", request, apb.ReportProgrammeTotalsResponse)


def comparison(connection: HubConnection, period: str) -> apb.GetProgrammeComparisonResponse:
    request = apb.GetProgrammeComparisonRequest(period=period)
    return call(connection, "GetProgrammeComparison", request, apb.GetProgrammeComparisonResponse)


def own_values(response: apb.GetProgrammeComparisonResponse) -> tuple[int | None, ...]:
    return tuple(f.own_value if f.HasField("own_value") else None for f in response.figures)


def quartiles(response: apb.GetProgrammeComparisonResponse) -> list[str]:
    return [q for f in response.figures for q in (f.lower_quartile, f.median, f.upper_quartile)]


def report_request(world: CrossPartnerWorld) -> apb.ReportProgrammeTotalsRequest:
    issued, redeemed, expired, active = FIGURES[OUTSIDER]
    return apb.ReportProgrammeTotalsRequest(
        period=OWN_REPORT_PERIOD,
        points_issued=issued,
        points_redeemed=redeemed,
        points_expired=expired,
        active_members=active,
    )


def reported_for_orbit_alone(world: CrossPartnerWorld, response: Message) -> None:
    """orbit's report is its own: it reads it back; skyway learns only that one partner
    reported, never what (one reporter is below PROGRAMME_REPORTERS_MIN)."""
    assert isinstance(response, apb.ReportProgrammeTotalsResponse) and response.report_time.seconds
    mine = comparison(world.outsider, OWN_REPORT_PERIOD)
    assert own_values(mine) == FIGURES[OUTSIDER]
    seen_by_owner = comparison(world.connection(OWNER), OWN_REPORT_PERIOD)
    assert seen_by_owner.reporting_partners == 1 and not seen_by_owner.coalition_shown
    assert own_values(seen_by_owner) == (None,) * len(FIGURES[OUTSIDER])
    assert not any(quartiles(seen_by_owner))


def programme_comparison_case(world: CrossPartnerWorld, tally: ReliabilityTally) -> None:
    """Two others reported: orbit gets their number only. With orbit the third, the quartiles
    are shown, and nothing in them names a partner."""
    for partner_id in (OWNER, COUNTERPARTY):
        report(world.connection(partner_id), OTHERS_REPORT_PERIOD)
        report(world.connection(partner_id), THREE_REPORTERS_PERIOD)
    before = table_snapshot(world.engine, exclude=REQUEST_BOOKKEEPING)
    two_others = comparison(world.outsider, OTHERS_REPORT_PERIOD)
    assert table_snapshot(world.engine, exclude=REQUEST_BOOKKEEPING) == before
    assert two_others.reporting_partners == 2 and not two_others.coalition_shown
    assert own_values(two_others) == (None,) * len(FIGURES[OUTSIDER])
    assert not any(quartiles(two_others)), f"quartiles of two reporters: {two_others}"
    report(world.outsider, THREE_REPORTERS_PERIOD)
    three = comparison(world.outsider, THREE_REPORTERS_PERIOD)
    assert three.reporting_partners == 3 and three.coalition_shown
    assert own_values(three) == FIGURES[OUTSIDER]
    body = three.SerializeToString()
    assert OWNER.encode() not in body and COUNTERPARTY.encode() not in body
    tally.add("cross-partner: programme comparisons checked", 2)
