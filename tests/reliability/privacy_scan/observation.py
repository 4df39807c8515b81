"""`coalition demo --exit` run in-process with its observers attached: log lines, spans, the
responses the brands receive and the hub's tables after every state-changing response."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from cryptography.hazmat.primitives import serialization
from google.protobuf.message import Message
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlalchemy import Engine, MetaData, select

from coalition.keys import PRIVATE_KEY_FILE, PUBLIC_KEY_FILE, SigningKey, load_signing_key
from coalition.v1 import identity_pb2
from exchange.adapters.sql.engine import create_database_engine
from exchange.adapters.telemetry import Telemetry
from exchange.bootstrap import RESPONSE_KEY_INFO, VAULT_KEY_INFO, Hub, derive_key
from exchange.config import Settings
from partners import demo
from partners.demo_setup import settle_demo_day
from partners.sdk.connection import HubConnection
from tests.reliability.privacy_scan.scanners import (
    IDENTITY,
    PARTNERS,
    RESPONSE_TYPES,
    SECRET_TEXT_CHARS_MIN,
    Snapshot,
    encodings,
)
from tests.support import databases

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import ReadableSpan


# --- observing the demo --------------------------------------------------------------------------


@dataclass
class DemoObservations:
    snapshots: list[Snapshot] = field(default_factory=list)
    log_records: list[logging.LogRecord] = field(default_factory=list)
    spans: list[ReadableSpan] = field(default_factory=list)
    member_numbers: set[str] = field(default_factory=set)
    ppid_owners: dict[str, str] = field(default_factory=dict)
    responses: list[tuple[str, str, bytes]] = field(default_factory=list)
    signatures: set[bytes] = field(default_factory=set)
    link_codes: set[str] = field(default_factory=set)
    private_keys: dict[str, bytes] = field(default_factory=dict)
    key_files: dict[str, bytes] = field(default_factory=dict)

    def secrets(self) -> dict[str, str]:
        """Every textual form of every secret of the run -> what it is."""
        forms: dict[str, str] = {}
        for name, key in self.private_keys.items():
            forms.update(dict.fromkeys(encodings(key), name))
        for name, pem in self.key_files.items():
            for line in pem.decode().splitlines():
                if len(line) >= SECRET_TEXT_CHARS_MIN and not line.startswith("-----"):
                    forms[line] = f"{name} file"
        for signature in self.signatures:
            forms.update(dict.fromkeys(encodings(signature), "signature"))
        for code in self.link_codes:
            forms.update({code: "link code", code.replace("-", ""): "link code"})
        return forms

    def log_lines(self) -> list[str]:
        formatter = logging.Formatter()
        lines: list[str] = []
        for record in self.log_records:
            lines.append(f"{record.name} {record.levelname} {record.getMessage()}")
            if record.exc_info:
                lines.append(formatter.formatException(record.exc_info))
            if record.stack_info:
                lines.append(record.stack_info)
        return lines


class TableReader:
    """Every row of every table the database has, reflected once (nothing skipped)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.metadata = MetaData()
        self.metadata.reflect(bind=engine)
        assert self.metadata.tables, "the hub database has its tables"

    def snapshot(self) -> Snapshot:
        with self.engine.connect() as connection:
            return {
                name: [tuple(row) for row in connection.execute(select(table))]
                for name, table in self.metadata.tables.items()
            }


def store_members(programs: Path) -> Iterator[tuple[str, str, str]]:
    """(partner id, member number, ppid) of every member in the reference programs' stores."""
    for partner_id in PARTNERS:
        path = programs / f"{partner_id}.db"
        if not path.exists():
            continue
        connection = sqlite3.connect(path)
        try:
            rows = connection.execute("SELECT member_number, ppid FROM members").fetchall()
        finally:
            connection.close()
        yield from ((partner_id, str(number), str(ppid)) for number, ppid in rows)


