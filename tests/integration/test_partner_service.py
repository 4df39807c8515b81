"""PartnerService through a real hub: the directory, key rotation, hub keys, and every refusal."""

from __future__ import annotations

from collections.abc import Callable

import grpc
import pytest
from sqlalchemy import Engine

from coalition import wire
from coalition.keys import SigningKey
from coalition.v1 import common_pb2, partner_pb2
from exchange.domain import limits
from partners.sdk import HubConnection, HubError, PartnerClient
from tests.support.coalition import AUDIENCE, TEST_PARTNERS, TestCoalition
from tests.support.databases import REPLAY_BOOKKEEPING, table_snapshot

SERVICE = "/coalition.v1.PartnerService/"
UNKNOWN_KEY_ID = wire.KEY_ID_PREFIX + "0" * wire.KEY_ID_HEX_CHARS


def refused(engine: Engine, call: Callable[[], object]) -> HubError:
    """Runs a call the hub must refuse and proves the refusal wrote nothing but its nonce."""
    before = table_snapshot(engine, exclude=REPLAY_BOOKKEEPING)
    with pytest.raises(HubError) as caught:
        call()
    assert table_snapshot(engine, exclude=REPLAY_BOOKKEEPING) == before
    return caught.value


def list_page(
    connection: HubConnection, page_size: int, page_token: str = ""
) -> partner_pb2.ListPartnersResponse:
    return connection.call(
        SERVICE + "ListPartners",
        partner_pb2.ListPartnersRequest(page_size=page_size, page_token=page_token),
        partner_pb2.ListPartnersResponse,
        changes_state=False,
    )


def register_raw(
    connection: HubConnection, public_key: bytes, proof: bytes
) -> partner_pb2.RegisterKeyResponse:
    return connection.call(
        SERVICE + "RegisterKey",
        partner_pb2.RegisterKeyRequest(public_key=public_key, proof_of_possession=proof),
        partner_pb2.RegisterKeyResponse,
        changes_state=True,
    )


def proof_for(partner_id: str, public_key: bytes, signer: SigningKey) -> bytes:
    return signer.sign(wire.key_registration_bytes(partner_id=partner_id, public_key=public_key))


def active_key_ids(client: PartnerClient, partner_id: str) -> list[str]:
    return [key.key_id for key in client.get_partner(partner_id).active_keys]


# GetPartner


def test_get_partner_returns_the_directory_entry(coalition: TestCoalition) -> None:
    client = coalition.partner_client("harbor")

    partner = client.get_partner("skyway")

    skyway_key = coalition.keys["skyway"]
    assert partner.partner_id == "skyway"
    assert partner.display_name == "Skyway Airlines"
    assert partner.kind == common_pb2.PARTNER_KIND_AIRLINE
    assert partner.program_code == "SKYWAY_MILES"
    [key] = partner.active_keys
    assert key.key_id == skyway_key.key_id
    assert key.public_key == skyway_key.public_key_bytes
    assert key.algorithm == common_pb2.KEY_ALGORITHM_ED25519
    assert key.state == common_pb2.KEY_STATE_ACTIVE
    assert key.create_time.seconds > 0
    assert not key.HasField("revoke_time")


def test_get_partner_unknown_id_is_not_found(coalition: TestCoalition) -> None:
    client = coalition.partner_client("skyway")

    error = refused(coalition.hub.engine, lambda: client.get_partner("nosuch"))

    assert error.code == grpc.StatusCode.NOT_FOUND
    assert error.reason == "PARTNER_NOT_FOUND"


@pytest.mark.parametrize("partner_id", ["Bad Id!", "", "x", "a" * 33, "9lives", "SKYWAY"])
def test_get_partner_malformed_id_is_invalid_argument(
    coalition: TestCoalition, partner_id: str
) -> None:
    client = coalition.partner_client("skyway")

    error = refused(coalition.hub.engine, lambda: client.get_partner(partner_id))

    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert error.reason == "INVALID_ARGUMENT"
    assert list(error.field_violations) == ["partner_id"]


# ListPartners


def test_list_partners_returns_every_partner_ordered_by_id(coalition: TestCoalition) -> None:
    client = coalition.partner_client("orbit")

    listed = list(client.list_partners())

    expected = sorted(TEST_PARTNERS)
    assert [(p.partner_id, p.display_name, p.kind, p.program_code) for p in listed] == [
        (partner_id, name, common_pb2.PartnerKind.Value(f"PARTNER_KIND_{kind.name}"), program)
        for partner_id, name, kind, program in expected
    ]
    assert [[key.key_id for key in p.active_keys] for p in listed] == [
        [coalition.keys[partner_id].key_id] for partner_id, *_rest in expected
    ]


