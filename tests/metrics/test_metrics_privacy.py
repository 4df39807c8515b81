"""Release rules: no member count from 1 to 10 is ever shown, and none can be recovered by
differencing what is shown (every period, granularity and viewer, taken together)."""

from __future__ import annotations

from datetime import date, timedelta
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from exchange.domain.metrics import MEMBER_CELL_MIN, METRICS, Cell, Granularity, Period
from exchange.domain.metrics_release import build_series

FIRST = date(2026, 1, 26)  # a Monday; 21 days reach into February
DAYS = [FIRST + timedelta(days=n) for n in range(21)]
PARTNERS = ("harbor", "orbit", "skyway")
PAIRS = (("harbor", "orbit"), ("harbor", "skyway"), ("orbit", "skyway"))
VIEWERS = (None, *PARTNERS)
counts = st.one_of(st.just(0), st.integers(1, 10), st.integers(11, 40))


def _periods() -> list[Period]:
    spans = [(0, 20), (0, 6), (3, 9), (5, 5), (6, 13), (2, 18)]
    return [Period(DAYS[a], DAYS[b], granularity) for a, b in spans for granularity in Granularity]


def _basis(rows: set[tuple[int, ...]]) -> dict[int, list[Fraction]]:
    """A reduced row-echelon basis of the shown figures, keyed by pivot column."""
    basis: dict[int, list[Fraction]] = {}
    for row in rows:
        reduced = _reduce(basis, [Fraction(x) for x in row])
        pivot = next((i for i, x in enumerate(reduced) if x != 0), None)
        if pivot is not None:
            basis[pivot] = [x / reduced[pivot] for x in reduced]
    return basis


def _reduce(basis: dict[int, list[Fraction]], vector: list[Fraction]) -> list[Fraction]:
    for pivot, row in sorted(basis.items()):
        if vector[pivot] != 0:
            factor = vector[pivot]
            vector = [a - factor * b for a, b in zip(vector, row, strict=True)]
    return vector


def _released_rows(
    cells: list[Cell], index: dict[tuple[str, str, str], int]
) -> list[list[Fraction]]:
    """One row per shown figure: which day cells it sums (the viewer's whole knowledge)."""
    rows: list[list[Fraction]] = []
    metric = METRICS["links_new"]
    for period in _periods():
        for viewer in VIEWERS:
            for series in build_series(metric, period, cells, [], viewer):
                for point in series.points:
                    assert point.suppressed or not 0 < int(point.value or 0) < MEMBER_CELL_MIN
                    if point.suppressed:
                        continue
                    row = [Fraction(0)] * len(index)
                    for day in _bucket_days(period, point.start_date):
                        row[index[(series.subject, series.counterpart, day.isoformat())]] = (
                            Fraction(1)
                        )
                    rows.append(row)
    return rows


def _bucket_days(period: Period, start: date) -> list[date]:
    from exchange.domain.metrics import bucket_start

    return [
        d
        for d in DAYS
        if period.start <= d <= period.end
        and bucket_start(d, period.granularity) == bucket_start(start, period.granularity)
    ]


@settings(max_examples=40, deadline=None)
@given(st.lists(counts, min_size=len(PAIRS) * len(DAYS), max_size=len(PAIRS) * len(DAYS)))
def test_no_shown_figures_recover_a_withheld_member_count(values: list[int]) -> None:
    cells, index = [], {}
    for (pair, day), value in zip([(p, d) for p in PAIRS for d in DAYS], values, strict=True):
        index[(pair[0], pair[1], day.isoformat())] = len(index)
        if value:
            cells.append(Cell("links_new", day.isoformat(), pair[0], pair[1], "", value))
    basis = _basis(_released_rows(cells, index))
    for (subject, counterpart, day), position in index.items():
        value = next(
            (
                c.value
                for c in cells
                if (c.subject, c.counterpart, c.business_day) == (subject, counterpart, day)
            ),
            0,
        )
        if 0 < value < MEMBER_CELL_MIN:
            unit = [Fraction(0)] * len(index)
            unit[position] = Fraction(1)
            left = _reduce(basis, unit)
            assert any(left), f"{subject}-{counterpart} {day} is recoverable"


@given(st.tuples(counts, counts))
def test_a_cohort_total_never_gives_away_a_withheld_part(parts: tuple[int, int]) -> None:
    retained, churned = parts
    day = "2026-01-01"
    cells = [
        Cell("cohort_size", day, "skyway", "", "1", retained + churned),
        Cell("retained_members", day, "skyway", "", "1", retained),
        Cell("churned_members", day, "skyway", "", "1", churned),
    ]
    period = Period(date(2026, 1, 1), date(2026, 1, 31), Granularity.MONTH)
    shown = {
        name: build_series(METRICS[name], period, cells, [], "skyway")[0].points[0]
        for name in ("cohort_size", "retained_members", "churned_members")
    }
    hidden = [name for name, point in shown.items() if point.suppressed]
    # Of three figures tied by one sum, either none is hidden or at least two are.
    assert len(hidden) != 1
    for point in shown.values():
        assert point.suppressed or not 0 < int(point.value or 0) < MEMBER_CELL_MIN


def test_a_coalition_member_count_is_withheld_when_a_partner_count_is() -> None:
    day = "2026-01-05"
    cells = [
        Cell("members_linked_2", day, "skyway", "", "", 15),
        Cell("members_linked_2", day, "harbor", "", "", 12),
        Cell("members_linked_2", day, "orbit", "", "", 3),
        Cell("members_linked_2", day, "*", "", "", 15),
    ]
    period = Period(date(2026, 1, 5), date(2026, 1, 5), Granularity.DAY)
    found = build_series(METRICS["members_linked_2"], period, cells, [day], None)
    by_subject = {s.subject: s.points[0] for s in found}
    assert by_subject["*"].suppressed and by_subject["orbit"].suppressed
    assert by_subject["skyway"].value == 15


def test_a_partner_gets_no_cell_of_a_pair_it_is_not_party_to() -> None:
    cells = [
        Cell(metric, "2026-01-05", source, destination, dimension, 50)
        for source, destination in (("harbor", "skyway"), ("skyway", "orbit"))
        for metric, dimension in (
            ("transfer_count", ""),
            ("transfer_settlement_value", "USD"),
            ("transfer_points_in", ""),
            ("ttc_bucket", "30"),
            ("transfers_resolved", ""),
            ("links_new", ""),
            ("quotes_issued", ""),
            ("quotes_used", ""),
        )
    ]
    period = Period(date(2026, 1, 5), date(2026, 1, 11), Granularity.WEEK)
    for name, metric in METRICS.items():
        for series in build_series(metric, period, cells, ["2026-01-05"], "harbor"):
            assert "harbor" in (series.subject, series.counterpart), name
            assert "orbit" not in (series.subject, series.counterpart), name
