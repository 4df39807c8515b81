"""OpenTelemetry for the hub: span trees per call, domain metrics, and ids on log records.

The official gRPC server interceptor opens a server span per coalition.v1 call and the official
SQLAlchemy engine tracer a child span per SQL statement, so a call's trace runs from the RPC
down to the database; statement spans are made only under a recorded (sampled) call, and the
default sampler records a share of calls (exchange.adapters.sampling). The request pipeline
adds the coalition's ids to the server span through `ObservedRequest`. With nothing to export
to, nothing is installed: no interceptor, no engine listeners, only no-op instruments; an
unobserved hub pays for none of it.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, cast

import grpc
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from opentelemetry import metrics, trace
from opentelemetry.instrumentation.grpc import aio_server_interceptor, filters
from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.sdk.metrics import MeterProvider as SdkMeterProvider
from opentelemetry.sdk.trace import TracerProvider as SdkTracerProvider
from sqlalchemy import Engine, Executable, event, func, select
from sqlalchemy.exc import SQLAlchemyError

from exchange.adapters.sampling import trace_sampler
from exchange.adapters.sql.tables import PartnerFeedRow, TransferRow
from exchange.domain.errors import DomainError
from exchange.domain.transfers import TransferState

if TYPE_CHECKING:
    ServerInterceptor = grpc.aio.ServerInterceptor[Any, Any]
else:
    ServerInterceptor = grpc.aio.ServerInterceptor

log = logging.getLogger(__name__)

INSTRUMENTATION_SCOPE = "coalition-exchange"

# Span attributes. Ids only: never a ppid, member data, nonce, signature or key.
PARTNER_ID = "coalition.partner_id"
REQUEST_ID = "coalition.request_id"
TRANSFER_ID = "coalition.transfer_id"
TRANSFER_IDS = "coalition.transfer_ids"
TRANSFER_COUNT = "coalition.transfer_count"
ERROR_REASON = "coalition.error_reason"
IDEMPOTENT_REPLAY = "coalition.idempotent_replay"
STREAM_MESSAGES = "coalition.stream_messages"
BUSINESS_DAY = "coalition.business_day"
RPC_METHOD = "rpc.method"
GRPC_STATUS_CODE = "rpc.grpc.status_code"
# Metric attributes, each with a small fixed set of values.
OUTCOME = "coalition.outcome"
TRANSFER_STATE = "coalition.transfer_state"

# Metric names, unit last.
QUOTE_LATENCY = "coalition.quote.latency_s"
TRANSFER_LATENCY = "coalition.transfer.latency_s"
TRANSFERS = "coalition.transfers"
FEED_LAG = "coalition.feed.lag_events"
SETTLEMENT_DURATION = "coalition.settlement.duration_s"
# The name the official SQLAlchemy instrumentation gives its pool gauge.
CONNECTIONS_USAGE = "db.client.connections.usage"

RPC_LATENCY_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
SETTLEMENT_DURATION_BUCKETS_S = (0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 1800, 3600)
# A batch or a list names up to this many transfers on its span; the count says how many.
TRANSFER_IDS_ON_SPAN_MAX = 100
# Deep enough for results[].transfer.transfer_id; protobuf messages here nest no deeper.
MESSAGE_DEPTH_MAX = 3
# A transfer id as the hub makes them; a caller's string that is not one never reaches a span.
TRANSFER_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,40}")
TRANSFER_ID_FIELDS = frozenset({"transfer_id", "transfer_ids"})

TRACED_SERVICES_PREFIX = "coalition.v1."
_EXCHANGE = "/coalition.v1.ExchangeService/"
_TRANSFER_METHODS = (
    "CreateTransfer",
    "CreateTransferBatch",
    "ConfirmCredit",
    "ConfirmCredits",
    "RejectCredit",
    "CreateReversal",
)
LATENCY_BY_METHOD = {_EXCHANGE + "CreateQuote": QUOTE_LATENCY} | {
    _EXCHANGE + name: TRANSFER_LATENCY for name in _TRANSFER_METHODS
}
OUTCOME_OK = "OK"
# The gRPC codes that are the hub's own fault: the semantic conventions mark only these ERROR.
SERVER_FAULT_CODES = frozenset(
    {
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.UNIMPLEMENTED,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DATA_LOSS,
    }
)


@dataclass(frozen=True)
class Telemetry:
    """Where a hub's spans and metrics go; a provider left None means that signal goes nowhere."""

    tracer_provider: trace.TracerProvider | None = None
    meter_provider: metrics.MeterProvider | None = None
    # Providers built from settings are the hub's to flush and shut down when it stops;
    # providers a caller passes in (tests, an embedding process) stay the caller's.
    owned_by_hub: bool = False

    @classmethod
    def for_collector(cls, otlp_endpoint: str | None, service_name: str) -> Telemetry:
        """OTLP/gRPC exporters to `otlp_endpoint`, or nothing at all when it is None.

        The exporters read their headers, certificates and timeouts from the standard
        OTEL_EXPORTER_OTLP_* variables themselves: those may hold secrets, so they stay out
        of the settings object.
        """
        if otlp_endpoint is None:
            return cls()
        # Imported here: a hub that exports nothing never loads the exporters.
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
        from opentelemetry.sdk.resources import SERVICE_NAME, Resource
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        resource = Resource.create({SERVICE_NAME: service_name})
        tracer_provider = SdkTracerProvider(resource=resource, sampler=trace_sampler())
        tracer_provider.add_span_processor(
            BatchSpanProcessor(OTLPSpanExporter(endpoint=otlp_endpoint))
        )
        reader = PeriodicExportingMetricReader(OTLPMetricExporter(endpoint=otlp_endpoint))
        meter_provider = SdkMeterProvider(resource=resource, metric_readers=[reader])
        return cls(tracer_provider, meter_provider, owned_by_hub=True)

    @property
    def enabled(self) -> bool:
        return self.tracer_provider is not None or self.meter_provider is not None

    def shutdown(self) -> None:
        """Flushes and stops the providers, if they are the hub's."""
        if not self.owned_by_hub:
            return
        if isinstance(self.tracer_provider, SdkTracerProvider):
            self.tracer_provider.shutdown()
        if isinstance(self.meter_provider, SdkMeterProvider):
            self.meter_provider.shutdown()


