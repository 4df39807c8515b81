"""Typed calls to IdentityService: pairwise member ids, link codes, unlinking and erasure."""

from __future__ import annotations

from coalition.v1 import identity_pb2
from partners.sdk.connection import HubConnection

SERVICE = "/coalition.v1.IdentityService/"


class IdentityClient:
    """A partner's view of its members' coalition identity; it only ever names its own ppids.

    Nothing here takes a member number, e-mail or name: the hub must never hold them.
    """

    def __init__(self, connection: HubConnection) -> None:
        self.connection = connection

    def enroll_member(self, idempotency_key: str | None = None) -> str:
        """Returns a fresh ppid; store it beside your own member number."""
        response = self.connection.call(
            SERVICE + "EnrollMember",
            identity_pb2.EnrollMemberRequest(),
            identity_pb2.EnrollMemberResponse,
            changes_state=True,
            idempotency_key=idempotency_key,
        )
        return response.ppid

    def create_link_code(
        self, ppid: str, idempotency_key: str | None = None
    ) -> identity_pb2.CreateLinkCodeResponse:
        """A one-time code the member types into another partner's app, with its expiry."""
        return self.connection.call(
            SERVICE + "CreateLinkCode",
            identity_pb2.CreateLinkCodeRequest(ppid=ppid),
            identity_pb2.CreateLinkCodeResponse,
            changes_state=True,
            idempotency_key=idempotency_key,
        )

    def redeem_link_code(
        self, link_code: str, ppid: str, idempotency_key: str | None = None
    ) -> list[str]:
        """Links `ppid` to the code's member; returns every partner linked now, caller included."""
        response = self.connection.call(
            SERVICE + "RedeemLinkCode",
            identity_pb2.RedeemLinkCodeRequest(link_code=link_code, ppid=ppid),
            identity_pb2.RedeemLinkCodeResponse,
            changes_state=True,
            idempotency_key=idempotency_key,
        )
        return list(response.linked_partner_ids)

    def list_links(self, ppid: str) -> list[str]:
        """The other partners this member is linked at (the caller is not listed)."""
        response = self.connection.call(
            SERVICE + "ListLinks",
            identity_pb2.ListLinksRequest(ppid=ppid),
            identity_pb2.ListLinksResponse,
            changes_state=False,
        )
        return list(response.partner_ids)

    def unlink(
        self, ppid: str, partner_id: str = "", idempotency_key: str | None = None
    ) -> list[str]:
        """Detaches `partner_id` (empty: the caller itself); returns the partners still linked."""
        response = self.connection.call(
            SERVICE + "Unlink",
            identity_pb2.UnlinkRequest(ppid=ppid, partner_id=partner_id),
            identity_pb2.UnlinkResponse,
            changes_state=True,
            idempotency_key=idempotency_key,
        )
        return list(response.partner_ids)

    def erase_member(self, ppid: str, idempotency_key: str | None = None) -> int:
        """Erases the member coalition-wide; returns how many partners were told (caller too)."""
        response = self.connection.call(
            SERVICE + "EraseMember",
            identity_pb2.EraseMemberRequest(ppid=ppid),
            identity_pb2.EraseMemberResponse,
            changes_state=True,
            idempotency_key=idempotency_key,
        )
        return response.notified_partner_count
