"""The console's rules in a real browser: roles, tampering, cross-site posts, logout, a11y.

Every screen is also scanned with axe and photographed under bench-results/console/.
"""

from __future__ import annotations

import re

import pytest
from axe_playwright_python.sync_playwright import Axe  # type: ignore[import-untyped]
from playwright.sync_api import Browser, Page, expect

from tests.console.pages import log_in, screenshot
from tests.console.support import DemoHub, statement_lines

SERIOUS = ("serious", "critical")


@pytest.mark.parametrize(
    ("username", "role_line", "may_upload"),
    [
        ("ops", "operator · all partners", False),
        ("sky-finance", "finance · skyway", True),
        ("sky-viewer", "viewer · skyway", False),
    ],
)
def test_each_role_logs_in_and_sees_what_it_may(
    page: Page, hub: DemoHub, username: str, role_line: str, may_upload: bool
) -> None:
    log_in(page, username)
    expect(page.locator(".who")).to_contain_text(role_line)
    expect(page.get_by_role("link", name="Audit log")).to_have_count(1 if username == "ops" else 0)
    page.goto("/reconciliation")
    expect(page.get_by_role("button", name="Upload and match")).to_have_count(int(may_upload))
    page.goto(f"/positions?day={hub.days[0]}")
    participants = page.locator("tbody th[scope=row]").all_inner_texts()
    if username == "ops":
        assert {"skyway", "harbor", "orbit", "hub (fees)"} <= set(participants)
    else:
        assert participants[: participants.index("skyway") + 1] == ["skyway"]
        assert "harbor" not in participants and "orbit" not in participants
    page.goto(f"/statement?day={hub.days[0]}")
    expect(page.locator("tbody").get_by_role("link", name=re.compile("^Dispute"))).to_have_count(
        2 if may_upload else 0
    )


def _not_found_text(page: Page) -> str:
    response = page.goto("/disputes/dp_000000000000000000000000")
    assert response is not None and response.status == 404
    return page.locator("main").inner_text()


def test_a_partner_tampering_with_urls_and_forms_gets_the_plain_404(
    page: Page, browser: Browser, hub: DemoHub, console_url: str
) -> None:
    first, second = hub.days
    # A dispute between skyway and orbit, which harbor is no party to.
    line = next(ln for ln in statement_lines(hub, "skyway", second) if ln.record.payer == "orbit")
    log_in(page, "sky-finance")
    page.goto(f"/disputes/new?day={second}&transfer_id={line.record.transfer_id}")
    page.get_by_label("The amount you say is right").fill("1.00")
    page.get_by_label("Reason").fill("checking access rules")
    page.get_by_role("button", name="Open the dispute").click()
    dispute_path = page.url.removeprefix(console_url)

    harbor = browser.new_page(base_url=console_url)
    log_in(harbor, "harbor-finance")
    plain_404 = _not_found_text(harbor)
    for path in (
        f"/statement?day={first}&partner=skyway",
        f"/positions?day={first}&partner=orbit",
        "/runs?partner=skyway",
        f"/files/{first}/statement-skyway-USD.csv",
        f"/files/{first}/settlement.json",
        dispute_path,
        f"/disputes/new?day={second}&transfer_id={line.record.transfer_id}",
        "/audit",
    ):
        response = harbor.goto(path)
        assert response is not None and response.status == 404, path
        assert harbor.locator("main").inner_text() == plain_404, path
    forms: dict[str, dict[str, str | float | bool]] = {
        "/disputes": {"business_day": second, "transfer_id": line.record.transfer_id,
                      "claimed_amount": "9.00", "reason": "not mine"},
        f"{dispute_path}/resolve": {"decision": "accept", "reason": "not mine"},
        "/reconciliation": {"business_day": first, "partner": "skyway"},
    }  # fmt: skip
    for path, fields in forms.items():
        posted = harbor.request.post(path, form=fields, headers={"origin": console_url})
        assert posted.status == 404, path
    page.goto(dispute_path)
    expect(page.locator(".state")).to_have_text("open")  # the tampered accept did nothing
    harbor.close()


