"""Privacy after the full demo (issue 7 item 6; DESIGN §3.2, §7 inv. 8; STYLE 9 and 16).

`coalition demo --exit` runs here in-process, exactly as `partners.demo_setup.run_demo` runs it
(scratch database and home, the CLI's short transfer timeout, the night's settlement at the
end), with three observers attached: a root log handler at DEBUG, an in-memory span exporter
on the hub's telemetry, and a hook on every response the brands receive. The hub database is
read after every state-changing response and once more at the end, every table reflected.

Then everything is scanned:

- every row of every table, for the member numbers the reference programs' own stores held
  (the hub may hold ppids; never an e-mail or a partner member number, §7.8), for e-mail
  addresses, for live link codes and for private keys;
- every log line and every span (name, attributes, events, resource), for the same member
  data, for secrets (private keys and their derived keys, request, response, event, quote and
  statement signatures, link codes) in raw, hex and base64 forms, and for ppids: a ppid may
  only appear where the only partner named is the partner it belongs to.

The scanners are plain functions, shown first to find planted data.
"""

from __future__ import annotations

import base64
import importlib
import logging
import pkgutil
import re
import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from cryptography.hazmat.primitives import serialization
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass
from sqlalchemy import Engine, MetaData, select

import coalition.v1
from coalition.keys import PRIVATE_KEY_FILE, PUBLIC_KEY_FILE, SigningKey, load_signing_key
from coalition.v1 import identity_pb2
from exchange.adapters.sql.engine import create_database_engine
from exchange.bootstrap import RESPONSE_KEY_INFO, VAULT_KEY_INFO, Hub, bootstrap, derive_key
from exchange.config import Settings
from exchange.domain.members import new_ppid
from partners import demo
from partners.demo_command import DEMO_TRANSFER_TIMEOUT_S
from partners.demo_setup import create_demo_coalition, settle_demo_day
from partners.sdk.connection import HubConnection
from tests.support import databases
from tests.support.coalition import AUDIENCE
from tests.support.logs import every_log_record

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import ReadableSpan

    from tests.reliability.conftest import ReliabilityTally

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from exchange.adapters.telemetry import Telemetry
from exchange.telemetry_names import GRPC_STATUS_CODE, PARTNER_ID

BACKENDS = ("sqlite", "postgresql")
PARTNERS = ("skyway", "harbor", "orbit")
IDENTITY = "/coalition.v1.IdentityService/"
EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
PPID = re.compile(r"pp_[a-z2-7]{26}")
# A partner named in a log line or span: `partner=orbit` (the pipeline's lines), or as a value.
PARTNER_NAMED = re.compile(r"\b(" + "|".join(PARTNERS) + r")\b")
# Secrets shorter than this are not searched in text: they would match by chance.
SECRET_TEXT_CHARS_MIN = 16

Row = tuple[object, ...]
Snapshot = dict[str, list[Row]]


# --- the scanners --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    place: str
    kind: str
    text: str


def encodings(secret: bytes) -> list[str]:
    """The ways a binary secret shows up in text: hex (either case) and base64 (either alphabet,
    padded or not)."""
    standard = base64.b64encode(secret).decode()
    urlsafe = base64.urlsafe_b64encode(secret).decode()
    forms = {secret.hex(), secret.hex().upper(), standard, urlsafe}
    forms |= {form.rstrip("=") for form in (standard, urlsafe)}
    return sorted(forms)


def text_of(value: object) -> str:
    """A value as text: bytes as latin-1 (every byte one character, so any ASCII run inside a
    binary column, a ppid or a member number in a serialized message, is found as it is)."""
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("latin-1")
    return str(value)


Corpus = dict[str, str]  # each distinct text -> the first place it was seen


def corpus_of(items: Iterable[tuple[str, str]]) -> Corpus:
    """(place, text) pairs as distinct texts: a row kept across snapshots is scanned once."""
    found: Corpus = {}
    for place, text in items:
        found.setdefault(text, place)
    return found


def member_data(corpus: Corpus, member_numbers: Iterable[str]) -> list[Finding]:
    everything = "\x00".join(corpus).casefold()
    findings: list[Finding] = []
    for number in {n.casefold() for n in member_numbers}:
        if number in everything:
            findings += [
                Finding(place, "member number", number)
                for text, place in corpus.items()
                if number in text.casefold()
            ]
    for text, place in corpus.items():
        findings += [Finding(place, "e-mail", m.group()) for m in EMAIL.finditer(text)]
    return findings


