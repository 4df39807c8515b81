"""A signed connection to the hub: signs each request, verifies each response, retries safely.

The SDK never imports the hub; it shares only `coalition` (messages and signing rules).
"""

from __future__ import annotations

import logging
import random
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar, cast

import grpc
from google.protobuf.message import Message
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from coalition import wire
from coalition.keys import SigningKey, verify_signature

log = logging.getLogger(__name__)

M = TypeVar("M", bound=Message)
RETRYABLE_CODES = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED})
CALL_TIMEOUT_S_DEFAULT = 10.0


@dataclass(frozen=True)
class RetryPolicy:
    attempts_max: int = 5
    backoff_s_initial: float = 0.05
    backoff_s_max: float = 2.0

    def backoff_s(self, attempt: int) -> float:
        return random.uniform(0, min(self.backoff_s_max, self.backoff_s_initial * 2**attempt))


class HubError(Exception):
    """A refusal from the hub, with its catalog reason and the fields it names."""

    def __init__(
        self,
        code: grpc.StatusCode,
        message: str,
        reason: str = "",
        field_violations: dict[str, str] | None = None,
        request_id: str = "",
    ) -> None:
        super().__init__(f"{code.name} {reason}: {message}")
        self.code = code
        self.message = message
        self.reason = reason
        self.field_violations = field_violations or {}
        self.request_id = request_id

    @classmethod
    def from_rpc_error(cls, error: grpc.RpcError) -> HubError:
        call = cast(grpc.Call, error)
        reason, violations = "", {}
        status = rpc_status.from_call(call)
        for detail in status.details if status is not None else []:
            info = error_details_pb2.ErrorInfo()
            bad_request = error_details_pb2.BadRequest()
            if detail.Unpack(info):
                reason = info.reason
            elif detail.Unpack(bad_request):
                violations = {v.field: v.description for v in bad_request.field_violations}
        trailers = dict(call.trailing_metadata() or ())
        return cls(
            call.code(),
            call.details() or "",
            reason,
            violations,
            str(trailers.get("cx-request-id", "")),
        )


class ResponseVerificationError(Exception):
    """The response was not signed by a hub key this client trusts; it is not used."""


