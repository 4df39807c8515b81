"""IdentityService: translates requests into identity handlers and results into responses."""

from __future__ import annotations

from coalition.v1 import identity_pb2 as pb
from exchange.api.convert import timestamp
from exchange.api.pipeline import READ_ONLY, STATE_CHANGING, CallContext
from exchange.api.registry import rpc
from exchange.domain.ports import Clock
from exchange.services import identity


class IdentityServicer:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock

    @rpc("EnrollMember", STATE_CHANGING)
    def enroll_member(
        self, request: pb.EnrollMemberRequest, call: CallContext
    ) -> pb.EnrollMemberResponse:
        return pb.EnrollMemberResponse(
            ppid=identity.enroll_member(call.uow, self.clock, call.partner_id)
        )

    @rpc("CreateLinkCode", STATE_CHANGING)
    def create_link_code(
        self, request: pb.CreateLinkCodeRequest, call: CallContext
    ) -> pb.CreateLinkCodeResponse:
        issued = identity.create_link_code(call.uow, self.clock, call.partner_id, request.ppid)
        return pb.CreateLinkCodeResponse(
            link_code=issued.code, expire_time=timestamp(issued.expires_at_us)
        )

    @rpc("RedeemLinkCode", STATE_CHANGING)
    def redeem_link_code(
        self, request: pb.RedeemLinkCodeRequest, call: CallContext
    ) -> pb.RedeemLinkCodeResponse:
        linked = identity.redeem_link_code(
            call.uow, self.clock, call.partner_id, request.link_code, request.ppid
        )
        return pb.RedeemLinkCodeResponse(linked_partner_ids=linked)

    @rpc("ListLinks", READ_ONLY)
    def list_links(self, request: pb.ListLinksRequest, call: CallContext) -> pb.ListLinksResponse:
        return pb.ListLinksResponse(
            partner_ids=identity.list_links(call.uow, call.partner_id, request.ppid)
        )

    @rpc("Unlink", STATE_CHANGING)
    def unlink(self, request: pb.UnlinkRequest, call: CallContext) -> pb.UnlinkResponse:
        remaining = identity.unlink(
            call.uow, self.clock, call.partner_id, request.ppid, request.partner_id
        )
        return pb.UnlinkResponse(partner_ids=remaining)

    @rpc("EraseMember", STATE_CHANGING)
    def erase_member(
        self, request: pb.EraseMemberRequest, call: CallContext
    ) -> pb.EraseMemberResponse:
        notified = identity.erase_member(call.uow, self.clock, call.partner_id, request.ppid)
        return pb.EraseMemberResponse(notified_partner_count=notified)
