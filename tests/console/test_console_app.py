"""The console app in-process: headers, redirects, error pages that keep internals inside."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine
from starlette.requests import Request
from starlette.responses import Response
from starlette.testclient import TestClient

from coalition.keys import SigningKey
from exchange.console import routes_settlement
from exchange.console.app import ConsoleSettings
from exchange.console.application import create_app
from settlement.calendar import CoalitionCalendar
from tests.console.support import ensure_console_tables

ORIGIN = "http://127.0.0.1"


@pytest.fixture
def client(engine: Engine) -> TestClient:
    ensure_console_tables(engine)
    app = create_app(ConsoleSettings(engine, SigningKey.generate(), CoalitionCalendar()))
    return TestClient(app, raise_server_exceptions=False, base_url=ORIGIN)


def test_pages_need_a_login_and_carry_the_security_headers(client: TestClient) -> None:
    response = client.get("/runs?from=2026-12-01", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/runs%3Ffrom%3D2026-12-01"
    page = client.get("/login")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY"
    assert 'href="/static/console.css"' in page.text and "https://" not in page.text


def test_a_login_link_cannot_send_anyone_to_another_site(client: TestClient) -> None:
    page = client.get("/login?next=//evil.example/x")
    assert 'value="/runs"' in page.text and "evil.example" not in page.text


def test_an_unexpected_failure_shows_a_plain_page_without_internals(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fails(console: object, request: Request) -> Response:
        raise RuntimeError("SELECT secret FROM internals")

    monkeypatch.setattr(routes_settlement, "runs_page", fails)
    response = client.get("/runs")
    assert response.status_code == 500
    assert "Something went wrong" in response.text
    assert "secret" not in response.text and "Traceback" not in response.text


def test_a_post_without_an_origin_is_refused_before_anything_runs(client: TestClient) -> None:
    refused = client.post("/login", data={"username": "x", "password": "y"})
    assert refused.status_code == 403
    same = client.post(
        "/login", data={"username": "x", "password": "y"}, headers={"origin": ORIGIN}
    )
    assert same.status_code == 401