def test_list_partners_page_size_one_walks_every_page(coalition: TestCoalition) -> None:
    connection = coalition.connection("skyway")

    first = list_page(connection, 1)
    second = list_page(connection, 1, first.next_page_token)
    third = list_page(connection, 1, second.next_page_token)

    assert [p.partner_id for p in first.partners] == ["harbor"]
    assert [p.partner_id for p in second.partners] == ["orbit"]
    assert [p.partner_id for p in third.partners] == ["skyway"]
    assert first.next_page_token and second.next_page_token
    assert first.next_page_token != second.next_page_token
    assert third.next_page_token == ""


@pytest.mark.parametrize(("page_size", "sizes"), [(0, [3]), (2, [2, 1]), (3, [3]), (500, [3])])
def test_list_partners_page_sizes_split_the_directory(
    coalition: TestCoalition, page_size: int, sizes: list[int]
) -> None:
    connection = coalition.connection("skyway")

    seen: list[int] = []
    token = ""
    while True:
        page = list_page(connection, page_size, token)
        seen.append(len(page.partners))
        token = page.next_page_token
        if not token:
            break

    assert seen == sizes


@pytest.mark.parametrize("page_size", [-1, limits.PAGE_SIZE_MAX + 1])
def test_list_partners_page_size_out_of_range_is_invalid_argument(
    coalition: TestCoalition, page_size: int
) -> None:
    connection = coalition.connection("skyway")

    error = refused(coalition.hub.engine, lambda: list_page(connection, page_size))

    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert list(error.field_violations) == ["page_size"]


@pytest.mark.parametrize(
    "page_token",
    [
        "not-a-token",  # bad base64 padding
        "/w==",  # base64 of bytes that are not UTF-8
        "A" * 600,  # longer than any token the hub issues
        "%%%%",  # no base64 characters at all
        "AAAA",  # base64 of three NUL bytes: no partner id looks like this
        "LS0t",  # base64 of "---": decodes, but is no partner id
    ],
)
def test_list_partners_garbage_page_token_is_invalid_argument(
    coalition: TestCoalition, page_token: str
) -> None:
    connection = coalition.connection("skyway")

    error = refused(coalition.hub.engine, lambda: list_page(connection, 1, page_token))

    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert list(error.field_violations) == ["page_token"]


# RegisterKey


def test_register_key_adds_a_key_that_signs_requests(coalition: TestCoalition) -> None:
    client = coalition.partner_client("skyway")
    new_key = SigningKey.generate()

    registered = client.register_key(new_key)

    assert registered.key_id == new_key.key_id
    assert registered.public_key == new_key.public_key_bytes
    assert registered.state == common_pb2.KEY_STATE_ACTIVE
    rotated = PartnerClient(coalition.connection("skyway", key=new_key))
    assert active_key_ids(rotated, "skyway") == [coalition.keys["skyway"].key_id, new_key.key_id]


def test_register_key_refuses_a_third_active_key(coalition: TestCoalition) -> None:
    client = coalition.partner_client("skyway")
    client.register_key(SigningKey.generate())
    third = SigningKey.generate()

    error = refused(coalition.hub.engine, lambda: client.register_key(third))

    assert error.code == grpc.StatusCode.FAILED_PRECONDITION
    assert error.reason == "ACTIVE_KEYS_LIMIT_REACHED"


def test_register_key_refuses_the_callers_own_current_key(coalition: TestCoalition) -> None:
    client = coalition.partner_client("skyway")

    error = refused(coalition.hub.engine, lambda: client.register_key(coalition.keys["skyway"]))

    assert error.code == grpc.StatusCode.ALREADY_EXISTS
    assert error.reason == "KEY_ALREADY_REGISTERED"


def test_register_key_refuses_another_partners_key(coalition: TestCoalition) -> None:
    client = coalition.partner_client("skyway")

    # Harbor's own private key signs the proof, so only the registry can refuse it.
    error = refused(coalition.hub.engine, lambda: client.register_key(coalition.keys["harbor"]))

    assert error.code == grpc.StatusCode.ALREADY_EXISTS
    assert error.reason == "KEY_ALREADY_REGISTERED"


def test_register_key_never_reuses_a_revoked_key(coalition: TestCoalition) -> None:
    client = coalition.partner_client("skyway")
    old_key = coalition.keys["skyway"]
    new_key = SigningKey.generate()
    client.register_key(new_key)
    client.revoke_key(old_key.key_id)
    rotated = PartnerClient(coalition.connection("skyway", key=new_key))

    error = refused(coalition.hub.engine, lambda: rotated.register_key(old_key))

    assert error.code == grpc.StatusCode.ALREADY_EXISTS
    assert error.reason == "KEY_ALREADY_REGISTERED"
    assert active_key_ids(rotated, "skyway") == [new_key.key_id]


