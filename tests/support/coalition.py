"""A seeded test coalition: partners with keys, a running hub on port 0, SDK connections."""

from __future__ import annotations

from dataclasses import dataclass, field

from coalition.keys import SigningKey
from exchange.adapters.clock import SystemClock
from exchange.bootstrap import Hub
from exchange.domain.partners import PartnerKind
from exchange.services import partners
from partners.sdk import HubConnection, PartnerClient
from partners.sdk.connection import connect

AUDIENCE = "coalition-test"
TEST_PARTNERS = (
    ("skyway", "Skyway Airlines", PartnerKind.AIRLINE, "SKYWAY_MILES"),
    ("harbor", "Harbor Hotels", PartnerKind.HOTEL, "HARBOR_POINTS"),
    ("orbit", "Orbit Card", PartnerKind.CARD_ISSUER, "ORBIT_REWARDS"),
)


@dataclass
class TestCoalition:
    __test__ = False  # a fixture value, not a test class

    hub: Hub
    keys: dict[str, SigningKey]
    connections: list[HubConnection] = field(default_factory=list)

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.hub.port}"

    @property
    def hub_public_keys(self) -> dict[str, bytes]:
        return {self.hub.hub_key.key_id: self.hub.hub_key.public_key_bytes}

    def connection(self, partner_id: str, key: SigningKey | None = None) -> HubConnection:
        connection = connect(
            self.target,
            partner_id,
            key or self.keys[partner_id],
            AUDIENCE,
            self.hub_public_keys,
        )
        self.connections.append(connection)
        return connection

    def partner_client(self, partner_id: str) -> PartnerClient:
        return PartnerClient(self.connection(partner_id))

    def close(self) -> None:
        for connection in self.connections:
            connection.close()


def seed_partners(hub: Hub) -> dict[str, SigningKey]:
    keys: dict[str, SigningKey] = {}
    with hub.uow_factory() as uow:
        for partner_id, name, kind, program in TEST_PARTNERS:
            keys[partner_id] = SigningKey.generate()
            command = partners.AddPartner(
                partner_id, name, kind, program, keys[partner_id].public_key_bytes
            )
            partners.add_partner(uow, SystemClock(), command)
        uow.commit()
    return keys
