"""The partner SDK: verifies every response, and retries with the same idempotency key."""

from __future__ import annotations

import pytest

from coalition import wire
from coalition.keys import SigningKey
from partners.sdk import HubError, PartnerClient, ResponseVerificationError
from partners.sdk.connection import connect
from tests.support.coalition import AUDIENCE, TestCoalition
from tests.support.proxy import ProxyBehaviour, forwarding_proxy


def client_via(
    address: str, coalition: TestCoalition, hub_keys: dict[str, bytes] | None = None
) -> PartnerClient:
    connection = connect(
        address, "skyway", coalition.keys["skyway"], AUDIENCE, hub_keys or coalition.hub_public_keys
    )
    coalition.connections.append(connection)
    return PartnerClient(connection)


def flip_last_byte(response: bytes) -> bytes:
    return response[:-1] + bytes([response[-1] ^ 0x01])


def test_a_tampered_response_is_refused(coalition: TestCoalition) -> None:
    with forwarding_proxy(coalition.target, ProxyBehaviour(tamper=flip_last_byte)) as address:
        client = client_via(address, coalition)
        with pytest.raises(ResponseVerificationError):
            client.get_partner("harbor")


def test_an_untampered_response_through_the_proxy_verifies(coalition: TestCoalition) -> None:
    with forwarding_proxy(coalition.target, ProxyBehaviour()) as address:
        assert client_via(address, coalition).get_partner("harbor").partner_id == "harbor"


def test_a_response_signed_by_an_untrusted_key_is_refused(coalition: TestCoalition) -> None:
    stranger = SigningKey.generate()
    client = client_via(coalition.target, coalition, {stranger.key_id: stranger.public_key_bytes})
    with pytest.raises(ResponseVerificationError):
        client.get_partner("harbor")


def test_lost_response_is_retried_with_the_same_idempotency_key(coalition: TestCoalition) -> None:
    behaviour = ProxyBehaviour(lose_responses=2)
    new_key = SigningKey.generate()
    with forwarding_proxy(coalition.target, behaviour) as address:
        registered = client_via(address, coalition).register_key(new_key)

    assert registered.key_id == new_key.key_id
    attempts = behaviour.seen_metadata
    assert len(attempts) == 3
    assert len({a[wire.HEADER_IDEMPOTENCY_KEY] for a in attempts}) == 1
    assert len({a[wire.HEADER_NONCE] for a in attempts}) == 3
    keys = coalition.partner_client("skyway").get_partner("skyway").active_keys
    assert [k.key_id for k in keys].count(new_key.key_id) == 1


def test_refusals_are_not_retried_and_carry_the_reason(coalition: TestCoalition) -> None:
    behaviour = ProxyBehaviour()
    with (
        forwarding_proxy(coalition.target, behaviour) as address,
        pytest.raises(HubError) as refused,
    ):
        client_via(address, coalition).get_partner("nobody")
    assert refused.value.reason == "PARTNER_NOT_FOUND"
    assert refused.value.request_id
    assert len(behaviour.seen_metadata) == 1


def test_key_rotation_end_to_end(coalition: TestCoalition) -> None:
    connection = coalition.connection("skyway")
    client = PartnerClient(connection)
    first, second = coalition.keys["skyway"], SigningKey.generate()

    client.register_key(second)
    connection.use_key(second)
    assert {k.key_id for k in client.get_partner("skyway").active_keys} == {
        first.key_id,
        second.key_id,
    }
    client.revoke_key(first.key_id)

    assert [k.key_id for k in client.get_partner("skyway").active_keys] == [second.key_id]
    connection.use_key(first)
    with pytest.raises(HubError) as refused:
        client.get_partner("skyway")
    assert refused.value.reason == "UNAUTHENTICATED"