# --- log records ---------------------------------------------------------------------------------

_LOG_CORRELATION_MARK = "_coalition_trace_ids"
_log_factory_lock = threading.Lock()


def install_log_correlation() -> None:
    """Gives every log record `trace_id` and `span_id` (hex, or "-" outside a span).

    A record factory rather than a handler filter: it reaches records whatever handlers the
    process configures, before or after the hub starts, so `%(trace_id)s` works in any format.
    Installed once per process; later calls change nothing.
    """
    with _log_factory_lock:
        previous = logging.getLogRecordFactory()
        if getattr(previous, _LOG_CORRELATION_MARK, False):
            return

        def with_trace_ids(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            record.trace_id, record.span_id = current_trace_ids()
            return record

        setattr(with_trace_ids, _LOG_CORRELATION_MARK, True)
        logging.setLogRecordFactory(with_trace_ids)


def current_trace_ids(span: trace.Span | None = None) -> tuple[str, str]:
    """The (trace id, span id) of `span` or the current span in hex; ("-", "-") if none."""
    context = (span or trace.get_current_span()).get_span_context()
    if not context.is_valid:
        return "-", "-"
    return trace.format_trace_id(context.trace_id), trace.format_span_id(context.span_id)


# --- requests ------------------------------------------------------------------------------------


def transfer_ids(message: Message, depth: int = 0) -> Iterator[str]:
    """Every `transfer_id`/`transfer_ids` value in `message` and the messages it holds."""
    for field, value in message.ListFields():
        if field.type == FieldDescriptor.TYPE_STRING and field.name in TRANSFER_ID_FIELDS:
            yield from [value] if isinstance(value, str) else value
        elif field.type == FieldDescriptor.TYPE_MESSAGE and depth < MESSAGE_DEPTH_MAX:
            # A map field iterates its keys; only messages are walked into.
            items: Iterable[Any] = [value] if isinstance(value, Message) else value
            for item in items:
                if isinstance(item, Message):
                    yield from transfer_ids(item, depth + 1)


def distinct_transfer_ids(messages: Iterable[Message | None]) -> list[str]:
    found: dict[str, None] = {}
    for message in messages:
        if message is None:
            continue
        for candidate in transfer_ids(message):
            if TRANSFER_ID_PATTERN.fullmatch(candidate):
                found.setdefault(candidate)
    return list(found)


class ObservedRequest:
    """One call as telemetry sees it: the ids on its server span and log lines, its latency.

    Walking messages for transfer ids happens only when the span records, or when a refusal
    is logged; on the hot path with no exporter this object only remembers references.
    """

    def __init__(
        self, method_path: str, request_id: str, latency: metrics.Histogram | None
    ) -> None:
        self.method_path = method_path
        self.request_id = request_id
        self.span = trace.get_current_span()
        self.recording = self.span.is_recording()
        self.partner_id = ""
        self.outcome = OUTCOME_OK
        self._request: Message | None = None
        self._response: Message | None = None
        self._latency = latency
        self._started_s = time.perf_counter()
        if self.recording:
            self.span.set_attribute(REQUEST_ID, request_id)

    def authenticated(self, partner_id: str) -> None:
        self.partner_id = partner_id
        if self.recording:
            self.span.set_attribute(PARTNER_ID, partner_id)

    def parsed(self, request: Message) -> None:
        self._request = request

    def responded(self, response: Message | None) -> None:
        """The response message, or None for an idempotent replay of stored bytes."""
        self._response = response
        if not self.recording:
            return
        if response is None:
            self.span.set_attribute(IDEMPOTENT_REPLAY, True)
        self._set_transfer_ids()

    def refused(self, error: DomainError) -> None:
        self.outcome = error.code.value
        if self.recording:
            self.span.set_attribute(ERROR_REASON, self.outcome)
            self._set_transfer_ids()

    def streamed(self, messages: int) -> None:
        if self.recording:
            self.span.set_attribute(STREAM_MESSAGES, messages)

    def finish(self) -> None:
        if self._latency is not None:
            elapsed_s = time.perf_counter() - self._started_s
            attributes = {RPC_METHOD: self.method_path.rsplit("/", 1)[-1], OUTCOME: self.outcome}
            self._latency.record(elapsed_s, attributes)

    def _set_transfer_ids(self) -> None:
        ids = distinct_transfer_ids((self._request, self._response))
        if len(ids) == 1:
            self.span.set_attribute(TRANSFER_ID, ids[0])
        elif ids:
            self.span.set_attribute(TRANSFER_IDS, ids[:TRANSFER_IDS_ON_SPAN_MAX])
            self.span.set_attribute(TRANSFER_COUNT, len(ids))

    def __str__(self) -> str:
        """For log lines: `<request id> to <method path>`; `ids` follows in parentheses."""
        return f"{self.request_id} to {self.method_path}"

    @property
    def ids(self) -> _LogIds:
        return _LogIds(self)

    def log_ids(self) -> str:
        """Partner, transfer(s) and trace ids for a log line, walked only if it is written."""
        parts = [f"partner={self.partner_id}"] if self.partner_id else []
        ids = distinct_transfer_ids((self._request, self._response))
        if len(ids) == 1:
            parts.append(f"transfer={ids[0]}")
        elif ids:
            parts.append(f"transfers={len(ids)}")
        parts.append(f"trace={current_trace_ids(self.span)[0]}")
        return " ".join(parts)


@dataclass(frozen=True)
class _LogIds:
    """Formats an `ObservedRequest`'s ids only when logging formats the line."""

    observed: ObservedRequest

    def __str__(self) -> str:
        return self.observed.log_ids()


class RequestTelemetry:
    """What the request pipeline reports: one `ObservedRequest` per call."""

    def __init__(self, meter: metrics.Meter | None = None) -> None:
        meter = meter or metrics.NoOpMeter(INSTRUMENTATION_SCOPE)
        histograms = {
            name: meter.create_histogram(
                name,
                unit="s",
                description=description,
                explicit_bucket_boundaries_advisory=RPC_LATENCY_BUCKETS_S,
            )
            for name, description in (
                (QUOTE_LATENCY, "Time the hub took to answer a quote request."),
                (TRANSFER_LATENCY, "Time the hub took to answer a transfer request."),
            )
        }
        self._latency = {path: histograms[name] for path, name in LATENCY_BY_METHOD.items()}

    @contextmanager
    def request(self, method_path: str, request_id: str) -> Iterator[ObservedRequest]:
        observed = ObservedRequest(method_path, request_id, self._latency.get(method_path))
        try:
            yield observed
        finally:
            observed.finish()


def quiet() -> AbstractContextManager[None]:
    """No spans inside: for polling queries that run every few seconds and mostly find nothing."""
    return suppress_instrumentation()


def record_refusal(code: grpc.StatusCode, reason: str) -> None:
    """Puts an aborted call's status on its server span.

    The official interceptor learns a status from `abort` and `set_code` only; the hub aborts
    with `abort_with_status` (it carries rich error details), which the interceptor passes
    through unseen, so without this every refused call's span would say OK.
    """
    span = trace.get_current_span()
    if not span.is_recording():
        return
    span.set_attribute(GRPC_STATUS_CODE, code.value[0])
    span.set_attribute(ERROR_REASON, reason)
    if code in SERVER_FAULT_CODES:
        span.set_status(trace.StatusCode.ERROR, code.name)


# --- the database --------------------------------------------------------------------------------


class _EngineSpans(EngineTracer):
    """The official SQLAlchemy instrumentation on one engine, removable again.

    EngineTracer records its listeners in one class-wide list that can only be removed all at
    once; hubs come and go on shared engines (tests build hundreds), so each keeps its own.
    SQL parameters are never recorded: db.statement is the parameterised statement text.
    """

    _instrumented: ClassVar[weakref.WeakSet[Engine]] = weakref.WeakSet()
    _instrumented_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, tracer: trace.Tracer, engine: Engine, meter: metrics.Meter) -> None:
        self.engine = engine
        self._listeners: list[tuple[Engine, str, Callable[..., Any]]] = []
        usage = meter.create_up_down_counter(
            CONNECTIONS_USAGE, unit="{connection}", description="Connections: idle, used."
        )
        super().__init__(  # type: ignore[no-untyped-call]
            tracer, engine, usage, enable_commenter=False
        )

    @classmethod
    def instrument(
        cls, engine: Engine, tracer: trace.Tracer, meter: metrics.Meter
    ) -> _EngineSpans | None:
        """Instruments `engine` unless a live hub already did: never two spans per statement."""
        with cls._instrumented_lock:
            if engine in cls._instrumented:
                log.warning("engine already instrumented by another hub; leaving it as it is")
                return None
            cls._instrumented.add(engine)
        return cls(tracer, engine, meter)

    def _before_cur_exec(
        self, conn: Any, cursor: Any, statement: str, params: Any, context: Any, executemany: bool
    ) -> tuple[str, Any]:
        """A statement span only under a recorded call: an unsampled call pays no span."""
        if not trace.get_current_span().is_recording():
            return statement, params
        return cast(
            tuple[str, Any],
            super()._before_cur_exec(  # type: ignore[no-untyped-call]
                conn, cursor, statement, params, context, executemany
            ),
        )

    def _register_event_listener(  # type: ignore[override]
        self, target: Engine, identifier: str, function: Callable[..., Any], *args: Any, **kw: Any
    ) -> None:
        event.listen(target, identifier, function, *args, **kw)
        self._listeners.append((target, identifier, function))

    def remove(self) -> None:
        for target, identifier, function in self._listeners:
            if event.contains(target, identifier, function):
                event.remove(target, identifier, function)
        self._listeners.clear()
        with self._instrumented_lock:
            self._instrumented.discard(self.engine)


