"""The in-memory rollup store folds and answers like the SQL one (handlers on fakes)."""

from __future__ import annotations

from datetime import date

from exchange.adapters.memory import InMemoryUnitOfWorkFactory
from exchange.adapters.memory.store import InMemoryStore
from exchange.domain.members import MemberId
from exchange.domain.transfers import Transfer, TransferState
from exchange.services import analytics
from settlement.calendar import CoalitionCalendar
from tests.unit.transfer_values import a_transfer

DAY = date(2026, 3, 2)
NOON_US = 1_772_452_800_000_000  # 2026-03-02T12:00:00Z


def _transfer(n: int, cmid: str, amount: int) -> Transfer:
    return a_transfer(
        transfer_id=f"tr_{n}",
        state=TransferState.COMPLETED,
        cmid=cmid,
        source_ppid="pp_a",
        destination_ppid="pp_b",
        settlement_amount_minor=amount,
        created_at_us=NOON_US,
        timeout_at_us=NOON_US + 900_000_000,
        resolved_at_us=NOON_US + 2_000_000,
        business_day=DAY.isoformat(),
    )


def _filled(store: InMemoryStore) -> None:
    for n in range(12):
        cmid = f"cm_{n}"
        for partner in ("skyway", "harbor"):
            store.ppids[f"pp_{partner}_{n}"] = MemberId(f"pp_{partner}_{n}", partner, cmid)
    store.transfers["tr_1"] = _transfer(1, "cm_0", 300)
    store.transfers["tr_2"] = _transfer(2, "cm_1", 600)


def _series(uow_factory: InMemoryUnitOfWorkFactory, metric: str, viewer: str | None) -> dict:  # type: ignore[type-arg]
    query = analytics.SeriesQuery(metric, DAY.isoformat(), DAY.isoformat(), "day")
    with uow_factory() as uow:
        _, found = analytics.metric_series(uow.metrics, viewer, query)
    return {(s.subject, s.counterpart, s.dimension): [p.value for p in s.points] for s in found}


def test_a_folded_day_reads_back_through_the_fakes() -> None:
    factory = InMemoryUnitOfWorkFactory()
    with factory() as uow:
        _filled(uow._working)
        analytics.fold_day(uow.metrics, CoalitionCalendar(), DAY.isoformat(), NOON_US)
        uow.commit()
    assert _series(factory, "transfer_count", "harbor") == {("skyway", "harbor", ""): [2]}
    assert _series(factory, "transfer_count", "orbit") == {}
    assert _series(factory, "links_new", None) == {("harbor", "skyway", ""): [12]}
    assert _series(factory, "net_position", "skyway") == {("skyway", "", "USD"): [-900]}
    assert _series(factory, "time_to_credit_p50_ms", "harbor") == {("harbor", "", ""): [2000]}
    assert _series(factory, "active_members_30d", None)[("*", "", "")] == [None]  # 2 < 11


def test_a_fold_that_is_rolled_back_leaves_nothing() -> None:
    factory = InMemoryUnitOfWorkFactory()
    with factory() as uow:
        _filled(uow._working)
        analytics.fold_day(uow.metrics, CoalitionCalendar(), DAY.isoformat(), NOON_US)
    assert _series(factory, "transfer_count", None) == {}
