"""What the vector files of proto/vectors.py share: seeded keys, byte spellings, signed calls.

Every byte comes from the hub's own functions (coalition.wire, the hub's codecs), never from a
second implementation, so the vectors cannot drift from what the hub does.
"""

from __future__ import annotations

import base64
import hashlib
import sys
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # run as a script: the repo's packages

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402
from google.protobuf.json_format import MessageToDict  # noqa: E402
from google.protobuf.message import Message  # noqa: E402

from coalition import wire  # noqa: E402
from coalition.keys import SigningKey  # noqa: E402
from coalition.v1 import common_pb2  # noqa: E402
from exchange.api.convert import timestamp  # noqa: E402
from exchange.domain.transfers import Quote, Transfer, TransferKind, TransferState  # noqa: E402

VECTORS_DIR = REPO / "docs" / "vectors"
AUDIENCE = "coalition-exchange"
KEY_NAMES = ("hub", "skyway", "harbor", "skyway-next")
# 2026-11-23T14:30:00Z: the day of docs/settlement-records.md's worked example.
T0_S = 1_795_444_200
T0_US = T0_S * 1_000_000
SECOND_US = 1_000_000
Json = dict[str, Any]


def digest(label: str) -> bytes:
    return hashlib.sha256(b"coalition-vectors:" + label.encode()).digest()


def key(name: str) -> SigningKey:
    """The vector key `name`: its 32-byte Ed25519 seed is SHA-256("coalition-vectors:" + name)."""
    return SigningKey.from_private_key(Ed25519PrivateKey.from_private_bytes(digest(name)))


def nonce_for(label: str) -> str:
    return base64.urlsafe_b64encode(digest("nonce:" + label)[:16]).rstrip(b"=").decode()


def idempotency_key_for(label: str) -> str:
    return str(uuid.UUID(bytes=digest("idempotency:" + label)[:16], version=4))


def ppid_for(label: str) -> str:
    encoded = base64.b32encode(digest("ppid:" + label)[:16]).decode()
    return "pp_" + encoded.lower().rstrip("=")


def blob(data: bytes) -> Json:
    """Bytes in both spellings an implementer is likely to need."""
    return {"hex": data.hex(), "base64": base64.b64encode(data).decode()}


def signed_text(data: bytes) -> Json:
    return {"lines": data.decode("ascii").split("\n"), "hex": data.hex()}


def message_json(message: Message) -> Json:
    return {
        "type": message.DESCRIPTOR.full_name,
        "json": MessageToDict(message, preserving_proto_field_name=True),
    }


def serialized(message: Message) -> bytes:
    return message.SerializeToString(deterministic=True)


def metadata_json(metadata: tuple[tuple[str, str | bytes], ...]) -> list[Json]:
    return [
        {"key": k, "value": blob(v)} if isinstance(v, bytes) else {"key": k, "value": v}
        for k, v in metadata
    ]


# --- the walkthrough's domain objects: the transfer of docs/settlement-records.md ---

SKYWAY_PPID, HARBOR_PPID = ppid_for("skyway-member"), ppid_for("harbor-member")
QUOTE_ID, TRANSFER_ID = "qt_8c1d5e2f7a4b9036d1e0c2b4", "tr_5f0c2a9e81d34b7766a1c0e3"
AGREEMENT_ID = "rt_4a7e19c03b8d52f6"
COMPLETED_US = 1_795_444_215_123_456
QUOTE = Quote(
    quote_id=QUOTE_ID, source_partner_id="skyway", destination_partner_id="harbor",
    cmid="cm_unused", source_ppid=SKYWAY_PPID, destination_ppid=HARBOR_PPID,
    agreement_id=AGREEMENT_ID, agreement_version=1, source_points=12_000,
    destination_points=3_000, bonus_points=0, currency="EUR", settlement_amount_minor=4_500,
    fee_minor=11, created_at_us=T0_US + 1 * SECOND_US, expires_at_us=T0_US + 121 * SECOND_US,
    payload=b"", signature=b"",
)
PENDING = Transfer(
    transfer_id=TRANSFER_ID, kind=TransferKind.TRANSFER, state=TransferState.PENDING,
    source_partner_id="skyway", destination_partner_id="harbor", cmid="cm_unused",
    source_ppid=SKYWAY_PPID, destination_ppid=HARBOR_PPID, source_points=12_000,
    destination_points=3_000, bonus_points=0, currency="EUR", settlement_amount_minor=4_500,
    fee_minor=11, agreement_id=AGREEMENT_ID, agreement_version=1, quote_id=QUOTE_ID,
    original_transfer_id=None, created_at_us=T0_US + 2 * SECOND_US,
    timeout_at_us=T0_US + 902 * SECOND_US,
)
COMPLETED = PENDING.completed(COMPLETED_US, "2026-11-23")