class DatabaseGauges:
    """Transfers by state and feed lag per partner, read from the database at each collection.

    Read, not counted at transitions: the tables are the truth across every hub process and
    restart, where counters would start from zero in each process. Every process reports the
    same coalition-wide values, so dashboards take max (not sum) across instances.
    """

    def __init__(self, engine: Engine, meter: metrics.Meter) -> None:
        self.engine = engine
        self.closed = False
        meter.create_observable_gauge(
            TRANSFERS,
            callbacks=[self._transfers_by_state],
            unit="{transfer}",
            description="Transfers in each state (pending, completed, voided).",
        )
        meter.create_observable_gauge(
            FEED_LAG,
            callbacks=[self._feed_lag],
            unit="{event}",
            description="Events in a partner's feed that it has not acknowledged yet.",
        )

    def _transfers_by_state(self, _options: metrics.CallbackOptions) -> list[metrics.Observation]:
        counts = {state.value: 0 for state in TransferState}
        statement = select(TransferRow.state, func.count()).group_by(TransferRow.state)
        rows = self._read(statement)
        if rows is None:
            return []
        counts.update({str(state): int(count) for state, count in rows})
        return [metrics.Observation(n, {TRANSFER_STATE: state}) for state, n in counts.items()]

    def _feed_lag(self, _options: metrics.CallbackOptions) -> list[metrics.Observation]:
        lag = PartnerFeedRow.last_sequence - PartnerFeedRow.acked_sequence
        rows = self._read(select(PartnerFeedRow.partner_id, lag))
        return [metrics.Observation(int(n), {PARTNER_ID: str(p)}) for p, n in rows or ()]

    def _read(self, statement: Executable) -> Sequence[Any] | None:
        """The rows, or None if the hub stopped or the database did not answer."""
        if self.closed:
            return None
        try:
            # Not traced: a metrics collection is not a call anyone follows.
            with suppress_instrumentation(), self.engine.connect() as connection:
                return connection.execute(statement).all()
        except SQLAlchemyError:
            log.warning("could not read metrics from the database", exc_info=True)
            return None


