"""The request pipeline every coalition.v1 RPC runs through.

grpc's Python ServerInterceptor sees only parsed messages, but the signature covers the bytes
as sent, so the hub registers its methods with raw-bytes handlers and runs its cross-cutting
steps here, in order: authenticate, replay check, idempotency, parse, call the servicer,
store the idempotent response, sign the response, and map errors through the catalog.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn, cast

import grpc
from google.protobuf.message import DecodeError, Message
from grpc_status import rpc_status

from coalition import wire
from coalition.keys import SigningKey
from exchange.adapters.sql.engine import run_with_retries
from exchange.api import catalog
from exchange.api.authentication import (
    AuthenticationFailure,
    SignedHeaders,
    check_fresh,
    has_unknown_fields,
    parse_signed_headers,
    verify_request,
)
from exchange.api.peer_identity import partner_id_from_auth_context
from exchange.domain.errors import DomainError, ErrorCode
from exchange.domain.ports import Clock, StoredResponse, UnitOfWork, UnitOfWorkFactory

log = logging.getLogger(__name__)

HEADER_REQUEST_ID = "cx-request-id"


@dataclass(frozen=True)
class MethodPolicy:
    """What the pipeline demands of one method; every method must declare one."""

    changes_state: bool


READ_ONLY = MethodPolicy(changes_state=False)
STATE_CHANGING = MethodPolicy(changes_state=True)


@dataclass(frozen=True)
class CallContext:
    """What a servicer method gets besides its request: who calls, and the open transaction."""

    partner_id: str
    request_id: str
    uow: UnitOfWork
    # The call's own key ("" on read-only calls): a batch's entries may not reuse it.
    idempotency_key: str = ""


@dataclass(frozen=True)
class StreamContext:
    """What a server-streaming method gets: who calls, and whether the caller still listens.

    It opens its own short units of work; a stream never holds a transaction open.
    """

    partner_id: str
    request_id: str
    is_active: Callable[[], bool]


Implementation = Callable[[Any, Any], Any]


@dataclass(frozen=True)
class RpcMethod:
    path: str
    request_type: type[Message]
    policy: MethodPolicy
    implementation: Implementation
    streaming: bool = False


@dataclass(frozen=True)
class PipelineSettings:
    audience: str
    require_client_certificate: bool


class RequestPipeline:
    def __init__(
        self,
        settings: PipelineSettings,
        uow_factory: UnitOfWorkFactory,
        clock: Clock,
        hub_key: SigningKey,
    ) -> None:
        self.settings = settings
        self.uow_factory = uow_factory
        self.clock = clock
        self.hub_key = hub_key

    def handle(self, method: RpcMethod, body: bytes, context: grpc.ServicerContext) -> bytes:
        request_id = uuid.uuid4().hex
        context.set_trailing_metadata(((HEADER_REQUEST_ID, request_id),))
        try:
            headers = parse_signed_headers(
                context.invocation_metadata(), changes_state=method.policy.changes_state
            )
            self._check_transport_identity(context, headers)
            response = run_with_retries(lambda: self._execute(method, body, headers, request_id))
        except AuthenticationFailure as failure:
            log.warning("request %s to %s refused: %s", request_id, method.path, failure.reason)
            abort(context, catalog.unauthenticated(), request_id)
        except DomainError as error:
            log.info("request %s to %s refused: %s", request_id, method.path, error.code.value)
            self._remember_nonce(headers)
            abort(context, error, request_id)
        except Exception:
            log.exception("request %s to %s failed", request_id, method.path)
            abort(context, catalog.internal(), request_id)
        context.set_trailing_metadata(self._signed_trailers(method, headers, response, request_id))
        return response

    def _remember_nonce(self, headers: SignedHeaders) -> None:
        """An authenticated request that was refused still spends its nonce.

        Its own transaction rolled back, nonce included; without this the very same signed
        bytes could be replayed within the signature window once the refusal no longer held.
        """

        def record() -> None:
            with self.uow_factory() as uow:
                uow.requests.record_nonce(headers.partner_id, headers.nonce, headers.created_s)
                uow.commit()

        try:
            run_with_retries(record)
        except Exception:
            log.exception("could not record the nonce of a refused request")

    def handle_stream(
        self, method: RpcMethod, body: bytes, context: grpc.ServicerContext
    ) -> Iterator[bytes]:
        """A server-streaming call: authenticated once up front; each message is self-signed."""
        request_id = uuid.uuid4().hex
        try:
            headers = parse_signed_headers(context.invocation_metadata(), changes_state=False)
            self._check_transport_identity(context, headers)
            request = run_with_retries(lambda: self._authenticate_and_parse(method, body, headers))
            stream = StreamContext(headers.partner_id, request_id, context.is_active)
            for message in method.implementation(request, stream):
                yield message.SerializeToString(deterministic=True)
        except AuthenticationFailure as failure:
            log.warning("stream %s to %s refused: %s", request_id, method.path, failure.reason)
            abort(context, catalog.unauthenticated(), request_id)
        except DomainError as error:
            log.info("stream %s to %s refused: %s", request_id, method.path, error.code.value)
            abort(context, error, request_id)
        except Exception:
            log.exception("stream %s to %s failed", request_id, method.path)
            abort(context, catalog.internal(), request_id)

    def _authenticate_and_parse(
        self, method: RpcMethod, body: bytes, headers: SignedHeaders
    ) -> Message:
        with self.uow_factory() as uow:
            self._authenticate(uow, method, body, headers)
            request = _parse(method.request_type, body)
            uow.commit()
            return request

    def _check_transport_identity(
        self, context: grpc.ServicerContext, headers: SignedHeaders
    ) -> None:
        if not self.settings.require_client_certificate:
            return
        auth_context = cast(Mapping[str, Sequence[bytes]], context.auth_context())
        certified = partner_id_from_auth_context(auth_context)
        if certified != headers.partner_id:
            raise AuthenticationFailure("client certificate names another partner")

    def _execute(
        self, method: RpcMethod, body: bytes, headers: SignedHeaders, request_id: str
    ) -> bytes:
        with self.uow_factory() as uow:
            self._authenticate(uow, method, body, headers)
            if method.policy.changes_state:
                stored = _stored_response(uow, method, body, headers)
                if stored is not None:
                    uow.commit()
                    return stored
            request = _parse(method.request_type, body)
            call = CallContext(headers.partner_id, request_id, uow, headers.idempotency_key)
            try:
                message: Message = method.implementation(request, call)
            except DomainError as refusal:
                if refusal.keep_writes:
                    uow.commit()
                raise
            response = message.SerializeToString(deterministic=True)
            if method.policy.changes_state:
                record = StoredResponse(method.path, hashlib.sha256(body).digest(), response)
                uow.requests.store_response(
                    headers.partner_id, headers.idempotency_key, record, self.clock.now_us()
                )
            uow.commit()
            return response

    def _authenticate(
        self, uow: UnitOfWork, method: RpcMethod, body: bytes, headers: SignedHeaders
    ) -> None:
        check_fresh(headers, self.clock.now_us() // 1_000_000)
        key = uow.partners.get_key(headers.key_id)
        verify_request(headers, key, method=method.path, audience=self.settings.audience, body=body)
        if not uow.requests.record_nonce(headers.partner_id, headers.nonce, headers.created_s):
            raise AuthenticationFailure("nonce already used")

    def _signed_trailers(
        self, method: RpcMethod, headers: SignedHeaders, response: bytes, request_id: str
    ) -> tuple[tuple[str, str | bytes], ...]:
        signed = wire.response_signing_bytes(
            method=method.path, audience=self.settings.audience, nonce=headers.nonce, body=response
        )
        return (
            (HEADER_REQUEST_ID, request_id),
            (wire.HEADER_KEY_ID, self.hub_key.key_id),
            (wire.HEADER_SIGNATURE, self.hub_key.sign(signed)),
        )


def _stored_response(
    uow: UnitOfWork, method: RpcMethod, body: bytes, headers: SignedHeaders
) -> bytes | None:
    """The stored response of an earlier call with this key, or None to run the call now."""
    if not uow.requests.lock_idempotency_key(headers.partner_id, headers.idempotency_key):
        raise DomainError(
            ErrorCode.IDEMPOTENCY_IN_PROGRESS, "a call with this idempotency key is in progress"
        )
    stored = uow.requests.stored_response(headers.partner_id, headers.idempotency_key)
    if stored is None:
        return None
    if stored.method != method.path or stored.request_sha256 != hashlib.sha256(body).digest():
        raise DomainError(
            ErrorCode.IDEMPOTENCY_KEY_REUSED,
            "this idempotency key was used for a different request",
        )
    return stored.response


def _parse(request_type: type[Message], body: bytes) -> Message:
    try:
        request = request_type.FromString(body)
    except DecodeError:
        raise DomainError(
            ErrorCode.INVALID_ARGUMENT, f"the request is not a valid {request_type.__name__}"
        ) from None
    if has_unknown_fields(request):
        raise AuthenticationFailure("unknown fields in signed message")
    return request


@dataclass(frozen=True)
class _Status(grpc.Status):
    code: grpc.StatusCode
    details: str
    trailing_metadata: tuple[tuple[str, str | bytes], ...]


def abort(context: grpc.ServicerContext, error: DomainError, request_id: str) -> NoReturn:
    status = rpc_status.to_status(catalog.rich_status(error))
    trailers = (*status.trailing_metadata, (HEADER_REQUEST_ID, request_id))
    context.abort_with_status(_Status(status.code, status.details, trailers))
    raise AssertionError("abort_with_status raises")
