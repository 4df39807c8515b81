"""The request pipeline every coalition.v1 RPC runs through.

grpc's Python ServerInterceptor sees only parsed messages, but the signature covers the bytes
as sent, so the hub registers its methods with raw-bytes handlers and runs its cross-cutting
steps here, in order: authenticate, replay check, idempotency, parse, call the servicer,
store the idempotent response, sign the response, and map errors through the catalog.
It also tells telemetry who called and which transfers the call touched: the official gRPC
interceptor's server span is current in the thread that runs all of this.
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
from exchange.adapters.telemetry import ObservedRequest, RequestTelemetry, quiet, record_refusal
from exchange.api import catalog, message_checks
from exchange.api.authentication import (
    AuthenticationFailure,
    SignedHeaders,
    check_fresh,
    parse_signed_headers,
    verify_request,
)
from exchange.api.peer_identity import partner_id_from_auth_context
from exchange.domain.errors import DomainError, ErrorCode, invalid
from exchange.domain.ports import Clock, StoredResponse, UnitOfWork, UnitOfWorkFactory
from exchange.domain.rate_limits import PartnerRateLimiter

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
        telemetry: RequestTelemetry | None = None,
        rate_limiter: PartnerRateLimiter | None = None,
    ) -> None:
        self.settings = settings
        self.uow_factory = uow_factory
        self.clock = clock
        self.hub_key = hub_key
        self.telemetry = telemetry or RequestTelemetry()
        self.rate_limiter = rate_limiter

    def handle(self, method: RpcMethod, body: bytes, context: grpc.ServicerContext) -> bytes:
        request_id = uuid.uuid4().hex
        context.set_trailing_metadata(((HEADER_REQUEST_ID, request_id),))
        with self.telemetry.request(method.path, request_id) as observed:
            try:
                headers = parse_signed_headers(
                    context.invocation_metadata(), changes_state=method.policy.changes_state
                )
                self._check_transport_identity(context, headers)
                admission = _Admission(self._admit)
                response = run_with_retries(
                    lambda: self._execute(method, body, headers, observed, admission)
                )
            except AuthenticationFailure as failure:
                observed.refused(catalog.unauthenticated())
                log.warning("request %s refused: %s (%s)", observed, failure.reason, observed.ids)
                abort(context, catalog.unauthenticated(), request_id)
            except DomainError as error:
                observed.refused(error)
                log.info("request %s refused: %s (%s)", observed, error.code.value, observed.ids)
                self._remember_nonce(headers)
                abort(context, error, request_id)
            except Exception:
                observed.refused(catalog.internal())
                log.exception("request %s failed (%s)", observed, observed.ids)
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
        with self.telemetry.request(method.path, request_id) as observed:
            try:
                headers = parse_signed_headers(context.invocation_metadata(), changes_state=False)
                self._check_transport_identity(context, headers)
                request = run_with_retries(
                    lambda: self._authenticate_and_parse(method, body, headers)
                )
                observed.authenticated(headers.partner_id)
                stream = StreamContext(headers.partner_id, request_id, context.is_active)
                yield from _quietly(method.implementation(request, stream), observed)
            except AuthenticationFailure as failure:
                observed.refused(catalog.unauthenticated())
                log.warning("stream %s refused: %s (%s)", observed, failure.reason, observed.ids)
                abort(context, catalog.unauthenticated(), request_id)
            except DomainError as error:
                observed.refused(error)
                log.info("stream %s refused: %s (%s)", observed, error.code.value, observed.ids)
                abort(context, error, request_id)
            except Exception:
                observed.refused(catalog.internal())
                log.exception("stream %s failed (%s)", observed, observed.ids)
                abort(context, catalog.internal(), request_id)

    def _admit(self, partner_id: str) -> None:
        """The partner's rate limit, asked only once its signature has verified: a forger
        cannot spend a real partner's calls. A refusal writes nothing but the spent nonce."""
        if self.rate_limiter is None:
            return
        wait_us = self.rate_limiter.try_acquire(partner_id, self.clock.now_us())
        if wait_us:
            wait_ms = -(-wait_us // 1000)
            raise DomainError(
                ErrorCode.RATE_LIMITED,
                f"this partner's call rate is over its limit; retry in {wait_ms} ms",
            )

    def _authenticate_and_parse(
        self, method: RpcMethod, body: bytes, headers: SignedHeaders
    ) -> Message:
        with self.uow_factory() as uow:
            self._authenticate(uow, method, body, headers)
            self._admit(headers.partner_id)
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
        self,
        method: RpcMethod,
        body: bytes,
        headers: SignedHeaders,
        observed: ObservedRequest,
        admission: _Admission,
    ) -> bytes:
        with self.uow_factory() as uow:
            self._authenticate(uow, method, body, headers)
            observed.authenticated(headers.partner_id)
            admission.once(headers.partner_id)
            if method.policy.changes_state:
                stored = _stored_response(uow, method, body, headers)
                if stored is not None:
                    uow.commit()
                    observed.responded(None)
                    return stored
            request = _parse(method.request_type, body)
            observed.parsed(request)
            call = CallContext(
                headers.partner_id, observed.request_id, uow, headers.idempotency_key
            )
            try:
                message: Message = method.implementation(request, call)
            except DomainError as refusal:
                if refusal.keep_writes:
                    uow.commit()
                raise
            observed.responded(message)
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


class _Admission:
    """Charges a call against its partner's rate limit once, however often its transaction
    is retried after a serialization failure."""

    def __init__(self, admit: Callable[[str], None]) -> None:
        self._admit = admit
        self._admitted = False

    def once(self, partner_id: str) -> None:
        if not self._admitted:
            self._admit(partner_id)
            self._admitted = True


def _stored_response(
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


def _quietly(messages: Iterator[Message], observed: ObservedRequest) -> Iterator[bytes]:
    """A stream's messages, serialized; its polling queries make no spans.

    A subscription lasts up to SUBSCRIBE_STREAM_S_MAX and polls every SUBSCRIBE_POLL_S: traced,
    each would hang thousands of SQL spans under one server span. The stream's span keeps its
    authentication and a count of messages sent. Each step is suppressed on its own, so no
    context stays attached while the generator is suspended at a yield.
    """
    sent = 0
    try:
        while True:
            with quiet():
                message = next(messages, None)
            if message is None:
                return
            sent += 1
            yield message.SerializeToString(deterministic=True)
    finally:
        observed.streamed(sent)


def _parse(request_type: type[Message], body: bytes) -> Message:
    try:
        request = request_type.FromString(body)
    except DecodeError:
        raise DomainError(
            ErrorCode.INVALID_ARGUMENT, f"the request is not a valid {request_type.__name__}"
        ) from None
    findings = message_checks.inspect(request)
    if findings.unknown_fields:
        raise AuthenticationFailure("unknown fields in signed message")
    if findings.nul_field is not None:
        raise invalid(findings.nul_field, "must not contain NUL characters")
    return request


@dataclass(frozen=True)
class _Status(grpc.Status):
    code: grpc.StatusCode
    details: str
    trailing_metadata: tuple[tuple[str, str | bytes], ...]


def abort(context: grpc.ServicerContext, error: DomainError, request_id: str) -> NoReturn:
    status = rpc_status.to_status(catalog.rich_status(error))
    record_refusal(status.code, error.code.value)
    trailers = (*status.trailing_metadata, (HEADER_REQUEST_ID, request_id))
    context.abort_with_status(_Status(status.code, status.details, trailers))
    raise AssertionError("abort_with_status raises")
