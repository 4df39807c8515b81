"""Idempotency (DESIGN §4.2): a retry with the same key gets the stored answer, byte for byte."""

from __future__ import annotations

import hashlib

from coalition import wire
from exchange.api.authentication import SignedHeaders
from exchange.api.calls import RpcMethod
from exchange.domain.errors import DomainError, ErrorCode, FieldViolation
from exchange.domain.ports import StoredResponse, UnitOfWork


def stored_response(
    uow: UnitOfWork, method: RpcMethod, body: bytes, headers: SignedHeaders
) -> bytes | None:
    """The stored response of an earlier call with this key, or None to run the call now."""
    if not uow.requests.lock_idempotency_key(headers.partner_id, headers.idempotency_key):
        raise idempotency_in_progress()
    stored = uow.requests.stored_response(headers.partner_id, headers.idempotency_key)
    return replayed(stored, method.path, hashlib.sha256(body).digest())


def idempotency_in_progress() -> DomainError:
    return DomainError(
        ErrorCode.IDEMPOTENCY_IN_PROGRESS, "a call with this idempotency key is in progress"
    )


def idempotency_key_missing() -> DomainError:
    return DomainError(
        ErrorCode.IDEMPOTENCY_KEY_MISSING,
        f"this call changes state and needs a {wire.HEADER_IDEMPOTENCY_KEY} header",
        (FieldViolation(wire.HEADER_IDEMPOTENCY_KEY, "required on every state-changing call"),),
    )


def replayed(
    stored: StoredResponse | None, method_path: str, request_sha256: bytes
) -> bytes | None:
    """The stored response for a retry of the very same request; None if the key is new.

    The same key for another method or other bytes is refused (DESIGN §4.2)."""
    if stored is None:
        return None
    if stored.method != method_path or stored.request_sha256 != request_sha256:
        raise DomainError(
            ErrorCode.IDEMPOTENCY_KEY_REUSED,
            "this idempotency key was used for a different request",
        )
    return stored.response
