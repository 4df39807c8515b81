"""A prepared world for the fuzzed hub: partners, rate agreements, members, quotes, transfers,
ladders, recognition, a settled day and a dispute, so every RPC has something real to name."""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from google.protobuf.message import Message
from sqlalchemy import text

from coalition.keys import SigningKey
from coalition.v1 import exchange_pb2, identity_pb2, settlement_pb2, tier_pb2
from exchange.api import paging
from exchange.bootstrap import Hub
from exchange.services.settlement import settle_day
from partners.sdk import HubConnection
from tests.support.transfer_setup import EXCHANGE, IDENTITY, linked_member

# --- the prepared world --------------------------------------------------------------------------

PARTNER_IDS = ("skyway", "harbor", "orbit")
PARTNER_FIELDS = (
    "partner_id",
    "source_partner_id",
    "destination_partner_id",
    "target_partner_id",
)
TIER_FIELDS = ("code", "tier_code", "source_tier_code", "target_tier_code")
TRANSFER_FIELDS = ("transfer_id", "transfer_ids", "original_transfer_id")
CURRENCY_FIELDS = ("currency_code", "settlement_currency_code")
# A few of the measures (docs/metrics.md), one of each kind and scope, and one no metric has.
METRIC_NAMES = (
    "transfer_count",
    "coalition_total_value",
    "quote_conversion",
    "time_to_credit_p95_ms",
    "members_linked_2",
    "cohort_size",
    "net_position_30d",
    "no_such_metric",
)


@dataclass(frozen=True)
class World:
    """Live ids a hostile caller could know, so fuzzed requests reach past the first lookup."""

    source_ppid: str  # skyway's member, linked to harbor
    destination_ppid: str  # the same member at harbor
    orbit_ppid: str  # linked nowhere
    unlinked_skyway_ppid: str
    rate_agreement_id: str  # skyway -> harbor, accepted (version 1)
    proposed_rate_agreement_id: str  # orbit -> skyway, proposed by orbit (version 1)
    recognition_agreement_id: str  # skyway -> harbor, proposed by skyway (version 1)
    quote_id: str  # skyway's member, 1000 points to harbor
    pending_transfer_id: str  # skyway -> harbor
    completed_transfer_id: str  # skyway -> harbor, settled
    settled_day: str
    dispute_id: str  # opened by skyway on the completed transfer
    link_code: str  # issued by orbit for its member
    key_ids: tuple[str, ...]

    def values_by_field(self) -> dict[str, tuple[str, ...]]:
        values: dict[str, tuple[str, ...]] = {name: PARTNER_IDS for name in PARTNER_FIELDS}
        values.update({name: ("BLUE", "SILVER", "GOLD", "PLATINUM") for name in TIER_FIELDS})
        values.update(
            {
                name: (self.pending_transfer_id, self.completed_transfer_id)
                for name in TRANSFER_FIELDS
            }
        )
        values.update({name: ("USD", "EUR", "JPY", "usd", "XXX") for name in CURRENCY_FIELDS})
        ppids = (self.source_ppid, self.destination_ppid, self.orbit_ppid)
        values["ppid"] = (*ppids, self.unlinked_skyway_ppid)
        values["agreement_id"] = (
            self.rate_agreement_id,
            self.proposed_rate_agreement_id,
            self.recognition_agreement_id,
        )
        values["quote_id"] = (self.quote_id,)
        values["business_day"] = (self.settled_day, "2020-01-01", "2020-02-30", "20200101")
        values["dispute_id"] = (self.dispute_id,)
        values["link_code"] = (self.link_code,)
        values["key_id"] = self.key_ids
        values["direction"] = ("outgoing", "incoming")
        values["price_per_destination_point"] = ("0.0040", "1", "0.00000001", "1e3", "NaN")
        values["page_token"] = (paging.encode_token("skyway"), paging.encode_token("rt_|1"))
        values["display_name"] = ("Gold",)
        values["reason"] = ("account closed", "amount differs")
        values["idempotency_key"] = (str(uuid.UUID(int=1)), "not-a-uuid")
        values["counterpart_partner_id"] = PARTNER_IDS
        values["metric"] = METRIC_NAMES
        days = (self.settled_day, "2020-01-01", "2020-02-30", "20200101")
        values["start_date"] = values["end_date"] = days
        values["period"] = (self.settled_day[:7], "2020-01", "2020-13", "202001")
        return values


def _call(
    connection: HubConnection, method: str, request: Message, response_type: type[Message]
) -> Message:
    return connection.call(method, request, response_type, changes_state=True)


def rate_terms(minimum_source_points: int = 1000) -> exchange_pb2.RateTerms:
    terms = exchange_pb2.RateTerms(
        source_units=1000,
        destination_units=750,
        minimum_source_points=minimum_source_points,
        increment_source_points=1000,
        maximum_source_points=100_000,
        member_daily_cap_source_points=1_000_000,
        settlement_currency_code="USD",
        price_per_destination_point="0.0040",
    )
    terms.effective_from.FromDatetime(datetime.datetime(2020, 1, 1))
    return terms


def propose_rates(source: HubConnection, destination_id: str) -> str:
    request = exchange_pb2.ProposeRateAgreementRequest(
        source_partner_id=source.partner_id,
        destination_partner_id=destination_id,
        terms=rate_terms(),
    )
    response = _call(
        source,
        EXCHANGE + "ProposeRateAgreement",
        request,
        exchange_pb2.ProposeRateAgreementResponse,
    )
    return str(response.agreement.agreement_id)  # type: ignore[attr-defined]


