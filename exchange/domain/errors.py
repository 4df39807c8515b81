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
    PARTNER_NOT_FOUND = "PARTNER_NOT_FOUND"
    KEY_NOT_FOUND = "KEY_NOT_FOUND"
    KEY_ALREADY_REGISTERED = "KEY_ALREADY_REGISTERED"
    KEY_ALREADY_REVOKED = "KEY_ALREADY_REVOKED"
    ACTIVE_KEYS_LIMIT_REACHED = "ACTIVE_KEYS_LIMIT_REACHED"
    LAST_ACTIVE_KEY = "LAST_ACTIVE_KEY"
    PARTNER_ALREADY_EXISTS = "PARTNER_ALREADY_EXISTS"
    PROGRAM_ALREADY_EXISTS = "PROGRAM_ALREADY_EXISTS"
    PROOF_OF_POSSESSION_INVALID = "PROOF_OF_POSSESSION_INVALID"
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
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field_violations = field_violations


class InvalidArgument(DomainError):
    """Bad input: one or more fields are wrong; nothing is written."""

    def __init__(self, violations: tuple[FieldViolation, ...]) -> None:
        assert violations, "an invalid argument names at least one field"
        summary = "; ".join(f"{v.field}: {v.description}" for v in violations)
        super().__init__(ErrorCode.INVALID_ARGUMENT, summary, violations)


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
