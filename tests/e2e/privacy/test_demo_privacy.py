"""After the real demo: no member data or foreign ppid in any table, response, event or log."""

from __future__ import annotations

from tests.e2e.privacy.support import (
    DemoObservations,
    foreign_ppids,
    occurrences,
    personal_data,
    personal_data_in_tables,
    ppids_named,
)


def erased_ppids(observed: DemoObservations, partner_id: str) -> list[str]:
    return [
        payload.member_erased.ppid
        for payload in observed.events_received(partner_id)
        if payload.HasField("member_erased")
    ]


def test_the_demo_run_is_observed_fully(observed: DemoObservations) -> None:
    """The searches below are only as good as what they search: check that it is all there."""
    assert observed.member_numbers
    assert observed.stored_member_numbers == set(observed.member_numbers)
    assert set(observed.ppid_owners.values()) == {"skyway", "harbor", "orbit"}
    assert {partner for partner, _, _ in observed.responses} == {"skyway", "harbor", "orbit"}
    live, final = observed.tables[0], observed.tables[-1]
    live_ppids = [(str(row[0]), str(row[1])) for row in live["ppids"]]  # (ppid, partner_id)
    assert live_ppids
    assert all(observed.ppid_owners[ppid] == partner for ppid, partner in live_ppids)
    assert live["member_tiers"] and live["tier_grants"] and live["link_codes"]
    erased = {ppid for p in observed.ppid_owners.values() for ppid in erased_ppids(observed, p)}
    assert erased and not erased & {row[0] for row in final["ppids"]}  # the erasure ran
    assert observed.tables_with_live_code
    assert any("hub listening" in line for line in observed.log_lines)
    # Records from the hub's server threads are captured too (the demo's revoked-key call).
    assert any("GetPartner refused" in line for line in observed.log_lines)


def test_no_hub_table_holds_a_member_number_email_or_name(observed: DemoObservations) -> None:
    findings = [
        finding
        for snapshot in observed.tables
        for finding in personal_data_in_tables(snapshot, observed.member_numbers)
    ]
    assert findings == []


def test_no_hub_table_holds_a_live_link_code(observed: DemoObservations) -> None:
    """Only a code's digest may be stored: a database reader must not be able to redeem it."""
    findings = [
        finding
        for code, snapshot in observed.tables_with_live_code
        for table, rows in snapshot.items()
        for row in rows
        for finding in occurrences(
            f"table {table}", row, {code: "link code", code.replace("-", ""): "link code"}
        )
    ]
    assert findings == []


def test_no_response_event_or_log_line_carries_member_data(observed: DemoObservations) -> None:
    findings = [
        finding
        for recipient, method, body in observed.responses
        for finding in personal_data(f"{method} to {recipient}", [body], observed.member_numbers)
    ]
    findings += personal_data("the log", observed.log_lines, observed.member_numbers)
    assert findings == []


def test_no_partner_receives_another_partners_ppid(observed: DemoObservations) -> None:
    owners = observed.ppid_owners
    findings = [
        finding
        for recipient, method, body in observed.responses
        for finding in foreign_ppids(recipient, f"{method} to {recipient}", body, owners)
    ]
    assert findings == []


def test_each_event_names_only_the_recipients_own_member(observed: DemoObservations) -> None:
    received = {p: observed.events_received(p) for p in ("skyway", "harbor", "orbit")}
    kinds = {p: {e.WhichOneof("body") for e in events} for p, events in received.items()}
    named = {
        recipient: [ppid for payload in events for ppid in ppids_named(payload)]
        for recipient, events in received.items()
    }

    assert {"member_erased"} <= kinds["skyway"]
    assert {"tier_granted", "member_erased"} <= kinds["harbor"]
    assert named["skyway"] and named["harbor"]
    for recipient, ppids in named.items():
        assert {observed.ppid_owners[ppid] for ppid in ppids} <= {recipient}
