"""The searches on planted data, so that a clean result means something."""

from __future__ import annotations

import secrets

from coalition.v1 import event_pb2, identity_pb2, tier_pb2
from exchange.domain.members import new_ppid
from tests.e2e.privacy.support import (
    Finding,
    Snapshot,
    foreign_ppids,
    personal_data,
    personal_data_in_tables,
)


def test_a_planted_member_number_email_or_name_is_found_in_a_table() -> None:
    snapshot: Snapshot = {
        "ppids": [(new_ppid(), "skyway", "cm_" + "0" * 32, 1)],
        "idempotency_records": [("harbor", "k", "m", b"\x00" * 32, b"\x0a\x0aHBR-1A2B-1\x12", 1)],
        "events": [("e1", "orbit", 1, b"\x01mail ada.l@example.org\x02")],
        "link_codes": [(b"\x00" * 32, "skyway", "sky-1a2b-1", 1, 2, None)],
        "tiers": [("skyway", 1, "GOLD", "Ada", 1, 1)],
    }

    findings = personal_data_in_tables(snapshot, ["SKY-1A2B-1", "HBR-1A2B-1"])

    assert {(f.place, f.kind, f.text) for f in findings} == {
        ("table idempotency_records", "member number", "HBR-1A2B-1"),
        ("table link_codes", "member number", "SKY-1A2B-1"),
        ("table events", "e-mail", "ada.l@example.org"),
        ("table tiers", "person name", "Ada"),
    }


def test_clean_values_produce_no_findings() -> None:
    values = [new_ppid(), "cm_" + secrets.token_hex(16), "Skyway Airlines", b"\x00\xff", 42, None]
    assert personal_data("clean", values, ["SKY-1A2B-1"]) == []


def test_a_foreign_ppid_nested_in_an_event_is_found_and_an_own_ppid_is_not() -> None:
    harbor_ppid, skyway_ppid = new_ppid(), new_ppid()
    owners = {harbor_ppid: "harbor", skyway_ppid: "skyway"}
    payload = event_pb2.EventPayload(
        event_id="e1",
        sequence=1,
        partner_id="harbor",
        tier_granted=event_pb2.TierGranted(ppid=skyway_ppid, tier_code="GOLD"),
    )
    leaking = event_pb2.ListEventsResponse(
        events=[event_pb2.Event(event_id="e1", sequence=1, payload=payload.SerializeToString())]
    ).SerializeToString()
    clean = tier_pb2.RequestStatusMatchResponse(grant_id="tg_1").SerializeToString()
    own = identity_pb2.EnrollMemberResponse(ppid=harbor_ppid).SerializeToString()

    assert foreign_ppids("harbor", "ListEvents", leaking, owners) == [
        Finding("ListEvents", "skyway's ppid sent to harbor", skyway_ppid)
    ]
    assert foreign_ppids("harbor", "RequestStatusMatch", clean, owners) == []
    assert foreign_ppids("harbor", "EnrollMember", own, owners) == []
