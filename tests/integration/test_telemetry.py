"""Telemetry: one span tree per transfer from the RPC down to SQL, domain metrics, ids in logs.

The hub runs with the SDK's in-memory exporters in place of OTLP; a transfer goes through the
partner SDK as partners send it. Spans and logs must carry transfer, partner and request ids,
and never a ppid.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import grpc
import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import HistogramDataPoint, InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, format_trace_id
from sqlalchemy import Engine, select, text

from coalition.keys import SigningKey
from coalition.v1 import exchange_pb2 as xpb
from exchange import telemetry_names as names
from exchange.adapters.sql.tables import PartnerFeedRow
from exchange.adapters.telemetry import Telemetry
from exchange.api.request_telemetry import distinct_transfer_ids
from exchange.bootstrap import Hub, bootstrap
from exchange.config import Settings
from partners.sdk import HubConnection, HubError
from tests.support.coalition import TestCoalition, seed_partners
from tests.support.transfer_setup import (
    CONFIRM_CREDIT,
    CREATE_TRANSFER,
    EXCHANGE,
    OffsetClock,
    agree_rates,
    create_transfer,
    linked_member,
    quote_id,
)

DAY_S = 24 * 3600
SPAN_WAIT_S_MAX = 5.0
UNKNOWN_TRANSFER_ID = "tr_" + "0" * 24


@dataclass
class Observed:
    coalition: TestCoalition
    clock: OffsetClock
    spans: InMemorySpanExporter
    metrics: InMemoryMetricReader

    @property
    def hub(self) -> Hub:
        return self.coalition.hub


def in_memory_telemetry() -> tuple[Telemetry, InMemorySpanExporter, InMemoryMetricReader]:
    spans = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    reader = InMemoryMetricReader()
    telemetry = Telemetry(tracer_provider, MeterProvider(metric_readers=[reader]))
    return telemetry, spans, reader


@pytest.fixture
def observed(settings: Settings, hub_key: SigningKey, engine: Engine) -> Iterator[Observed]:
    telemetry, spans, reader = in_memory_telemetry()
    clock = OffsetClock()
    hub = bootstrap(settings, clock=clock, hub_key=hub_key, engine=engine, telemetry=telemetry)
    keys = seed_partners(hub)
    hub.start()
    coalition = TestCoalition(hub, keys)
    yield Observed(coalition, clock, spans, reader)
    coalition.close()
    hub.stop(0)
    assert isinstance(telemetry.tracer_provider, TracerProvider)
    assert isinstance(telemetry.meter_provider, MeterProvider)
    telemetry.tracer_provider.shutdown()
    telemetry.meter_provider.shutdown()


@dataclass
class PendingTransfer:
    skyway: HubConnection
    harbor: HubConnection
    source_ppid: str
    destination_ppid: str
    quote: str


def ready_to_transfer(observed: Observed) -> PendingTransfer:
    """A member linked at skyway and harbor, agreed rates and a fresh quote for 4,000 miles."""
    skyway = observed.coalition.connection("skyway")
    harbor = observed.coalition.connection("harbor")
    source_ppid, destination_ppid = linked_member(skyway, harbor)
    agree_rates(skyway, harbor)
    quote = quote_id(skyway, source_ppid, "harbor", 4_000)
    return PendingTransfer(skyway, harbor, source_ppid, destination_ppid, quote)


def confirm(harbor: HubConnection, transfer_id: str) -> None:
    harbor.call(
        CONFIRM_CREDIT,
        xpb.ConfirmCreditRequest(transfer_id=transfer_id),
        xpb.ConfirmCreditResponse,
        changes_state=True,
    )


def server_span(spans: Sequence[ReadableSpan], method: str) -> ReadableSpan:
    found = [s for s in spans if s.kind is SpanKind.SERVER and s.name == method]
    assert len(found) == 1, [s.name for s in spans]
    return found[0]


def finished_spans(exporter: InMemorySpanExporter, method: str) -> Sequence[ReadableSpan]:
    """The finished spans once `method`'s server span is among them.

    grpc.aio sends a refusal's status before the handler (and the server span around it)
    has unwound, so the caller can be told before the span ends.
    """
    deadline = time.monotonic() + SPAN_WAIT_S_MAX
    while time.monotonic() < deadline:
        spans = exporter.get_finished_spans()
        if any(s.kind is SpanKind.SERVER and s.name == method for s in spans):
            return spans
        time.sleep(0.01)
    return exporter.get_finished_spans()


def reaches(span: ReadableSpan, root: ReadableSpan, by_id: dict[int, ReadableSpan]) -> bool:
    """Whether following parents from `span` arrives at `root`."""
    current: ReadableSpan | None = span
    while current is not None:
        if current.context.span_id == root.context.span_id:
            return True
        parent = current.parent
        current = by_id.get(parent.span_id) if parent is not None else None
    return False


def attribute_text(spans: Sequence[ReadableSpan]) -> str:
    """Every attribute and event attribute of every span, as one string to search."""
    values: list[str] = []
    for span in spans:
        values += [f"{key}={value}" for key, value in (span.attributes or {}).items()]
        for event in span.events:
            values += [f"{key}={value}" for key, value in (event.attributes or {}).items()]
    return "\n".join(values)


def test_a_transfer_is_one_span_tree_from_rpc_to_sql(observed: Observed) -> None:
    pending = ready_to_transfer(observed)
    observed.spans.clear()

    transfer_id = create_transfer(pending.skyway, pending.quote)

    spans = finished_spans(observed.spans, CREATE_TRANSFER)
    root = server_span(spans, CREATE_TRANSFER)
    assert root.parent is None
    # Nothing else ran meanwhile: every span of the call is in the RPC's one tree.
    assert {s.context.trace_id for s in spans} == {root.context.trace_id}
    by_id = {s.context.span_id: s for s in spans}
    assert all(reaches(s, root, by_id) for s in spans)
    statements = [str((s.attributes or {}).get("db.statement", "")) for s in spans]
    assert any(statement.startswith("INSERT INTO transfers") for statement in statements)
    assert any(statement.startswith("INSERT INTO events") for statement in statements)
    attributes = root.attributes or {}
    assert attributes[names.TRANSFER_ID] == transfer_id
    assert attributes[names.PARTNER_ID] == "skyway"
    assert len(str(attributes[names.REQUEST_ID])) == 32
    assert attributes[names.RPC_METHOD] == "CreateTransfer"
    # The INSERT bound both ppids as parameters; neither reached a span.
    recorded = attribute_text(spans)
    assert pending.source_ppid not in recorded
    assert pending.destination_ppid not in recorded


def test_a_confirmation_is_its_own_tree_carrying_the_transfer_id(observed: Observed) -> None:
    pending = ready_to_transfer(observed)
    transfer_id = create_transfer(pending.skyway, pending.quote)
    observed.spans.clear()

    confirm(pending.harbor, transfer_id)

    spans = finished_spans(observed.spans, CONFIRM_CREDIT)
    root = server_span(spans, CONFIRM_CREDIT)
    assert root.parent is None
    assert (root.attributes or {})[names.TRANSFER_ID] == transfer_id
    assert (root.attributes or {})[names.PARTNER_ID] == "harbor"
    sql = [s for s in spans if s.kind is SpanKind.CLIENT]
    assert sql
    assert all(s.context.trace_id == root.context.trace_id for s in sql)
    assert pending.destination_ppid not in attribute_text(spans)


def test_a_refused_call_logs_its_ids_and_its_span_says_why(
    observed: Observed, caplog: pytest.LogCaptureFixture
) -> None:
    skyway = observed.coalition.connection("skyway")
    observed.spans.clear()

    with (
        caplog.at_level(logging.INFO, logger="exchange.api.pipeline"),
        pytest.raises(HubError) as refused,
    ):
        skyway.call(
            EXCHANGE + "GetTransfer",
            xpb.GetTransferRequest(transfer_id=UNKNOWN_TRANSFER_ID),
            xpb.GetTransferResponse,
            changes_state=False,
        )

    assert refused.value.code is grpc.StatusCode.NOT_FOUND
    spans = finished_spans(observed.spans, EXCHANGE + "GetTransfer")
    span = server_span(spans, EXCHANGE + "GetTransfer")
    trace_id = format_trace_id(span.context.trace_id)
    attributes = span.attributes or {}
    assert attributes[names.GRPC_STATUS_CODE] == grpc.StatusCode.NOT_FOUND.value[0]
    assert attributes[names.TRANSFER_ID] == UNKNOWN_TRANSFER_ID
    lines = [r for r in caplog.records if "refused" in r.getMessage()]
    assert len(lines) == 1
    line = lines[0]
    assert getattr(line, "trace_id", None) == trace_id
    for expected in (f"trace={trace_id}", "partner=skyway", f"transfer={UNKNOWN_TRANSFER_ID}"):
        assert expected in line.getMessage()
    assert str(attributes[names.REQUEST_ID]) in line.getMessage()


def test_metrics_show_latency_transfers_by_state_and_feed_lag(
    observed: Observed, engine: Engine
) -> None:
    pending = ready_to_transfer(observed)
    transfer_id = create_transfer(pending.skyway, pending.quote)
    confirm(pending.harbor, transfer_id)

    points = metric_points(observed.metrics)

    def latency_count(metric: str, method: str) -> int:
        found = [
            p
            for p in points[metric]
            if p.attributes == {names.RPC_METHOD: method, names.OUTCOME: "OK"}
        ]
        assert all(isinstance(p, HistogramDataPoint) for p in found)
        return sum(p.count for p in found if isinstance(p, HistogramDataPoint))

    assert latency_count(names.QUOTE_LATENCY, "CreateQuote") == 1
    assert latency_count(names.TRANSFER_LATENCY, "CreateTransfer") == 1
    assert latency_count(names.TRANSFER_LATENCY, "ConfirmCredit") == 1
    by_state = gauge_values(points[names.TRANSFERS], names.TRANSFER_STATE)
    assert by_state == {"pending": 0, "completed": 1, "voided": 0}
    lag = gauge_values(points[names.FEED_LAG], names.PARTNER_ID)
    with engine.connect() as connection:
        rows = connection.execute(
            select(PartnerFeedRow.partner_id, PartnerFeedRow.last_sequence)
        ).all()
    # Nobody acknowledged anything: each partner's lag is its whole feed; harbor was asked
    # to credit, skyway told the transfer completed.
    assert lag == {partner_id: last for partner_id, last in rows}
    assert lag["harbor"] >= 1 and lag["skyway"] >= 1
    assert names.CONNECTIONS_USAGE in points


def test_settling_a_day_records_its_duration_and_a_span_tree(observed: Observed) -> None:
    pending = ready_to_transfer(observed)
    confirm(pending.harbor, create_transfer(pending.skyway, pending.quote))
    observed.clock.advance_s(2 * DAY_S)
    observed.spans.clear()

    settled = observed.hub.settle_ended_days()

    assert len(settled) == 1
    spans = observed.spans.get_finished_spans()
    roots = [s for s in spans if s.name == "coalition.settle_day"]
    assert len(roots) == 1 and roots[0].parent is None
    assert (roots[0].attributes or {})[names.BUSINESS_DAY] == settled[0].business_day
    sql = [s for s in spans if s.kind is SpanKind.CLIENT]
    assert sql and all(s.context.trace_id == roots[0].context.trace_id for s in sql)
    durations = metric_points(observed.metrics)[names.SETTLEMENT_DURATION]
    assert [p.attributes for p in durations] == [{names.OUTCOME: "settled"}]


def test_a_hub_built_again_on_an_engine_traces_each_statement_once(
    settings: Settings, hub_key: SigningKey, engine: Engine
) -> None:
    first, first_spans, _ = in_memory_telemetry()
    bootstrap(settings, hub_key=hub_key, engine=engine, telemetry=first).stop(0)
    second, second_spans, _ = in_memory_telemetry()
    hub = bootstrap(settings, hub_key=hub_key, engine=engine, telemetry=second)
    try:
        assert isinstance(second.tracer_provider, TracerProvider)
        # Statement spans are made under a recorded span only.
        tracer = second.tracer_provider.get_tracer("test")
        with tracer.start_as_current_span("call"), engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    finally:
        hub.stop(0)

    assert [s.name for s in first_spans.get_finished_spans()] == []
    statements = [
        (s.attributes or {}).get("db.statement") for s in second_spans.get_finished_spans()
    ]
    assert statements.count("SELECT 1") == 1


def test_without_a_collector_nothing_is_installed(capfd: pytest.CaptureFixture[str]) -> None:
    settings = Settings.load(environ={}, database_url="sqlite://", listen_address="127.0.0.1:0")
    telemetry = Telemetry.for_collector(settings.otlp_endpoint, settings.service_name)

    assert not telemetry.enabled
    assert capfd.readouterr() == ("", "")


def test_a_collector_endpoint_turns_on_otlp_export() -> None:
    environ = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4317"}
    settings = Settings.load(environ=environ, database_url="sqlite://")
    telemetry = Telemetry.for_collector(settings.otlp_endpoint, settings.service_name)
    try:
        assert telemetry.enabled and telemetry.owned_by_hub
        assert isinstance(telemetry.tracer_provider, TracerProvider)
        assert telemetry.tracer_provider.resource.attributes["service.name"] == (
            "coalition-exchange"
        )
    finally:
        telemetry.shutdown()
    with pytest.raises(ValueError, match="otlp_endpoint"):
        Settings.load(environ={"OTEL_EXPORTER_OTLP_ENDPOINT": "collector:4317"})


def test_transfer_ids_come_from_nested_messages_and_only_id_shaped_strings_count() -> None:
    listed = xpb.ListTransfersResponse(
        transfers=[
            xpb.Transfer(transfer_id="tr_1", ppid="pp_member"),
            xpb.Transfer(transfer_id="tr_2", original_transfer_id="tr_0"),
        ]
    )
    asked = xpb.GetTransferRequest(transfer_id="someone@example.com")

    assert distinct_transfer_ids([xpb.GetTransferRequest(transfer_id="tr_1"), listed]) == [
        "tr_1",
        "tr_2",
    ]
    assert distinct_transfer_ids([asked, None]) == []


# --- reading metrics -----------------------------------------------------------------------------


def metric_points(reader: InMemoryMetricReader) -> dict[str, list[Any]]:
    """Metric name -> its data points, from one collection."""
    data = reader.get_metrics_data()
    assert data is not None
    points: dict[str, list[Any]] = {}
    for resource_metrics in data.resource_metrics:
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                points.setdefault(metric.name, []).extend(metric.data.data_points)
    return points


def gauge_values(points: list[Any], attribute: str) -> dict[str, int]:
    return {str(p.attributes[attribute]): int(p.value) for p in points}
