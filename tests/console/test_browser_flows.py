"""The console in a real browser: runs to a verified statement, exports, breaks, disputes.

The console runs as its own process on a free port, against a hub database the demo scenario
settled (two business days); Debian's chromium drives it.
"""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import FilePayload, Locator, Page, expect

from settlement.model import TransferRecord
from tests.console.pages import log_in, screenshot
from tests.console.support import DemoHub, count_rows, run, statement_lines

UNKNOWN_TRANSFER_ID = "tr_000000000000000000000000"


def test_runs_positions_statement_walk_ends_at_a_verified_mark(page: Page, hub: DemoHub) -> None:
    day = hub.days[0]
    log_in(page, "ops")
    page.goto(f"/runs?from={hub.days[0]}&to={hub.days[1]}")
    run_row = _run_row(page, day)
    # The mark is computed by the console (an htmx request per row), never stored.
    expect(run_row.get_by_role("status")).to_contain_text("Verified: 3 statements")
    screenshot(page, "runs")

    run_row.get_by_role("link", name=re.compile("Positions")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Positions on {day}")
    expect(page.get_by_text("nets of every participant in USD sum to zero")).to_be_visible()
    for participant in ("skyway", "harbor", "orbit", "hub (fees)"):
        expect(page.get_by_role("rowheader", name=participant, exact=True)).to_be_visible()
    expect(page.locator("svg[role=img]")).to_have_attribute(
        "aria-label", re.compile("Net position")
    )

    page.goto(f"/runs?from={day}&to={day}")
    _run_row(page, day).get_by_role("link", name=re.compile("Statements")).click()
    page.get_by_label("Partner").select_option("skyway")
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Statement of skyway")
    expect(page.locator("#verified")).to_contain_text("Verified by the console")
    lines = statement_lines(hub, "skyway", day)
    for line in lines:
        expect(page.get_by_role("row").filter(has_text=line.record.transfer_id)).to_contain_text(
            f"in tree at {line.leaf_index}"
        )


def _run_row(page: Page, day: str) -> Locator:
    header = page.get_by_role("rowheader", name=re.compile(f"^{day}"))
    return page.get_by_role("row").filter(has=header)


def test_each_download_is_byte_for_byte_coalition_export(
    page: Page, hub: DemoHub, tmp_path: Path
) -> None:
    day = hub.days[0]
    out = tmp_path / "export"
    run(
        "-m", "exchange.cli", "export", "--date", day, "--out", str(out),
        "--bank-accounts", str(hub.bank_accounts), "--database-url", hub.database_url,
        cwd=tmp_path,
    )  # fmt: skip
    exported = {path.name: path.read_bytes() for path in out.iterdir()}
    assert {"settlement.json", "positions.csv", "payouts-USD.pain.001.001.09.xml"} <= set(exported)

    log_in(page, "ops")
    page.goto(f"/statement?day={day}&partner=skyway")
    assert _downloads(page) == exported

    page.context.clear_cookies()
    log_in(page, "sky-finance")
    page.goto(f"/statement?day={day}")
    own = _downloads(page)
    assert own["statement-skyway-USD.csv"] == exported["statement-skyway-USD.csv"]
    assert not any("harbor" in name or "orbit" in name for name in own)
    assert b"harbor" not in own["settlement-skyway.json"]


def _downloads(page: Page) -> dict[str, bytes]:
    files = {}
    links = page.locator("ul.files a")
    for index in range(links.count()):
        with page.expect_download() as info:
            links.nth(index).click()
        download = info.value
        files[download.suggested_filename] = Path(download.path()).read_bytes()
    return files


def _upload(page: Page, day: str, name: str, content: str) -> None:
    page.goto("/reconciliation")
    page.get_by_label("Business day").first.fill(day)
    upload: FilePayload = {"name": name, "mimeType": "text/csv", "buffer": content.encode()}
    page.get_by_label("CSV file").set_input_files(files=[upload])
    page.get_by_role("button", name="Upload and match").click()


def test_an_upload_produces_every_break_kind_and_a_repeat_changes_nothing(
    page: Page, hub: DemoHub
) -> None:
    first, second = hub.days
    outgoing, incoming = _directions(hub, "skyway", first)
    later = statement_lines(hub, "skyway", second)[0].record
    header = "transfer_id,direction,points,amount_minor,currency\n"
    rows = [
        f"{outgoing.transfer_id},outgoing,{outgoing.source_points},{outgoing.amount_minor + 1},USD",
        f"{UNKNOWN_TRANSFER_ID},outgoing,100,100,USD",
        "tr_listedtwice000000000000,incoming,5,5,USD",
        "tr_listedtwice000000000000,incoming,5,5,USD",
        f"{later.transfer_id},incoming,1,{later.amount_minor},USD",
    ]  # the incoming line of the day is left out: missing at partner
    content = header + "\n".join(rows) + "\n"
    log_in(page, "sky-finance")
    _upload(page, first, "skyway.csv", content)
    expect(page.get_by_role("status").filter(has_text="Uploaded")).to_be_visible()
    _upload(page, second, "empty.csv", header)
    page.goto(f"/reconciliation?from={first}&to={second}")
    kinds = {"Missing at hub": UNKNOWN_TRANSFER_ID, "Missing at partner": incoming.transfer_id,
             "Amount mismatch": outgoing.transfer_id, "Duplicate": "tr_listedtwice",
             "Timing (across cut-off)": later.transfer_id, "No data": "none"}  # fmt: skip
    for label, transfer in kinds.items():
        row = page.get_by_role("row").filter(has=page.get_by_role("rowheader", name=label))
        expect(row).to_contain_text(transfer)
        expect(row.locator("td.num")).to_have_text(re.compile(r"\d+ days?"))
    screenshot(page, "reconciliation")
    before = (count_rows(hub, "reconciliations"), page.locator("tbody tr").count())

    _upload(page, first, "skyway.csv", content)
    expect(page.get_by_role("status").filter(has_text="nothing changed")).to_be_visible()
    page.goto(f"/reconciliation?from={first}&to={second}")
    assert (count_rows(hub, "reconciliations"), page.locator("tbody tr").count()) == before

    _upload(page, first, "bad.csv", header + rows[0] + "\ntr_x,sideways,1,1,USD\n")
    expect(page.get_by_role("alert")).to_contain_text("line 3, direction")
    expect(page.get_by_role("alert")).to_contain_text("Nothing was stored")
    assert count_rows(hub, "reconciliations") == before[0]


def _directions(hub: DemoHub, partner: str, day: str) -> tuple[TransferRecord, TransferRecord]:
    lines = statement_lines(hub, partner, day)
    payable = next(line.record for line in lines if line.payable)
    receivable = next(line.record for line in lines if not line.payable)
    return payable, receivable


def test_a_dispute_opened_by_one_partner_accepted_by_the_other_shows_its_adjustment(
    page: Page, hub: DemoHub
) -> None:
    day = hub.days[0]
    line = next(ln for ln in statement_lines(hub, "skyway", day) if ln.record.payee == "harbor")
    log_in(page, "sky-finance")
    page.goto(f"/statement?day={day}")
    page.get_by_role("row").filter(has_text=line.record.transfer_id).get_by_role(
        "link", name=re.compile("Dispute")
    ).click()
    claimed = (line.record.amount_minor + 150) / 100
    page.get_by_label("The amount you say is right").fill(f"{claimed:.2f}")
    page.get_by_label("Reason").fill("our ledger shows 1.50 more for this redemption")
    page.get_by_role("button", name="Open the dispute").click()
    expect(page.locator(".state")).to_have_text("open")
    dispute_url = page.url

    page.context.clear_cookies()
    log_in(page, "harbor-finance")
    page.goto("/disputes")
    expect(page.get_by_role("row").filter(has_text=line.record.transfer_id)).to_contain_text(
        "yours to decide"
    )
    page.goto(dispute_url)
    page.get_by_role("radio", name=re.compile("^Accept")).check()
    page.get_by_label("Reason").fill("agreed after checking our folio")
    page.get_by_role("button", name="Send the decision").click()
    expect(page.locator(".state")).to_have_text("accepted")
    screenshot(page, "dispute")

    page.context.clear_cookies()
    log_in(page, "sky-finance")
    page.goto(dispute_url)
    adjustment_day = page.locator("#adjustment strong").inner_text()
    assert adjustment_day > hub.days[1]  # the next open day: both settled days are closed
    expect(page.locator(".history")).to_contain_text("harbor accepted it")
