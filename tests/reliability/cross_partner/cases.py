"""One case for every RPC of every coalition.v1 service: what orbit sends and how it is judged."""

from __future__ import annotations

import uuid

from coalition.keys import SigningKey
from coalition.v1 import event_pb2, identity_pb2, partner_pb2, settlement_pb2
from coalition.v1 import exchange_pb2 as xpb
from coalition.v1 import tier_pb2 as tpb
from exchange.domain.members import new_ppid
from tests.reliability import cross_partner_analytics as analytics
from tests.reliability.cross_partner.comparison import Case, alike, cases_of, items_alike
from tests.reliability.cross_partner.requests import (
    acked_own_feed,
    batch_of,
    dispute_request,
    enrolled_for_orbit,
    expire_in_a_year,
    ladder_of_orbit,
    last_sequence,
    listed_events_only_own,
    named,
    only_own_agreements,
    only_own_disputes,
    only_own_instructions,
    only_own_position,
    only_own_statement_lines,
    only_own_transfers,
    party_transfers,
    ppids,
    public,
    reconciliation_case,
    register_key_case,
    scoped_read,
    scoped_write,
    subscribe_case,
    unknown_ppid,
    unknown_quote,
    unknown_transfer,
)
from tests.reliability.cross_partner.world import (
    COUNTERPARTY,
    EVENT,
    EXCHANGE,
    IDENTITY,
    LADDER,
    OWNER,
    PARTNER,
    SETTLEMENT,
    TIER,
    USD,
    call,
)