def signatures_in(message: Message) -> Iterator[bytes]:
    """Every `signature` bytes field, at any depth (events, quotes, statements)."""
    for descriptor, value in message.ListFields():
        if descriptor.name == "signature" and isinstance(value, bytes):
            yield value
        elif descriptor.message_type is not None:
            for each in value if descriptor.is_repeated else [value]:
                if isinstance(each, Message):
                    yield from signatures_in(each)


def key_material(observations: DemoObservations, home: Path, settings: Settings) -> None:
    """Every private key of the run (the hub's, each partner's, rotated-out ones), its PEM file,
    and the keys the hub derives from its own."""
    paths = [settings.hub_key_path, *sorted(home.rglob(PRIVATE_KEY_FILE))]
    for path in dict.fromkeys(paths):
        key = load_signing_key(path)
        name = f"private key {path.relative_to(home)}"
        observations.private_keys[name] = raw_private_bytes(key)
        observations.key_files[name] = path.read_bytes()
        if path == settings.hub_key_path:
            observations.private_keys["member vault key"] = derive_key(key, VAULT_KEY_INFO)
            observations.private_keys["response sealing key"] = derive_key(key, RESPONSE_KEY_INFO)


def raw_private_bytes(key: SigningKey) -> bytes:
    return key.private_key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )


def empty_database(request: pytest.FixtureRequest, directory: Path) -> str:
    if request.param == "sqlite":
        return databases.fresh_sqlite_copy(request.getfixturevalue("sqlite_template"), directory)
    url: str = request.getfixturevalue("postgres_url")
    engine = create_database_engine(url)
    databases.empty_all_tables(engine)
    engine.dispose()
    return url


def telemetry_for(exporter: InMemorySpanExporter) -> dict[str, Any]:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return {"telemetry": Telemetry(tracer_provider=provider)}


def record_request_signatures(patch: pytest.MonkeyPatch, observations: DemoObservations) -> None:
    """Keeps every request signature the brands make and every response signature they check."""
    sign = HubConnection.signed_metadata
    verify = HubConnection._verify_response

    def signed_metadata(self: HubConnection, *args: Any, **kwargs: Any) -> Any:
        metadata = sign(self, *args, **kwargs)
        observations.signatures.update(v for _, v in metadata if isinstance(v, bytes))
        return metadata

    def verify_response(
        self: HubConnection, method: str, nonce: str, body: bytes, trailers: Any
    ) -> None:
        observations.signatures.update(v for _, v in trailers if isinstance(v, bytes))
        verify(self, method, nonce, body, trailers)

    patch.setattr(HubConnection, "signed_metadata", signed_metadata)
    patch.setattr(HubConnection, "_verify_response", verify_response)


def run_demo_observed(
    observations: DemoObservations, hub: Hub, settings: Settings, home: Path
) -> None:
    """partners.demo_setup.run_demo's body, with a hook on every response."""
    engine = create_database_engine(settings.database_url)
    tables = TableReader(engine)

    def on_response(partner_id: str, method: str, body: bytes) -> None:
        observations.responses.append((partner_id, method, body))
        response = RESPONSE_TYPES[method].FromString(body)
        observations.signatures.update(signatures_in(response))
        if method == IDENTITY + "EnrollMember":
            observations.ppid_owners[identity_pb2.EnrollMemberResponse.FromString(body).ppid] = (
                partner_id
            )
        if method == IDENTITY + "CreateLinkCode":
            observations.link_codes.add(
                identity_pb2.CreateLinkCodeResponse.FromString(body).link_code
            )
        for owner, number, ppid in store_members(home / "programs"):
            observations.member_numbers.add(number)
            observations.ppid_owners.setdefault(ppid, owner)
        if not method.rsplit("/", 1)[-1].startswith(("Get", "List")):
            observations.snapshots.append(tables.snapshot())

    try:
        demo.run(
            f"127.0.0.1:{hub.port}",
            home,
            settings.audience,
            settings.hub_key_path.with_name(PUBLIC_KEY_FILE),
            on_response=on_response,
            settle=lambda: settle_demo_day(settings, home),
        )
    finally:
        engine.dispose()
