"""MetricsRepository, the rollup tables: link snapshot, activity, cohorts, cells, folds, reports."""

from __future__ import annotations

from exchange.domain.metrics import COALITION, Cell, ProgrammeReport
from exchange.domain.ports import UnitOfWork, UnitOfWorkFactory
from tests.contract.support import ALPHA, BRAVO, T0, commit, read

COVERS = {
    "MetricsRepository.link_snapshot",
    "MetricsRepository.save_link_snapshot",
    "MetricsRepository.record_activity",
    "MetricsRepository.active_counts",
    "MetricsRepository.cohort_counts",
    "MetricsRepository.replace_cells",
    "MetricsRepository.cells",
    "MetricsRepository.folded_days",
    "MetricsRepository.mark_folded",
    "MetricsRepository.save_report",
    "MetricsRepository.reports",
}
DAY, NEXT = "2023-11-14", "2023-11-15"


def test_the_link_snapshot_adds_and_removes_rows(uow_factory: UnitOfWorkFactory) -> None:
    assert read(uow_factory, lambda uow: uow.metrics.link_snapshot()) == {}
    added = [("m1", ALPHA, "2023-10-01"), ("m1", BRAVO, DAY), ("m2", ALPHA, DAY)]
    commit(uow_factory, lambda uow: uow.metrics.save_link_snapshot(added, []))
    commit(
        uow_factory,
        lambda uow: uow.metrics.save_link_snapshot([("m3", BRAVO, NEXT)], [("m2", ALPHA)]),
    )
    assert read(uow_factory, lambda uow: uow.metrics.link_snapshot()) == {
        "m1": {ALPHA: "2023-10-01", BRAVO: DAY},
        "m3": {BRAVO: NEXT},
    }


def test_active_counts_are_distinct_members_since_a_day(uow_factory: UnitOfWorkFactory) -> None:
    assert read(uow_factory, lambda uow: uow.metrics.active_counts(DAY)) == {COALITION: 0}

    def record(uow: UnitOfWork) -> None:
        uow.metrics.record_activity([("m1", ALPHA), ("m2", ALPHA)], "2023-10-31")
        uow.metrics.record_activity([("m1", ALPHA), ("m1", BRAVO)], DAY)
        uow.metrics.record_activity([("m1", ALPHA)], NEXT)  # the same month: a later day
        uow.metrics.record_activity([], NEXT)

    commit(uow_factory, record)
    assert read(uow_factory, lambda uow: uow.metrics.active_counts(DAY)) == {
        ALPHA: 1,
        BRAVO: 1,
        COALITION: 1,
    }
    assert read(uow_factory, lambda uow: uow.metrics.active_counts("2023-10-01")) == {
        ALPHA: 2,
        BRAVO: 1,
        COALITION: 2,
    }


def test_cohort_counts_are_cohort_sizes_and_members_active_in_a_month(
    uow_factory: UnitOfWorkFactory,
) -> None:
    def fold(uow: UnitOfWork) -> None:
        links = [("m1", ALPHA, "2023-10-05"), ("m1", BRAVO, DAY), ("m2", ALPHA, DAY)]
        uow.metrics.save_link_snapshot(links, [])
        uow.metrics.record_activity([("m1", ALPHA), ("m1", BRAVO)], NEXT)

    commit(uow_factory, fold)
    assert read(uow_factory, lambda uow: uow.metrics.cohort_counts("2023-11")) == {
        (ALPHA, "2023-10"): (1, 1),
        (ALPHA, "2023-11"): (1, 0),
        (BRAVO, "2023-11"): (1, 1),
        (COALITION, "2023-10"): (1, 1),  # a member's cohort is its earliest link
        (COALITION, "2023-11"): (1, 0),
    }
    assert read(uow_factory, lambda uow: uow.metrics.cohort_counts("2023-12"))[
        (COALITION, "2023-10")
    ] == (1, 0)


def cell(metric: str, day: str, subject: str, value: int, dimension: str = "") -> Cell:
    return Cell(metric, day, subject, BRAVO if subject == ALPHA else "", dimension, value)


def _cells(factory: UnitOfWorkFactory, metrics: list[str], party: str | None = None) -> list[Cell]:
    return sorted(read(factory, lambda uow: uow.metrics.cells(metrics, DAY, NEXT, party)))


