"""The Coalition Exchange partner SDK: signed calls, verified responses, safe retries."""

from partners.sdk.analytics_client import AnalyticsClient, point_value
from partners.sdk.connection import (
    HubConnection,
    HubError,
    ResponseVerificationError,
    RetryPolicy,
    connect,
)
from partners.sdk.events import (
    EventClient,
    EventSink,
    EventVerificationError,
    FeedConsumer,
    verify_event,
)
from partners.sdk.exchange_client import (
    TRANSFER_BATCH_ENTRIES_MAX,
    BatchTransfer,
    ExchangeClient,
    PayloadVerificationError,
    rate_terms,
    verify_quote,
    verify_receipt,
)
from partners.sdk.identity_client import IdentityClient
from partners.sdk.partner_client import PartnerClient
from partners.sdk.settlement_client import (
    ProofFetcher,
    SettlementClient,
    StatementVerificationError,
    verify_statement,
)
from partners.sdk.tier_client import TierClient

__all__ = [
    "TRANSFER_BATCH_ENTRIES_MAX",
    "AnalyticsClient",
    "BatchTransfer",
    "EventClient",
    "EventSink",
    "EventVerificationError",
    "ExchangeClient",
    "FeedConsumer",
    "HubConnection",
    "HubError",
    "IdentityClient",
    "PartnerClient",
    "PayloadVerificationError",
    "ProofFetcher",
    "ResponseVerificationError",
    "RetryPolicy",
    "SettlementClient",
    "StatementVerificationError",
    "TierClient",
    "connect",
    "point_value",
    "rate_terms",
    "verify_event",
    "verify_quote",
    "verify_receipt",
    "verify_statement",
]
