"""The names the hub's telemetry uses: span attributes, metric names and their buckets.

A bottom module: every layer that reports (the API pipeline, storage, background work) takes
its names from here, and it imports nothing of the hub's.
"""

from __future__ import annotations

import re

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
