"""Rollups kept as days settle equal a full recomputation from the transfer records."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, delete, select
from sqlalchemy.orm import Session

from exchange.adapters.sql.metrics_tables import MetricCellRow
from exchange.adapters.sql.tables import Base, TransferRow
from exchange.domain.metrics import time_to_credit_bucket
from exchange.domain.metrics_rollup import OUTCOME_METRICS, TRANSFER_METRICS
from exchange.services.analytics import day_window
from tests.metrics.records import CALENDAR, SECOND_US, Records, noon_us

FIRST = date(2026, 4, 6)
PAIRS = (("skyway", "harbor"), ("harbor", "skyway"), ("orbit", "skyway"))
CHECKED = (*TRANSFER_METRICS, *OUTCOME_METRICS, "net_position")
Key = tuple[str, str, str, str, str]

operations = st.lists(
    st.tuples(
        st.integers(0, 3),  # day
        st.sampled_from(PAIRS),
        st.sampled_from(("completed", "rejected", "timed_out", "reversal")),
        st.integers(1, 50).map(lambda n: n * 1000),  # source points
        st.integers(0, 5000),  # settlement amount, minor units
        st.integers(0, 40_000),  # seconds to resolve: some cross midnight into the next day
    ),
    max_size=30,
)


def _empty(engine: Engine) -> None:
    with Session(engine) as session, session.begin():
        for table in reversed(Base.metadata.sorted_tables):
            session.execute(delete(table))


def _stored(engine: Engine) -> dict[Key, int]:
    with Session(engine) as session:
        rows = session.scalars(select(MetricCellRow).where(MetricCellRow.metric.in_(CHECKED)))
        return {
            (r.metric, r.business_day, r.subject, r.counterpart, r.dimension): r.value for r in rows
        }


def _recomputed(engine: Engine, settled: list[date]) -> dict[Key, int]:
    """Straight from every transfer row, with no rollup code shared but the bucket rule."""
    totals: Counter[Key] = Counter()
    participants: set[Key] = set()
    days = {d.isoformat() for d in settled}
    windows = {d.isoformat(): day_window(CALENDAR, d) for d in settled}
    with Session(engine) as session:
        for t in session.scalars(select(TransferRow)):
            _count_completed(totals, t, days)
            if t.state == "completed" and t.business_day in days and t.settlement_amount_minor:
                for partner in (t.source_partner_id, t.destination_partner_id):
                    participants.add(("net_position", t.business_day, partner, "", t.currency))
            for day, (start, end) in windows.items():
                if t.kind == "transfer" and t.resolved_at_us and start <= t.resolved_at_us < end:
                    pair = (t.source_partner_id, t.destination_partner_id)
                    totals[("transfers_resolved", day, *pair, "")] += 1
                    if t.void_reason == "rejected":
                        totals[("transfers_rejected", day, *pair, "")] += 1
                    if t.void_reason == "timed_out":
                        totals[("transfers_timed_out", day, *pair, "")] += 1
    # Settlement names a participant only when it owed or was owed something that day.
    return {
        key: value
        for key, value in totals.items()
        if (value and key[0] != "net_position") or key in participants
    }


def _count_completed(totals: Counter[Key], t: TransferRow, days: set[str]) -> None:
    if t.state != "completed" or t.business_day not in days:
        return
    day, pair = t.business_day, (t.source_partner_id, t.destination_partner_id)
    payer, payee = (pair[1], pair[0]) if t.kind == "reversal" else pair
    totals[("net_position", day, payer, "", t.currency)] -= t.settlement_amount_minor
    totals[("net_position", day, payee, "", t.currency)] += t.settlement_amount_minor
    if t.kind == "reversal":
        totals[("reversal_count", day, *pair, "")] += 1
        return
    assert t.resolved_at_us is not None
    totals[("transfer_count", day, *pair, "")] += 1
    totals[("transfer_points_out", day, *pair, "")] += t.source_points
    totals[("transfer_points_in", day, *pair, "")] += t.destination_points
    totals[("transfer_settlement_value", day, *pair, t.currency)] += t.settlement_amount_minor
    totals[("coalition_total_value", day, "*", "", t.currency)] += t.settlement_amount_minor
    bucket = str(time_to_credit_bucket(t.resolved_at_us - t.created_at_us))
    totals[("ttc_bucket", day, *pair, bucket)] += 1


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(operations)
def test_rollups_equal_a_recomputation(engine: Engine, ops: list[tuple]) -> None:  # type: ignore[type-arg]
    _empty(engine)
    records = Records(engine)
    records.partners()
    cmid = records.member(("skyway", "harbor", "orbit"))
    settled: list[date] = []
    for day_index in range(4):
        day = FIRST + timedelta(days=day_index)
        for op_day, pair, outcome, points, amount, seconds in ops:
            if op_day != day_index:
                continue
            kind = "reversal" if outcome == "reversal" else "transfer"
            state = "completed" if outcome in ("completed", "reversal") else "voided"
            reason = outcome if state == "voided" else None
            records.transfer(
                pair,
                cmid,
                (points, points * 3 // 4),
                amount,
                noon_us(day),
                state=state,
                kind=kind,
                void_reason=reason,
                duration_s=seconds,
            )
        # Days settle in order, the day before once today's records are in: a transfer
        # resolving after midnight belongs to the next day and is folded there.
        if day_index:
            records.settle(day - timedelta(days=1))
            settled.append(day - timedelta(days=1))
    for day in (FIRST + timedelta(days=3), FIRST + timedelta(days=4)):
        records.settle(day)
        settled.append(day)
    assert _stored(engine) == _recomputed(engine, settled)
    assert SECOND_US
