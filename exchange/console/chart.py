"""The net-position chart: bars above and below a zero line, drawn as server-side SVG."""

from __future__ import annotations

from dataclasses import dataclass

from exchange.console.finance import ChartPoint
from exchange.console.listing import money

CHART_WIDTH_PX = 720
CHART_HEIGHT_PX = 220
CHART_PADDING_PX = 24
BAR_GAP_PX = 2


@dataclass(frozen=True)
class Bar:
    x: int
    y: int
    width: int
    height: int
    negative: bool
    label: str  # shown as the bar's tooltip and in the table beside the chart


@dataclass(frozen=True)
class Chart:
    bars: list[Bar]
    zero_y: int
    width: int
    height: int
    summary: str  # the chart's accessible name: what a screen reader says for it
    first_day: str
    last_day: str


def net_chart(every_day: list[ChartPoint], currency: str, span_days: int) -> Chart:
    plot = CHART_HEIGHT_PX - 2 * CHART_PADDING_PX
    points = [p for p in every_day if p.settled]
    largest = max([abs(p.net_minor) for p in points] + [1])
    has_negative = any(p.net_minor < 0 for p in points)
    has_positive = any(p.net_minor > 0 for p in points)
    # The zero line sits mid-height when there are both signs, else at the matching edge.
    if has_negative and has_positive:
        zero_y, scale_px = CHART_PADDING_PX + plot // 2, plot // 2
    elif has_negative:
        zero_y, scale_px = CHART_PADDING_PX, plot
    else:
        zero_y, scale_px = CHART_PADDING_PX + plot, plot
    step = (CHART_WIDTH_PX - 2 * CHART_PADDING_PX) // max(len(every_day), 1)
    bars = []
    for index, point in enumerate(every_day):
        if not point.settled:
            continue
        height = abs(point.net_minor) * scale_px // largest
        negative = point.net_minor < 0
        bars.append(
            Bar(
                x=CHART_PADDING_PX + index * step + BAR_GAP_PX // 2,
                y=zero_y if negative else zero_y - height,
                width=max(step - BAR_GAP_PX, 1),
                height=max(height, 1),
                negative=negative,
                label=f"{point.business_day}: {money(point.net_minor, currency)} {currency}",
            )
        )
    summary = _summary(points, currency, span_days)
    first = every_day[0].business_day if every_day else ""
    last = every_day[-1].business_day if every_day else ""
    return Chart(bars, zero_y, CHART_WIDTH_PX, CHART_HEIGHT_PX, summary, first, last)


def _summary(points: list[ChartPoint], currency: str, span_days: int) -> str:
    if not points:
        return f"Net position chart: no settled days in the last {span_days} days."
    total = sum(p.net_minor for p in points)
    low = min(points, key=lambda p: p.net_minor)
    high = max(points, key=lambda p: p.net_minor)
    return (
        f"Net position in {currency} over the last {span_days} days: {len(points)} settled "
        f"days, total {money(total, currency)}, lowest {money(low.net_minor, currency)} on "
        f"{low.business_day}, highest {money(high.net_minor, currency)} on {high.business_day}."
    )
