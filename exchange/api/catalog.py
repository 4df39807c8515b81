"""The one error catalog: each domain error code maps to a gRPC status and rich details."""

from __future__ import annotations

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2

from coalition.v1 import common_pb2
from exchange.domain.errors import DomainError, ErrorCode

ERROR_DOMAIN = "coalition.exchange"
UNAUTHENTICATED_MESSAGE = "request authentication failed"
INTERNAL_MESSAGE = "internal error; the hub operator has been notified"

STATUS_BY_CODE: dict[ErrorCode, grpc.StatusCode] = {
    ErrorCode.INVALID_ARGUMENT: grpc.StatusCode.INVALID_ARGUMENT,
    ErrorCode.UNAUTHENTICATED: grpc.StatusCode.UNAUTHENTICATED,
    ErrorCode.NOT_FOUND: grpc.StatusCode.NOT_FOUND,
    ErrorCode.ALREADY_EXISTS: grpc.StatusCode.ALREADY_EXISTS,
    ErrorCode.METHOD_NOT_DECLARED: grpc.StatusCode.UNIMPLEMENTED,
    ErrorCode.IDEMPOTENCY_KEY_REUSED: grpc.StatusCode.FAILED_PRECONDITION,
    ErrorCode.IDEMPOTENCY_IN_PROGRESS: grpc.StatusCode.ABORTED,
    ErrorCode.IDEMPOTENCY_KEY_MISSING: grpc.StatusCode.INVALID_ARGUMENT,
    ErrorCode.STREAM_LIMIT_REACHED: grpc.StatusCode.RESOURCE_EXHAUSTED,
    ErrorCode.DATABASE_UNAVAILABLE: grpc.StatusCode.UNAVAILABLE,
    ErrorCode.PARTNER_NOT_FOUND: grpc.StatusCode.NOT_FOUND,
    ErrorCode.KEY_NOT_FOUND: grpc.StatusCode.NOT_FOUND,
    ErrorCode.KEY_ALREADY_REGISTERED: grpc.StatusCode.ALREADY_EXISTS,
    ErrorCode.KEY_ALREADY_REVOKED: grpc.StatusCode.FAILED_PRECONDITION,
    ErrorCode.ACTIVE_KEYS_LIMIT_REACHED: grpc.StatusCode.FAILED_PRECONDITION,
    ErrorCode.LAST_ACTIVE_KEY: grpc.StatusCode.FAILED_PRECONDITION,
    ErrorCode.PARTNER_ALREADY_EXISTS: grpc.StatusCode.ALREADY_EXISTS,
    ErrorCode.PROGRAM_ALREADY_EXISTS: grpc.StatusCode.ALREADY_EXISTS,
    ErrorCode.PROOF_OF_POSSESSION_INVALID: grpc.StatusCode.INVALID_ARGUMENT,
    ErrorCode.MEMBER_NOT_FOUND: grpc.StatusCode.NOT_FOUND,
    ErrorCode.LINK_CODE_NOT_FOUND: grpc.StatusCode.NOT_FOUND,
    ErrorCode.LINK_CODE_EXPIRED: grpc.StatusCode.FAILED_PRECONDITION,
    ErrorCode.LINK_CODE_USED: grpc.StatusCode.FAILED_PRECONDITION,
    ErrorCode.LINK_CODE_THROTTLED: grpc.StatusCode.RESOURCE_EXHAUSTED,
    ErrorCode.RATE_LIMITED: grpc.StatusCode.RESOURCE_EXHAUSTED,
    ErrorCode.LINK_TO_SAME_PARTNER: grpc.StatusCode.FAILED_PRECONDITION,
    ErrorCode.ALREADY_LINKED: grpc.StatusCode.FAILED_PRECONDITION,
    ErrorCode.PARTNER_ALREADY_LINKED: grpc.StatusCode.FAILED_PRECONDITION,
    ErrorCode.NOT_LINKED: grpc.StatusCode.FAILED_PRECONDITION,
    ErrorCode.ACK_BEYOND_FEED: grpc.StatusCode.FAILED_PRECONDITION,
    ErrorCode.LADDER_NOT_PUBLISHED: grpc.StatusCode.FAILED_PRECONDITION,
    ErrorCode.NOT_A_PARTY: grpc.StatusCode.PERMISSION_DENIED,
    ErrorCode.AGREEMENT_NOT_FOUND: grpc.StatusCode.NOT_FOUND,
    ErrorCode.AGREEMENT_NOT_PROPOSED: grpc.StatusCode.FAILED_PRECONDITION,
    ErrorCode.AGREEMENT_VERSION_STALE: grpc.StatusCode.FAILED_PRECONDITION,
    ErrorCode.CANNOT_ACCEPT_OWN_PROPOSAL: grpc.StatusCode.FAILED_PRECONDITION,
    ErrorCode.NO_RECOGNITION: grpc.StatusCode.FAILED_PRECONDITION,
    ErrorCode.NO_CURRENT_TIER: grpc.StatusCode.FAILED_PRECONDITION,
    ErrorCode.NO_MATCHING_RULE: grpc.StatusCode.FAILED_PRECONDITION,
    ErrorCode.MATCH_TOO_FREQUENT: grpc.StatusCode.FAILED_PRECONDITION,
    ErrorCode.RATE_AGREEMENT_NOT_FOUND: grpc.StatusCode.NOT_FOUND,
    ErrorCode.NO_RATE_AGREEMENT: grpc.StatusCode.FAILED_PRECONDITION,
    ErrorCode.BELOW_MINIMUM: grpc.StatusCode.FAILED_PRECONDITION,
    ErrorCode.ABOVE_MAXIMUM: grpc.StatusCode.FAILED_PRECONDITION,
    ErrorCode.NOT_AN_INCREMENT: grpc.StatusCode.FAILED_PRECONDITION,
    ErrorCode.DAILY_CAP_EXCEEDED: grpc.StatusCode.FAILED_PRECONDITION,
    ErrorCode.SAME_PROGRAM: grpc.StatusCode.FAILED_PRECONDITION,
    ErrorCode.QUOTE_NOT_FOUND: grpc.StatusCode.NOT_FOUND,
    ErrorCode.QUOTE_EXPIRED: grpc.StatusCode.FAILED_PRECONDITION,
    ErrorCode.QUOTE_ALREADY_USED: grpc.StatusCode.FAILED_PRECONDITION,
    ErrorCode.TRANSFER_NOT_FOUND: grpc.StatusCode.NOT_FOUND,
    ErrorCode.TRANSFER_NOT_PENDING: grpc.StatusCode.FAILED_PRECONDITION,
    ErrorCode.TRANSFER_TIMED_OUT: grpc.StatusCode.FAILED_PRECONDITION,
    ErrorCode.TRANSFER_NOT_COMPLETED: grpc.StatusCode.FAILED_PRECONDITION,
    ErrorCode.ALREADY_REVERSED: grpc.StatusCode.FAILED_PRECONDITION,
    ErrorCode.DAY_NOT_OVER: grpc.StatusCode.FAILED_PRECONDITION,
    ErrorCode.NOT_SETTLED: grpc.StatusCode.FAILED_PRECONDITION,
    ErrorCode.DISPUTE_NOT_FOUND: grpc.StatusCode.NOT_FOUND,
    ErrorCode.DISPUTE_NOT_OPEN: grpc.StatusCode.FAILED_PRECONDITION,
    ErrorCode.DISPUTE_ALREADY_OPEN: grpc.StatusCode.FAILED_PRECONDITION,
    ErrorCode.RECORD_NOT_FOUND: grpc.StatusCode.NOT_FOUND,
    ErrorCode.INTERNAL: grpc.StatusCode.INTERNAL,
}


