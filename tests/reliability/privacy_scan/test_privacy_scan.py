"""The scans of every table, log line, span and response of the demo, and the scanners shown to
find planted data. The demo runs once per backend for this module."""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from coalition.keys import PRIVATE_KEY_FILE, SigningKey
from exchange.adapters.sql.engine import create_database_engine
from exchange.bootstrap import bootstrap
from exchange.config import Settings
from exchange.domain.members import new_ppid
from exchange.telemetry_names import GRPC_STATUS_CODE, PARTNER_ID
from partners.demo_command import DEMO_TRANSFER_TIMEOUT_S
from partners.demo_setup import create_demo_coalition
from tests.reliability.privacy_scan.observation import (
    DemoObservations,
    TableReader,
    empty_database,
    key_material,
    raw_private_bytes,
    record_request_signatures,
    run_demo_observed,
    telemetry_for,
)
from tests.reliability.privacy_scan.scanners import (
    BACKENDS,
    PARTNERS,
    PPID,
    Corpus,
    Finding,
    corpus_of,
    encodings,
    member_data,
    ppids_of_others,
    rows_scanned,
    secrets_in,
    text_of,
)
from tests.support.coalition import AUDIENCE
from tests.support.logs import every_log_record

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import ReadableSpan

    from tests.reliability.conftest import ReliabilityTally


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
