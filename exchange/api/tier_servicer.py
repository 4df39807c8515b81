"""TierService: translates requests into tier handlers and results into responses."""

from __future__ import annotations

from coalition.v1 import common_pb2
from coalition.v1 import tier_pb2 as pb
from exchange.api.convert import timestamp, timestamp_us
from exchange.api.pipeline import READ_ONLY, STATE_CHANGING, CallContext
from exchange.api.registry import rpc
from exchange.domain.agreements import AgreementState
from exchange.domain.ports import Clock
from exchange.domain.tiers import RecognitionAgreement, Tier
from exchange.services import tiers

AGREEMENT_STATES = {
    AgreementState.PROPOSED: common_pb2.AGREEMENT_STATE_PROPOSED,
    AgreementState.ACCEPTED: common_pb2.AGREEMENT_STATE_ACCEPTED,
}


def agreement_message(agreement: RecognitionAgreement) -> pb.RecognitionAgreement:
    message = pb.RecognitionAgreement(
        agreement_id=agreement.agreement_id,
        version=agreement.version,
        source_partner_id=agreement.source_partner_id,
        target_partner_id=agreement.target_partner_id,
        rules=[
            pb.RecognitionRule(source_tier_code=s, target_tier_code=t) for s, t in agreement.rules
        ],
        validity_days=agreement.validity_days,
        min_days_between_grants=agreement.min_days_between_grants,
        state=AGREEMENT_STATES[agreement.state],
        proposed_by_partner_id=agreement.proposed_by,
        propose_time=timestamp(agreement.proposed_at_us),
    )
    if agreement.accepted_at_us is not None:
        message.accept_time.CopyFrom(timestamp(agreement.accepted_at_us))
    return message


class TierServicer:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock

    @rpc("PublishTierLadder", STATE_CHANGING)
    def publish_tier_ladder(
        self, request: pb.PublishTierLadderRequest, call: CallContext
    ) -> pb.PublishTierLadderResponse:
        ladder = [Tier(t.code, t.display_name, t.rank, t.canonical_level) for t in request.tiers]
        version = tiers.publish_ladder(
            call.uow, self.clock, call.partner_id, ladder, request.canonical_matching
        )
        return pb.PublishTierLadderResponse(version=version)

    @rpc("ProposeRecognition", STATE_CHANGING)
    def propose_recognition(
        self, request: pb.ProposeRecognitionRequest, call: CallContext
    ) -> pb.ProposeRecognitionResponse:
        command = tiers.ProposeRecognition(
            call.partner_id,
            request.source_partner_id,
            request.target_partner_id,
            tuple((r.source_tier_code, r.target_tier_code) for r in request.rules),
            request.validity_days,
            request.min_days_between_grants,
        )
        agreement = tiers.propose_recognition(call.uow, self.clock, command)
        return pb.ProposeRecognitionResponse(agreement=agreement_message(agreement))

    @rpc("AcceptRecognition", STATE_CHANGING)
    def accept_recognition(
        self, request: pb.AcceptRecognitionRequest, call: CallContext
    ) -> pb.AcceptRecognitionResponse:
        agreement = tiers.accept_recognition(
            call.uow, self.clock, call.partner_id, request.agreement_id, request.version
        )
        return pb.AcceptRecognitionResponse(agreement=agreement_message(agreement))

    @rpc("ReportMemberTier", STATE_CHANGING)
    def report_member_tier(
        self, request: pb.ReportMemberTierRequest, call: CallContext
    ) -> pb.ReportMemberTierResponse:
        tiers.report_member_tier(
            call.uow,
            self.clock,
            call.partner_id,
            request.ppid,
            request.tier_code,
            timestamp_us(request.expire_time, "expire_time"),
        )
        return pb.ReportMemberTierResponse()

    @rpc("RequestStatusMatch", STATE_CHANGING)
    def request_status_match(
        self, request: pb.RequestStatusMatchRequest, call: CallContext
    ) -> pb.RequestStatusMatchResponse:
        grant = tiers.request_status_match(
            call.uow, self.clock, call.partner_id, request.ppid, request.target_partner_id
        )
        return pb.RequestStatusMatchResponse(
            grant_id=grant.grant_id,
            target_partner_id=grant.target_partner_id,
        )

    @rpc("GetTierMapping", READ_ONLY)
    def get_tier_mapping(
        self, request: pb.GetTierMappingRequest, call: CallContext
    ) -> pb.GetTierMappingResponse:
        mapping = tiers.tier_mapping(
            call.uow, call.partner_id, request.source_partner_id, request.target_partner_id
        )
        response = pb.GetTierMappingResponse(
            basis=pb.MAPPING_BASIS_AGREEMENT if mapping.agreement else pb.MAPPING_BASIS_CANONICAL,
            rules=[
                pb.RecognitionRule(source_tier_code=s, target_tier_code=t) for s, t in mapping.rules
            ],
        )
        if mapping.agreement is not None:
            response.agreement.CopyFrom(agreement_message(mapping.agreement))
        return response
