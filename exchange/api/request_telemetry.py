"""Telemetry of the calls partners make: the ids on each call's server span and log lines,
call latency, refusals on the span, and the official gRPC server interceptor."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import grpc
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from opentelemetry import metrics, trace
from opentelemetry.instrumentation.grpc import aio_server_interceptor, filters

from exchange.adapters.telemetry import Telemetry, current_trace_ids
from exchange.domain.errors import DomainError
from exchange.telemetry_names import (
    ERROR_REASON,
    GRPC_STATUS_CODE,
    IDEMPOTENT_REPLAY,
    INSTRUMENTATION_SCOPE,
    LATENCY_BY_METHOD,
    MESSAGE_DEPTH_MAX,
    OUTCOME,
    OUTCOME_OK,
    PARTNER_ID,
    QUOTE_LATENCY,
    REQUEST_ID,
    RPC_LATENCY_BUCKETS_S,
    RPC_METHOD,
    STREAM_MESSAGES,
    TRACED_SERVICES_PREFIX,
    TRANSFER_COUNT,
    TRANSFER_ID,
    TRANSFER_ID_FIELDS,
    TRANSFER_ID_PATTERN,
    TRANSFER_IDS,
    TRANSFER_IDS_ON_SPAN_MAX,
    TRANSFER_LATENCY,
)

if TYPE_CHECKING:
    ServerInterceptor = grpc.aio.ServerInterceptor[Any, Any]
else:
    ServerInterceptor = grpc.aio.ServerInterceptor

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


def server_interceptors(telemetry: Telemetry) -> list[ServerInterceptor]:
    """The official gRPC server interceptor, on the coalition.v1 services only (health checks
    and reflection would only add noise), or none when nothing records spans."""
    if telemetry.tracer_provider is None:
        return []
    interceptor = aio_server_interceptor(  # type: ignore[no-untyped-call]
        tracer_provider=telemetry.tracer_provider,
        filter_=filters.service_prefix(TRACED_SERVICES_PREFIX),
    )
    return [cast(ServerInterceptor, interceptor)]