@dataclass
class HubConnection:
    """One partner's signed channel to the hub.

    `hub_public_keys` maps hub key id to its 32 raw bytes; responses signed by anything else
    are refused. `signing_key` may be swapped (`use_key`) during a key rotation.
    """

    channel: grpc.Channel
    partner_id: str
    signing_key: SigningKey
    audience: str
    hub_public_keys: dict[str, bytes]
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    timeout_s: float = CALL_TIMEOUT_S_DEFAULT
    clock_s: Callable[[], float] = time.time
    # Sees every verified response (method, bytes): for audit logs and privacy checks.
    on_response: Callable[[str, bytes], None] | None = None

    def use_key(self, signing_key: SigningKey) -> None:
        self.signing_key = signing_key

    def close(self) -> None:
        self.channel.close()

    def call(
        self,
        method: str,
        request: Message,
        response_type: type[M],
        *,
        changes_state: bool,
        idempotency_key: str | None = None,
    ) -> M:
        """Calls `method`; state-changing calls carry one idempotency key across retries."""
        if changes_state and idempotency_key is None:
            idempotency_key = str(uuid.uuid4())
        body = request.SerializeToString()
        multicallable = self.channel.unary_unary(
            method, request_serializer=None, response_deserializer=None
        )
        for attempt in range(self.retry.attempts_max):
            nonce = wire.new_nonce()
            try:
                response, call = multicallable.with_call(
                    body,
                    metadata=self.signed_metadata(method, nonce, idempotency_key or "", body),
                    timeout=self.timeout_s,
                )
            except grpc.RpcError as error:
                code = cast(grpc.Call, error).code()
                self.verify_refusal(method, nonce, cast(grpc.Call, error))
                if code not in RETRYABLE_CODES or attempt + 1 == self.retry.attempts_max:
                    raise HubError.from_rpc_error(error) from None
                log.info("retrying %s after %s (attempt %s)", method, code.name, attempt + 1)
                time.sleep(self.retry.backoff_s(attempt))
                continue
            self._verify_response(method, nonce, response, call.trailing_metadata() or ())
            if self.on_response is not None:
                self.on_response(method, response)
            return response_type.FromString(response)
        raise AssertionError("unreachable: the loop returns or raises")

    def signed_metadata(
        self, method: str, nonce: str, idempotency_key: str, body: bytes
    ) -> tuple[tuple[str, str | bytes], ...]:
        """The cx-* headers for one request; also for streams, which `call` does not make."""
        created_s = int(self.clock_s())
        signed = wire.request_signing_bytes(
            method=method,
            audience=self.audience,
            partner_id=self.partner_id,
            key_id=self.signing_key.key_id,
            created_s=created_s,
            nonce=nonce,
            idempotency_key=idempotency_key,
            body=body,
        )
        metadata: list[tuple[str, str | bytes]] = [
            (wire.HEADER_PARTNER, self.partner_id),
            (wire.HEADER_KEY_ID, self.signing_key.key_id),
            (wire.HEADER_CREATED, str(created_s)),
            (wire.HEADER_NONCE, nonce),
            (wire.HEADER_SIGNATURE, self.signing_key.sign(signed)),
        ]
        if idempotency_key:
            metadata.append((wire.HEADER_IDEMPOTENCY_KEY, idempotency_key))
        return tuple(metadata)

    def _verify_response(
        self, method: str, nonce: str, body: bytes, trailers: Sequence[tuple[str, str | bytes]]
    ) -> None:
        signed = wire.response_signing_bytes(
            method=method, audience=self.audience, nonce=nonce, body=body
        )
        self._verify_trailers(f"response to {method}", signed, trailers)

    def verify_refusal(self, method: str, nonce: str, call: grpc.Call) -> None:
        """A refusal that carries the hub's rich status must carry its signature too.

        A status without details comes from the transport (a dropped connection, a deadline
        passed on this side), never from the hub's pipeline: it is treated as "retry", never
        as the hub's word (docs/protocol.md, signed refusals).
        """
        trailers = tuple(call.trailing_metadata() or ())
        details = dict(trailers).get(wire.HEADER_STATUS_DETAILS)
        if not isinstance(details, bytes):
            return
        signed = wire.refusal_signing_bytes(
            method=method,
            audience=self.audience,
            nonce=nonce,
            status_code=call.code().value[0],
            status_details=details,
        )
        self._verify_trailers(f"refusal of {method}", signed, trailers)

    def _verify_trailers(
        self, what: str, signed: bytes, trailers: Sequence[tuple[str, str | bytes]]
    ) -> None:
        values = dict(trailers)
        key_id, signature = values.get(wire.HEADER_KEY_ID), values.get(wire.HEADER_SIGNATURE)
        public_key = self.hub_public_keys.get(key_id) if isinstance(key_id, str) else None
        if public_key is None or not isinstance(signature, bytes):
            raise ResponseVerificationError(f"{what} is not signed by a trusted key")
        if not verify_signature(public_key, signature, signed):
            raise ResponseVerificationError(f"{what} has a bad hub signature")


def connect(
    target: str,
    partner_id: str,
    signing_key: SigningKey,
    audience: str,
    hub_public_keys: dict[str, bytes],
    credentials: grpc.ChannelCredentials | None = None,
    channel_options: Sequence[tuple[str, int | str]] = (),
) -> HubConnection:
    """Opens a channel (TLS when credentials are given) and wraps it in a HubConnection.

    `channel_options` are gRPC channel arguments, e.g. ("grpc.max_reconnect_backoff_ms", 1000)
    for a partner that must find a restarted hub quickly.
    """
    if credentials is None:
        channel = grpc.insecure_channel(target, options=channel_options)
    else:
        channel = grpc.secure_channel(target, credentials, options=channel_options)
    return HubConnection(channel, partner_id, signing_key, audience, hub_public_keys)
