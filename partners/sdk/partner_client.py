"""Typed calls to PartnerService: the directory and this partner's own keys."""

from __future__ import annotations

from collections.abc import Iterator

from coalition import wire
from coalition.keys import SigningKey
from coalition.v1 import common_pb2, partner_pb2
from partners.sdk.connection import HubConnection

SERVICE = "/coalition.v1.PartnerService/"


class PartnerClient:
    def __init__(self, connection: HubConnection) -> None:
        self.connection = connection

    def get_partner(self, partner_id: str) -> partner_pb2.Partner:
        response = self.connection.call(
            SERVICE + "GetPartner",
            partner_pb2.GetPartnerRequest(partner_id=partner_id),
            partner_pb2.GetPartnerResponse,
            changes_state=False,
        )
        return response.partner

    def list_partners(self, page_size: int = 0) -> Iterator[partner_pb2.Partner]:
        """Every partner in the directory, following page tokens."""
        token = ""
        while True:
            response = self.connection.call(
                SERVICE + "ListPartners",
                partner_pb2.ListPartnersRequest(page_size=page_size, page_token=token),
                partner_pb2.ListPartnersResponse,
                changes_state=False,
            )
            yield from response.partners
            token = response.next_page_token
            if not token:
                return

    def register_key(
        self, new_key: SigningKey, idempotency_key: str | None = None
    ) -> common_pb2.PublicKey:
        """Registers `new_key`, signing the call with the connection's current key."""
        proof = new_key.sign(
            wire.key_registration_bytes(
                partner_id=self.connection.partner_id, public_key=new_key.public_key_bytes
            )
        )
        response = self.connection.call(
            SERVICE + "RegisterKey",
            partner_pb2.RegisterKeyRequest(
                public_key=new_key.public_key_bytes, proof_of_possession=proof
            ),
            partner_pb2.RegisterKeyResponse,
            changes_state=True,
            idempotency_key=idempotency_key,
        )
        return response.key

    def revoke_key(self, key_id: str, idempotency_key: str | None = None) -> common_pb2.PublicKey:
        response = self.connection.call(
            SERVICE + "RevokeKey",
            partner_pb2.RevokeKeyRequest(key_id=key_id),
            partner_pb2.RevokeKeyResponse,
            changes_state=True,
            idempotency_key=idempotency_key,
        )
        return response.key

    def get_hub_keys(self) -> partner_pb2.GetHubKeysResponse:
        return self.connection.call(
            SERVICE + "GetHubKeys",
            partner_pb2.GetHubKeysRequest(),
            partner_pb2.GetHubKeysResponse,
            changes_state=False,
        )
