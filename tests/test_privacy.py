"""Privacy, end to end (DESIGN §3.2, §7 inv. 8): the real demo runs against a real hub, then
every hub table, every response and event each partner received, and every log line are
searched for member numbers, e-mail addresses and names, and for other partners' ppids.

The searches are plain functions, tested first on planted data so that a clean result means
something.
"""

from __future__ import annotations

import logging
import re
import secrets
import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from google.protobuf.message import Message

from coalition.keys import PUBLIC_KEY_FILE, load_public_key
from coalition.v1 import event_pb2, identity_pb2, tier_pb2
from coalition.wire import key_id_for
from exchange.adapters.sql.engine import create_database_engine
from exchange.bootstrap import Hub, bootstrap
from exchange.config import Settings
from exchange.domain.members import new_ppid
from partners import demo
from partners.demo_setup import create_demo_coalition
from partners.sdk import verify_event
from tests.support import databases
from tests.support.coalition import AUDIENCE
from tests.support.databases import table_snapshot
from tests.support.logs import every_log_record

IDENTITY = "/coalition.v1.IdentityService/"
CREATE_LINK_CODE = IDENTITY + "CreateLinkCode"
LIST_EVENTS = "/coalition.v1.EventService/ListEvents"
STATUS_MATCH = "/coalition.v1.TierService/RequestStatusMatch"
MEMBER_NUMBER_PREFIXES = ("SKY", "HBR", "ORB")  # partners/demo.py: SKY-<run>-1, HBR-..., ORB-...
EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
# The demo's member is Ada (ada_sky, ada_hbr, ada_orb): her name must reach the hub nowhere.
PERSON_NAMES = re.compile(r"\b(?:Ada|Lovelace)\b")
# Protobuf and binary columns are searched as their runs of printable ASCII: every string field
# (a ppid, a member number) is one contiguous run, however deeply it is nested.
PRINTABLE_RUN = re.compile(rb"[\x20-\x7e]{3,}")

Snapshot = dict[str, list[tuple[object, ...]]]
BACKENDS = ("sqlite", "postgresql")


# The searches


@dataclass(frozen=True)
class Finding:
    place: str
    kind: str
    text: str


def strings_in(value: object) -> list[str]:
    if value is None:
        return []
    if isinstance(value, bytes | bytearray | memoryview):
        return [run.decode("ascii") for run in PRINTABLE_RUN.findall(bytes(value))]
    return [str(value)]


def occurrences(place: str, values: Iterable[object], needles: Mapping[str, str]) -> list[Finding]:
    """Each needle (text -> what it is) found in `values`, in any letter case."""
    return [
        Finding(place, kind, needle)
        for value in values
        for text in strings_in(value)
        for needle, kind in needles.items()
        if needle.casefold() in text.casefold()
    ]


def personal_data(
    place: str, values: Iterable[object], member_numbers: Iterable[str]
) -> list[Finding]:
    """Member numbers, e-mail-like strings and person names found in `values`."""
    values = list(values)
    findings = occurrences(place, values, dict.fromkeys(member_numbers, "member number"))
    for value in values:
        for text in strings_in(value):
            findings += [Finding(place, "e-mail", m.group()) for m in EMAIL.finditer(text)]
            findings += [
                Finding(place, "person name", m.group()) for m in PERSON_NAMES.finditer(text)
            ]
    return findings


def personal_data_in_tables(snapshot: Snapshot, member_numbers: Iterable[str]) -> list[Finding]:
    numbers = list(member_numbers)
    return [
        finding
        for table, rows in snapshot.items()
        for row in rows
        for finding in personal_data(f"table {table}", row, numbers)
    ]


def foreign_ppids(
    recipient: str, place: str, body: bytes, owners: Mapping[str, str]
) -> list[Finding]:
    """Every ppid in `body` that belongs to a partner other than `recipient`."""
    return [
        Finding(place, f"{owner}'s ppid sent to {recipient}", ppid)
        for ppid, owner in owners.items()
        if owner != recipient and ppid.encode("ascii") in body
    ]


# The real demo, observed


@dataclass
class DemoObservations:
    member_numbers: list[str]
    # Every member number the brands' own stores held at any response during the run.
    stored_member_numbers: set[str]
    # (partner the response went to, method, response bytes), in order.
    responses: list[tuple[str, str, bytes]]
    # The hub database as each status match left it (tier reports, grants, links all live),
    # and as the demo left it (after the erasure).
    tables: list[Snapshot]
    # The hub database while each link code was live (just issued), with that code.
    tables_with_live_code: list[tuple[str, Snapshot]]
    log_lines: list[str]
    hub_public_key: bytes
    ppid_owners: dict[str, str] = field(default_factory=dict)

    def events_received(self, partner_id: str) -> list[event_pb2.EventPayload]:
        hub_keys = {key_id_for(self.hub_public_key): self.hub_public_key}
        return [
            verify_event(event, hub_keys, partner_id)
            for recipient, method, body in self.responses
            if recipient == partner_id and method == LIST_EVENTS
            for event in event_pb2.ListEventsResponse.FromString(body).events
        ]


