"""The privacy searches (member numbers, e-mail, names, foreign ppids) and the observed demo."""

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

from coalition.keys import PUBLIC_KEY_FILE
from coalition.v1 import event_pb2, identity_pb2
from coalition.wire import key_id_for
from exchange.adapters.sql.engine import create_database_engine
from exchange.bootstrap import Hub
from exchange.config import Settings
from partners import demo
from partners.sdk import verify_event
from tests.support import databases
from tests.support.databases import table_snapshot

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