def keys() -> Json:
    rows = []
    for name in KEY_NAMES:
        signer = key(name)
        rows.append(
            {
                "name": name,
                "seed_hex": digest(name).hex(),
                "public_key": blob(signer.public_key_bytes),
                "key_id": signer.key_id,
            }
        )
    return {"seed_rule": 'SHA-256("coalition-vectors:" + name), the RFC 8032 seed', "keys": rows}


def signed_request(
    label: str, method: str, partner: str, request: Message, created_s: int, idempotent: bool
) -> tuple[Json, str]:
    """One signed request as a partner sends it; returns the vector and the request's nonce."""
    signer, body, nonce = key(partner), serialized(request), nonce_for(label)
    idempotency_key = idempotency_key_for(label) if idempotent else ""
    signing = wire.request_signing_bytes(
        method=method, audience=AUDIENCE, partner_id=partner, key_id=signer.key_id,
        created_s=created_s, nonce=nonce, idempotency_key=idempotency_key, body=body,
    )
    metadata: list[tuple[str, str | bytes]] = [
        (wire.HEADER_PARTNER, partner),
        (wire.HEADER_KEY_ID, signer.key_id),
        (wire.HEADER_CREATED, str(created_s)),
        (wire.HEADER_NONCE, nonce),
    ]
    if idempotency_key:
        metadata.append((wire.HEADER_IDEMPOTENCY_KEY, idempotency_key))
    metadata.append((wire.HEADER_SIGNATURE, signer.sign(signing)))
    vector = {
        "name": label,
        "method": method,
        "audience": AUDIENCE,
        "signer": partner,
        "message": message_json(request),
        "body": blob(body),
        "body_sha256": wire.sha256_hex(body),
        "signing_bytes": signed_text(signing),
        "metadata": metadata_json(tuple(metadata)),
    }
    return vector, nonce


def signed_response(method: str, nonce: str, response: Message) -> Json:
    body, hub = serialized(response), key("hub")
    signing = wire.response_signing_bytes(method=method, audience=AUDIENCE, nonce=nonce, body=body)
    trailers = ((wire.HEADER_KEY_ID, hub.key_id), (wire.HEADER_SIGNATURE, hub.sign(signing)))
    return {
        "message": message_json(response),
        "body": blob(body),
        "body_sha256": wire.sha256_hex(body),
        "signing_bytes": signed_text(signing),
        "trailers": metadata_json(trailers),
    }


def exchange(
    label: str, service: str, rpc: str, partner: str, calls: tuple[Message, Message], at_s: int
) -> Json:
    """A request and the hub's OK answer to it; state-changing unless the name says Get/List."""
    method = f"/coalition.v1.{service}/{rpc}"
    idempotent = not rpc.startswith(("Get", "List"))
    vector, nonce = signed_request(label, method, partner, calls[0], at_s, idempotent)
    return {**vector, "response": signed_response(method, nonce, calls[1])}


def hub_public_key() -> common_pb2.PublicKey:
    hub = key("hub")
    return common_pb2.PublicKey(
        key_id=hub.key_id, algorithm=common_pb2.KEY_ALGORITHM_ED25519,
        public_key=hub.public_key_bytes, state=common_pb2.KEY_STATE_ACTIVE,
        create_time=timestamp(T0_US - 86_400 * SECOND_US),
    )


def payload_vector(
    kind: str, wrapper: Message, payload: bytes, payload_type: type[Message]
) -> Json:
    """A hub-signed wrapper (Event, Quote, Receipt, Statement) and what its signature covers."""
    signing = wire.payload_signing_bytes(kind=kind, payload=payload)
    return {
        "kind": kind,
        "wrapper": message_json(wrapper),
        "wrapper_bytes": blob(serialized(wrapper)),
        "payload": blob(payload),
        "payload_decoded": message_json(payload_type.FromString(payload)),
        "payload_sha256": wire.sha256_hex(payload),
        "signing_bytes": signed_text(signing),
        "signing_key_id": getattr(wrapper, "signing_key_id"),  # noqa: B009 - any wrapper type
        "signature": blob(getattr(wrapper, "signature")),  # noqa: B009
    }


