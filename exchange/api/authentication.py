"""Request authentication (DESIGN §4.1): headers, freshness, key, signature, unknown fields.

Every failure raises AuthenticationFailure with a reason for the server log only; the caller
always sees the same UNAUTHENTICATED status.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from google.protobuf.message import Message

from coalition import wire
from coalition.keys import verify_signature
from exchange.api import message_checks
from exchange.domain import limits
from exchange.domain.partners import KeyState, PartnerKey

Metadata = Sequence[tuple[str, str | bytes]]


class AuthenticationFailure(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class SignedHeaders:
    partner_id: str
    key_id: str
    created_s: int
    nonce: str
    idempotency_key: str
    signature: bytes = field(repr=False)


def _single_values(metadata: Metadata) -> dict[str, str | bytes]:
    values: dict[str, str | bytes] = {}
    for key, value in metadata:
        if not key.startswith("cx-"):
            continue
        if key in values:
            raise AuthenticationFailure(f"duplicated header {key}")
        values[key] = value
    return values


def _text(values: dict[str, str | bytes], key: str) -> str:
    value = values.get(key, "")
    if not isinstance(value, str) or not wire.SIGNED_FIELD_PATTERN.fullmatch(value):
        raise AuthenticationFailure(f"header {key} missing or not printable ASCII")
    return value


def request_nonce(metadata: Metadata) -> str:
    """The call's cx-nonce if it carries exactly one well-formed nonce, else "".

    A refusal is signed over it, so the caller can tie the refusal to its own request.
    """
    nonces = [value for key, value in metadata if key == wire.HEADER_NONCE]
    if len(nonces) != 1 or not isinstance(nonces[0], str) or not wire.is_valid_nonce(nonces[0]):
        return ""
    return nonces[0]


def parse_signed_headers(metadata: Metadata) -> SignedHeaders:
    """The cx-* headers of a call. A state-changing call without an idempotency key is
    refused later, once its signature has verified (IDEMPOTENCY_KEY_MISSING)."""
    values = _single_values(metadata)
    missing = [key for key in wire.REQUEST_HEADERS_REQUIRED if key not in values]
    if missing:
        raise AuthenticationFailure(f"missing headers {missing}")
    created = _text(values, wire.HEADER_CREATED)
    nonce = _text(values, wire.HEADER_NONCE)
    idempotency_key = (
        _text(values, wire.HEADER_IDEMPOTENCY_KEY)
        if (wire.HEADER_IDEMPOTENCY_KEY in values)
        else ""
    )
    signature = values[wire.HEADER_SIGNATURE]
    if not created.isdigit() or len(created) > 12:
        raise AuthenticationFailure("created is not a decimal Unix time")
    if not wire.is_valid_nonce(nonce):
        raise AuthenticationFailure("malformed nonce")
    if idempotency_key and not wire.IDEMPOTENCY_KEY_PATTERN.fullmatch(idempotency_key):
        raise AuthenticationFailure("idempotency key is not a lower-case UUID")
    if not isinstance(signature, bytes) or len(signature) != wire.SIGNATURE_BYTES:
        raise AuthenticationFailure("malformed signature")
    return SignedHeaders(
        partner_id=_text(values, wire.HEADER_PARTNER),
        key_id=_text(values, wire.HEADER_KEY_ID),
        created_s=int(created),
        nonce=nonce,
        idempotency_key=idempotency_key,
        signature=signature,
    )


def check_fresh(headers: SignedHeaders, now_s: int) -> None:
    if headers.created_s < now_s - limits.SIGNATURE_AGE_S_MAX:
        raise AuthenticationFailure("signature too old")
    if headers.created_s > now_s + limits.SIGNATURE_AHEAD_S_MAX:
        raise AuthenticationFailure("signature created in the future")


def verify_request(
    headers: SignedHeaders, key: PartnerKey | None, *, method: str, audience: str, body: bytes
) -> None:
    """Checks the key belongs to the caller and is active, then the signature over `body`."""
    if key is None:
        raise AuthenticationFailure("unknown key id")
    if key.partner_id != headers.partner_id:
        raise AuthenticationFailure("key belongs to another partner")
    if key.state is not KeyState.ACTIVE:
        raise AuthenticationFailure("key revoked")
    signed = wire.request_signing_bytes(
        method=method,
        audience=audience,
        partner_id=headers.partner_id,
        key_id=headers.key_id,
        created_s=headers.created_s,
        nonce=headers.nonce,
        idempotency_key=headers.idempotency_key,
        body=body,
    )
    if not verify_signature(key.public_key, headers.signature, signed):
        raise AuthenticationFailure("signature does not verify")


def has_unknown_fields(message: Message) -> bool:
    """True if the message or any message inside it carries fields the schema lacks."""
    return message_checks.inspect(message).unknown_fields