def secrets_in(corpus: Corpus, secrets: Mapping[str, str]) -> list[Finding]:
    """`secrets` maps each textual form of a secret to what it is."""
    everything = "\x00".join(corpus)
    findings: list[Finding] = []
    for form, kind in secrets.items():
        if form in everything:
            findings += [
                Finding(place, kind, form[:12] + "...")
                for text, place in corpus.items()
                if form in text
            ]
    return findings


def ppids_of_others(place: str, text: str, owners: Mapping[str, str]) -> list[Finding]:
    """A ppid is acceptable only where every partner named is the one it belongs to (or none
    is named); a ppid nobody enrolled is reported too."""
    named = set(PARTNER_NAMED.findall(text))
    findings: list[Finding] = []
    for ppid in set(PPID.findall(text)):
        owner = owners.get(ppid)
        if owner is None:
            findings.append(Finding(place, "ppid of no known partner", ppid))
        elif named - {owner}:
            others = ", ".join(sorted(named - {owner}))
            findings.append(Finding(place, f"{owner}'s ppid where {others} is named", ppid))
    return findings


def response_types() -> dict[str, type[Message]]:
    """Every coalition.v1 RPC's response class, by full method path."""
    types: dict[str, type[Message]] = {}
    for module_info in pkgutil.iter_modules(coalition.v1.__path__):
        if module_info.name.endswith("_pb2"):
            module = importlib.import_module(f"coalition.v1.{module_info.name}")
            for service in module.DESCRIPTOR.services_by_name.values():
                for method in service.methods:
                    path = f"/{service.full_name}/{method.name}"
                    types[path] = GetMessageClass(method.output_type)
    return types


RESPONSE_TYPES = response_types()


def rows_scanned(snapshots: Iterable[Snapshot]) -> int:
    return sum(len(rows) for snapshot in snapshots for rows in snapshot.values())


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