# How long a caller should wait before retrying an UNAVAILABLE answer.
RETRY_DELAY_MS = 500


def _pack(
    message: error_details_pb2.ErrorInfo
    | error_details_pb2.BadRequest
    | error_details_pb2.RetryInfo,
) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)
    return packed


def rich_status(error: DomainError) -> status_pb2.Status:
    """The google.rpc.Status for a domain error: code, message, ErrorInfo, BadRequest."""
    status_code = STATUS_BY_CODE[error.code]
    status = status_pb2.Status(
        code=getattr(code_pb2, status_code.name),
        message=error.message,
    )
    status.details.append(
        _pack(error_details_pb2.ErrorInfo(reason=error.code.value, domain=ERROR_DOMAIN))
    )
    if error.field_violations:
        bad_request = error_details_pb2.BadRequest(
            field_violations=[
                error_details_pb2.BadRequest.FieldViolation(
                    field=v.field, description=v.description
                )
                for v in error.field_violations
            ]
        )
        status.details.append(_pack(bad_request))
    if status_code is grpc.StatusCode.UNAVAILABLE:
        retry = error_details_pb2.RetryInfo()
        retry.retry_delay.FromMilliseconds(RETRY_DELAY_MS)
        status.details.append(_pack(retry))
    return status


def item_error(error: DomainError) -> common_pb2.ItemError:
    """One batch item's refusal: what the same request alone would have got."""
    field = error.field_violations[0].field if error.field_violations else ""
    return common_pb2.ItemError(
        code=getattr(code_pb2, STATUS_BY_CODE[error.code].name),
        reason=error.code.value,
        message=error.message,
        field=field,
    )


def unauthenticated() -> DomainError:
    """Every authentication failure looks exactly like this to the caller."""
    return DomainError(ErrorCode.UNAUTHENTICATED, UNAUTHENTICATED_MESSAGE)


def database_unavailable() -> DomainError:
    """The database connection was lost and the call could not be finished: retry it."""
    return DomainError(
        ErrorCode.DATABASE_UNAVAILABLE,
        "the hub lost its database connection; retry with the same idempotency key",
    )


def internal() -> DomainError:
    return DomainError(ErrorCode.INTERNAL, INTERNAL_MESSAGE)


def assert_catalog_complete() -> None:
    missing = [code for code in ErrorCode if code not in STATUS_BY_CODE]
    assert not missing, f"error codes without a gRPC status: {missing}"
