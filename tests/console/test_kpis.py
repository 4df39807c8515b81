"""The KPI page over HTTP, on SQLite and PostgreSQL: figures as AnalyticsService gives them to
the viewer, a partner's own pairs only, suppressed cells never a number, bad input a 400."""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from exchange.adapters.sql.metrics_repository import SqlMetricsRepository
from exchange.console.kpi_values import SUPPRESSED
from exchange.domain.rates import CURRENCY_MINOR_UNITS
from exchange.services import analytics
from tests.console.kpi_pages import (
    DAY1,
    DAY2,
    TODAY,
    add_users,
    console_client,
    errors,
    headlines,
    seed_measures,
    shown_series,
)
from tests.metrics.records import noon_us

PERIOD = f"from={DAY1}&to={DAY2}"
NUMBER = re.compile(r"[0-9]")


@pytest.fixture
def measured(engine: Engine) -> Iterator[Engine]:
    seed_measures(engine)
    add_users(engine, noon_us(TODAY))
    yield engine


def test_the_operator_sees_every_pair_and_the_period_s_headlines(measured: Engine) -> None:
    page = console_client(measured, "ops").get(f"/kpis?metric=transfer_count&{PERIOD}")
    assert page.status_code == 200
    shown = {s.title: s.rows for s in shown_series(page.text)}
    assert shown == {
        "orbit → skyway": [(str(DAY1), "0"), (str(DAY2), "1")],
        "skyway → harbor": [(str(DAY1), "12"), (str(DAY2), "0")],
    }
    tops = headlines(page.text)
    assert tops["Transfers completed"] == "13"
    assert tops["Quote conversion"] == "50.0 %"
    assert tops["Active linked members, 30 days"] == SUPPRESSED  # orbit's 1 hides the total
    assert "settlement value USD 41.00" in page.text  # 12 times 3.00, and 5.00
    assert 'href="/kpis" aria-current="page"' in page.text


def test_the_default_is_the_last_90_days_up_to_the_current_business_day(measured: Engine) -> None:
    page = console_client(measured, "ops").get("/kpis")
    assert page.status_code == 200
    assert "2025-12-05 to 2026-03-04" in page.text
    assert headlines(page.text)["Transfers completed"] == "13"


@pytest.mark.parametrize(
    "metric",
    ["transfer_count", "links_new", "transfer_settlement_value", "time_to_credit_p95_ms",
     "quote_conversion", "active_members_30d", "net_position", "coalition_total_value"],
)  # fmt: skip
def test_a_partner_sees_exactly_what_analytics_service_answers_it(
    measured: Engine, metric: str
) -> None:
    page = console_client(measured, "harbor-finance").get(f"/kpis?metric={metric}&{PERIOD}")
    assert page.status_code == 200
    assert "orbit" not in page.text  # no pair, figure or menu entry of the other partners
    with Session(measured) as session:
        query = analytics.SeriesQuery(metric, str(DAY1), str(DAY2), "day")
        _, expected = analytics.metric_series(SqlMetricsRepository(session), "harbor", query)
    shown = shown_series(page.text)
    assert len(shown) == len(expected)
    for series, want in zip(shown, expected, strict=True):
        assert "harbor" in series.title
        for (start, text), point in zip(series.rows, want.points, strict=True):
            assert start == point.start_date.isoformat()
            if point.suppressed:
                assert text == SUPPRESSED
            elif point.value is None:
                assert text == "no figure"
            else:
                assert _exact(text, want.dimension, isinstance(point.value, int)) == point.value


def _exact(text: str, dimension: str, whole: bool) -> Decimal:
    """The figure a cell shows, back in the hub's units (money in minor units)."""
    shown = Decimal(text.replace(",", ""))
    return shown.scaleb(CURRENCY_MINOR_UNITS.get(dimension, 0)) if whole else shown


def test_a_partner_naming_another_partner_gets_the_plain_404(measured: Engine) -> None:
    client = console_client(measured, "harbor-finance")
    assert client.get(f"/kpis?{PERIOD}&partner=orbit").status_code == 404
    assert client.get(f"/kpis?{PERIOD}&partner=harbor").status_code == 200


def test_the_operator_viewing_as_a_partner_sees_that_partner_s_answer(measured: Engine) -> None:
    client = console_client(measured, "ops")
    as_harbor = client.get(f"/kpis?metric=transfer_count&{PERIOD}&partner=harbor")
    assert [s.title for s in shown_series(as_harbor.text)] == ["skyway → harbor"]
    assert "as harbor sees it" in as_harbor.text


@pytest.mark.parametrize("granularity", ["day", "week"])
def test_suppressed_cells_are_never_a_number_in_the_table_chart_or_csv(
    measured: Engine, granularity: str
) -> None:
    client = console_client(measured, "sky-finance")
    page = client.get(f"/kpis?metric=links_new&{PERIOD}&granularity={granularity}")
    shown = {s.title: s for s in shown_series(page.text)}
    assert shown["harbor and skyway"].rows[0] == (str(DAY1), "12")
    withheld = shown["orbit and skyway"]
    assert withheld.rows[0] == (str(DAY1), SUPPRESSED)
    assert f"<title>{DAY1}: suppressed</title>" in withheld.svg
    bar_titles = re.findall(r"<title>[0-9-]+: (.*?)</title>", withheld.svg)
    assert all(not NUMBER.search(title) or title == "suppressed" for title in bar_titles)
    assert "Suppressed figures." in page.text and "never shown as a number" in page.text
    csv = client.get(f"/kpis?metric=links_new&{PERIOD}&granularity={granularity}&format=csv")
    orbit_rows = [line for line in csv.text.splitlines() if line.startswith("orbit,skyway")]
    assert orbit_rows and orbit_rows[0].endswith(f"{DAY1},{SUPPRESSED}")


def test_a_member_count_headline_is_shown_or_suppressed_never_estimated(measured: Engine) -> None:
    sky = headlines(console_client(measured, "sky-finance").get(f"/kpis?{PERIOD}").text)
    assert sky["Active linked members, 30 days"] == "13"
    orbit = console_client(measured, "orbit-viewer").get(f"/kpis?{PERIOD}").text
    assert headlines(orbit)["Active linked members, 30 days"] == SUPPRESSED
    assert 'id="suppression-note"' in orbit


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("metric=nope", "Metric: is not a known metric"),
        ("from=2026-02-30", "From: is not a calendar date"),
        ("from=yesterday", "From: must be a date written YYYY-MM-DD"),
        ("to=3/3/2026", "To: must be a date written YYYY-MM-DD"),
        (f"from={DAY2}&to={DAY1}", "To: must not be before From"),
        ("granularity=hour", "Granularity: must be day, week or month"),
        ("metric=cohort_size&granularity=week", "Granularity: cohort metrics are monthly"),
        ("from=2025-01-01&to=2026-03-01", "Granularity: a daily chart spans at most 366 days"),
        ("from=2020-01-01&to=2026-03-01&granularity=month", "To: a series spans at most 1830"),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_nothing_else(
    measured: Engine, query: str, message: str
) -> None:
    page = console_client(measured, "ops").get(f"/kpis?{query}")
    assert page.status_code == 400
    assert any(error.startswith(message) for error in errors(page.text)), errors(page.text)
    assert "<svg" not in page.text and "headline" not in page.text
    assert 'aria-invalid="true"' in page.text
