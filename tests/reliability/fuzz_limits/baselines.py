"""One accepted request per RPC, made against the prepared world: the baseline a case changes."""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import grpc
from google.protobuf.message import Message

from coalition.v1 import (
    analytics_pb2,
    event_pb2,
    exchange_pb2,
    partner_pb2,
    settlement_pb2,
    tier_pb2,
)
from tests.reliability.fuzz_support import World

Code = grpc.StatusCode
INVALID = frozenset({Code.INVALID_ARGUMENT})
OK = frozenset({Code.OK})
NOT_ACCEPTED = frozenset({Code.INVALID_ARGUMENT, Code.NOT_FOUND, Code.FAILED_PRECONDITION})
DAY_S = 86_400


# --- a valid request per RPC with integer or enum fields -----------------------------------------


def _in_days(days: int) -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC).replace(tzinfo=None) + datetime.timedelta(days)


def _rate_terms() -> exchange_pb2.RateTerms:
    terms = exchange_pb2.RateTerms(
        source_units=1000,
        destination_units=750,
        minimum_source_points=1000,
        increment_source_points=1000,
        maximum_source_points=100_000,
        member_daily_cap_source_points=1_000_000,
        bonus_percent=10,
        settlement_currency_code="USD",
        price_per_destination_point="0.0040",
    )
    terms.bonus_start_time.FromDatetime(_in_days(-1))
    terms.bonus_end_time.FromDatetime(_in_days(30))
    terms.effective_from.FromDatetime(datetime.datetime(2020, 1, 1))
    terms.effective_to.FromDatetime(_in_days(365))
    return terms


def inline_transfer(world: World) -> exchange_pb2.CreateTransferRequest:
    return exchange_pb2.CreateTransferRequest(
        ppid=world.source_ppid, destination_partner_id="harbor", source_points=1000
    )


def member_tier(world: World) -> tier_pb2.ReportMemberTierRequest:
    request = tier_pb2.ReportMemberTierRequest(ppid=world.source_ppid, tier_code="GOLD")
    request.expire_time.FromDatetime(_in_days(30))
    return request


def list_transfers(world: World) -> exchange_pb2.ListTransfersRequest:
    request = exchange_pb2.ListTransfersRequest(page_size=10)
    request.start_time.FromDatetime(datetime.datetime(2020, 1, 1))
    request.end_time.FromDatetime(_in_days(1))
    return request


def _reconciliation(world: World) -> settlement_pb2.SubmitReconciliationRequest:
    record = settlement_pb2.ReconciliationRecord(
        transfer_id=world.completed_transfer_id,
        direction="outgoing",
        points=3000,
        amount={"amount_minor": 900, "currency_code": "USD"},
    )
    return settlement_pb2.SubmitReconciliationRequest(
        business_day=world.settled_day, records=[record]
    )


def _metric_series(world: World) -> analytics_pb2.GetMetricSeriesRequest:
    return analytics_pb2.GetMetricSeriesRequest(
        metric="transfer_count",
        start_date=world.settled_day,
        end_date=world.settled_day,
        granularity=analytics_pb2.GRANULARITY_DAY,
    )


def _programme_totals(world: World) -> analytics_pb2.ReportProgrammeTotalsRequest:
    return analytics_pb2.ReportProgrammeTotalsRequest(
        period=world.settled_day[:7],
        points_issued=120_000,
        points_redeemed=80_000,
        points_expired=5_000,
        active_members=400,
    )


@dataclass(frozen=True)
class Baseline:
    """A request valid in the prepared world, and who sends it."""

    caller: str
    build: Callable[[World], Message]


BASELINES: dict[str, Baseline] = {
    "ListPartners": Baseline("skyway", lambda w: partner_pb2.ListPartnersRequest(page_size=10)),
    "Subscribe": Baseline("skyway", lambda w: event_pb2.SubscribeRequest(after_sequence=0)),
    "ListEvents": Baseline(
        "skyway", lambda w: event_pb2.ListEventsRequest(after_sequence=0, page_size=10)
    ),
    "AckEvents": Baseline("skyway", lambda w: event_pb2.AckEventsRequest(up_to_sequence=0)),
    "PublishTierLadder": Baseline(
        "orbit",
        lambda w: tier_pb2.PublishTierLadderRequest(
            tiers=[tier_pb2.Tier(code="GOLD", display_name="Gold", rank=1, canonical_level=1)]
        ),
    ),
    "ProposeRecognition": Baseline(
        "skyway",
        lambda w: tier_pb2.ProposeRecognitionRequest(
            source_partner_id="skyway",
            target_partner_id="harbor",
            rules=[tier_pb2.RecognitionRule(source_tier_code="GOLD", target_tier_code="GOLD")],
            validity_days=365,
            min_days_between_grants=30,
        ),
    ),
    "AcceptRecognition": Baseline(
        "harbor",
        lambda w: tier_pb2.AcceptRecognitionRequest(
            agreement_id=w.recognition_agreement_id, version=1
        ),
    ),
    "ReportMemberTier": Baseline("skyway", member_tier),
    "ProposeRateAgreement": Baseline(
        "skyway",
        lambda w: exchange_pb2.ProposeRateAgreementRequest(
            source_partner_id="skyway", destination_partner_id="orbit", terms=_rate_terms()
        ),
    ),
    "AcceptRateAgreement": Baseline(
        "skyway",
        lambda w: exchange_pb2.AcceptRateAgreementRequest(
            agreement_id=w.proposed_rate_agreement_id, version=1
        ),
    ),
    "ListRateAgreements": Baseline(
        "skyway", lambda w: exchange_pb2.ListRateAgreementsRequest(page_size=10)
    ),
    "CreateQuote": Baseline(
        "skyway",
        lambda w: exchange_pb2.CreateQuoteRequest(
            ppid=w.source_ppid, destination_partner_id="harbor", source_points=1000
        ),
    ),
    "CreateTransfer": Baseline("skyway", inline_transfer),
    "CreateTransferBatch": Baseline(
        "skyway",
        lambda w: exchange_pb2.CreateTransferBatchRequest(
            entries=[
                exchange_pb2.TransferBatchEntry(
                    idempotency_key=str(uuid.uuid4()), transfer=inline_transfer(w)
                )
            ]
        ),
    ),
    "ListTransfers": Baseline("skyway", list_transfers),
    "SubmitReconciliation": Baseline("skyway", _reconciliation),
    "OpenDispute": Baseline(
        "harbor",
        lambda w: settlement_pb2.OpenDisputeRequest(
            business_day=w.settled_day,
            transfer_id=w.completed_transfer_id,
            claimed_amount={"amount_minor": 1, "currency_code": "USD"},
            reason="amount differs",
        ),
    ),
    "GetMetricSeries": Baseline("skyway", _metric_series),
    "ReportProgrammeTotals": Baseline("skyway", _programme_totals),
    "GetProgrammeComparison": Baseline(
        "skyway", lambda w: analytics_pb2.GetProgrammeComparisonRequest(period=w.settled_day[:7])
    ),
}