class RecordingSecrets:
    """Stands in for `secrets` inside partners.demo only, to learn the run's member numbers."""

    def __init__(self) -> None:
        self.run_ids: list[str] = []

    def token_hex(self, nbytes: int | None = None) -> str:
        value = secrets.token_hex(nbytes)
        self.run_ids.append(value)
        return value


def member_numbers_in_stores(directory: Path) -> set[str]:
    numbers: set[str] = set()
    for path in directory.glob("*.db"):
        connection = sqlite3.connect(path)
        try:
            numbers.update(
                row[0] for row in connection.execute("SELECT member_number FROM members")
            )
        finally:
            connection.close()
    return numbers


def log_lines(records: Iterable[logging.LogRecord]) -> list[str]:
    formatter = logging.Formatter()
    lines: list[str] = []
    for record in records:
        lines.append(record.getMessage())
        if record.exc_info:
            lines.append(formatter.formatException(record.exc_info))
    return lines


def empty_database(request: pytest.FixtureRequest, directory: Path) -> str:
    """A migrated, empty database of the requested backend (the demo runs once per backend)."""
    if request.param == "sqlite":
        return databases.fresh_sqlite_copy(request.getfixturevalue("sqlite_template"), directory)
    url: str = request.getfixturevalue("postgres_url")
    engine = create_database_engine(url)
    databases.empty_all_tables(engine)
    engine.dispose()
    return url


@pytest.fixture(scope="module", params=BACKENDS)
def observed(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> DemoObservations:
    """Runs partners.demo as `coalition demo` does, once per backend, recording all it can see."""
    directory = tmp_path_factory.mktemp("privacy-demo")
    home = directory / ".coalition"
    settings = Settings.load(
        environ={},
        database_url=empty_database(request, directory),
        listen_address="127.0.0.1:0",
        audience=AUDIENCE,
        hub_key_path=home / "hub" / "signing.key",
    )
    recorder = RecordingSecrets()
    with pytest.MonkeyPatch.context() as patch, every_log_record() as logs:
        patch.setattr(demo, "secrets", recorder)
        create_demo_coalition(settings, home)
        hub = bootstrap(settings)
        observations = DemoObservations(
            member_numbers=[],
            stored_member_numbers=set(),
            responses=[],
            tables=[],
            tables_with_live_code=[],
            log_lines=[],
            hub_public_key=load_public_key(settings.hub_key_path.with_name(PUBLIC_KEY_FILE)),
        )
        hub.start()
        try:
            run_observed(observations, hub, settings, home)
        finally:
            hub.stop(0)
    observations.member_numbers = [
        f"{prefix}-{run_id.upper()}-1"
        for run_id in recorder.run_ids
        for prefix in MEMBER_NUMBER_PREFIXES
    ]
    observations.log_lines = log_lines(logs.records)
    return observations


def run_observed(observations: DemoObservations, hub: Hub, settings: Settings, home: Path) -> None:
    def on_response(partner_id: str, method: str, body: bytes) -> None:
        observations.responses.append((partner_id, method, body))
        if method == IDENTITY + "EnrollMember":
            ppid = identity_pb2.EnrollMemberResponse.FromString(body).ppid
            observations.ppid_owners[ppid] = partner_id
        if method == STATUS_MATCH:
            observations.tables.append(table_snapshot(hub.engine))
        if method == CREATE_LINK_CODE:
            code = identity_pb2.CreateLinkCodeResponse.FromString(body).link_code
            observations.tables_with_live_code.append((code, table_snapshot(hub.engine)))
        observations.stored_member_numbers.update(member_numbers_in_stores(home / "programs"))

    demo.run(
        f"127.0.0.1:{hub.port}",
        home,
        settings.audience,
        settings.hub_key_path.with_name(PUBLIC_KEY_FILE),
        on_response=on_response,
    )
    observations.tables.append(table_snapshot(hub.engine))


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


def erased_ppids(observed: DemoObservations, partner_id: str) -> list[str]:
    return [
        payload.member_erased.ppid
        for payload in observed.events_received(partner_id)
        if payload.HasField("member_erased")
    ]


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


def ppids_named(message: Message) -> list[str]:
    """Every string field called `ppid`, at any depth of the message."""
    found: list[str] = []
    for descriptor, value in message.ListFields():
        if descriptor.name == "ppid" and isinstance(value, str):
            found.append(value)
        elif descriptor.message_type is not None:
            values = value if descriptor.is_repeated else [value]
            for each in values:
                found += ppids_named(each)
    return found


# The searches can fail


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
