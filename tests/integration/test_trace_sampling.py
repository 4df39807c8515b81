"""Tracing costs little (issue 13 item 6): parent-based ratio sampling by default, and no SQL
statement span unless the call around it is recorded."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import Decision, ParentBased
from opentelemetry.trace import (
    NonRecordingSpan,
    SpanContext,
    SpanKind,
    TraceFlags,
    set_span_in_context,
)
from sqlalchemy import Engine, text

from coalition.keys import SigningKey
from exchange.adapters.sampling import (
    SAMPLE_RATIO_DEFAULT,
    CallRatioSampler,
    trace_sampler,
)
from exchange.adapters.telemetry import Telemetry
from exchange.bootstrap import bootstrap
from exchange.config import Settings
from partners.sdk import PartnerClient
from tests.support.coalition import TestCoalition, seed_partners

TRACE_ID = 0x5B8EFFF798038103D269B633813FC60C


def decision(sampler: ParentBased, kind: SpanKind, parent_sampled: bool | None = None) -> Decision:
    context = None
    if parent_sampled is not None:
        flags = TraceFlags(TraceFlags.SAMPLED if parent_sampled else TraceFlags.DEFAULT)
        parent = SpanContext(TRACE_ID, 0xEEE19B7EC3C1B174, is_remote=True, trace_flags=flags)
        context = set_span_in_context(NonRecordingSpan(parent))
    return sampler.should_sample(context, TRACE_ID, "span", kind).decision


def test_the_default_is_parent_based_with_a_share_of_calls() -> None:
    sampler = trace_sampler({})
    assert isinstance(sampler, ParentBased)
    assert f"CallRatioSampler{{{SAMPLE_RATIO_DEFAULT}}}" in sampler.get_description()


def test_the_ratio_comes_from_the_standard_argument_and_a_named_sampler_is_the_sdks() -> None:
    sampler = trace_sampler({"OTEL_TRACES_SAMPLER_ARG": "0.25"})
    assert sampler is not None and "CallRatioSampler{0.25}" in sampler.get_description()
    assert trace_sampler({"OTEL_TRACES_SAMPLER": "always_on"}) is None


@pytest.mark.parametrize("argument", ["often", "1.5", "-0.1"])
def test_a_bad_ratio_is_refused_by_name(argument: str) -> None:
    with pytest.raises(ValueError, match="OTEL_TRACES_SAMPLER_ARG"):
        trace_sampler({"OTEL_TRACES_SAMPLER_ARG": argument})


def test_calls_are_sampled_by_ratio_the_hubs_own_work_always_and_a_parent_decides() -> None:
    never = ParentBased(CallRatioSampler(0.0))
    assert decision(never, SpanKind.SERVER) is Decision.DROP
    assert decision(never, SpanKind.INTERNAL) is Decision.RECORD_AND_SAMPLE
    assert decision(never, SpanKind.SERVER, parent_sampled=True) is Decision.RECORD_AND_SAMPLE
    always = ParentBased(CallRatioSampler(1.0))
    assert decision(always, SpanKind.SERVER) is Decision.RECORD_AND_SAMPLE
    assert decision(always, SpanKind.SERVER, parent_sampled=False) is Decision.DROP


@pytest.fixture
def unsampled_hub(
    settings: Settings, hub_key: SigningKey, engine: Engine
) -> Iterator[tuple[TestCoalition, InMemorySpanExporter, TracerProvider]]:
    spans = InMemorySpanExporter()
    provider = TracerProvider(sampler=ParentBased(CallRatioSampler(0.0)))
    provider.add_span_processor(SimpleSpanProcessor(spans))
    telemetry = Telemetry(provider, MeterProvider())
    hub = bootstrap(settings, hub_key=hub_key, engine=engine, telemetry=telemetry)
    keys = seed_partners(hub)
    hub.start()
    coalition = TestCoalition(hub, keys)
    yield coalition, spans, provider
    coalition.close()
    hub.stop(0)
    provider.shutdown()


def test_an_unsampled_call_records_no_span_and_no_statement_span(
    unsampled_hub: tuple[TestCoalition, InMemorySpanExporter, TracerProvider], engine: Engine
) -> None:
    coalition, spans, provider = unsampled_hub
    PartnerClient(coalition.connection("skyway")).get_partner("harbor")
    assert spans.get_finished_spans() == ()

    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("recorded work"), engine.connect() as connection:
        connection.execute(text("SELECT 1"))
    statements = [(s.attributes or {}).get("db.statement") for s in spans.get_finished_spans()]
    assert "SELECT 1" in statements
