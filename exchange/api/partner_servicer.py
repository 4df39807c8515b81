"""PartnerService: translates requests into partner handlers and results into responses."""

from __future__ import annotations

from pathlib import Path

from coalition.keys import SigningKey
from coalition.v1 import common_pb2, partner_pb2
from exchange.api import convert, paging
from exchange.api.pipeline import READ_ONLY, STATE_CHANGING, CallContext
from exchange.api.registry import rpc
from exchange.domain.errors import invalid
from exchange.domain.partners import PARTNER_ID_PATTERN
from exchange.domain.ports import Clock
from exchange.services import partners


def key_file_created_at_us(path: Path) -> int:
    """When a key file was written, in Unix microseconds: its modification time.

    Key files are written once (`coalition.keys.write_key_pair` refuses to overwrite one) and
    never edited, so this is the key's creation time and the same after every restart. A copy
    that does not preserve times (`cp` without `-p`) dates the key from the copy.
    """
    return path.stat().st_mtime_ns // 1000


class PartnerServicer:
    def __init__(
        self,
        clock: Clock,
        hub_key: SigningKey,
        audience: str,
        hub_key_created_at_us: int | None = None,
    ) -> None:
        self.clock = clock
        self.hub_key = hub_key
        self.audience = audience
        # GetHubKeys' create_time: the key file's creation (key_file_created_at_us) when the
        # hub loaded its key from a file, else the time this hub started using the key.
        self.hub_key_created_at_us = (
            clock.now_us() if hub_key_created_at_us is None else hub_key_created_at_us
        )

    @rpc("GetPartner", READ_ONLY)
    def get_partner(
        self, request: partner_pb2.GetPartnerRequest, call: CallContext
    ) -> partner_pb2.GetPartnerResponse:
        if not PARTNER_ID_PATTERN.fullmatch(request.partner_id):
            raise invalid("partner_id", "is not a partner id")
        entry = partners.get_partner(call.uow, request.partner_id)
        return partner_pb2.GetPartnerResponse(partner=convert.partner(entry))

    @rpc("ListPartners", READ_ONLY)
    def list_partners(
        self, request: partner_pb2.ListPartnersRequest, call: CallContext
    ) -> partner_pb2.ListPartnersResponse:
        size = paging.page_size(request.page_size)
        after = paging.decode_token(
            request.page_token, lambda position: bool(PARTNER_ID_PATTERN.fullmatch(position))
        )
        page = partners.list_partners(call.uow, after, size)
        after_last = page.next_after_partner_id
        next_token = paging.encode_token(after_last) if after_last else ""
        return partner_pb2.ListPartnersResponse(
            partners=[convert.partner(entry) for entry in page.entries],
            next_page_token=next_token,
        )

    @rpc("RegisterKey", STATE_CHANGING)
    def register_key(
        self, request: partner_pb2.RegisterKeyRequest, call: CallContext
    ) -> partner_pb2.RegisterKeyResponse:
        command = partners.RegisterKey(
            call.partner_id, request.public_key, request.proof_of_possession
        )
        key = partners.register_key(call.uow, self.clock, command)
        return partner_pb2.RegisterKeyResponse(key=convert.public_key(key))

    @rpc("RevokeKey", STATE_CHANGING)
    def revoke_key(
        self, request: partner_pb2.RevokeKeyRequest, call: CallContext
    ) -> partner_pb2.RevokeKeyResponse:
        key = partners.revoke_key(call.uow, self.clock, call.partner_id, request.key_id)
        return partner_pb2.RevokeKeyResponse(key=convert.public_key(key))

    @rpc("GetHubKeys", READ_ONLY)
    def get_hub_keys(
        self, request: partner_pb2.GetHubKeysRequest, call: CallContext
    ) -> partner_pb2.GetHubKeysResponse:
        key = common_pb2.PublicKey(
            key_id=self.hub_key.key_id,
            algorithm=common_pb2.KEY_ALGORITHM_ED25519,
            public_key=self.hub_key.public_key_bytes,
            state=common_pb2.KEY_STATE_ACTIVE,
            create_time=convert.timestamp(self.hub_key_created_at_us),
        )
        return partner_pb2.GetHubKeysResponse(keys=[key], audience=self.audience)
