"""Hand-built signed calls, so tests can send exactly the headers and bytes they mean to."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field, replace

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from coalition import wire
from coalition.keys import SigningKey


@dataclass(frozen=True)
class SignedRequest:
    """Every input of a request signature; tests override one field to break one thing."""

    method: str
    body: bytes
    partner_id: str
    key: SigningKey
    audience: str
    created_s: int = field(default_factory=lambda: int(time.time()))
    nonce: str = field(default_factory=wire.new_nonce)
    idempotency_key: str = ""
    signed_method: str | None = None
    signed_audience: str | None = None
    signed_body: bytes | None = None
    signed_key_id: str | None = None

    def with_changes(self, **changes: object) -> SignedRequest:
        return replace(self, **changes)  # type: ignore[arg-type]

    def signature(self) -> bytes:
        signed = wire.request_signing_bytes(
            method=self.signed_method or self.method,
            audience=self.signed_audience or self.audience,
            partner_id=self.partner_id,
            key_id=self.signed_key_id or self.key.key_id,
            created_s=self.created_s,
            nonce=self.nonce,
            idempotency_key=self.idempotency_key,
            body=self.body if self.signed_body is None else self.signed_body,
        )
        return self.key.sign(signed)

    def metadata(self) -> list[tuple[str, str | bytes]]:
        metadata: list[tuple[str, str | bytes]] = [
            (wire.HEADER_PARTNER, self.partner_id),
            (wire.HEADER_KEY_ID, self.signed_key_id or self.key.key_id),
            (wire.HEADER_CREATED, str(self.created_s)),
            (wire.HEADER_NONCE, self.nonce),
            (wire.HEADER_SIGNATURE, self.signature()),
        ]
        if self.idempotency_key:
            metadata.append((wire.HEADER_IDEMPOTENCY_KEY, self.idempotency_key))
        return metadata


@dataclass(frozen=True)
class RawOutcome:
    code: grpc.StatusCode
    message: str
    reason: str
    response: bytes | None
    trailers: dict[str, str | bytes]


def new_idempotency_key() -> str:
    return str(uuid.uuid4())


def call_raw(
    channel: grpc.Channel,
    method: str,
    body: bytes,
    metadata: list[tuple[str, str | bytes]],
) -> RawOutcome:
    callable_ = channel.unary_unary(method, request_serializer=None, response_deserializer=None)
    try:
        response, call = callable_.with_call(body, metadata=tuple(metadata), timeout=10)
    except grpc.RpcError as error:
        return RawOutcome(
            error.code(),  # type: ignore[attr-defined]
            error.details() or "",  # type: ignore[attr-defined]
            _reason(error),
            None,
            dict(error.trailing_metadata() or ()),  # type: ignore[attr-defined]
        )
    return RawOutcome(grpc.StatusCode.OK, "", "", response, dict(call.trailing_metadata() or ()))


def send(channel: grpc.Channel, request: SignedRequest) -> RawOutcome:
    return call_raw(channel, request.method, request.body, request.metadata())


def _reason(error: grpc.RpcError) -> str:
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    for detail in status.details if status is not None else []:
        info = error_details_pb2.ErrorInfo()
        if detail.Unpack(info):
            return info.reason
    return ""