CASES: dict[str, Case] = {
    # PartnerService: the directory is public; keys are each partner's own.
    "PartnerService/GetPartner": public(
        PARTNER + "GetPartner", partner_pb2.GetPartnerRequest(partner_id=OWNER)
    ),
    "PartnerService/ListPartners": public(
        PARTNER + "ListPartners", partner_pb2.ListPartnersRequest()
    ),
    "PartnerService/GetHubKeys": public(PARTNER + "GetHubKeys", partner_pb2.GetHubKeysRequest()),
    "PartnerService/RegisterKey": register_key_case,
    "PartnerService/RevokeKey": alike(
        PARTNER + "RevokeKey",
        lambda w, key_id: partner_pb2.RevokeKeyRequest(key_id=key_id),
        named("owner key"),
        lambda w: SigningKey.generate().key_id,
    ),
    # IdentityService: every ppid-taking RPC, with skyway's and harbor's ppids.
    "IdentityService/EnrollMember": scoped_write(
        IDENTITY + "EnrollMember", lambda w: identity_pb2.EnrollMemberRequest(), enrolled_for_orbit
    ),
    "IdentityService/CreateLinkCode": alike(
        IDENTITY + "CreateLinkCode",
        lambda w, p: identity_pb2.CreateLinkCodeRequest(ppid=p),
        ppids,
        unknown_ppid,
    ),
    "IdentityService/RedeemLinkCode": alike(
        IDENTITY + "RedeemLinkCode",
        lambda w, p: identity_pb2.RedeemLinkCodeRequest(link_code=w.ids["link code"], ppid=p),
        ppids,
        unknown_ppid,
    ),
    "IdentityService/ListLinks": alike(
        IDENTITY + "ListLinks",
        lambda w, p: identity_pb2.ListLinksRequest(ppid=p),
        ppids,
        unknown_ppid,
    ),
    "IdentityService/Unlink": alike(
        IDENTITY + "Unlink",
        lambda w, p: identity_pb2.UnlinkRequest(ppid=p, partner_id=COUNTERPARTY),
        ppids,
        unknown_ppid,
    ),
    "IdentityService/EraseMember": alike(
        IDENTITY + "EraseMember",
        lambda w, p: identity_pb2.EraseMemberRequest(ppid=p),
        ppids,
        unknown_ppid,
    ),
    # EventService: each partner has one feed, its own.
    "EventService/Subscribe": subscribe_case,
    "EventService/ListEvents": scoped_read(
        EVENT + "ListEvents",
        lambda w: event_pb2.ListEventsRequest(after_sequence=0, page_size=500),
        listed_events_only_own,
    ),
    "EventService/AckEvents": scoped_write(
        EVENT + "AckEvents",
        lambda w: event_pb2.AckEventsRequest(up_to_sequence=last_sequence(w)),
        acked_own_feed,
    ),
    # TierService: agreements between two others, and members of others.
    "TierService/PublishTierLadder": scoped_write(
        TIER + "PublishTierLadder",
        lambda w: tpb.PublishTierLadderRequest(tiers=LADDER, canonical_matching=True),
        ladder_of_orbit,
    ),
    "TierService/ProposeRecognition": alike(
        TIER + "ProposeRecognition",
        lambda w, pair: tpb.ProposeRecognitionRequest(
            source_partner_id=pair.split(">")[0],
            target_partner_id=pair.split(">")[1],
            rules=[tpb.RecognitionRule(source_tier_code="GOLD", target_tier_code="GOLD")],
            validity_days=30,
            min_days_between_grants=30,
        ),
        lambda w: [f"{OWNER}>{COUNTERPARTY}"],  # agreed, with a proposal pending
        lambda w: f"{COUNTERPARTY}>{OWNER}",  # no agreement in this direction
    ),
    "TierService/AcceptRecognition": cases_of(
        *(
            alike(
                TIER + "AcceptRecognition",
                lambda w, agreement_id, v=version: tpb.AcceptRecognitionRequest(  # type: ignore[misc]
                    agreement_id=agreement_id, version=v
                ),
                named("recognition agreement"),
                lambda w: "ra_" + uuid.uuid4().hex[:16],
            )
            for version in (1, 2)  # accepted, proposed
        )
    ),
    "TierService/ReportMemberTier": alike(
        TIER + "ReportMemberTier",
        lambda w, p: tpb.ReportMemberTierRequest(
            ppid=p, tier_code="GOLD", expire_time=expire_in_a_year(w)
        ),
        ppids,
        unknown_ppid,
    ),
    "TierService/RequestStatusMatch": alike(
        TIER + "RequestStatusMatch",
        lambda w, p: tpb.RequestStatusMatchRequest(ppid=p, target_partner_id=COUNTERPARTY),
        ppids,
        unknown_ppid,
    ),
    "TierService/GetTierMapping": alike(
        TIER + "GetTierMapping",
        lambda w, pair: tpb.GetTierMappingRequest(
            source_partner_id=pair.split(">")[0], target_partner_id=pair.split(">")[1]
        ),
        lambda w: [f"{OWNER}>{COUNTERPARTY}"],
        lambda w: f"{COUNTERPARTY}>{OWNER}",
    ),
    # ExchangeService: agreements, quotes and transfers of others.
    "ExchangeService/ProposeRateAgreement": alike(
        EXCHANGE + "ProposeRateAgreement",
        lambda w, pair: xpb.ProposeRateAgreementRequest(
            source_partner_id=pair.split(">")[0],
            destination_partner_id=pair.split(">")[1],
            terms=call(
                w.connection(OWNER),
                EXCHANGE + "ListRateAgreements",
                xpb.ListRateAgreementsRequest(),
            )
            .agreements[0]
            .terms,  # type: ignore[attr-defined]
        ),
        lambda w: [f"{OWNER}>{COUNTERPARTY}"],
        lambda w: f"{COUNTERPARTY}>{OWNER}",
    ),
    "ExchangeService/AcceptRateAgreement": cases_of(
        *(
            alike(
                EXCHANGE + "AcceptRateAgreement",
                lambda w, agreement_id, v=version: xpb.AcceptRateAgreementRequest(  # type: ignore[misc]
                    agreement_id=agreement_id, version=v
                ),
                named("rate agreement"),
                lambda w: "rt_" + uuid.uuid4().hex[:16],
            )
            for version in (1, 2)
        )
    ),
    "ExchangeService/ListRateAgreements": scoped_read(
        EXCHANGE + "ListRateAgreements",
        lambda w: xpb.ListRateAgreementsRequest(page_size=500),
        only_own_agreements,
    ),
    "ExchangeService/CreateQuote": alike(
        EXCHANGE + "CreateQuote",
        lambda w, p: xpb.CreateQuoteRequest(
            ppid=p, destination_partner_id=COUNTERPARTY, source_points=2000
        ),
        ppids,
        unknown_ppid,
    ),
    "ExchangeService/CreateTransfer": cases_of(
        alike(
            EXCHANGE + "CreateTransfer",
            lambda w, q: xpb.CreateTransferRequest(quote_id=q),
            named("unused quote"),
            lambda w: unknown_quote(),
        ),
        alike(
            EXCHANGE + "CreateTransfer",
            lambda w, p: xpb.CreateTransferRequest(
                ppid=p, destination_partner_id=COUNTERPARTY, source_points=2000
            ),
            ppids,
            unknown_ppid,
        ),
    ),
    "ExchangeService/CreateTransferBatch": items_alike(
        EXCHANGE + "CreateTransferBatch",
        batch_of,
        lambda w: [w.ids["unused quote"], *ppids(w)],
        lambda w: [unknown_quote(), new_ppid(), new_ppid()],
    ),
    "ExchangeService/GetTransfer": alike(
        EXCHANGE + "GetTransfer",
        lambda w, t: xpb.GetTransferRequest(transfer_id=t),
        party_transfers,
        unknown_transfer,
    ),
    "ExchangeService/ListTransfers": scoped_read(
        EXCHANGE + "ListTransfers",
        lambda w: xpb.ListTransfersRequest(page_size=500),
        only_own_transfers,
    ),
    "ExchangeService/ConfirmCredit": alike(
        EXCHANGE + "ConfirmCredit",
        lambda w, t: xpb.ConfirmCreditRequest(transfer_id=t),
        party_transfers,
        unknown_transfer,
    ),
    "ExchangeService/ConfirmCredits": items_alike(
        EXCHANGE + "ConfirmCredits",
        lambda w, ids: xpb.ConfirmCreditsRequest(transfer_ids=ids),
        party_transfers,
        lambda w: [unknown_transfer(w), unknown_transfer(w)],
    ),
    "ExchangeService/RejectCredit": alike(
        EXCHANGE + "RejectCredit",
        lambda w, t: xpb.RejectCreditRequest(transfer_id=t, reason="account closed"),
        party_transfers,
        unknown_transfer,
    ),
    "ExchangeService/CreateReversal": alike(
        EXCHANGE + "CreateReversal",
        lambda w, t: xpb.CreateReversalRequest(transfer_id=t),
        party_transfers,
        unknown_transfer,
    ),
    # SettlementService: a settled day's lines, proofs, instructions and disputes of others.
    "SettlementService/GetSettlementRun": scoped_read(
        SETTLEMENT + "GetSettlementRun",
        lambda w: settlement_pb2.GetSettlementRunRequest(
            business_day=w.business_day, currency_code=USD
        ),
        only_own_position,
    ),
    "SettlementService/GetStatement": scoped_read(
        SETTLEMENT + "GetStatement",
        lambda w: settlement_pb2.GetStatementRequest(
            business_day=w.business_day, currency_code=USD
        ),
        only_own_statement_lines,
    ),
    "SettlementService/GetInclusionProof": alike(
        SETTLEMENT + "GetInclusionProof",
        lambda w, t: settlement_pb2.GetInclusionProofRequest(
            business_day=w.business_day, transfer_id=t
        ),
        named("completed transfer"),
        unknown_transfer,
    ),
    "SettlementService/ListPaymentInstructions": scoped_read(
        SETTLEMENT + "ListPaymentInstructions",
        lambda w: settlement_pb2.ListPaymentInstructionsRequest(business_day=w.business_day),
        only_own_instructions,
    ),
    "SettlementService/SubmitReconciliation": reconciliation_case,
    "SettlementService/OpenDispute": alike(
        SETTLEMENT + "OpenDispute", dispute_request, named("completed transfer"), unknown_transfer
    ),
    "SettlementService/ResolveDispute": alike(
        SETTLEMENT + "ResolveDispute",
        lambda w, d: settlement_pb2.ResolveDisputeRequest(
            dispute_id=d, accept=True, reason="agreed"
        ),
        named("dispute"),
        lambda w: "dp_" + uuid.uuid4().hex[:24],
    ),
    "SettlementService/ListDisputes": scoped_read(
        SETTLEMENT + "ListDisputes",
        lambda w: settlement_pb2.ListDisputesRequest(),
        only_own_disputes,
    ),
    # AnalyticsService: pairs orbit is not party to, member counts, others' programme totals.
    "AnalyticsService/GetMetricSeries": analytics.metric_series_case,
    "AnalyticsService/ReportProgrammeTotals": scoped_write(
        analytics.ANALYTICS + "ReportProgrammeTotals",
        analytics.report_request,
        analytics.reported_for_orbit_alone,
    ),
    "AnalyticsService/GetProgrammeComparison": analytics.programme_comparison_case,
}
