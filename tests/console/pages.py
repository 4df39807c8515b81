"""Browser helpers: log in, take a screenshot of a screen for people to look at."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page, expect

from tests.console.support import PASSWORD

SCREENSHOTS = Path(__file__).resolve().parents[2] / "bench-results" / "console"


def log_in(page: Page, username: str) -> None:
    page.goto("/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()


def screenshot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
