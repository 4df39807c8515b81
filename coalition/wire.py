"""The signing rules of the Coalition Exchange protocol (DESIGN §4.1), shared by hub and SDK.

Both sides build the bytes they sign or verify here and nowhere else, so they cannot drift.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets

REQUEST_CONTEXT = "cx-request-v1"
RESPONSE_CONTEXT = "cx-response-v1"
REFUSAL_CONTEXT = "cx-refusal-v1"
# The trailer a refused call's google.rpc.Status travels in (grpc-status-details-bin).
HEADER_STATUS_DETAILS = "grpc-status-details-bin"
KEY_REGISTRATION_CONTEXT = "cx-key-registration-v1"
PAYLOAD_CONTEXT = "cx-payload-v1"

HEADER_PARTNER = "cx-partner"
HEADER_KEY_ID = "cx-key-id"
HEADER_CREATED = "cx-created"
HEADER_NONCE = "cx-nonce"
HEADER_IDEMPOTENCY_KEY = "cx-idempotency-key"
HEADER_SIGNATURE = "cx-signature-bin"
REQUEST_HEADERS_REQUIRED = (
    HEADER_PARTNER,
    HEADER_KEY_ID,
    HEADER_CREATED,
    HEADER_NONCE,
    HEADER_SIGNATURE,
)

NONCE_BYTES = 16
NONCE_CHARS = 22
SIGNATURE_BYTES = 64
PUBLIC_KEY_BYTES = 32
KEY_ID_PREFIX = "ed25519:"
KEY_ID_HEX_CHARS = 16

# Printable ASCII without spaces: a signed line can never contain the line separator.
SIGNED_FIELD_PATTERN = re.compile(r"[\x21-\x7e]*")
IDEMPOTENCY_KEY_PATTERN = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _join_signed_lines(lines: list[str]) -> bytes:
    for line in lines:
        if not SIGNED_FIELD_PATTERN.fullmatch(line):
            raise ValueError("signed fields must be printable ASCII without spaces")
    return "\n".join(lines).encode("ascii")


def request_signing_bytes(
    *,
    method: str,
    audience: str,
    partner_id: str,
    key_id: str,
    created_s: int,
    nonce: str,
    idempotency_key: str,
    body: bytes,
) -> bytes:
    """The exact bytes a partner signs for one request (DESIGN §4.1)."""
    return _join_signed_lines(
        [
            REQUEST_CONTEXT,
            method,
            audience,
            partner_id,
            key_id,
            str(created_s),
            nonce,
            idempotency_key,
            sha256_hex(body),
        ]
    )


def response_signing_bytes(*, method: str, audience: str, nonce: str, body: bytes) -> bytes:
    """The exact bytes the hub signs for one response, bound to the request's nonce."""
    return _join_signed_lines([RESPONSE_CONTEXT, method, audience, nonce, sha256_hex(body)])


def refusal_signing_bytes(
    *, method: str, audience: str, nonce: str, status_code: int, status_details: bytes
) -> bytes:
    """The exact bytes the hub signs for a refusal: the numeric gRPC status code and the
    serialized google.rpc.Status the caller receives in grpc-status-details-bin.

    `nonce` is the request's cx-nonce, or empty when the request carried no usable one.
    """
    return _join_signed_lines(
        [REFUSAL_CONTEXT, method, audience, nonce, str(status_code), sha256_hex(status_details)]
    )


def payload_signing_bytes(*, kind: str, payload: bytes) -> bytes:
    """Bytes the hub signs for a self-contained payload (event, quote, receipt, statement)."""
    return _join_signed_lines([PAYLOAD_CONTEXT, kind, sha256_hex(payload)])


def key_registration_bytes(*, partner_id: str, public_key: bytes) -> bytes:
    """Bytes a new key signs to prove its holder registers it for this partner."""
    return _join_signed_lines([KEY_REGISTRATION_CONTEXT, partner_id, sha256_hex(public_key)])


def key_id_for(public_key: bytes) -> str:
    """A key's id is derived from its bytes, so one key can never carry two ids."""
    return KEY_ID_PREFIX + hashlib.sha256(public_key).hexdigest()[:KEY_ID_HEX_CHARS]


def new_nonce() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(NONCE_BYTES)).rstrip(b"=").decode()


def is_valid_nonce(nonce: str) -> bool:
    if len(nonce) != NONCE_CHARS or not re.fullmatch(r"[A-Za-z0-9_-]+", nonce):
        return False
    decoded = base64.urlsafe_b64decode(nonce + "==")
    # Exactly one canonical spelling per nonce: re-encoding must give the same text.
    return base64.urlsafe_b64encode(decoded).rstrip(b"=").decode() == nonce