def test_replace_cells_replaces_only_the_days_cells_of_those_metrics(
    uow_factory: UnitOfWorkFactory,
) -> None:
    first = [cell("transfer_count", DAY, ALPHA, 3), cell("quotes_issued", DAY, ALPHA, 9)]

    def fold(uow: UnitOfWork) -> None:
        uow.metrics.replace_cells(DAY, ["transfer_count", "quotes_issued"], first)
        uow.metrics.replace_cells(
            NEXT, ["transfer_count"], [cell("transfer_count", NEXT, ALPHA, 1)]
        )

    commit(uow_factory, fold)
    again = [cell("transfer_count", DAY, ALPHA, 4)]
    commit(uow_factory, lambda uow: uow.metrics.replace_cells(DAY, ["transfer_count"], again))
    assert _cells(uow_factory, ["transfer_count", "quotes_issued"]) == sorted(
        [*again, first[1], cell("transfer_count", NEXT, ALPHA, 1)]
    )


def test_replace_cells_of_one_dimension_keeps_the_others(uow_factory: UnitOfWorkFactory) -> None:
    usd, eur = (
        cell("net_position", DAY, ALPHA, 5, "USD"),
        cell("net_position", DAY, ALPHA, 7, "EUR"),
    )
    commit(uow_factory, lambda uow: uow.metrics.replace_cells(DAY, ["net_position"], [usd, eur]))
    newer = cell("net_position", DAY, ALPHA, 6, "USD")
    commit(
        uow_factory,
        lambda uow: uow.metrics.replace_cells(DAY, ["net_position"], [newer], dimension="USD"),
    )
    assert _cells(uow_factory, ["net_position"]) == sorted([newer, eur])


def test_cells_select_metrics_days_and_party(uow_factory: UnitOfWorkFactory) -> None:
    cells = [
        cell("links_new", "2023-11-13", ALPHA, 1),  # before the first day
        cell("links_new", DAY, ALPHA, 2),  # alpha → bravo: both parties see it
        cell("links_new", NEXT, COALITION, 3),
        cell("links_new", "2023-11-16", ALPHA, 4),  # after the last day
    ]

    def fold(uow: UnitOfWork) -> None:
        for day in ("2023-11-13", DAY, NEXT, "2023-11-16"):
            uow.metrics.replace_cells(
                day, ["links_new"], [c for c in cells if c.business_day == day]
            )

    commit(uow_factory, fold)
    assert _cells(uow_factory, ["links_new"]) == sorted(cells[1:3])
    assert _cells(uow_factory, ["links_new"], party=BRAVO) == [cells[1]]
    assert _cells(uow_factory, ["transfer_count"]) == []


def test_folded_days_are_those_marked_in_the_range(uow_factory: UnitOfWorkFactory) -> None:
    def fold(uow: UnitOfWork) -> None:
        for day in (NEXT, "2023-11-13", DAY, "2023-11-16"):
            uow.metrics.mark_folded(day, T0)
        uow.metrics.mark_folded(DAY, T0 + 1)  # folding a day again

    commit(uow_factory, fold)
    assert read(uow_factory, lambda uow: uow.metrics.folded_days(DAY, NEXT)) == [DAY, NEXT]
    assert read(uow_factory, lambda uow: uow.metrics.folded_days("2023-12-01", "2023-12-31")) == []


def test_a_report_replaces_the_partners_earlier_report_of_the_period(
    uow_factory: UnitOfWorkFactory,
) -> None:
    first = ProgrammeReport(BRAVO, "2023-11", 10, 5, 1, 100, T0)
    second = ProgrammeReport(BRAVO, "2023-11", 11, 6, 2, 101, T0 + 1)
    alpha = ProgrammeReport(ALPHA, "2023-11", 1, 2, 3, 4, T0)
    october = ProgrammeReport(ALPHA, "2023-10", 1, 1, 1, 1, T0)

    def report(uow: UnitOfWork) -> None:
        for each in (first, alpha, october):
            uow.metrics.save_report(each)

    commit(uow_factory, report)
    commit(uow_factory, lambda uow: uow.metrics.save_report(second))
    assert read(uow_factory, lambda uow: uow.metrics.reports("2023-11")) == [alpha, second]
    assert read(uow_factory, lambda uow: uow.metrics.reports("2023-09")) == []
