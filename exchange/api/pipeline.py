"""The request pipeline every coalition.v1 RPC runs through.

grpc's ServerInterceptor sees only parsed messages, but the signature covers the bytes as sent,
so the hub registers its methods with raw-bytes handlers and runs its cross-cutting steps here,
in order: authenticate, replay check, idempotency, parse, call the servicer, store the
idempotent response, sign the answer, and map errors through the catalog. The pipeline knows
no transport: it takes the call's metadata and returns an `Outcome` (response bytes or a
refusal, with signed trailers either way), which the gRPC entrypoint (exchange/api/aio.py)
sends. It also tells telemetry who called and which transfers the call touched.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import AsyncIterator, Callable, Sequence

from google.protobuf.message import DecodeError, Message
from grpc_status import rpc_status

from coalition import wire
from coalition.keys import SigningKey
from exchange.api import catalog, message_checks
from exchange.api.authentication import (
    AuthenticationFailure,
    SignedHeaders,
    check_fresh,
    parse_signed_headers,
    request_nonce,
    verify_request,
)
from exchange.api.calls import (
    HEADER_REQUEST_ID,
    READ_ONLY,
    STATE_CHANGING,
    CallContext,
    IncomingCall,
    MethodPolicy,
    OpenedStream,
    Outcome,
    PipelineSettings,
    RpcMethod,
    StreamContext,
    Trailers,
)
from exchange.api.idempotency import (
    idempotency_in_progress,
    idempotency_key_missing,
    replayed,
    stored_response,
)
from exchange.api.peer_identity import partner_id_from_auth_context
from exchange.api.request_telemetry import ObservedRequest, RequestTelemetry, record_refusal
from exchange.domain.errors import DomainError, ErrorCode, InvalidArgument, invalid
from exchange.domain.ports import (
    Clock,
    StorageUnavailable,
    StoredResponse,
    UnitOfWork,
    UnitOfWorkFactory,
)
from exchange.domain.rate_limits import PartnerRateLimiter

# Re-exported: servicers and batches import these from here.
__all__ = [
    "HEADER_REQUEST_ID",
    "READ_ONLY",
    "STATE_CHANGING",
    "CallContext",
    "IncomingCall",
    "MethodPolicy",
    "OpenedStream",
    "Outcome",
    "PipelineSettings",
    "RequestPipeline",
    "RpcMethod",
    "StoredResponse",
    "StreamContext",
    "idempotency_in_progress",
    "replayed",
    "serialized",
]

log = logging.getLogger(__name__)


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

    def handle(self, method: RpcMethod, body: bytes, incoming: IncomingCall) -> Outcome:
        """Runs one unary call to its end; blocking, on a worker thread."""
        request_id = uuid.uuid4().hex
        headers: SignedHeaders | None = None
        with self.telemetry.request(method.path, request_id) as observed:
            try:
                headers = self._headers(incoming)
                admission = _Admission(self._admit)
                response = self.uow_factory.retrying(
                    lambda: self._execute(method, body, headers, observed, admission)
                )
            except Exception as failure:
                error = self._refusal_for(failure, "request", observed, headers)
                nonce = request_nonce(incoming.metadata)
                return self.refusal(method.path, error, nonce, request_id)
        assert headers is not None
        trailers = self._signed_trailers(method, headers, response, request_id)
        return Outcome(trailers, response=response)

    def open_stream(
        self, method: RpcMethod, body: bytes, incoming: IncomingCall
    ) -> OpenedStream | Outcome:
        """Authenticates a server-streaming call once up front; each message is self-signed."""
        request_id = uuid.uuid4().hex
        headers: SignedHeaders | None = None
        with self.telemetry.request(method.path, request_id) as observed:
            try:
                headers = self._headers(incoming)
                request = self.uow_factory.retrying(
                    lambda: self._authenticate_and_parse(method, body, headers)
                )
                observed.authenticated(headers.partner_id)
            except Exception as failure:
                error = self._refusal_for(failure, "stream", observed, headers)
                nonce = request_nonce(incoming.metadata)
                return self.refusal(method.path, error, nonce, request_id)
        return OpenedStream(request, headers.partner_id, request_id, headers.nonce)

    def stream_refusal(self, method_path: str, opened: OpenedStream, failure: Exception) -> Outcome:
        """A refusal of an open stream (a cap, or a failure while it runs), signed."""
        with self.telemetry.request(method_path, opened.request_id) as observed:
            observed.authenticated(opened.partner_id)
            error = self._refusal_for(failure, "stream", observed, None)
        return self.refusal(method_path, error, opened.nonce, opened.request_id)

    def refusal(self, method_path: str, error: DomainError, nonce: str, request_id: str) -> Outcome:
        """The status for `error`, with the hub's signature over what the caller receives."""
        status = rpc_status.to_status(catalog.rich_status(error))
        record_refusal(status.code, error.code.value)
        details = _status_details(status.trailing_metadata)
        signed = wire.refusal_signing_bytes(
            method=method_path,
            audience=self.settings.audience,
            nonce=nonce,
            status_code=status.code.value[0],
            status_details=details,
        )
        trailers = (
            *status.trailing_metadata,
            (HEADER_REQUEST_ID, request_id),
            (wire.HEADER_KEY_ID, self.hub_key.key_id),
            (wire.HEADER_SIGNATURE, self.hub_key.sign(signed)),
        )
        return Outcome(trailers, status=status.code, details=status.details)

    def _headers(self, incoming: IncomingCall) -> SignedHeaders:
        headers = parse_signed_headers(incoming.metadata)
        self._check_transport_identity(incoming, headers)
        return headers

    def _refusal_for(
        self,
        failure: Exception,
        kind: str,
        observed: ObservedRequest,
        headers: SignedHeaders | None,
    ) -> DomainError:
        """The catalog error a failure is answered with, logged by what it is."""
        if isinstance(failure, AuthenticationFailure):
            error = catalog.unauthenticated()
            log.warning("%s %s refused: %s (%s)", kind, observed, failure.reason, observed.ids)
        elif isinstance(failure, DomainError):
            error = failure
            log.info("%s %s refused: %s (%s)", kind, observed, error.code.value, observed.ids)
            if headers is not None:
                self._remember_nonce(headers)
        elif isinstance(failure, StorageUnavailable):
            error = catalog.database_unavailable()
            log.warning("%s %s: database connection lost (%s)", kind, observed, observed.ids)
        else:
            error = catalog.internal()
            log.exception("%s %s failed (%s)", kind, observed, observed.ids)
        observed.refused(error)
        return error

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
            self.uow_factory.retrying(record)
        except Exception:
            log.exception("could not record the nonce of a refused request")

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

    def _check_transport_identity(self, incoming: IncomingCall, headers: SignedHeaders) -> None:
        if not self.settings.require_client_certificate:
            return
        certified = partner_id_from_auth_context(incoming.auth_context)
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
                stored = stored_response(uow, method, body, headers)
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
        if method.policy.changes_state and not headers.idempotency_key:
            # Told apart from a bad signature: the caller proved who it is, and the rule is
            # public (docs/protocol.md). The nonce is spent; nothing else is written.
            raise idempotency_key_missing()

    def _signed_trailers(
        self, method: RpcMethod, headers: SignedHeaders, response: bytes, request_id: str
    ) -> Trailers:
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


def _status_details(trailers: Sequence[tuple[str, str | bytes]]) -> bytes:
    for key, value in trailers:
        if key == wire.HEADER_STATUS_DETAILS and isinstance(value, bytes):
            return value
    raise AssertionError("a rich status always carries its details")


async def serialized(messages: AsyncIterator[Message]) -> AsyncIterator[bytes]:
    """A stream's messages as the bytes sent (each message carries its own signature)."""
    async for message in messages:
        yield message.SerializeToString(deterministic=True)


def _parse(request_type: type[Message], body: bytes) -> Message:
    try:
        request = request_type.FromString(body)
    except DecodeError:
        field_path = message_checks.invalid_utf8_field(request_type, body)
        if field_path is not None:
            raise invalid(field_path, "must be valid UTF-8") from None
        raise DomainError(
            ErrorCode.INVALID_ARGUMENT, f"the request is not a valid {request_type.__name__}"
        ) from None
    findings = message_checks.inspect(request)
    if findings.unknown_fields:
        raise AuthenticationFailure("unknown fields in signed message")
    # Every limit and request-only rule at once, NUL characters included: a caller learns
    # every bad field in one answer.
    violations = message_checks.field_violations(request)
    if violations:
        raise InvalidArgument(violations)
    return request
