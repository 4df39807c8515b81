"""The hub's domain errors: one exception type carrying a catalog code."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class ErrorCode(enum.Enum):
    """Every way a request can be refused. The API layer maps each to a gRPC status."""

    INVALID_ARGUMENT = "INVALID_ARGUMENT"
    UNAUTHENTICATED = "UNAUTHENTICATED"
    NOT_FOUND = "NOT_FOUND"
    ALREADY_EXISTS = "ALREADY_EXISTS"
    METHOD_NOT_DECLARED = "METHOD_NOT_DECLARED"
    IDEMPOTENCY_KEY_REUSED = "IDEMPOTENCY_KEY_REUSED"
    IDEMPOTENCY_IN_PROGRESS = "IDEMPOTENCY_IN_PROGRESS"
    IDEMPOTENCY_KEY_MISSING = "IDEMPOTENCY_KEY_MISSING"
    STREAM_LIMIT_REACHED = "STREAM_LIMIT_REACHED"
    DATABASE_UNAVAILABLE = "DATABASE_UNAVAILABLE"
    PARTNER_NOT_FOUND = "PARTNER_NOT_FOUND"
    KEY_NOT_FOUND = "KEY_NOT_FOUND"
    KEY_ALREADY_REGISTERED = "KEY_ALREADY_REGISTERED"
    KEY_ALREADY_REVOKED = "KEY_ALREADY_REVOKED"
    ACTIVE_KEYS_LIMIT_REACHED = "ACTIVE_KEYS_LIMIT_REACHED"
    LAST_ACTIVE_KEY = "LAST_ACTIVE_KEY"
    PARTNER_ALREADY_EXISTS = "PARTNER_ALREADY_EXISTS"
    PROGRAM_ALREADY_EXISTS = "PROGRAM_ALREADY_EXISTS"
    PROOF_OF_POSSESSION_INVALID = "PROOF_OF_POSSESSION_INVALID"
    MEMBER_NOT_FOUND = "MEMBER_NOT_FOUND"
    LINK_CODE_NOT_FOUND = "LINK_CODE_NOT_FOUND"
    LINK_CODE_EXPIRED = "LINK_CODE_EXPIRED"
    LINK_CODE_USED = "LINK_CODE_USED"
    LINK_CODE_THROTTLED = "LINK_CODE_THROTTLED"
    RATE_LIMITED = "RATE_LIMITED"
    LINK_TO_SAME_PARTNER = "LINK_TO_SAME_PARTNER"
    ALREADY_LINKED = "ALREADY_LINKED"
    PARTNER_ALREADY_LINKED = "PARTNER_ALREADY_LINKED"
    NOT_LINKED = "NOT_LINKED"
    ACK_BEYOND_FEED = "ACK_BEYOND_FEED"
    LADDER_NOT_PUBLISHED = "LADDER_NOT_PUBLISHED"
    NOT_A_PARTY = "NOT_A_PARTY"
    AGREEMENT_NOT_FOUND = "AGREEMENT_NOT_FOUND"
    AGREEMENT_NOT_PROPOSED = "AGREEMENT_NOT_PROPOSED"
    AGREEMENT_VERSION_STALE = "AGREEMENT_VERSION_STALE"
    CANNOT_ACCEPT_OWN_PROPOSAL = "CANNOT_ACCEPT_OWN_PROPOSAL"
    NO_RECOGNITION = "NO_RECOGNITION"
    NO_CURRENT_TIER = "NO_CURRENT_TIER"
    NO_MATCHING_RULE = "NO_MATCHING_RULE"
    MATCH_TOO_FREQUENT = "MATCH_TOO_FREQUENT"
    RATE_AGREEMENT_NOT_FOUND = "RATE_AGREEMENT_NOT_FOUND"
    NO_RATE_AGREEMENT = "NO_RATE_AGREEMENT"
    BELOW_MINIMUM = "BELOW_MINIMUM"
    ABOVE_MAXIMUM = "ABOVE_MAXIMUM"
    NOT_AN_INCREMENT = "NOT_AN_INCREMENT"
    DAILY_CAP_EXCEEDED = "DAILY_CAP_EXCEEDED"
    SAME_PROGRAM = "SAME_PROGRAM"
    QUOTE_NOT_FOUND = "QUOTE_NOT_FOUND"
    QUOTE_EXPIRED = "QUOTE_EXPIRED"
    QUOTE_ALREADY_USED = "QUOTE_ALREADY_USED"
    TRANSFER_NOT_FOUND = "TRANSFER_NOT_FOUND"
    TRANSFER_NOT_PENDING = "TRANSFER_NOT_PENDING"
    TRANSFER_TIMED_OUT = "TRANSFER_TIMED_OUT"
    TRANSFER_NOT_COMPLETED = "TRANSFER_NOT_COMPLETED"
    ALREADY_REVERSED = "ALREADY_REVERSED"
    DAY_NOT_OVER = "DAY_NOT_OVER"
    NOT_SETTLED = "NOT_SETTLED"
    DISPUTE_NOT_FOUND = "DISPUTE_NOT_FOUND"
    DISPUTE_NOT_OPEN = "DISPUTE_NOT_OPEN"
    DISPUTE_ALREADY_OPEN = "DISPUTE_ALREADY_OPEN"
    RECORD_NOT_FOUND = "RECORD_NOT_FOUND"
    INTERNAL = "INTERNAL"


@dataclass(frozen=True)
class FieldViolation:
    field: str
    description: str


class DomainError(Exception):
    """An expected refusal. Messages name fields and rules, never member data or secrets."""

    def __init__(
        self,
        code: ErrorCode,
        message: str,
        field_violations: tuple[FieldViolation, ...] = (),
        *,
        keep_writes: bool = False,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field_violations = field_violations
        # A refusal that must itself be remembered (a throttle counter): its unit of work
        # commits what the handler wrote before the refusal is returned.
        self.keep_writes = keep_writes


FIELD_VIOLATIONS_SHOWN_MAX = 20


class InvalidArgument(DomainError):
    """Bad input: one or more fields are wrong; nothing is written."""

    def __init__(self, violations: tuple[FieldViolation, ...]) -> None:
        assert violations, "an invalid argument names at least one field"
        # A request can be wrong in thousands of places; the answer names the first few, so
        # it always fits in a status the caller's gRPC accepts (trailers are capped at 16 KiB).
        shown = violations[:FIELD_VIOLATIONS_SHOWN_MAX]
        summary = "; ".join(f"{v.field}: {v.description}" for v in shown)
        if len(violations) > len(shown):
            summary += f"; and {len(violations) - len(shown)} more"
        super().__init__(ErrorCode.INVALID_ARGUMENT, summary, shown)


def invalid(field: str, description: str) -> InvalidArgument:
    return InvalidArgument((FieldViolation(field, description),))


class FieldChecks:
    """Collects every bad field of one request so the caller learns them all at once."""

    def __init__(self) -> None:
        self.violations: list[FieldViolation] = []

    def require(self, ok: bool, field: str, description: str) -> None:
        if not ok:
            self.violations.append(FieldViolation(field, description))

    def raise_if_any(self) -> None:
        if self.violations:
            raise InvalidArgument(tuple(self.violations))
