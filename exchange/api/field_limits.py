"""The limit of every string, bytes and repeated field of every request, in one table.

Each entry names a field by its descriptor, so a misspelt one fails at import, and the unit
tests fail for any request field without an entry: no field of a request is unbounded by
accident. `message_checks.field_violations` walks a request against this table before any
handler sees it; docs/field-limits.md is generated from it (`python -m
exchange.api.field_limits > docs/field-limits.md`) and a test keeps the two equal.

Lengths count characters (Unicode code points) for strings and bytes for bytes. A pattern
must match the whole value; an empty value passes unless the field is required.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from dataclasses import dataclass

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

from coalition import wire
from coalition.v1 import (
    analytics_pb2,
    common_pb2,
    event_pb2,
    exchange_pb2,
    identity_pb2,
    partner_pb2,
    settlement_pb2,
    tier_pb2,
)
from exchange.api import paging
from exchange.domain import limits
from exchange.domain.members import PPID_PATTERN
from exchange.domain.partners import PARTNER_ID_PATTERN
from exchange.domain.tiers import TIER_CODE_PATTERN


@dataclass(frozen=True)
class Text:
    """A string field: at most `chars_max` characters, of the form `meaning` says."""

    chars_max: int
    meaning: str
    example: str
    pattern: re.Pattern[str] | None = None
    required: bool = False
    # Free text (reasons, names): printable characters only, no line breaks or controls.
    printable: bool = False


@dataclass(frozen=True)
class Binary:
    """A bytes field: `bytes_min` to `bytes_max` bytes (`bytes_min` only when non-empty)."""

    bytes_max: int
    meaning: str
    example: bytes
    bytes_min: int = 0


@dataclass(frozen=True)
class Repeated:
    """A repeated field: `items_min` to `items_max` items, each within `item` if scalar."""

    items_max: int
    items_min: int = 0
    item: Text | Binary | None = None


Limit = Text | Binary | Repeated


def required(limit: Text) -> Text:
    return dataclasses.replace(limit, required=True)


def _ascii(expression: str) -> re.Pattern[str]:
    # re.ASCII: \d and \w would otherwise accept digits and letters of every script.
    return re.compile(expression, re.ASCII)


def _id(prefix: str, hex_chars: int, what: str) -> Text:
    return Text(
        len(prefix) + hex_chars,
        f"{what}: `{prefix}` and {hex_chars} lower-case hex digits",
        prefix + "0" * hex_chars,
        _ascii(re.escape(prefix) + f"[0-9a-f]{{{hex_chars}}}"),
    )


# --- the formats -----------------------------------------------------------------------------

PARTNER_ID = Text(
    32,
    "a partner id: a lower-case letter, then 1-31 of a-z, 0-9, _ or -",
    "skyway",
    PARTNER_ID_PATTERN,
)
PPID = Text(29, "a ppid: `pp_` and 26 base32 letters (a-z, 2-7)", "pp_" + "a" * 26, PPID_PATTERN)
# Minted in exchange/services: transfer_engine.py ("tr_", "qt_"; reversals' "tr_" in
# transfers.py), rates.py ("rt_"), tiers.py ("ra_"), disputes.py ("dp_").
TRANSFER_ID = _id("tr_", 24, "a transfer id")
QUOTE_ID = _id("qt_", 24, "a quote id")
# A statement line is a transfer or an accepted dispute's adjustment ("adj_", disputes.py).
LINE_ID = Text(
    28,
    "a statement line's id: a transfer id, or `adj_` and 24 lower-case hex digits",
    "adj_" + "0" * 24,
    _ascii(r"tr_[0-9a-f]{24}|adj_[0-9a-f]{24}"),
)
RATE_AGREEMENT_ID = _id("rt_", 16, "a rate agreement id")
RECOGNITION_AGREEMENT_ID = _id("ra_", 16, "a recognition agreement id")
DISPUTE_ID = _id("dp_", 24, "a dispute id")
KEY_ID = _id(wire.KEY_ID_PREFIX, wire.KEY_ID_HEX_CHARS, "a key id")
IDEMPOTENCY_KEY = Text(
    36,
    "a lower-case UUID",
    "0f8fad5b-d9cb-469f-a165-70867728950e",
    wire.IDEMPOTENCY_KEY_PATTERN,
    required=True,
)
# What a member types: the ten code characters, in any case, with a dash or spaces.
LINK_CODE = Text(
    20,
    f"a link code: {limits.LINK_CODE_CHARS} letters and digits, any case, dashes and spaces",
    "K7QXM-3RTPA",
    _ascii(r"[0-9A-Za-z -]+"),
    required=True,
)
CURRENCY_CODE = Text(
    3, "an ISO 4217 alphabetic code: 3 upper-case letters", "USD", _ascii(r"[A-Z]{3}"), True
)
BUSINESS_DAY = Text(
    10, "a date written YYYY-MM-DD", "2026-11-23", _ascii(r"[0-9]{4}-[0-9]{2}-[0-9]{2}"), True
)
TIER_CODE = Text(
    32,
    "a tier code: an upper-case letter, then up to 31 of A-Z, 0-9 or _",
    "GOLD",
    TIER_CODE_PATTERN,
    True,
)
PRICE = Text(
    21,
    "an exact decimal: 1-12 digits, optionally `.` and 1-8 digits",
    "0.0040",
    _ascii(r"[0-9]{1,12}(\.[0-9]{1,8})?"),
    required=True,
)
PAGE_TOKEN = Text(
    paging.PAGE_TOKEN_CHARS_MAX,
    "a next_page_token from a previous response",
    paging.encode_token("skyway"),
    paging.TOKEN_PATTERN,
)
REASON = Text(limits.REJECT_REASON_CHARS_MAX, "free text", "account closed", printable=True)
DISPLAY_NAME = Text(
    limits.DISPLAY_NAME_CHARS_MAX, "free text", "Gold", printable=True, required=True
)
DIRECTION = Text(
    8, "`outgoing` or `incoming`", "outgoing", _ascii(r"outgoing|incoming"), required=True
)
METRIC_NAME = Text(
    64, "a metric name from docs/metrics.md", "transfer_count", _ascii(r"[a-z][a-z0-9_]*"), True
)
PERIOD = Text(7, "a calendar month written YYYY-MM", "2026-11", _ascii(r"[0-9]{4}-[0-9]{2}"), True)
# A partner's records of one day in one message: the 4 MiB message limit allows about as many.
RECONCILIATION_RECORDS_MAX = 100_000


def _entries(message: type[Message], **fields: Limit) -> tuple[str, dict[str, Limit]]:
    descriptor = message.DESCRIPTOR
    for name, limit in fields.items():
        field = descriptor.fields_by_name.get(name)
        assert field is not None, f"{descriptor.full_name} has no field {name}"
        assert field.is_repeated == isinstance(limit, Repeated), f"{field.full_name}: repeated?"
        scalar = limit.item if isinstance(limit, Repeated) else limit
        expected = {FieldDescriptor.TYPE_STRING: Text, FieldDescriptor.TYPE_BYTES: Binary}
        assert type(scalar) is expected.get(field.type, type(None)), f"{field.full_name}: type"
    return descriptor.full_name, dict(fields)


LIMITS: dict[str, dict[str, Limit]] = dict(
    (
        # PartnerService
        _entries(partner_pb2.GetPartnerRequest, partner_id=required(PARTNER_ID)),
        _entries(partner_pb2.ListPartnersRequest, page_token=PAGE_TOKEN),
        _entries(
            partner_pb2.RegisterKeyRequest,
            public_key=Binary(32, "the raw Ed25519 public key", b"\x01" * 32, bytes_min=32),
            proof_of_possession=Binary(64, "an Ed25519 signature", b"\x02" * 64),
        ),
        _entries(partner_pb2.RevokeKeyRequest, key_id=required(KEY_ID)),
        _entries(partner_pb2.GetHubKeysRequest),
        # IdentityService
        _entries(identity_pb2.EnrollMemberRequest),
        _entries(identity_pb2.CreateLinkCodeRequest, ppid=required(PPID)),
        _entries(identity_pb2.RedeemLinkCodeRequest, link_code=LINK_CODE, ppid=required(PPID)),
        _entries(identity_pb2.ListLinksRequest, ppid=required(PPID)),
        _entries(identity_pb2.UnlinkRequest, ppid=required(PPID), partner_id=PARTNER_ID),
        _entries(identity_pb2.EraseMemberRequest, ppid=required(PPID)),
        # EventService
        _entries(event_pb2.SubscribeRequest),
        _entries(event_pb2.ListEventsRequest),
        _entries(event_pb2.AckEventsRequest),
        # TierService
        _entries(
            tier_pb2.PublishTierLadderRequest,
            tiers=Repeated(limits.TIERS_PER_LADDER_MAX, items_min=1),
        ),
        _entries(tier_pb2.Tier, code=TIER_CODE, display_name=DISPLAY_NAME),
        _entries(
            tier_pb2.ProposeRecognitionRequest,
            source_partner_id=required(PARTNER_ID),
            target_partner_id=required(PARTNER_ID),
            rules=Repeated(limits.RECOGNITION_RULES_MAX, items_min=1),
        ),
        _entries(tier_pb2.RecognitionRule, source_tier_code=TIER_CODE, target_tier_code=TIER_CODE),
        _entries(
            tier_pb2.AcceptRecognitionRequest, agreement_id=required(RECOGNITION_AGREEMENT_ID)
        ),
        _entries(tier_pb2.ReportMemberTierRequest, ppid=required(PPID), tier_code=TIER_CODE),
        _entries(
            tier_pb2.RequestStatusMatchRequest,
            ppid=required(PPID),
            target_partner_id=required(PARTNER_ID),
        ),
        _entries(
            tier_pb2.GetTierMappingRequest,
            source_partner_id=required(PARTNER_ID),
            target_partner_id=required(PARTNER_ID),
        ),
        # ExchangeService
        _entries(
            exchange_pb2.ProposeRateAgreementRequest,
            source_partner_id=required(PARTNER_ID),
            destination_partner_id=required(PARTNER_ID),
        ),
        _entries(
            exchange_pb2.RateTerms,
            settlement_currency_code=CURRENCY_CODE,
            price_per_destination_point=PRICE,
        ),
        _entries(exchange_pb2.AcceptRateAgreementRequest, agreement_id=required(RATE_AGREEMENT_ID)),
        _entries(exchange_pb2.ListRateAgreementsRequest, page_token=PAGE_TOKEN),
        _entries(
            exchange_pb2.CreateQuoteRequest,
            ppid=required(PPID),
            destination_partner_id=required(PARTNER_ID),
        ),
        # Either a quote or inline terms: which of them is given is the handler's to check.
        _entries(
            exchange_pb2.CreateTransferRequest,
            quote_id=QUOTE_ID,
            ppid=PPID,
            destination_partner_id=PARTNER_ID,
        ),
        _entries(
            exchange_pb2.CreateTransferBatchRequest,
            entries=Repeated(limits.TRANSFER_BATCH_ENTRIES_MAX, items_min=1),
        ),
        _entries(exchange_pb2.TransferBatchEntry, idempotency_key=IDEMPOTENCY_KEY),
        _entries(exchange_pb2.GetTransferRequest, transfer_id=required(TRANSFER_ID)),
        _entries(exchange_pb2.ListTransfersRequest, page_token=PAGE_TOKEN),
        _entries(exchange_pb2.ConfirmCreditRequest, transfer_id=required(TRANSFER_ID)),
        _entries(
            exchange_pb2.ConfirmCreditsRequest,
            transfer_ids=Repeated(
                limits.TRANSFER_BATCH_ENTRIES_MAX, items_min=1, item=required(TRANSFER_ID)
            ),
        ),
        _entries(
            exchange_pb2.RejectCreditRequest, transfer_id=required(TRANSFER_ID), reason=REASON
        ),
        _entries(exchange_pb2.CreateReversalRequest, transfer_id=required(TRANSFER_ID)),
        # SettlementService
        _entries(
            settlement_pb2.GetSettlementRunRequest,
            business_day=BUSINESS_DAY,
            currency_code=CURRENCY_CODE,
        ),
        _entries(
            settlement_pb2.GetStatementRequest,
            business_day=BUSINESS_DAY,
            currency_code=CURRENCY_CODE,
        ),
        _entries(
            settlement_pb2.GetInclusionProofRequest,
            business_day=BUSINESS_DAY,
            transfer_id=required(LINE_ID),
        ),
        _entries(settlement_pb2.ListPaymentInstructionsRequest, business_day=BUSINESS_DAY),
        _entries(
            settlement_pb2.SubmitReconciliationRequest,
            business_day=BUSINESS_DAY,
            records=Repeated(RECONCILIATION_RECORDS_MAX),
        ),
        _entries(
            settlement_pb2.ReconciliationRecord,
            transfer_id=required(LINE_ID),
            direction=DIRECTION,
        ),
        _entries(common_pb2.Money, currency_code=CURRENCY_CODE),
        _entries(
            settlement_pb2.OpenDisputeRequest,
            business_day=BUSINESS_DAY,
            transfer_id=required(LINE_ID),
            reason=required(REASON),
        ),
        _entries(
            settlement_pb2.ResolveDisputeRequest,
            dispute_id=required(DISPUTE_ID),
            reason=required(REASON),
        ),
        _entries(settlement_pb2.ListDisputesRequest),
        # AnalyticsService
        _entries(
            analytics_pb2.GetMetricSeriesRequest,
            metric=METRIC_NAME,
            start_date=BUSINESS_DAY,
            end_date=BUSINESS_DAY,
            counterpart_partner_id=PARTNER_ID,
        ),
        _entries(analytics_pb2.ReportProgrammeTotalsRequest, period=PERIOD),
        _entries(analytics_pb2.GetProgrammeComparisonRequest, period=PERIOD),
    )
)


SERVICE_MODULES = (
    partner_pb2,
    identity_pb2,
    event_pb2,
    tier_pb2,
    exchange_pb2,
    settlement_pb2,
    analytics_pb2,
)


def request_messages() -> Iterator[Descriptor]:
    """Every message a request can hold, each once: the RPCs' inputs and what they nest."""
    seen: set[str] = set()
    pending = [
        method.input_type
        for module in SERVICE_MODULES
        for service in module.DESCRIPTOR.services_by_name.values()
        for method in service.methods
    ]
    while pending:
        descriptor = pending.pop(0)
        if descriptor.full_name in seen:
            continue
        seen.add(descriptor.full_name)
        yield descriptor
        pending.extend(f.message_type for f in descriptor.fields if f.message_type is not None)


def bounded_kind(field: FieldDescriptor) -> bool:
    """Whether a field needs an entry: strings, bytes and every repeated field."""
    return field.is_repeated or field.type in (
        FieldDescriptor.TYPE_STRING,
        FieldDescriptor.TYPE_BYTES,
    )