@pytest.fixture(scope="module", params=BACKENDS)
def observed(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> DemoObservations:
    directory = tmp_path_factory.mktemp("privacy-scan")
    home = directory / ".coalition"
    # What `coalition demo --exit --home <home>` would build: the CLI's short transfer timeout.
    settings = Settings.load(
        environ={},
        database_url=empty_database(request, directory),
        listen_address="127.0.0.1:0",
        audience=AUDIENCE,
        hub_key_path=home / "hub" / PRIVATE_KEY_FILE,
        transfer_timeout_s=DEMO_TRANSFER_TIMEOUT_S,
    )
    observations = DemoObservations()
    exporter = InMemorySpanExporter()
    with pytest.MonkeyPatch.context() as patch, every_log_record() as logs:
        record_request_signatures(patch, observations)
        create_demo_coalition(settings, home)
        hub = bootstrap(settings, **telemetry_for(exporter))
        hub.start()
        try:
            run_demo_observed(observations, hub, settings, home)
        finally:
            hub.stop()
    observations.log_records = list(logs.records)
    observations.spans = list(exporter.get_finished_spans())
    engine = create_database_engine(settings.database_url)
    observations.snapshots.append(TableReader(engine).snapshot())
    engine.dispose()
    key_material(observations, home, settings)
    return observations


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


# --- the run was observed ------------------------------------------------------------------------


def test_the_whole_demo_was_observed(
    observed: DemoObservations, reliability_tally: ReliabilityTally
) -> None:
    """A clean scan means something only if there was plenty to scan."""
    methods = {method.rsplit("/", 1)[-1] for _, method, _ in observed.responses}
    assert {"EnrollMember", "RedeemLinkCode", "RequestStatusMatch", "EraseMember"} <= methods
    assert {"CreateTransfer", "ConfirmCredit", "RejectCredit", "GetStatement"} <= methods
    assert len(observed.member_numbers) >= 6  # three brands, two demo members each
    assert set(observed.ppid_owners.values()) == set(PARTNERS)
    assert all(PPID.fullmatch(ppid) for ppid in observed.ppid_owners)  # the scans can see them
    assert observed.signatures and observed.link_codes and len(observed.private_keys) >= 6
    assert rows_scanned(observed.snapshots) > 0 and len(observed.snapshots) > 20
    final = observed.snapshots[-1]
    assert final["ppids"] and final["transfers"] and final["settlement_leaves"]
    lines = observed.log_lines()
    assert any("hub listening" in line for line in lines)
    assert any("refused" in line for line in lines)  # the revoked key's call, on a server thread
    assert any("voided" in line for line in lines)  # the timeout sweeper ran
    reliability_tally.add("privacy: demo runs observed", 1)
    reliability_tally.add("privacy: table rows scanned", rows_scanned(observed.snapshots))
    reliability_tally.add("privacy: log lines scanned", len(lines))
    reliability_tally.add("privacy: responses to partners scanned", len(observed.responses))
    reliability_tally.add("privacy: secrets searched for (forms)", len(observed.secrets()))
    reliability_tally.add("privacy: member numbers searched for", len(observed.member_numbers))


def spans_of(observed: DemoObservations) -> list[ReadableSpan]:
    assert observed.spans, "the demo made spans"
    return observed.spans


def test_spans_cover_every_call_and_the_database(
    observed: DemoObservations, reliability_tally: ReliabilityTally
) -> None:
    spans = spans_of(observed)
    rpc_spans = [s for s in spans if s.name.startswith("/coalition.v1.")]
    called = {method for _, method, _ in observed.responses}
    assert {s.name for s in rpc_spans} >= called
    answered = [s for s in rpc_spans if s.attributes and s.attributes.get(GRPC_STATUS_CODE) == 0]
    assert answered and all(s.attributes and s.attributes.get(PARTNER_ID) for s in answered)
    assert any(s.attributes and "db.statement" in s.attributes for s in spans)
    reliability_tally.add("privacy: spans scanned", len(spans))
    reliability_tally.add(
        "privacy: span attributes scanned", sum(len(s.attributes or {}) for s in spans)
    )


# --- the scans -----------------------------------------------------------------------------------


def table_corpus(observed: DemoObservations) -> Corpus:
    return corpus_of(
        (f"table {table} (snapshot {index})", text_of(value))
        for index, snapshot in enumerate(observed.snapshots)
        for table, rows in snapshot.items()
        for row in rows
        for value in row
    )


def test_no_hub_table_holds_member_data_live_link_codes_or_keys(observed: DemoObservations) -> None:
    corpus = table_corpus(observed)
    secrets = {
        form: kind
        for form, kind in observed.secrets().items()
        if kind != "signature"  # events and stored responses legitimately carry hub signatures
    }
    raw_keys = {key.decode("latin-1"): name for name, key in observed.private_keys.items()}

    findings = [
        *member_data(corpus, observed.member_numbers),
        *secrets_in(corpus, secrets),
        *secrets_in(corpus, raw_keys),
    ]

    assert findings == []


def test_every_ppid_in_the_hub_belongs_to_the_partner_its_row_names(
    observed: DemoObservations,
) -> None:
    rows = {(str(r[0]), str(r[1])) for s in observed.snapshots for r in s["ppids"]}
    assert rows
    assert {(ppid, observed.ppid_owners.get(ppid)) for ppid, _ in rows} == rows


def log_corpus(observed: DemoObservations) -> Corpus:
    return corpus_of((f"log line {i}", line) for i, line in enumerate(observed.log_lines()))


def test_no_log_line_holds_member_data_or_secrets(observed: DemoObservations) -> None:
    corpus = log_corpus(observed)

    findings = [
        *member_data(corpus, observed.member_numbers),
        *secrets_in(corpus, observed.secrets()),
    ]

    assert findings == []


def test_no_log_line_ties_a_ppid_to_another_partner(observed: DemoObservations) -> None:
    findings = [
        finding
        for line, place in log_corpus(observed).items()
        for finding in ppids_of_others(place, line, observed.ppid_owners)
    ]
    assert findings == []


def test_no_response_to_a_partner_holds_member_data_keys_or_another_partners_ppid(
    observed: DemoObservations,
) -> None:
    """What each brand received (events, quotes and statements included, in their signed
    payload bytes) names only that brand's own members."""
    keys = {
        form: kind for form, kind in observed.secrets().items() if kind.startswith("private key")
    }
    findings: list[Finding] = []
    own_ppids_seen = 0
    for index, (partner_id, method, body) in enumerate(observed.responses):
        place = f"response {index} to {partner_id} ({method.rsplit('/', 1)[-1]})"
        corpus = {text_of(body): place}
        findings += member_data(corpus, observed.member_numbers)
        findings += secrets_in(corpus, keys)
        findings += [
            Finding(place, f"{observed.ppid_owners.get(ppid, 'nobody')}'s ppid", ppid)
            for ppid in set(PPID.findall(text_of(body)))
            if observed.ppid_owners.get(ppid) != partner_id
        ]
        own_ppids_seen += len(set(PPID.findall(text_of(body))))
    assert findings == []
    assert own_ppids_seen > 0


def span_texts(span: ReadableSpan) -> list[str]:
    texts = [span.name]
    texts += [f"{k}={text_of(v)}" for k, v in (span.attributes or {}).items()]
    for event in span.events:
        texts.append(event.name)
        texts += [f"{k}={text_of(v)}" for k, v in (event.attributes or {}).items()]
    texts += [f"{k}={text_of(v)}" for k, v in span.resource.attributes.items()]
    return texts


def span_corpus(observed: DemoObservations) -> Corpus:
    return corpus_of(
        (f"span {span.name}", text) for span in spans_of(observed) for text in span_texts(span)
    )


def test_no_span_holds_member_data_or_secrets(observed: DemoObservations) -> None:
    corpus = span_corpus(observed)

    findings = [
        *member_data(corpus, observed.member_numbers),
        *secrets_in(corpus, observed.secrets()),
    ]

    assert findings == []


def test_no_span_ties_a_ppid_to_another_partner(observed: DemoObservations) -> None:
    """A span's partner is its own `coalition.partner_id`, or its trace's (SQL spans)."""
    spans = spans_of(observed)
    partner_of_trace = {
        s.context.trace_id: str(s.attributes[PARTNER_ID])
        for s in spans
        if s.attributes and PARTNER_ID in s.attributes
    }
    whole_spans = corpus_of(
        (
            f"span {span.name}",
            " ".join([*span_texts(span), partner_of_trace.get(span.context.trace_id, "")]),
        )
        for span in spans
    )
    findings = [
        finding
        for text, place in whole_spans.items()
        for finding in ppids_of_others(place, text, observed.ppid_owners)
    ]
    assert findings == []


# --- the scanners find what they look for --------------------------------------------------------


def test_the_scanners_find_planted_member_data_secrets_and_foreign_ppids() -> None:
    key = SigningKey.generate()
    raw = raw_private_bytes(key)
    signature = key.sign(b"cx-request-v1")
    skyway_ppid, harbor_ppid = new_ppid(), new_ppid()
    owners = {skyway_ppid: "skyway", harbor_ppid: "harbor"}
    secrets = {
        **dict.fromkeys(encodings(raw), "private key"),
        **dict.fromkeys(encodings(signature), "signature"),
        "ABCDE-FGHJK": "link code",
    }

    def scanned(*texts: str) -> Corpus:
        return corpus_of(("planted", text) for text in texts)

    assert member_data(scanned(text_of(b"\x12\x0aSKY-1A2B-1\x18")), ["sky-1a2b-1"])
    assert member_data(scanned("sent to ada.l@example.org"), [])
    assert secrets_in(scanned(f"key {raw.hex()}"), secrets)
    assert secrets_in(scanned(base64.urlsafe_b64encode(signature).decode().rstrip("=")), secrets)
    assert secrets_in(scanned(base64.b64encode(raw).decode()), secrets)
    assert secrets_in(scanned("code ABCDE-FGHJK"), secrets)
    assert secrets_in(scanned(text_of(b"\x00" + raw)), {text_of(raw): "raw key"})
    assert ppids_of_others("line", f"request x (partner=harbor) {skyway_ppid}", owners)
    assert ppids_of_others("line", f"{new_ppid()} enrolled", owners)  # nobody's ppid

    assert not member_data(scanned("pp_" + "a" * 26, "Skyway Airlines", "42"), ["SKY-1A2B-1"])
    assert not secrets_in(scanned(f"key id {key.key_id}", "signature checked"), secrets)
    assert not ppids_of_others("line", f"request x (partner=skyway) {skyway_ppid}", owners)
    assert not ppids_of_others("line", f"{harbor_ppid} in no partner's words", owners)
