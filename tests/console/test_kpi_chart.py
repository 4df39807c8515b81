"""The KPI chart's geometry: nice axes, bars from exact figures, suppressed points unsized."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from exchange.console.kpi_chart import SUPPRESSED_MARK_PX, nice_ceiling, series_chart
from exchange.domain.metrics_release import Point

START = date(2026, 3, 2)


def _points(*values: int | Decimal | None, suppressed: tuple[int, ...] = ()) -> list[Point]:
    return [
        Point(START + timedelta(days=n), None if n in suppressed else v, n in suppressed)
        for n, v in enumerate(values)
    ]


def test_the_value_axis_ends_on_a_nice_number() -> None:
    assert [nice_ceiling(Decimal(v)) for v in ("7", "12", "230", "0.333333", "4999")] == [
        Decimal(10), Decimal(20), Decimal("250"), Decimal("0.5"), Decimal(5000)
    ]  # fmt: skip


def test_bars_scale_to_the_axis_and_negative_bars_hang_below_zero() -> None:
    chart = series_chart(_points(10, -20, 0, None), str, "net", whole=True)
    up, down = chart.bars  # 0 and no figure draw nothing
    assert up.y + up.height == chart.zero_y and not up.negative
    assert down.y == chart.zero_y and down.negative and down.height == 2 * up.height
    assert [t.text for t in chart.value_ticks] == ["10", "5", "0", "-10", "-20"]


def test_a_suppressed_point_is_a_fixed_mark_that_says_nothing_of_its_size() -> None:
    chart = series_chart(_points(12, 0, suppressed=(1,)), str, "links", whole=True)
    (mark,) = chart.suppressed
    assert mark.height == SUPPRESSED_MARK_PX and mark.label.endswith(": suppressed")
    assert "1 suppressed" in chart.summary and "highest 12" in chart.summary


def test_ratio_ticks_are_exact_decimals_and_counts_get_no_half_ticks() -> None:
    ratio = series_chart(_points(Decimal("0.333333")), str, "rate", whole=False)
    assert [t.text for t in ratio.value_ticks] == ["0.5", "0.25", "0"]
    counts = series_chart(_points(5), str, "count", whole=True)
    assert [t.text for t in counts.value_ticks] == ["5", "0"]