# --- one hub -------------------------------------------------------------------------------------


class SettlementObservation:
    """What one day's settlement ended as; the caller sets `outcome` when it knows."""

    def __init__(self) -> None:
        self.outcome = "failed"


class HubTelemetry:
    """The instrumentation of one hub: its server, engine, pipeline and background work."""

    def __init__(self, telemetry: Telemetry, engine: Engine) -> None:
        self.telemetry = telemetry
        self.engine = engine
        provider = telemetry.meter_provider
        meter = (
            provider.get_meter(INSTRUMENTATION_SCOPE)
            if provider is not None
            else metrics.NoOpMeter(INSTRUMENTATION_SCOPE)
        )
        tracer_provider = telemetry.tracer_provider
        self.tracer = (
            tracer_provider.get_tracer(INSTRUMENTATION_SCOPE)
            if tracer_provider is not None
            else trace.NoOpTracer()
        )
        self.requests = RequestTelemetry(meter)
        self._settlement_duration = meter.create_histogram(
            SETTLEMENT_DURATION,
            unit="s",
            description="Time to settle one business day.",
            explicit_bucket_boundaries_advisory=SETTLEMENT_DURATION_BUCKETS_S,
        )
        self._engine_spans = (
            _EngineSpans.instrument(engine, self.tracer, meter) if telemetry.enabled else None
        )
        self._gauges = DatabaseGauges(engine, meter) if provider is not None else None

    def server_interceptors(self) -> list[ServerInterceptor]:
        """The official gRPC server interceptor, on the coalition.v1 services only (health
        checks and reflection would only add noise), or none when nothing records spans."""
        if self.telemetry.tracer_provider is None:
            return []
        interceptor = aio_server_interceptor(  # type: ignore[no-untyped-call]
            tracer_provider=self.telemetry.tracer_provider,
            filter_=filters.service_prefix(TRACED_SERVICES_PREFIX),
        )
        return [cast(ServerInterceptor, interceptor)]

    def background(
        self, name: str, transfer_id: str | None = None
    ) -> AbstractContextManager[trace.Span]:
        """A root span for one piece of background work (a timeout void), its SQL inside."""
        attributes = {TRANSFER_ID: transfer_id} if transfer_id else None
        return self.tracer.start_as_current_span(name, attributes=attributes)

    @contextmanager
    def settling(self, business_day: str) -> Iterator[SettlementObservation]:
        observation = SettlementObservation()
        started_s = time.perf_counter()
        try:
            with self.tracer.start_as_current_span(
                "coalition.settle_day", attributes={BUSINESS_DAY: business_day}
            ):
                yield observation
        finally:
            elapsed_s = time.perf_counter() - started_s
            self._settlement_duration.record(elapsed_s, {OUTCOME: observation.outcome})

    def close(self) -> None:
        """Removes this hub's engine listeners, flushes what it owns, stops its gauges."""
        if self._engine_spans is not None:
            self._engine_spans.remove()
            self._engine_spans = None
        self.telemetry.shutdown()
        if self._gauges is not None:
            self._gauges.closed = True
