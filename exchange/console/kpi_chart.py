"""A series as a bar chart drawn on the server (inline SVG): bars, axes and suppressed marks.

Geometry is integer pixels computed from integers and exact decimals; a float never enters.
A suppressed point gets a hatched mark on the zero line and no bar, so its size cannot be
read off the chart; a point without a figure gets nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from exchange.console.chart import Bar
from exchange.domain.metrics_release import Point

CHART_WIDTH_PX = 560  # about the width a chart gets in the two-column grid: text at 1:1
CHART_HEIGHT_PX = 240
PLOT_LEFT_PX = 84  # room for the value axis labels (100,000.00)
PLOT_RIGHT_PX = 16
PLOT_TOP_PX = 14
PLOT_BOTTOM_PX = 34  # room for the date labels
SUPPRESSED_MARK_PX = 10
DATE_TICKS_MAX = 5
BAR_GAP_PX = 2
NICE_STEPS = (Decimal(1), Decimal(2), Decimal("2.5"), Decimal(5), Decimal(10))

Label = Callable[[int | Decimal], str]


@dataclass(frozen=True)
class Tick:
    at: int  # y for the value axis, x for the date axis
    text: str
    anchor: str = "end"


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    plot_left: int
    plot_right: int
    zero_y: int
    bars: list[Bar]
    suppressed: list[Bar]
    value_ticks: list[Tick]
    date_ticks: list[Tick]
    summary: str  # the chart's accessible name


@dataclass(frozen=True)
class _Scale:
    top: Decimal  # the axis maximum, a "nice" number at or above every positive figure
    bottom: Decimal  # the same below zero, as a positive number
    zero_y: int
    plot_px: int

    def px(self, value: int | Decimal) -> int:
        span = self.top + self.bottom
        return int(abs(Decimal(value)) * self.plot_px / span)


def nice_ceiling(value: Decimal) -> Decimal:
    """The smallest of 1, 2, 2.5, 5 times a power of ten at or above a positive value."""
    power = Decimal(10) ** value.adjusted()
    for step in NICE_STEPS:
        if step * power >= value:
            return step * power
    raise AssertionError("a mantissa below 10 always finds a step")


def series_chart(points: Sequence[Point], label: Label, title: str, whole: bool) -> Chart:
    """`whole`: the figures are integers, so the value axis gets no fractional tick."""
    scale = _scale(points)
    plot_width = CHART_WIDTH_PX - PLOT_LEFT_PX - PLOT_RIGHT_PX
    step = plot_width // max(len(points), 1)
    gap = BAR_GAP_PX if step > 2 * BAR_GAP_PX else 0
    bars: list[Bar] = []
    marks: list[Bar] = []
    for index, point in enumerate(points):
        x = PLOT_LEFT_PX + index * plot_width // max(len(points), 1) + gap // 2
        width = max(step - gap, 1)
        day = point.start_date.isoformat()
        if point.suppressed:
            y = scale.zero_y - SUPPRESSED_MARK_PX
            marks.append(Bar(x, y, width, SUPPRESSED_MARK_PX, False, f"{day}: suppressed"))
        elif point.value is not None and point.value != 0:
            height = max(scale.px(point.value), 1)
            negative = point.value < 0
            y = scale.zero_y if negative else scale.zero_y - height
            bars.append(Bar(x, y, width, height, negative, f"{day}: {label(point.value)}"))
    return Chart(
        width=CHART_WIDTH_PX,
        height=CHART_HEIGHT_PX,
        plot_left=PLOT_LEFT_PX,
        plot_right=CHART_WIDTH_PX - PLOT_RIGHT_PX,
        zero_y=scale.zero_y,
        bars=bars,
        suppressed=marks,
        value_ticks=_value_ticks(scale, label, whole),
        date_ticks=_date_ticks(points, plot_width),
        summary=summary(points, label, title),
    )


def _scale(points: Sequence[Point]) -> _Scale:
    shown = [Decimal(p.value) for p in points if p.value is not None and not p.suppressed]
    highest = max([v for v in shown if v > 0], default=Decimal(0))
    lowest = min([v for v in shown if v < 0], default=Decimal(0))
    top = nice_ceiling(highest) if highest else Decimal(0)
    bottom = nice_ceiling(-lowest) if lowest else Decimal(0)
    if not top and not bottom:
        top = Decimal(1)  # nothing above or below zero: an empty plot with its zero line low
    plot_px = CHART_HEIGHT_PX - PLOT_TOP_PX - PLOT_BOTTOM_PX
    zero_y = PLOT_TOP_PX + int(plot_px * top / (top + bottom))
    return _Scale(top, bottom, zero_y, plot_px)


def _value_ticks(scale: _Scale, label: Label, whole: bool) -> list[Tick]:
    values = [Decimal(0)]
    if scale.top:
        values = [scale.top, scale.top / 2, *values]
    if scale.bottom:
        values = [*values, -scale.bottom / 2, -scale.bottom]
    ticks: list[Tick] = []
    for value in values:
        if whole and value != value.to_integral_value():
            continue  # no 2.5 transfers on the axis
        shown: int | Decimal = int(value) if whole else _plain(value)
        offset = scale.px(value)
        ticks.append(Tick(scale.zero_y - offset if value >= 0 else scale.zero_y + offset,
                          label(shown)))  # fmt: skip
    return ticks


def _plain(value: Decimal) -> Decimal:
    """0.5 as 0.5 and 20 as 20 (never 2E+1)."""
    if value == value.to_integral_value():
        return value.quantize(Decimal(1))
    return value.normalize()


def _date_ticks(points: Sequence[Point], plot_width: int) -> list[Tick]:
    """The first and last point's dates and a few evenly spaced between."""
    count = len(points)
    if not count:
        return []
    shown = min(count, DATE_TICKS_MAX)
    indexes = sorted({(count - 1) * n // max(shown - 1, 1) for n in range(shown)})
    step = plot_width // count
    ticks = []
    for index in indexes:
        x = PLOT_LEFT_PX + index * plot_width // count + step // 2
        anchor = "start" if index == 0 and count > 1 else "middle"
        if index == count - 1 and count > 1:
            anchor = "end"
        x = PLOT_LEFT_PX if anchor == "start" else x
        x = PLOT_LEFT_PX + plot_width if anchor == "end" else x
        ticks.append(Tick(x, points[index].start_date.isoformat(), anchor))
    return ticks


def summary(points: Sequence[Point], label: Label, title: str) -> str:
    """What a screen reader says for the chart: extent, highest, lowest, withheld points."""
    if not points:
        return f"{title}: no points in this period."
    shown = [p for p in points if p.value is not None and not p.suppressed]
    withheld = sum(1 for p in points if p.suppressed)
    first, last = points[0].start_date.isoformat(), points[-1].start_date.isoformat()
    parts = [f"{title}: {len(points)} points from {first} to {last}"]
    if shown:
        high = max(shown, key=lambda p: Decimal(p.value or 0))
        low = min(shown, key=lambda p: Decimal(p.value or 0))
        parts.append(f"highest {label(high.value or 0)} on {high.start_date.isoformat()}")
        parts.append(f"lowest {label(low.value or 0)} on {low.start_date.isoformat()}")
    else:
        parts.append("no figure shown")
    if withheld:
        parts.append(f"{withheld} suppressed")
    return ", ".join(parts) + "."