@pytest.mark.parametrize("forgery", ["signed_by_another_key", "over_another_partner", "empty"])
def test_register_key_refuses_a_bad_proof_of_possession(
    coalition: TestCoalition, forgery: str
) -> None:
    connection = coalition.connection("skyway")
    new_key = SigningKey.generate()
    public_key = new_key.public_key_bytes
    proof = {
        "signed_by_another_key": proof_for("skyway", public_key, coalition.keys["skyway"]),
        "over_another_partner": proof_for("harbor", public_key, new_key),
        "empty": b"",
    }[forgery]

    error = refused(coalition.hub.engine, lambda: register_raw(connection, public_key, proof))

    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert error.reason == "PROOF_OF_POSSESSION_INVALID"


@pytest.mark.parametrize("length", [0, 31, 33, 64])
def test_register_key_refuses_a_public_key_of_the_wrong_length(
    coalition: TestCoalition, length: int
) -> None:
    connection = coalition.connection("skyway")
    new_key = SigningKey.generate()
    public_key = (new_key.public_key_bytes * 2)[:length]
    proof = proof_for("skyway", public_key, new_key)

    error = refused(coalition.hub.engine, lambda: register_raw(connection, public_key, proof))

    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert error.reason == "INVALID_ARGUMENT"
    assert list(error.field_violations) == ["public_key"]


# RevokeKey


def test_revoke_key_stops_the_key_verifying(coalition: TestCoalition) -> None:
    client = coalition.partner_client("skyway")
    old_key = coalition.keys["skyway"]
    new_key = SigningKey.generate()
    client.register_key(new_key)

    revoked = client.revoke_key(old_key.key_id)

    assert revoked.key_id == old_key.key_id
    assert revoked.state == common_pb2.KEY_STATE_REVOKED
    assert revoked.HasField("revoke_time")
    stale = PartnerClient(coalition.connection("skyway", key=old_key))
    error = refused(coalition.hub.engine, lambda: stale.get_partner("skyway"))
    assert error.code == grpc.StatusCode.UNAUTHENTICATED
    rotated = PartnerClient(coalition.connection("skyway", key=new_key))
    assert active_key_ids(rotated, "skyway") == [new_key.key_id]


def test_revoke_key_refuses_the_last_active_key(coalition: TestCoalition) -> None:
    client = coalition.partner_client("skyway")

    error = refused(
        coalition.hub.engine, lambda: client.revoke_key(coalition.keys["skyway"].key_id)
    )

    assert error.code == grpc.StatusCode.FAILED_PRECONDITION
    assert error.reason == "LAST_ACTIVE_KEY"
    assert active_key_ids(client, "skyway") == [coalition.keys["skyway"].key_id]


def test_revoke_key_refuses_an_already_revoked_key(coalition: TestCoalition) -> None:
    client = coalition.partner_client("skyway")
    old_key = coalition.keys["skyway"]
    new_key = SigningKey.generate()
    client.register_key(new_key)
    rotated = PartnerClient(coalition.connection("skyway", key=new_key))
    rotated.revoke_key(old_key.key_id)

    error = refused(coalition.hub.engine, lambda: rotated.revoke_key(old_key.key_id))

    assert error.code == grpc.StatusCode.FAILED_PRECONDITION
    assert error.reason == "KEY_ALREADY_REVOKED"
    assert active_key_ids(rotated, "skyway") == [new_key.key_id]


def test_revoke_key_unknown_and_foreign_keys_look_the_same(coalition: TestCoalition) -> None:
    client = coalition.partner_client("skyway")

    unknown = refused(coalition.hub.engine, lambda: client.revoke_key(UNKNOWN_KEY_ID))
    foreign = refused(
        coalition.hub.engine, lambda: client.revoke_key(coalition.keys["harbor"].key_id)
    )

    for error in (unknown, foreign):
        assert error.code == grpc.StatusCode.NOT_FOUND
        assert error.reason == "KEY_NOT_FOUND"
    assert foreign.message == unknown.message
    assert foreign.field_violations == unknown.field_violations == {}
    assert active_key_ids(client, "harbor") == [coalition.keys["harbor"].key_id]


@pytest.mark.parametrize("key_id", ["", "k" * (limits.KEY_ID_CHARS_MAX + 1)])
def test_revoke_key_malformed_key_id_is_invalid_argument(
    coalition: TestCoalition, key_id: str
) -> None:
    client = coalition.partner_client("skyway")

    error = refused(coalition.hub.engine, lambda: client.revoke_key(key_id))

    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert list(error.field_violations) == ["key_id"]


# GetHubKeys


def test_get_hub_keys_publishes_the_hub_key_and_audience(coalition: TestCoalition) -> None:
    client = coalition.partner_client("orbit")

    response = client.get_hub_keys()

    [key] = response.keys
    assert key.key_id == coalition.hub.hub_key.key_id
    assert key.public_key == coalition.hub.hub_key.public_key_bytes
    assert len(key.public_key) == wire.PUBLIC_KEY_BYTES
    assert key.algorithm == common_pb2.KEY_ALGORITHM_ED25519
    assert key.state == common_pb2.KEY_STATE_ACTIVE
    assert response.audience == AUDIENCE == "coalition-test"
