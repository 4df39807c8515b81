"""The KPI page for tests: a logged-in client on a hub with hand-made measures, and a reader of
the page's headlines, series and tables."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import date

from sqlalchemy import Engine
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from coalition.keys import SigningKey
from exchange.console import auth
from exchange.console.app import SESSION_COOKIE, ConsoleSettings
from exchange.console.application import create_app
from exchange.console.auth import Role
from tests.console.support import ensure_console_tables
from tests.metrics.records import CALENDAR, Records, StepClock, noon_us

ORIGIN = "http://127.0.0.1"
PASSWORD = "a long enough password"
DAY1, DAY2, TODAY = date(2026, 3, 2), date(2026, 3, 3), date(2026, 3, 4)
USERS = {
    "ops": (Role.OPERATOR, None),
    "sky-finance": (Role.FINANCE, "skyway"),
    "harbor-finance": (Role.FINANCE, "harbor"),
    "orbit-viewer": (Role.VIEWER, "orbit"),
}
SKYWAY_HARBOR_MEMBERS = 12  # at or above the release threshold
SKYWAY_ORBIT_MEMBERS = 3  # below it: withheld


def seed_measures(engine: Engine) -> None:
    """Two settled days: 12 members linked at skyway and harbor, each with one transfer
    skyway → harbor on DAY1 (300 minor units each), 4 quotes of which 2 used; 3 members linked at
    skyway and orbit, one of whom moves orbit → skyway on DAY2 (500)."""
    records = Records(engine)
    records.partners()
    harbor = [records.member(("skyway", "harbor")) for _ in range(SKYWAY_HARBOR_MEMBERS)]
    orbit = [records.member(("skyway", "orbit")) for _ in range(SKYWAY_ORBIT_MEMBERS)]
    for n, cmid in enumerate(harbor):
        pair, points = ("skyway", "harbor"), (1000, 750)
        records.transfer(pair, cmid, points, 300, noon_us(DAY1), duration_s=n + 1)
    for n, cmid in enumerate(harbor[:4]):
        records.quote(("skyway", "harbor"), cmid, noon_us(DAY1), used=n % 2 == 0)
    records.transfer(("orbit", "skyway"), orbit[0], (2000, 1000), 500, noon_us(DAY2))
    records.settle(DAY1)
    records.settle(DAY2)


def add_users(engine: Engine, now_us: int) -> None:
    ensure_console_tables(engine)
    with Session(engine) as session:
        for username, (role, partner) in USERS.items():
            session.add(auth.new_user(username, role, partner, PASSWORD, now_us))
        session.commit()


def console_client(engine: Engine, username: str) -> TestClient:
    """The console in-process, its clock on TODAY, logged in as `username`."""
    clock = StepClock(noon_us(TODAY))
    settings = ConsoleSettings(engine, SigningKey.generate(), CALENDAR, clock=clock)
    client = TestClient(create_app(settings), raise_server_exceptions=False, base_url=ORIGIN)
    with Session(engine) as session:
        token, _ = auth.log_in(session, username, PASSWORD, "127.0.0.1", clock.now_us())
        session.commit()
    client.cookies.set(SESSION_COOKIE, token)
    return client


@dataclass(frozen=True)
class ShownSeries:
    title: str
    rows: list[tuple[str, str]]  # (bucket start, cell text)
    svg: str


def _text(fragment: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", fragment)).strip()


def shown_series(page: str) -> list[ShownSeries]:
    found = []
    for section in re.findall(r'<section class="chart kpi".*?</section>', page, re.S):
        heading = re.search(r'<h3 id="series-\d+">(.*?)(?: <span|</h3>)', section, re.S)
        assert heading is not None
        rows = re.findall(r'<tr><th scope="row">(.*?)</th><td[^>]*>(.*?)</td></tr>', section)
        svg = re.search(r"<svg.*?</svg>", section, re.S)
        assert svg is not None
        found.append(
            ShownSeries(_text(heading.group(1)), [(_text(a), _text(b)) for a, b in rows], svg[0])
        )
    return found


def headlines(page: str) -> dict[str, str]:
    cards = re.findall(r'<h3>(.*?)</h3>\s*<p class="figure"[^>]*>(.*?)</p>', page, re.S)
    return {_text(title): _text(value) for title, value in cards}


def errors(page: str) -> list[str]:
    alert = re.search(r'<div class="alert" role="alert">(.*?)</div>', page, re.S)
    return re.findall(r"<li[^>]*>(.*?)</li>", alert.group(1)) if alert else []
