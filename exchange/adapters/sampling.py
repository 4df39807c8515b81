"""Which calls the hub traces: parent-based ratio sampling unless the operator chooses.

A hub traces every call only at a cost (about +60% CPU a quote with a span per SQL statement),
so its default records a fixed share of the calls that start a trace here, and follows the
caller's decision when the caller sends a W3C `traceparent`. The hub's own background work
(settling a day, sweeping timeouts) is rare and always recorded. An operator who sets
`OTEL_TRACES_SAMPLER` gets exactly the OpenTelemetry SDK's behaviour for it instead.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from opentelemetry.context import Context
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_ON,
    ParentBased,
    Sampler,
    SamplingResult,
    TraceIdRatioBased,
)
from opentelemetry.trace import Link, SpanKind
from opentelemetry.trace.span import TraceState
from opentelemetry.util.types import Attributes

SAMPLER_VARIABLE = "OTEL_TRACES_SAMPLER"
SAMPLER_ARGUMENT_VARIABLE = "OTEL_TRACES_SAMPLER_ARG"
# One call in a hundred that starts a trace at the hub; a probability, not an amount.
SAMPLE_RATIO_DEFAULT = 0.01


def trace_sampler(environ: Mapping[str, str] | None = None) -> Sampler | None:
    """The hub's default sampler, or None when the environment names one for the SDK to build.

    `OTEL_TRACES_SAMPLER_ARG` alone sets the default sampler's ratio (0 to 1).
    """
    environ = os.environ if environ is None else environ
    if environ.get(SAMPLER_VARIABLE):
        return None
    ratio = SAMPLE_RATIO_DEFAULT
    argument = environ.get(SAMPLER_ARGUMENT_VARIABLE, "").strip()
    if argument:
        try:
            ratio = float(argument)
        except ValueError:
            raise ValueError(f"{SAMPLER_ARGUMENT_VARIABLE} must be a number from 0 to 1") from None
        if not 0.0 <= ratio <= 1.0:
            raise ValueError(f"{SAMPLER_ARGUMENT_VARIABLE} must be a number from 0 to 1")
    return ParentBased(CallRatioSampler(ratio))


class CallRatioSampler(Sampler):
    """Roots: a share of the calls partners make (server spans), all of the hub's own work."""

    def __init__(self, ratio: float) -> None:
        self.calls = TraceIdRatioBased(ratio)

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: TraceState | None = None,
    ) -> SamplingResult:
        sampler = self.calls if kind is SpanKind.SERVER else ALWAYS_ON
        return sampler.should_sample(
            parent_context, trace_id, name, kind, attributes, links, trace_state
        )

    def get_description(self) -> str:
        return f"CallRatioSampler{{{self.calls.rate}}}"
