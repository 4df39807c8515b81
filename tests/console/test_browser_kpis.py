"""The KPI page on the demo hub: over HTTP against AnalyticsService's own answer, and in a real
browser (charts, tables, suppressed cells, a bad query), scanned with axe and photographed."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe  # type: ignore[import-untyped]
from playwright.sync_api import Page, expect
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from coalition.keys import SigningKey
from exchange.adapters.sql.engine import create_database_engine
from exchange.adapters.sql.metrics_repository import SqlMetricsRepository
from exchange.console import auth
from exchange.console.app import SESSION_COOKIE, ConsoleSettings
from exchange.console.application import create_app
from exchange.domain.metrics_release import Series
from exchange.services import analytics
from settlement.calendar import CoalitionCalendar
from tests.console.kpi_pages import ORIGIN, headlines, shown_series
from tests.console.pages import log_in, screenshot
from tests.console.support import PASSWORD, DemoHub

LOOKS = Path("/tmp")  # a copy of each screenshot, for people checking the charts by eye


def _demo_series(hub: DemoHub, viewer: str | None, metric: str) -> list[Series]:
    engine = create_database_engine(hub.database_url)
    try:
        with Session(engine) as session:
            query = analytics.SeriesQuery(metric, hub.days[0], hub.days[1], "day")
            return analytics.metric_series(SqlMetricsRepository(session), viewer, query)[1]
    finally:
        engine.dispose()


def _page(hub: DemoHub, username: str, path: str) -> str:
    engine = create_database_engine(hub.database_url)
    try:
        app = create_app(ConsoleSettings(engine, SigningKey.generate(), CoalitionCalendar()))
        client = TestClient(app, raise_server_exceptions=False, base_url=ORIGIN)
        with Session(engine) as session:
            token, _ = auth.log_in(session, username, PASSWORD, "127.0.0.1", time.time_ns() // 1000)
            session.commit()
        client.cookies.set(SESSION_COOKIE, token)
        response = client.get(path)
        assert response.status_code == 200
        return str(response.text)
    finally:
        engine.dispose()


@pytest.mark.parametrize(("username", "viewer"), [("ops", None), ("harbor-finance", "harbor")])
def test_the_demo_hub_s_figures_are_analytics_service_s(
    hub: DemoHub, username: str, viewer: str | None
) -> None:
    first, last = hub.days
    page = _page(hub, username, f"/kpis?metric=transfer_count&from={first}&to={last}")
    expected = _demo_series(hub, viewer, "transfer_count")
    assert expected, "the demo settles transfers"
    shown = shown_series(page)
    assert [s.title for s in shown] == [f"{s.subject} → {s.counterpart}" for s in expected]
    total = sum(int(p.value or 0) for s in expected for p in s.points)
    assert headlines(page)["Transfers completed"] == f"{total:,}"
    if viewer is not None:
        assert all(viewer in s.title for s in shown) and "orbit" not in page


def _no_violations(page: Page) -> None:
    page.wait_for_load_state("networkidle")
    results = Axe().run(page)
    assert results.response["violations"] == [], results.generate_report()


def _photograph(page: Page, name: str) -> None:
    screenshot(page, name)
    page.screenshot(path=str(LOOKS / f"{name}.png"), full_page=True)


def test_the_kpi_page_in_a_browser_charts_tables_and_axe(page: Page, hub: DemoHub) -> None:
    first, last = hub.days
    log_in(page, "ops")
    page.get_by_role("link", name="KPIs").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("KPIs: Transfers completed")
    expect(page.locator(".headline").first).to_contain_text("Transfers completed")
    expect(page.locator("svg[role=img]").first).to_have_attribute(
        "aria-label", re.compile("^Transfers completed, .* points from")
    )
    _no_violations(page)
    _photograph(page, "kpi-operator")

    page.get_by_label("Metric").select_option(label="New links")
    page.get_by_label("From", exact=True).fill(first)
    page.get_by_label("To", exact=True).fill(last)
    page.get_by_label("Granularity").select_option("day")
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("KPIs: New links")
    # The demo's pairs link fewer than 11 members a day: every such cell is withheld.
    cells = page.locator("td.withheld")
    expect(cells.first).to_have_text("suppressed")
    assert set(cells.all_inner_texts()) == {"suppressed"}
    expect(page.locator("#suppression-note")).to_contain_text("never shown as a number")
    _no_violations(page)
    _photograph(page, "kpi-suppressed")


def test_a_partner_s_kpis_and_a_bad_query_in_a_browser(page: Page, hub: DemoHub) -> None:
    first, last = hub.days
    log_in(page, "harbor-finance")
    page.goto(f"/kpis?metric=transfer_settlement_value&from={first}&to={last}")
    expect(page.locator("h2").first).to_contain_text("as harbor sees it")
    assert "orbit" not in page.locator("main").inner_text()
    _no_violations(page)
    _photograph(page, "kpi-partner")

    response = page.goto(f"/kpis?metric=nope&from={last}&to={first}&granularity=hour")
    assert response is not None and response.status == 400
    alert = page.get_by_role("alert")
    for field in ("Metric:", "To:", "Granularity:"):
        expect(alert).to_contain_text(field)
    expect(page.locator("svg")).to_have_count(0)
    _no_violations(page)
    _photograph(page, "kpi-bad-query")