def test_a_cross_site_post_is_refused_and_a_same_origin_one_is_not(
    page: Page, console_url: str
) -> None:
    log_in(page, "sky-viewer")
    other_origin = console_url.rsplit(":", 1)[0] + ":9"  # another port: same site, other origin
    attack = f'<form method="post" action="{console_url}/logout"><button>Win</button></form>'
    page.route(
        f"{other_origin}/attack", lambda route: route.fulfill(body=attack, content_type="text/html")
    )
    page.goto(f"{other_origin}/attack")
    with page.expect_response(f"{console_url}/logout") as refused:
        page.get_by_role("button", name="Win").click()
    assert refused.value.status == 403
    expect(page.get_by_role("heading", name="Request refused")).to_be_visible()
    page.goto("/runs")
    expect(page.get_by_role("button", name="Log out")).to_be_visible()  # still logged in

    forged = page.request.post("/logout", headers={"origin": "https://evil.example"})
    assert forged.status == 403
    bare = page.request.post("/logout", headers={"sec-fetch-site": "cross-site"})
    assert bare.status == 403
    page.get_by_role("button", name="Log out").click()  # the console's own form: accepted
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()


def test_logout_revokes_the_session_even_for_a_kept_cookie(
    page: Page, browser: Browser, console_url: str
) -> None:
    log_in(page, "sky-viewer")
    cookie = next(c for c in page.context.cookies() if c["name"] == "cx_console")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    page.get_by_role("button", name="Log out").click()
    replay = browser.new_context(base_url=console_url)
    replay.add_cookies([cookie])  # type: ignore[list-item]
    stale = replay.new_page()
    stale.goto("/runs")
    expect(stale.get_by_role("heading", name="Log in")).to_be_visible()
    replay.close()


def test_wrong_passwords_are_refused_without_saying_which_part_was_wrong(page: Page) -> None:
    page.goto("/login")
    for username in ("sky-finance", "nobody-at-all"):
        page.get_by_label("Username").fill(username)
        page.get_by_label("Password").fill("not the password at all")
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_role("alert")).to_have_text("That username and password do not match.")


SCREENS = {
    "ops": ["/runs", "/positions", "/statement?day={day}&partner=skyway", "/reconciliation",
            "/disputes", "/audit", "/audit?user=sky-finance"],
    "sky-finance": ["/runs", "/positions", "/statement?day={day}", "/reconciliation",
                    "/disputes", "/disputes/new?day={day}&transfer_id={transfer}", "/nowhere"],
}  # fmt: skip


@pytest.mark.parametrize("username", list(SCREENS))
def test_every_screen_passes_axe_and_is_photographed(
    page: Page, hub: DemoHub, username: str
) -> None:
    day = hub.days[0]
    transfer = statement_lines(hub, "skyway", day)[0].record.transfer_id
    log_in(page, username)
    axe = Axe()
    for path in SCREENS[username]:
        url = path.format(day=day, transfer=transfer)
        page.goto(url + ("&" if "?" in url else "?") + f"from={day}&to={hub.days[1]}")
        page.wait_for_load_state("networkidle")
        results = axe.run(page)
        serious = [v["id"] for v in results.response["violations"] if v["impact"] in SERIOUS]
        assert serious == [], (url, results.generate_report())
        name = re.sub(r"[^a-z]+", "-", path.split("?")[0].strip("/") or "home")
        suffix = "-filtered" if "user=" in path else ""
        screenshot(page, f"{username}-{name}{suffix}")
    if username == "ops":
        page.goto(f"/audit?user=sky-finance&from={day}&to={hub.days[1]}")
        users = set(page.locator("tbody th[scope=row]").all_inner_texts())
        assert users <= {"sky-finance"}
    page.context.clear_cookies()
    page.goto("/login")
    assert Axe().run(page).response["violations"] == [] or all(
        v["impact"] not in SERIOUS for v in Axe().run(page).response["violations"]
    )
    screenshot(page, "login")
