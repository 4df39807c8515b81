"""Every measure against a hand-computed two-day coalition, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from exchange.adapters.sql.metrics_repository import SqlMetricsRepository
from exchange.domain.errors import InvalidArgument
from exchange.services import analytics
from tests.metrics.records import SECOND_US, Records, noon_us

DAY1, DAY2 = date(2026, 3, 2), date(2026, 3, 3)  # a Monday and a Tuesday
HELD_DAY = date(2026, 5, 31)  # DAY1 + 90 days
S, H, OR = "skyway", "harbor", "orbit"
Found = dict[tuple[str, str, str], list[tuple[str, object, bool]]]


def build(engine: Engine) -> None:
    """Day 1: 12 members link skyway+harbor, transfer, quote, get status. Day 2: 4 more link
    (3 at skyway+orbit, 1 at all three) and one more transfer."""
    r = Records(engine)
    r.partners()
    r.ladder(H, {"SILVER": 2, "GOLD": 3})
    t1 = noon_us(DAY1)
    members = [r.member((S, H)) for _ in range(12)]
    for cmid, (points, amount, seconds) in zip(
        members,
        [((1000, 750), 300, 1), ((2000, 1500), 600, 2), ((3000, 2250), 900, 10)],
        strict=False,
    ):
        r.transfer((S, H), cmid, points, amount, t1, duration_s=seconds)
    r.transfer((S, H), members[0], (1000, 750), 300, t1, kind="reversal")
    r.transfer((S, H), members[4], (1000, 750), 300, t1, state="voided", void_reason="rejected")
    r.transfer((S, H), members[5], (1000, 750), 300, t1, state="voided", void_reason="timed_out")
    r.transfer((H, S), members[3], (500, 500), 100, t1, duration_s=5)
    for used in (True, True, True, False):
        r.quote((S, H), members[0], t1, used=used)
    for cmid in members[:11]:
        r.grant((S, H), cmid, "GOLD", t1, days=365)
    r.grant((S, H), members[11], "SILVER", t1, days=30)
    r.settle(DAY1)
    t2 = noon_us(DAY2)
    for _ in range(3):
        r.member((S, OR), t2)
    r.member((S, H, OR), t2)
    r.transfer((S, H), members[4], (1000, 750), 300, t2, duration_s=60)
    r.settle(DAY2)
    r.settle(HELD_DAY)


@pytest.fixture
def coalition_engine(engine: Engine) -> Engine:
    build(engine)
    return engine


def series(
    engine: Engine,
    metric: str,
    granularity: str = "day",
    viewer: str | None = None,
    start: date = DAY1,
    end: date = DAY2,
) -> Found:
    query = analytics.SeriesQuery(metric, start.isoformat(), end.isoformat(), granularity)
    with Session(engine) as session:
        _, found = analytics.metric_series(SqlMetricsRepository(session), viewer, query)
    return {
        (s.subject, s.counterpart, s.dimension): [
            (p.start_date.isoformat(), p.value, p.suppressed) for p in s.points
        ]
        for s in found
    }


def days(one: object, two: object) -> list[tuple[str, object, bool]]:
    return [("2026-03-02", one, False), ("2026-03-03", two, False)]


def test_transfer_volume_per_pair_and_day(coalition_engine: Engine) -> None:
    e = coalition_engine
    assert series(e, "transfer_count") == {(S, H, ""): days(3, 1), (H, S, ""): days(1, 0)}
    assert series(e, "transfer_points_out")[(S, H, "")] == days(6000, 1000)
    assert series(e, "transfer_points_in")[(S, H, "")] == days(4500, 750)
    assert series(e, "transfer_settlement_value")[(S, H, "USD")] == days(1800, 300)
    assert series(e, "reversal_count") == {(S, H, ""): days(1, 0)}
    assert series(e, "coalition_total_value") == {("*", "", "USD"): days(1900, 300)}
    weekly = series(e, "transfer_count", "week")
    assert weekly[(S, H, "")] == [("2026-03-02", 4, False)]


def test_conversion_rates_and_cost_ratio(coalition_engine: Engine) -> None:
    e = coalition_engine
    assert series(e, "quotes_issued")[(S, H, "")][0] == ("2026-03-02", 4, False)
    assert series(e, "quote_conversion")[(S, H, "")] == days(Decimal("0.75"), None)
    assert series(e, "transfers_resolved")[(S, H, "")] == days(5, 1)
    assert series(e, "rejection_rate")[(H, "", "")] == days(Decimal("0.2"), Decimal(0))
    assert series(e, "void_rate")[(H, "", "")] == days(Decimal("0.2"), Decimal(0))
    assert series(e, "rejection_rate")[(S, "", "")] == days(Decimal(0), None)
    ratio = series(e, "redemption_cost_ratio")[(S, H, "USD")]
    assert ratio == days(Decimal("0.4"), Decimal("0.4"))


def test_time_to_credit_percentiles_per_destination(coalition_engine: Engine) -> None:
    e = coalition_engine
    # Harbor credited in 1 s, 2 s and 10 s on day 1, in 60 s on day 2.
    assert series(e, "time_to_credit_p50_ms")[(H, "", "")] == days(2000, 60000)
    assert series(e, "time_to_credit_p95_ms")[(H, "", "")] == days(10000, 60000)
    assert series(e, "time_to_credit_p50_ms", "week")[(H, "", "")] == [("2026-03-02", 2000, False)]
    assert series(e, "time_to_credit_p95_ms")[(S, "", "")] == days(5000, None)
    # Skyway sees harbor's figure over skyway's own transfers, and its own figure whole.
    assert series(e, "time_to_credit_p50_ms", viewer=S) == {
        (H, S, ""): days(2000, 60000),
        (S, "", ""): days(5000, None),
    }


def test_link_growth_and_linked_members(coalition_engine: Engine) -> None:
    e = coalition_engine
    links = series(e, "links_new")
    assert links[(H, S, "")] == [("2026-03-02", 12, False), ("2026-03-03", None, True)]
    assert links[(OR, S, "")] == [("2026-03-02", 0, False), ("2026-03-03", None, True)]
    # A week holding a withheld day is withheld: it would give the day away.
    assert series(e, "links_new", "week")[(H, S, "")] == [("2026-03-02", None, True)]
    linked_2 = series(e, "members_linked_2")
    assert linked_2[(S, "", "")] == days(12, 15)
    assert linked_2[("*", "", "")] == [("2026-03-02", 12, False), ("2026-03-03", None, True)]
    assert series(e, "members_linked_3plus")[(S, "", "")][1] == ("2026-03-03", None, True)


def test_active_members_and_cohorts(coalition_engine: Engine) -> None:
    e = coalition_engine
    assert series(e, "active_members_30d")[(S, "", "")] == days(12, 12)
    assert (OR, "", "") not in series(e, "active_members_30d")  # orbit's members never acted
    assert series(e, "active_members_365d", "month")[(H, "", "")] == [("2026-03-02", 12, False)]
    retained = series(e, "retained_members", "month")
    assert retained[(S, "", "0")] == [("2026-03-01", 12, False)]
    # Skyway's March cohort is 16 members, 4 of them not active: the 4 and the 16 would give
    # each other away, so both are withheld.
    assert series(e, "churned_members", "month")[(S, "", "0")] == [("2026-03-01", None, True)]
    assert series(e, "cohort_size", "month")[(S, "", "0")] == [("2026-03-01", None, True)]


def test_status_match_uptake(coalition_engine: Engine) -> None:
    e = coalition_engine
    granted = series(e, "status_match_granted")
    assert granted[(S, H, "3")] == days(11, 0)
    assert granted[(S, H, "2")] == [("2026-03-02", None, True), ("2026-03-03", 0, False)]
    held = series(e, "status_match_held_90d")
    assert held == {(S, H, "3"): days(11, 0)}


def test_net_positions_and_trends(coalition_engine: Engine) -> None:
    e = coalition_engine
    net = series(e, "net_position")
    assert net[(S, "", "USD")] == days(-1400, -300)
    assert net[(H, "", "USD")] == days(1400, 300)
    assert series(e, "net_position_30d")[(S, "", "USD")] == days(-1400, -1700)
    assert series(e, "net_position_90d", "month")[(H, "", "USD")] == [("2026-03-02", 1700, False)]


def test_a_partner_sees_only_its_own_pairs(coalition_engine: Engine) -> None:
    e = coalition_engine
    assert series(e, "transfer_count", viewer=OR) == {}
    assert set(series(e, "transfer_count", viewer=H)) == {(S, H, ""), (H, S, "")}
    assert series(e, "coalition_total_value", viewer=S) == {}
    assert set(series(e, "net_position", viewer=S)) == {(S, "", "USD")}
    assert set(series(e, "links_new", viewer=OR)) == {(OR, S, ""), (H, OR, "")}
    assert ("*", "", "") not in series(e, "members_linked_2", viewer=S)
    # Orbit is a destination of nothing: no time-to-credit about harbor or skyway.
    assert series(e, "time_to_credit_p50_ms", viewer=OR) == {}


def test_bad_periods_and_granularities_name_every_field(coalition_engine: Engine) -> None:
    with pytest.raises(InvalidArgument) as refused:
        query = analytics.SeriesQuery("nope", "2026-13-01", "yesterday", "hour")
        with Session(coalition_engine) as session:
            analytics.metric_series(SqlMetricsRepository(session), None, query)
    fields = {v.field for v in refused.value.field_violations}
    assert fields == {"metric", "start_date", "end_date", "granularity"}


def test_settling_again_changes_no_cell(coalition_engine: Engine) -> None:
    before = series(coalition_engine, "links_new")
    Records(coalition_engine).settle(DAY2)
    assert series(coalition_engine, "links_new") == before
    assert SECOND_US  # the fixture's instants are whole seconds
