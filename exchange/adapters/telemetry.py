"""OpenTelemetry for the hub: span trees per call, domain metrics, and ids on log records.

Where spans and metrics go (the providers), the official SQLAlchemy engine tracer (a child span
per SQL statement, made only under a recorded call; the default sampler records a share of calls,
exchange.adapters.sampling), the database gauges, log correlation and the background work's
spans. The calls' own telemetry (server spans, ids, latency) is exchange.api.request_telemetry;
the names both use are exchange.telemetry_names. This module imports neither gRPC nor
protobuf. With nothing to export to, nothing is installed: no interceptor, no engine listeners,
only no-op instruments; an unobserved hub pays for none of it.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any, ClassVar, cast

from opentelemetry import metrics, trace
from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.sdk.metrics import MeterProvider as SdkMeterProvider
from opentelemetry.sdk.trace import TracerProvider as SdkTracerProvider
from sqlalchemy import Engine, Executable, event, func, select
from sqlalchemy.exc import SQLAlchemyError

from exchange.adapters.sampling import trace_sampler
from exchange.adapters.sql.tables import PartnerFeedRow, TransferRow
from exchange.domain.transfers import TransferState
from exchange.telemetry_names import (
    BUSINESS_DAY,
    CONNECTIONS_USAGE,
    FEED_LAG,
    INSTRUMENTATION_SCOPE,
    OUTCOME,
    PARTNER_ID,
    SETTLEMENT_DURATION,
    SETTLEMENT_DURATION_BUCKETS_S,
    TRANSFER_ID,
    TRANSFER_STATE,
    TRANSFERS,
)

log = logging.getLogger(__name__)


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


def quiet() -> AbstractContextManager[None]:
    """No spans inside: for polling queries that run every few seconds and mostly find nothing."""
    return suppress_instrumentation()


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
        self.meter = meter
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