def _accept_rates(destination: HubConnection, agreement_id: str) -> None:
    request = exchange_pb2.AcceptRateAgreementRequest(agreement_id=agreement_id, version=1)
    _call(
        destination,
        EXCHANGE + "AcceptRateAgreement",
        request,
        exchange_pb2.AcceptRateAgreementResponse,
    )


def _enroll(connection: HubConnection) -> str:
    response = _call(
        connection,
        IDENTITY + "EnrollMember",
        identity_pb2.EnrollMemberRequest(),
        identity_pb2.EnrollMemberResponse,
    )
    return str(response.ppid)  # type: ignore[attr-defined]


def new_quote(source: HubConnection, ppid: str, points: int) -> str:
    request = exchange_pb2.CreateQuoteRequest(
        ppid=ppid, destination_partner_id="harbor", source_points=points
    )
    response = _call(source, EXCHANGE + "CreateQuote", request, exchange_pb2.CreateQuoteResponse)
    payload = response.quote.payload  # type: ignore[attr-defined]
    return str(exchange_pb2.QuotePayload.FromString(payload).quote_id)


def _transfer(source: HubConnection, quote_id: str) -> str:
    request = exchange_pb2.CreateTransferRequest(quote_id=quote_id)
    response = _call(
        source, EXCHANGE + "CreateTransfer", request, exchange_pb2.CreateTransferResponse
    )
    return str(response.transfer.transfer_id)  # type: ignore[attr-defined]


def _publish_ladder(connection: HubConnection, codes: Sequence[str]) -> None:
    tiers = [
        tier_pb2.Tier(code=code, display_name=code.title(), rank=rank, canonical_level=rank)
        for rank, code in enumerate(codes, start=1)
    ]
    request = tier_pb2.PublishTierLadderRequest(tiers=tiers, canonical_matching=True)
    _call(
        connection,
        "/coalition.v1.TierService/PublishTierLadder",
        request,
        tier_pb2.PublishTierLadderResponse,
    )


def _propose_recognition(skyway: HubConnection) -> str:
    request = tier_pb2.ProposeRecognitionRequest(
        source_partner_id="skyway",
        target_partner_id="harbor",
        rules=[tier_pb2.RecognitionRule(source_tier_code="GOLD", target_tier_code="GOLD")],
        validity_days=365,
        min_days_between_grants=30,
    )
    response = _call(
        skyway,
        "/coalition.v1.TierService/ProposeRecognition",
        request,
        tier_pb2.ProposeRecognitionResponse,
    )
    return str(response.agreement.agreement_id)  # type: ignore[attr-defined]


def _settle_day_of(hub: Hub, transfer_id: str) -> str:
    """Closes and settles the business day the transfer completed in (before its cut-off)."""
    query = text("SELECT business_day FROM transfers WHERE transfer_id = :transfer_id")
    with hub.engine.connect() as connection:
        day = str(connection.execute(query, {"transfer_id": transfer_id}).scalar_one())
    settle_day(hub.uow_factory, hub.settings.calendar, hub.clock, day, close_early=True)
    return day


def _open_dispute(skyway: HubConnection, day: str, transfer_id: str) -> str:
    request = settlement_pb2.OpenDisputeRequest(
        business_day=day,
        transfer_id=transfer_id,
        claimed_amount={"amount_minor": 1, "currency_code": "USD"},
        reason="amount differs",
    )
    response = _call(
        skyway,
        "/coalition.v1.SettlementService/OpenDispute",
        request,
        settlement_pb2.OpenDisputeResponse,
    )
    return str(response.dispute.dispute_id)  # type: ignore[attr-defined]


def build_world(
    hub: Hub, connections: dict[str, HubConnection], keys: dict[str, SigningKey]
) -> World:
    skyway, harbor, orbit = (connections[p] for p in PARTNER_IDS)
    source_ppid, destination_ppid = linked_member(skyway, harbor)
    rate_agreement_id = propose_rates(skyway, "harbor")
    _accept_rates(harbor, rate_agreement_id)
    pending = _transfer(skyway, new_quote(skyway, source_ppid, 2000))
    completed = _transfer(skyway, new_quote(skyway, source_ppid, 3000))
    _call(
        harbor,
        EXCHANGE + "ConfirmCredit",
        exchange_pb2.ConfirmCreditRequest(transfer_id=completed),
        exchange_pb2.ConfirmCreditResponse,
    )
    day = _settle_day_of(hub, completed)
    _publish_ladder(skyway, ("BLUE", "SILVER", "GOLD"))
    _publish_ladder(harbor, ("MEMBER", "GOLD", "PLATINUM"))
    orbit_ppid = _enroll(orbit)
    link_code = _call(
        orbit,
        IDENTITY + "CreateLinkCode",
        identity_pb2.CreateLinkCodeRequest(ppid=orbit_ppid),
        identity_pb2.CreateLinkCodeResponse,
    ).link_code  # type: ignore[attr-defined]
    return World(
        source_ppid=source_ppid,
        destination_ppid=destination_ppid,
        orbit_ppid=orbit_ppid,
        unlinked_skyway_ppid=_enroll(skyway),
        rate_agreement_id=rate_agreement_id,
        proposed_rate_agreement_id=propose_rates(orbit, "skyway"),
        recognition_agreement_id=_propose_recognition(skyway),
        quote_id=new_quote(skyway, source_ppid, 1000),
        pending_transfer_id=pending,
        completed_transfer_id=completed,
        settled_day=day,
        dispute_id=_open_dispute(skyway, day, completed),
        link_code=str(link_code),
        key_ids=tuple(keys[p].key_id for p in PARTNER_IDS),
    )
