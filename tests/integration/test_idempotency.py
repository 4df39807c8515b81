"""Idempotency (DESIGN §4.2): retries return the stored bytes; reused keys and races are refused."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import grpc
import pytest

from coalition import wire
from coalition.keys import SigningKey
from coalition.v1 import partner_pb2
from partners.sdk import HubError, PartnerClient
from tests.support.coalition import AUDIENCE, TestCoalition
from tests.support.databases import table_snapshot
from tests.support.raw_calls import SignedRequest, new_idempotency_key, send

REGISTER_KEY = "/coalition.v1.PartnerService/RegisterKey"
NONCES = frozenset({"request_nonces"})


@pytest.fixture
def channel(coalition: TestCoalition) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(coalition.target) as channel:
        yield channel


def register_body(partner_id: str, new_key: SigningKey) -> bytes:
    proof = new_key.sign(
        wire.key_registration_bytes(partner_id=partner_id, public_key=new_key.public_key_bytes)
    )
    request = partner_pb2.RegisterKeyRequest(
        public_key=new_key.public_key_bytes, proof_of_possession=proof
    )
    return request.SerializeToString()


def register_request(coalition: TestCoalition, idempotency_key: str) -> SignedRequest:
    body = register_body("skyway", SigningKey.generate())
    return SignedRequest(
        REGISTER_KEY,
        body,
        "skyway",
        coalition.keys["skyway"],
        AUDIENCE,
        idempotency_key=idempotency_key,
    )


def test_retry_returns_identical_bytes_and_writes_nothing_new(
    coalition: TestCoalition, channel: grpc.Channel
) -> None:
    first = register_request(coalition, new_idempotency_key())
    original = send(channel, first)
    assert original.code is grpc.StatusCode.OK
    before = table_snapshot(coalition.hub.engine, exclude=NONCES)

    retry = send(channel, first.with_changes(nonce=wire.new_nonce()))

    assert retry.code is grpc.StatusCode.OK
    assert retry.response == original.response
    assert table_snapshot(coalition.hub.engine, exclude=NONCES) == before


def test_retry_response_is_signed_for_the_retry(
    coalition: TestCoalition, channel: grpc.Channel
) -> None:
    """The stored bytes come back, signed afresh against the retry's own nonce."""
    first = register_request(coalition, new_idempotency_key())
    send(channel, first)
    retry = first.with_changes(nonce=wire.new_nonce())
    outcome = send(channel, retry)
    signed = wire.response_signing_bytes(
        method=REGISTER_KEY, audience=AUDIENCE, nonce=retry.nonce, body=outcome.response or b""
    )
    signature = outcome.trailers[wire.HEADER_SIGNATURE]
    assert isinstance(signature, bytes)
    coalition.hub.hub_key.private_key.public_key().verify(signature, signed)


def test_same_key_with_other_bytes_is_failed_precondition(
    coalition: TestCoalition, channel: grpc.Channel
) -> None:
    key = new_idempotency_key()
    assert send(channel, register_request(coalition, key)).code is grpc.StatusCode.OK
    before = table_snapshot(coalition.hub.engine, exclude=NONCES)

    other = send(channel, register_request(coalition, key))

    assert other.code is grpc.StatusCode.FAILED_PRECONDITION
    assert other.reason == "IDEMPOTENCY_KEY_REUSED"
    assert table_snapshot(coalition.hub.engine, exclude=NONCES) == before


def test_same_key_on_another_method_is_failed_precondition(
    coalition: TestCoalition, channel: grpc.Channel
) -> None:
    key = new_idempotency_key()
    assert send(channel, register_request(coalition, key)).code is grpc.StatusCode.OK
    body = partner_pb2.RevokeKeyRequest(key_id=coalition.keys["skyway"].key_id).SerializeToString()
    revoke = SignedRequest(
        "/coalition.v1.PartnerService/RevokeKey",
        body,
        "skyway",
        coalition.keys["skyway"],
        AUDIENCE,
        idempotency_key=key,
    )
    assert send(channel, revoke).reason == "IDEMPOTENCY_KEY_REUSED"


def test_keys_are_scoped_to_the_partner(coalition: TestCoalition, channel: grpc.Channel) -> None:
    key = new_idempotency_key()
    assert send(channel, register_request(coalition, key)).code is grpc.StatusCode.OK
    body = register_body("harbor", SigningKey.generate())
    harbor = SignedRequest(
        REGISTER_KEY, body, "harbor", coalition.keys["harbor"], AUDIENCE, idempotency_key=key
    )
    assert send(channel, harbor).code is grpc.StatusCode.OK


def test_a_refused_call_stores_nothing_so_a_corrected_retry_runs(
    coalition: TestCoalition, channel: grpc.Channel
) -> None:
    key = new_idempotency_key()
    bad = register_request(coalition, key).with_changes(
        body=partner_pb2.RegisterKeyRequest(public_key=b"short").SerializeToString()
    )
    assert send(channel, bad).code is grpc.StatusCode.INVALID_ARGUMENT
    assert send(channel, register_request(coalition, key)).code is grpc.StatusCode.OK


CONCURRENT_CALLS = 16


def test_concurrent_calls_with_one_key_execute_once(
    coalition: TestCoalition, channel: grpc.Channel
) -> None:
    request = register_request(coalition, new_idempotency_key())
    keys_before = len(
        PartnerClient(coalition.connection("skyway")).get_partner("skyway").active_keys
    )
    barrier = threading.Barrier(CONCURRENT_CALLS)
    outcomes = []

    def call() -> None:
        attempt = request.with_changes(nonce=wire.new_nonce())
        barrier.wait()
        outcomes.append(send(channel, attempt))

    threads = [threading.Thread(target=call) for _ in range(CONCURRENT_CALLS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    succeeded = [o for o in outcomes if o.code is grpc.StatusCode.OK]
    assert {o.code for o in outcomes} <= {grpc.StatusCode.OK, grpc.StatusCode.ABORTED}
    assert all(o.reason == "IDEMPOTENCY_IN_PROGRESS" for o in outcomes if o not in succeeded)
    assert len({o.response for o in succeeded}) == 1
    keys_after = PartnerClient(coalition.connection("skyway")).get_partner("skyway").active_keys
    assert len(keys_after) == keys_before + 1


def test_sdk_reuses_its_idempotency_key_when_retrying(coalition: TestCoalition) -> None:
    client = PartnerClient(coalition.connection("skyway"))
    key = new_idempotency_key()
    new_key = SigningKey.generate()
    first = client.register_key(new_key, idempotency_key=key)
    again = client.register_key(new_key, idempotency_key=key)
    assert first == again
    with pytest.raises(HubError) as refused:
        client.register_key(new_key)
    assert refused.value.reason == "KEY_ALREADY_REGISTERED"
