"""The protocol test vectors (docs/vectors/) are what the code builds, and each one checks out.

Regenerating must give the committed files byte for byte; and every vector is checked on its
own: the stated bytes are what coalition.wire, coalition.records and coalition.merkle build from
the stated inputs, and every signature verifies with the stated public key. So a change of one
byte in any signing or encoding function fails here.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from google.protobuf import descriptor_pool
from google.protobuf.json_format import ParseDict
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass
from google.rpc import error_details_pb2, status_pb2

from coalition import merkle, records, wire
from coalition.keys import SigningKey, verify_signature
from coalition.v1 import (  # noqa: F401 - registers every coalition.v1 message type
    event_pb2,
    exchange_pb2,
    identity_pb2,
    partner_pb2,
    settlement_pb2,
    tier_pb2,
)

REPO = Path(__file__).resolve().parents[2]
VECTORS = REPO / "docs" / "vectors"
Json = dict[str, Any]


def load(name: str) -> Json:
    loaded: Json = json.loads((VECTORS / name).read_text(encoding="ascii"))
    return loaded


def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("vectors", REPO / "proto" / "vectors.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("vectors", module)
    spec.loader.exec_module(module)
    return module


def raw(value: Json) -> bytes:
    data = bytes.fromhex(value["hex"])
    assert base64.b64decode(value["base64"]) == data, "the two spellings of one value differ"
    return data


def public_keys() -> dict[str, bytes]:
    """Key id -> public key, each checked against its seed and its derived id."""
    found = {}
    for row in load("keys.json")["keys"]:
        seed = hashlib.sha256(b"coalition-vectors:" + row["name"].encode()).digest()
        assert row["seed_hex"] == seed.hex()
        signer = SigningKey.from_private_key(Ed25519PrivateKey.from_private_bytes(seed))
        assert signer.public_key_bytes == raw(row["public_key"])
        assert row["key_id"] == wire.key_id_for(signer.public_key_bytes) == signer.key_id
        found[row["key_id"]] = signer.public_key_bytes
    return found


KEYS = public_keys()


def message_class(name: str) -> type[Message]:
    return GetMessageClass(descriptor_pool.Default().FindMessageTypeByName(name))


def check_message(stated: Json, data: bytes) -> Message:
    """The stated JSON is the message the bytes hold, and the bytes are its serialization."""
    message = message_class(stated["type"])()
    ParseDict(stated["json"], message)
    assert message.SerializeToString(deterministic=True) == data
    return message


def signed_bytes(stated: Json, built: bytes) -> bytes:
    assert bytes.fromhex(stated["hex"]) == built
    assert "\n".join(stated["lines"]).encode("ascii") == built
    return built


def metadata(entries: list[Json]) -> dict[str, str | bytes]:
    values: dict[str, str | bytes] = {}
    for entry in entries:
        value = entry["value"]
        values[entry["key"]] = raw(value) if isinstance(value, dict) else value
    return values


def check_signed(signing_key_id: object, signature: object, message: bytes) -> None:
    assert isinstance(signing_key_id, str) and isinstance(signature, bytes)
    assert verify_signature(KEYS[signing_key_id], signature, message)
    tampered = bytes([signature[0] ^ 1]) + signature[1:]
    assert not verify_signature(KEYS[signing_key_id], tampered, message)


def test_regenerating_reproduces_the_committed_files_byte_for_byte() -> None:
    assert generator().stale_files() == []


def check_request(step: Json) -> str:
    body = raw(step["body"])
    check_message(step["message"], body)
    assert step["body_sha256"] == hashlib.sha256(body).hexdigest()
    headers = metadata(step["metadata"])
    nonce, created = headers[wire.HEADER_NONCE], headers[wire.HEADER_CREATED]
    assert isinstance(nonce, str) and wire.is_valid_nonce(nonce) and isinstance(created, str)
    idempotency_key = headers.get(wire.HEADER_IDEMPOTENCY_KEY, "")
    assert isinstance(idempotency_key, str)
    built = wire.request_signing_bytes(
        method=step["method"],
        audience=step["audience"],
        partner_id=str(headers[wire.HEADER_PARTNER]),
        key_id=str(headers[wire.HEADER_KEY_ID]),
        created_s=int(created),
        nonce=nonce,
        idempotency_key=idempotency_key,
        body=body,
    )
    signed = signed_bytes(step["signing_bytes"], built)
    check_signed(headers[wire.HEADER_KEY_ID], headers[wire.HEADER_SIGNATURE], signed)
    return nonce


@pytest.mark.parametrize("step", load("requests.json")["steps"], ids=lambda step: step["name"])
def test_each_request_and_its_response_check_out(step: Json) -> None:
    nonce = check_request(step)
    idempotent = wire.HEADER_IDEMPOTENCY_KEY in metadata(step["metadata"])
    assert idempotent == (not step["method"].split("/")[-1].startswith(("Get", "List")))
    response = step["response"]
    body = raw(response["body"])
    check_message(response["message"], body)
    built = wire.response_signing_bytes(
        method=step["method"], audience=step["audience"], nonce=nonce, body=body
    )
    signed = signed_bytes(response["signing_bytes"], built)
    trailers = metadata(response["trailers"])
    check_signed(trailers[wire.HEADER_KEY_ID], trailers[wire.HEADER_SIGNATURE], signed)


@pytest.mark.parametrize("refusal", load("refusals.json")["refusals"], ids=lambda r: r["name"])
def test_each_refusal_is_signed_over_its_status_details(refusal: Json) -> None:
    trailers = metadata(refusal["trailers"])
    details = trailers[wire.HEADER_STATUS_DETAILS]
    assert isinstance(details, bytes)
    status = check_message(refusal["status_details"], details)
    assert isinstance(status, status_pb2.Status) and status.code == refusal["status_code"]
    info = error_details_pb2.ErrorInfo()
    assert status.details[0].Unpack(info) and info.domain == "coalition.exchange"
    assert refusal["status_details_sha256"] == hashlib.sha256(details).hexdigest()
    built = wire.refusal_signing_bytes(
        method=refusal["method"],
        audience=refusal["audience"],
        nonce=refusal["request_nonce"],
        status_code=refusal["status_code"],
        status_details=details,
    )
    signed = signed_bytes(refusal["signing_bytes"], built)
    check_signed(trailers[wire.HEADER_KEY_ID], trailers[wire.HEADER_SIGNATURE], signed)


def check_payload(vector: Json) -> Message:
    """A hub-signed wrapper: its bytes, what its signature covers, and the signature."""
    wrapper = check_message(vector["wrapper"], raw(vector["wrapper_bytes"]))
    payload = raw(vector["payload"])
    assert getattr(wrapper, "payload") == payload  # noqa: B009 - any wrapper type
    assert vector["payload_sha256"] == hashlib.sha256(payload).hexdigest()
    decoded = check_message(vector["payload_decoded"], payload)
    built = wire.payload_signing_bytes(kind=vector["kind"], payload=payload)
    signed = signed_bytes(vector["signing_bytes"], built)
    assert raw(vector["signature"]) == getattr(wrapper, "signature")  # noqa: B009
    check_signed(vector["signing_key_id"], raw(vector["signature"]), signed)
    return decoded


def test_the_quote_receipt_and_statement_payloads_check_out() -> None:
    vectors = load("payloads.json")
    kinds = [check_payload(vectors[kind]).DESCRIPTOR.name for kind in ("quote", "receipt")]
    assert kinds == ["QuotePayload", "ReceiptPayload"]
    assert isinstance(check_payload(vectors["statement"]), settlement_pb2.StatementPayload)


def test_every_event_type_has_a_vector_whose_signatures_check_out() -> None:
    seen = set()
    for vector in load("payloads.json")["events"]:
        payload = check_payload(vector)
        assert isinstance(payload, event_pb2.EventPayload)
        event = event_pb2.Event.FromString(raw(vector["wrapper_bytes"]))
        assert (event.event_id, event.sequence) == (payload.event_id, payload.sequence)
        body = payload.WhichOneof("body")
        seen.add(body)
        if body == "transfer_completed":
            receipt = payload.transfer_completed.receipt
            signed = wire.payload_signing_bytes(kind="receipt", payload=receipt.payload)
            check_signed(receipt.signing_key_id, receipt.signature, signed)
    assert seen == {f.name for f in event_pb2.EventPayload.DESCRIPTOR.oneofs_by_name["body"].fields}


def test_the_key_registration_proof_is_by_the_new_key() -> None:
    vector = load("key_registration.json")
    new_key = raw(vector["new_key"]["public_key"])
    assert vector["new_key"]["key_id"] == wire.key_id_for(new_key)
    assert vector["public_key_sha256"] == hashlib.sha256(new_key).hexdigest()
    built = wire.key_registration_bytes(partner_id=vector["partner_id"], public_key=new_key)
    signed = signed_bytes(vector["signing_bytes"], built)
    proof = raw(vector["proof_of_possession"])
    assert verify_signature(new_key, proof, signed)
    request = partner_pb2.RegisterKeyRequest.FromString(raw(vector["request"]["body"]))
    assert (request.public_key, request.proof_of_possession) == (new_key, proof)
    check_request(vector["request"])
    # The request itself is signed by the partner's current key, not the new one.
    assert metadata(vector["request"]["metadata"])[wire.HEADER_KEY_ID] != vector["new_key"][
        "key_id"
    ]


def test_records_encode_to_the_stated_bytes_and_refused_spellings_are_refused() -> None:
    vectors = load("records.json")
    for vector in vectors["records"]:
        data = raw(vector["bytes"])
        assert records.encode_record(**vector["fields"]) == data == vector["text"].encode()
        assert records.decode_record(data) == vector["fields"]
        assert merkle.leaf_hash(data).hex() == vector["leaf_hash_hex"]
        assert vector["leaf_hash_hex"] == hashlib.sha256(b"\x00" + data).hexdigest()
    assert vectors["refused"]
    for refused in vectors["refused"]:
        with pytest.raises(ValueError):
            records.decode_record(raw(refused["bytes"]))


def test_every_tree_root_and_audit_path_checks_out() -> None:
    leaves = [vector["leaf_hash_hex"] for vector in load("records.json")["records"]]
    trees = load("merkle.json")["trees"]
    assert {0, 1, 3, 5, 7} <= {tree["tree_size"] for tree in trees}, "odd sizes included"
    for tree in trees:
        size = tree["tree_size"]
        assert tree["leaf_hashes_hex"] == leaves[:size]
        hashes = [bytes.fromhex(value) for value in tree["leaf_hashes_hex"]]
        tree_root = bytes.fromhex(tree["root_hex"])
        assert merkle.root(hashes) == tree_root
        assert [proof["leaf_index"] for proof in tree["proofs"]] == list(range(size))
        for proof in tree["proofs"]:
            path = [bytes.fromhex(value) for value in proof["audit_path_hex"]]
            index = proof["leaf_index"]
            assert merkle.verify_inclusion(hashes[index], index, size, path, tree_root)
            if size > 1:  # the path places the leaf at its own index only
                other = (index + 1) % size
                assert not merkle.verify_inclusion(hashes[index], other, size, path, tree_root)


def test_each_statement_line_is_in_the_signed_root() -> None:
    vector = load("statement.json")
    payload = check_payload(vector["statement"])
    assert isinstance(payload, settlement_pb2.StatementPayload)
    assert payload.merkle_root.hex() == vector["merkle_root_hex"]
    assert payload.tree_size == vector["tree_size"]
    proofs = {proof["transfer_id"]: proof for proof in vector["inclusion_proofs"]}
    assert set(proofs) == {line.transfer_id for line in payload.lines}
    for line in payload.lines:
        records.decode_record(line.record)
        stated = proofs[line.transfer_id]
        response = check_message(stated["response"], raw(stated["response_bytes"]))
        assert isinstance(response, settlement_pb2.GetInclusionProofResponse)
        assert (response.record, response.leaf_index) == (line.record, line.leaf_index)
        assert response.tree_size == payload.tree_size
        leaf = merkle.leaf_hash(line.record)
        assert leaf.hex() == stated["leaf_hash_hex"]
        assert merkle.verify_inclusion(
            leaf, line.leaf_index, payload.tree_size, list(response.audit_path),
            payload.merkle_root,
        )
