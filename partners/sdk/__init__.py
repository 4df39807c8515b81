"""The Coalition Exchange partner SDK: signed calls, verified responses, safe retries."""

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
from partners.sdk.identity_client import IdentityClient
from partners.sdk.partner_client import PartnerClient
from partners.sdk.tier_client import TierClient

__all__ = [
    "EventClient",
    "EventSink",
    "EventVerificationError",
    "FeedConsumer",
    "HubConnection",
    "HubError",
    "IdentityClient",
    "PartnerClient",
    "ResponseVerificationError",
    "RetryPolicy",
    "TierClient",
    "connect",
    "verify_event",
]
