"""In-memory fake of the measures' rollup store, behaving like SqlMetricsRepository.

The fake store keeps no tier-report times, so tier reports count as activity only on SQL.
Net positions are netted here from the day's completed transfers (the fakes have no
settlement runs), by the same rule settlement uses.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

from exchange.adapters.memory.metrics_tables import MetricTables
from exchange.adapters.memory.store import InMemoryStore
from exchange.domain.metrics import (
    COALITION,
    Cell,
    GrantFact,
    OutcomeFact,
    ProgrammeReport,
    TransferFact,
    Window,
)
from exchange.domain.transfers import TransferKind, TransferState
from settlement.model import TransferRecord
from settlement.netting import Netting


class InMemoryMetricsRepository:
    def __init__(self, store: InMemoryStore) -> None:
        self._store = store

    @property
    def _tables(self) -> MetricTables:
        return self._store.metrics

    def _completed(self, business_day: str) -> list[TransferRecord]:
        return [
            TransferRecord(
                t.transfer_id,
                t.kind.value,
                t.source_partner_id,
                t.destination_partner_id,
                t.source_points,
                t.destination_points,
                t.currency,
                t.settlement_amount_minor,
                t.fee_minor,
                business_day,
                t.resolved_at_us or t.created_at_us,
            )
            for t in self._store.transfers.values()
            if t.state is TransferState.COMPLETED and t.business_day == business_day
        ]

    def completed_transfers(self, business_day: str) -> list[TransferFact]:
        transfers = self._store.transfers
        return [
            TransferFact(
                r.kind,
                r.source_partner_id,
                r.destination_partner_id,
                transfers[r.transfer_id].cmid,
                r.source_points,
                r.destination_points,
                r.currency,
                r.amount_minor,
                r.completed_at_us - transfers[r.transfer_id].created_at_us,
            )
            for r in self._completed(business_day)
        ]

    def resolutions(self, window: Window) -> list[OutcomeFact]:
        return [
            OutcomeFact(
                t.source_partner_id,
                t.destination_partner_id,
                t.state.value,
                t.void_reason.value if t.void_reason else None,
            )
            for t in self._store.transfers.values()
            if t.resolved_at_us is not None
            and window[0] <= t.resolved_at_us < window[1]
            and t.kind is TransferKind.TRANSFER
        ]

    def quotes(self, window: Window) -> list[tuple[str, str, bool]]:
        return [
            (q.source_partner_id, q.destination_partner_id, q.transfer_id is not None)
            for q in self._store.quotes.values()
            if window[0] <= q.created_at_us < window[1]
        ]

    def grants(self, window: Window, held_at_us: int | None = None) -> list[GrantFact]:
        levels = self._canonical_levels()
        return [
            GrantFact(
                g.source_partner_id,
                g.target_partner_id,
                g.cmid,
                levels.get((g.target_partner_id, g.tier_code), 0),
            )
            for g in self._store.grants.values()
            if window[0] <= g.granted_at_us < window[1]
            and (held_at_us is None or g.expires_at_us > held_at_us)
        ]

    def _canonical_levels(self) -> dict[tuple[str, str], int]:
        latest: dict[str, int] = {}
        for partner, version in self._store.ladders:
            latest[partner] = max(version, latest.get(partner, 0))
        return {
            (partner, tier.code): tier.canonical_level
            for partner, version in latest.items()
            for tier in self._store.ladders[(partner, version)].tiers
        }

    def tier_reports(self, window: Window) -> list[tuple[str, str]]:
        return []

    def net_positions(self, business_day: str) -> list[tuple[str, str, int]]:
        nettings: dict[str, Netting] = {}
        for record in self._completed(business_day):
            nettings.setdefault(record.currency, Netting(business_day, record.currency))
            nettings[record.currency].add(record)
        return [
            (p.participant, p.currency, p.net_minor)
            for currency in sorted(nettings)
            for p in nettings[currency].result().positions
        ]

    def linked_brands(self) -> dict[str, frozenset[str]]:
        brands: defaultdict[str, set[str]] = defaultdict(set)
        for member in self._store.ppids.values():
            brands[member.cmid].add(member.partner_id)
        return {cmid: frozenset(found) for cmid, found in brands.items() if len(found) >= 2}

    def link_snapshot(self) -> dict[str, dict[str, str]]:
        snapshot: defaultdict[str, dict[str, str]] = defaultdict(dict)
        for (cmid, partner), day in self._tables.links.items():
            snapshot[cmid][partner] = day
        return dict(snapshot)

    def save_link_snapshot(
        self, added: Sequence[tuple[str, str, str]], removed: Sequence[tuple[str, str]]
    ) -> None:
        for key in removed:
            del self._tables.links[key]
        for cmid, partner, day in added:
            assert (cmid, partner) not in self._tables.links, "duplicate link snapshot row"
            self._tables.links[(cmid, partner)] = day

    def record_activity(self, active: Iterable[tuple[str, str]], business_day: str) -> None:
        for cmid, partner in active:
            self._tables.activity[(cmid, partner, business_day[:7])] = business_day

    def active_counts(self, since_day: str) -> dict[str, int]:
        members: defaultdict[str, set[str]] = defaultdict(set)
        for (cmid, partner, _), day in self._tables.activity.items():
            if day >= since_day:
                members[partner].add(cmid)
                members[COALITION].add(cmid)
        counts = {subject: len(cmids) for subject, cmids in members.items()}
        counts.setdefault(COALITION, 0)
        return counts

    def cohort_counts(self, month: str) -> dict[tuple[str, str], tuple[int, int]]:
        active = {(c, p) for (c, p, m) in self._tables.activity if m == month}
        sizes: defaultdict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
        first: dict[str, str] = {}
        for (cmid, partner), day in self._tables.links.items():
            entry = sizes[(partner, day[:7])]
            entry[0] += 1
            entry[1] += (cmid, partner) in active
            first[cmid] = min(day, first.get(cmid, day))
        active_members = {c for c, _ in active}
        for cmid, day in first.items():
            entry = sizes[(COALITION, day[:7])]
            entry[0] += 1
            entry[1] += cmid in active_members
        return {key: (size, retained) for key, (size, retained) in sizes.items()}

    def replace_cells(
        self,
        business_day: str,
        metrics: Iterable[str],
        cells: Iterable[Cell],
        dimension: str | None = None,
    ) -> None:
        names = set(metrics)
        self._tables.cells = {
            key: value
            for key, value in self._tables.cells.items()
            if not (
                key[1] == business_day
                and key[0] in names
                and (dimension is None or key[4] == dimension)
            )
        }
        for c in cells:
            key = (c.metric, c.business_day, c.subject, c.counterpart, c.dimension)
            assert key not in self._tables.cells, "duplicate metric cell"
            self._tables.cells[key] = c.value

    def cells(
        self, metrics: Sequence[str], first_day: str, last_day: str, party: str | None = None
    ) -> list[Cell]:
        names = set(metrics)
        return [
            Cell(*key, value)
            for key, value in sorted(self._tables.cells.items())
            if key[0] in names
            and first_day <= key[1] <= last_day
            and (party is None or party in (key[2], key[3]))
        ]

    def folded_days(self, first_day: str, last_day: str) -> list[str]:
        return sorted(day for day in self._tables.folded if first_day <= day <= last_day)

    def mark_folded(self, business_day: str, at_us: int) -> None:
        self._tables.folded[business_day] = at_us

    def save_report(self, report: ProgrammeReport) -> None:
        self._tables.reports[(report.partner_id, report.period)] = report

    def reports(self, period: str) -> list[ProgrammeReport]:
        return [r for (_, p), r in sorted(self._tables.reports.items()) if p == period]
