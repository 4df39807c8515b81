"""The Coalition Exchange partner SDK: signed calls, verified responses, safe retries."""

from partners.sdk.connection import (
    HubConnection,
    HubError,
    ResponseVerificationError,
    RetryPolicy,
)
from partners.sdk.partner_client import PartnerClient

__all__ = [
    "HubConnection",
    "HubError",
    "PartnerClient",
    "ResponseVerificationError",
    "RetryPolicy",
]
