"""SQL storage of the measures' rollups, and the reads of one day's records that fill them.

Each read touches one business day (or one day's window of instants) through an index; the
series queries read day cells only.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import cast

from sqlalchemy import Table, delete, func, or_, select, tuple_
from sqlalchemy.orm import Session

from exchange.adapters.sql.bulk import insert_rows
from exchange.adapters.sql.metrics_tables import (
    MetricActivityRow,
    MetricCellRow,
    MetricDayRow,
    MetricLinkRow,
    ProgrammeReportRow,
)
from exchange.adapters.sql.settlement_tables import SettlementPositionRow
from exchange.adapters.sql.tables import (
    MemberTierRow,
    PpidRow,
    QuoteRow,
    TierGrantRow,
    TierRow,
    TransferRow,
)
from exchange.domain.metrics import (
    COALITION,
    Cell,
    GrantFact,
    OutcomeFact,
    ProgrammeReport,
    TransferFact,
    Window,
)

CELLS = cast(Table, MetricCellRow.__table__)
ACTIVITY = cast(Table, MetricActivityRow.__table__)
LINKS = cast(Table, MetricLinkRow.__table__)
# Rows per statement when deleting many keys at once: well under every driver's parameter cap.
KEYS_PER_STATEMENT_MAX = 500


class SqlMetricsRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def completed_transfers(self, business_day: str) -> list[TransferFact]:
        t = TransferRow
        rows = self.session.execute(
            select(
                t.kind,
                t.source_partner_id,
                t.destination_partner_id,
                t.cmid,
                t.source_points,
                t.destination_points,
                t.currency,
                t.settlement_amount_minor,
                t.created_at_us,
                t.resolved_at_us,
            ).where(t.business_day == business_day, t.state == "completed")
        )
        return [
            TransferFact(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], (r[9] or r[8]) - r[8])
            for r in rows
        ]

    def resolutions(self, window: Window) -> list[OutcomeFact]:
        t = TransferRow
        rows = self.session.execute(
            select(t.source_partner_id, t.destination_partner_id, t.state, t.void_reason).where(
                t.resolved_at_us >= window[0], t.resolved_at_us < window[1], t.kind == "transfer"
            )
        )
        return [OutcomeFact(*row) for row in rows]

    def quotes(self, window: Window) -> list[tuple[str, str, bool]]:
        q = QuoteRow
        rows = self.session.execute(
            select(q.source_partner_id, q.destination_partner_id, q.transfer_id).where(
                q.created_at_us >= window[0], q.created_at_us < window[1]
            )
        )
        return [(source, destination, used is not None) for source, destination, used in rows]

    def grants(self, window: Window, held_at_us: int | None = None) -> list[GrantFact]:
        g = TierGrantRow
        statement = select(g.source_partner_id, g.target_partner_id, g.cmid, g.tier_code).where(
            g.granted_at_us >= window[0], g.granted_at_us < window[1]
        )
        if held_at_us is not None:
            statement = statement.where(g.expires_at_us > held_at_us)
        levels = self._canonical_levels()
        return [
            GrantFact(source, target, cmid, levels.get((target, code), 0))
            for source, target, cmid, code in self.session.execute(statement)
        ]

    def _canonical_levels(self) -> dict[tuple[str, str], int]:
        """(partner, tier code) → canonical level, on each partner's current ladder."""
        latest = (
            select(TierRow.partner_id, func.max(TierRow.version).label("version"))
            .group_by(TierRow.partner_id)
            .subquery()
        )
        rows = self.session.execute(
            select(TierRow.partner_id, TierRow.code, TierRow.canonical_level).join(
                latest,
                (TierRow.partner_id == latest.c.partner_id) & (TierRow.version == latest.c.version),
            )
        )
        return {(partner, code): level for partner, code, level in rows}

    def tier_reports(self, window: Window) -> list[tuple[str, str]]:
        m = MemberTierRow
        rows = self.session.execute(
            select(m.cmid, m.partner_id).where(
                m.reported_at_us >= window[0], m.reported_at_us < window[1]
            )
        )
        return [(cmid, partner) for cmid, partner in rows]

    def net_positions(self, business_day: str) -> list[tuple[str, str, int]]:
        p = SettlementPositionRow
        rows = self.session.execute(
            select(p.participant, p.currency, p.net_minor).where(p.business_day == business_day)
        )
        return [(participant, currency, net) for participant, currency, net in rows]

    def linked_brands(self) -> dict[str, frozenset[str]]:
        linked = select(PpidRow.cmid).group_by(PpidRow.cmid).having(func.count() >= 2)
        rows = self.session.execute(
            select(PpidRow.cmid, PpidRow.partner_id).where(PpidRow.cmid.in_(linked))
        )
        brands: defaultdict[str, set[str]] = defaultdict(set)
        for cmid, partner in rows.all():
            brands[cmid].add(partner)
        return {cmid: frozenset(found) for cmid, found in brands.items()}

    def link_snapshot(self) -> dict[str, dict[str, str]]:
        snapshot: defaultdict[str, dict[str, str]] = defaultdict(dict)
        columns = select(LINKS.c.cmid, LINKS.c.partner_id, LINKS.c.linked_day)
        for cmid, partner, day in self.session.execute(columns).all():
            snapshot[cmid][partner] = day
        return dict(snapshot)

    def save_link_snapshot(
        self, added: Sequence[tuple[str, str, str]], removed: Sequence[tuple[str, str]]
    ) -> None:
        for start in range(0, len(removed), KEYS_PER_STATEMENT_MAX):
            chunk = removed[start : start + KEYS_PER_STATEMENT_MAX]
            self.session.execute(
                delete(LINKS).where(tuple_(LINKS.c.cmid, LINKS.c.partner_id).in_(chunk))
            )
        rows = [{"cmid": c, "partner_id": p, "linked_day": d} for c, p, d in added]
        insert_rows(self.session, LINKS, rows)

    def record_activity(self, active: Iterable[tuple[str, str]], business_day: str) -> None:
        month = business_day[:7]
        keys = [(cmid, partner, month) for cmid, partner in active]
        for start in range(0, len(keys), KEYS_PER_STATEMENT_MAX):
            chunk = keys[start : start + KEYS_PER_STATEMENT_MAX]
            self.session.execute(
                delete(ACTIVITY).where(
                    tuple_(ACTIVITY.c.cmid, ACTIVITY.c.partner_id, ACTIVITY.c.month).in_(chunk)
                )
            )
        rows = [
            {"cmid": c, "partner_id": p, "month": m, "last_active_day": business_day}
            for c, p, m in keys
        ]
        insert_rows(self.session, ACTIVITY, rows)

    def active_counts(self, since_day: str) -> dict[str, int]:
        a = MetricActivityRow
        recent = a.last_active_day >= since_day
        rows = self.session.execute(
            select(a.partner_id, func.count(a.cmid.distinct())).where(recent).group_by(a.partner_id)
        )
        counts = {partner: count for partner, count in rows}
        total = self.session.execute(select(func.count(a.cmid.distinct())).where(recent))
        counts[COALITION] = total.scalar_one()
        return counts

    def cohort_counts(self, month: str) -> dict[tuple[str, str], tuple[int, int]]:
        counts: dict[tuple[str, str], tuple[int, int]] = {}
        link, a = MetricLinkRow, MetricActivityRow
        cohort = func.substr(link.linked_day, 1, 7)
        sizes = select(link.partner_id, cohort, func.count()).group_by(link.partner_id, cohort)
        for partner, cohort_month, size in self.session.execute(sizes):
            counts[(partner, cohort_month)] = (size, 0)
        active = (
            select(link.partner_id, cohort, func.count())
            .join(a, (a.cmid == link.cmid) & (a.partner_id == link.partner_id))
            .where(a.month == month)
            .group_by(link.partner_id, cohort)
        )
        for partner, cohort_month, retained in self.session.execute(active):
            counts[(partner, cohort_month)] = (counts[(partner, cohort_month)][0], retained)
        counts.update(self._coalition_cohorts(month))
        return counts

    def _coalition_cohorts(self, month: str) -> dict[tuple[str, str], tuple[int, int]]:
        """A member's coalition cohort is the month of its earliest link."""
        link, a = MetricLinkRow, MetricActivityRow
        first = (
            select(link.cmid, func.substr(func.min(link.linked_day), 1, 7).label("cohort"))
            .group_by(link.cmid)
            .subquery()
        )
        active = select(a.cmid).where(a.month == month).distinct().subquery()
        rows = self.session.execute(
            select(first.c.cohort, func.count(), func.count(active.c.cmid))
            .select_from(first.outerjoin(active, active.c.cmid == first.c.cmid))
            .group_by(first.c.cohort)
        )
        return {(COALITION, cohort): (size, retained) for cohort, size, retained in rows}

    def replace_cells(
        self,
        business_day: str,
        metrics: Iterable[str],
        cells: Iterable[Cell],
        dimension: str | None = None,
    ) -> None:
        statement = delete(CELLS).where(
            CELLS.c.business_day == business_day, CELLS.c.metric.in_(list(metrics))
        )
        if dimension is not None:
            statement = statement.where(CELLS.c.dimension == dimension)
        self.session.execute(statement)
        rows = [
            {
                "metric": c.metric,
                "business_day": c.business_day,
                "subject": c.subject,
                "counterpart": c.counterpart,
                "dimension": c.dimension,
                "value": c.value,
            }
            for c in cells
        ]
        insert_rows(self.session, CELLS, rows)

    def cells(
        self, metrics: Sequence[str], first_day: str, last_day: str, party: str | None = None
    ) -> list[Cell]:
        c = CELLS.c
        statement = select(
            c.metric, c.business_day, c.subject, c.counterpart, c.dimension, c.value
        ).where(c.metric.in_(list(metrics)), c.business_day.between(first_day, last_day))
        if party is not None:
            statement = statement.where(or_(c.subject == party, c.counterpart == party))
        return [Cell(*row) for row in self.session.execute(statement).all()]

    def folded_days(self, first_day: str, last_day: str) -> list[str]:
        d = MetricDayRow
        rows = self.session.execute(
            select(d.business_day)
            .where(d.business_day >= first_day, d.business_day <= last_day)
            .order_by(d.business_day)
        )
        return list(rows.scalars())

    def mark_folded(self, business_day: str, at_us: int) -> None:
        row = self.session.get(MetricDayRow, business_day)
        if row is None:
            self.session.add(MetricDayRow(business_day=business_day, folded_at_us=at_us))
        else:
            row.folded_at_us = at_us
        self.session.flush()

    def save_report(self, report: ProgrammeReport) -> None:
        self.session.execute(
            delete(ProgrammeReportRow).where(
                ProgrammeReportRow.partner_id == report.partner_id,
                ProgrammeReportRow.period == report.period,
            )
        )
        self.session.add(ProgrammeReportRow(**vars(report)))
        self.session.flush()

    def reports(self, period: str) -> list[ProgrammeReport]:
        rows = self.session.scalars(
            select(ProgrammeReportRow)
            .where(ProgrammeReportRow.period == period)
            .order_by(ProgrammeReportRow.partner_id)
        )
        return [
            ProgrammeReport(
                r.partner_id,
                r.period,
                r.points_issued,
                r.points_redeemed,
                r.points_expired,
                r.active_members,
                r.reported_at_us,
            )
            for r in rows
        ]
