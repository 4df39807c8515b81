"""Partners and their signing keys, with the rules of key rotation (DESIGN §3.1)."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, replace

from exchange.domain import limits
from exchange.domain.errors import DomainError, ErrorCode, FieldChecks

PUBLIC_KEY_BYTES = 32
PARTNER_ID_PATTERN = re.compile(r"[a-z][a-z0-9_-]{1,31}")
PROGRAM_CODE_PATTERN = re.compile(r"[A-Z][A-Z0-9_]{1,31}")


class PartnerKind(enum.Enum):
    AIRLINE = "airline"
    HOTEL = "hotel"
    CARD_ISSUER = "card_issuer"
    RETAILER = "retailer"
    OTHER = "other"


class KeyState(enum.Enum):
    ACTIVE = "active"
    REVOKED = "revoked"


@dataclass(frozen=True)
class Partner:
    partner_id: str
    display_name: str
    kind: PartnerKind
    program_code: str
    created_at_us: int


@dataclass(frozen=True)
class PartnerKey:
    key_id: str
    partner_id: str
    public_key: bytes
    state: KeyState
    created_at_us: int
    revoked_at_us: int | None = None

    def revoked(self, at_us: int) -> PartnerKey:
        return replace(self, state=KeyState.REVOKED, revoked_at_us=at_us)


def check_new_partner(
    partner_id: str, display_name: str, program_code: str, public_key: bytes | None = None
) -> None:
    """Every bad field at once; `public_key` is checked when given (32 raw Ed25519 bytes)."""
    checks = FieldChecks()
    checks.require(
        bool(PARTNER_ID_PATTERN.fullmatch(partner_id)),
        "partner_id",
        "must be 2-32 characters: a lower-case letter, then lower-case letters, digits, _ or -",
    )
    checks.require(
        len(display_name) <= limits.DISPLAY_NAME_CHARS_MAX
        and bool(display_name.strip())
        and display_name.isprintable(),
        "display_name",
        f"must be 1-{limits.DISPLAY_NAME_CHARS_MAX} printable characters",
    )
    checks.require(
        bool(PROGRAM_CODE_PATTERN.fullmatch(program_code)),
        "program_code",
        "must be 2-32 characters: an upper-case letter, then upper-case letters, digits or _",
    )
    if public_key is not None:
        checks.require(
            len(public_key) == PUBLIC_KEY_BYTES,
            "public_key",
            f"must be the {PUBLIC_KEY_BYTES} raw bytes of an Ed25519 key",
        )
    checks.raise_if_any()


def ensure_key_can_be_added(existing: list[PartnerKey], key_id: str) -> None:
    """A key id is never reused, and at most two keys are active during a rotation."""
    if any(key.key_id == key_id for key in existing):
        raise DomainError(ErrorCode.KEY_ALREADY_REGISTERED, "this key has already been registered")
    active = [key for key in existing if key.state is KeyState.ACTIVE]
    if len(active) >= limits.ACTIVE_KEYS_MAX:
        raise DomainError(
            ErrorCode.ACTIVE_KEYS_LIMIT_REACHED,
            f"a partner has at most {limits.ACTIVE_KEYS_MAX} active keys; revoke one first",
        )


def ensure_key_can_be_revoked(existing: list[PartnerKey], key_id: str) -> PartnerKey:
    """Returns the key to revoke; the last active key cannot go, or the partner is locked out."""
    target = next((key for key in existing if key.key_id == key_id), None)
    if target is None:
        raise DomainError(ErrorCode.KEY_NOT_FOUND, "no such key for this partner")
    if target.state is KeyState.REVOKED:
        raise DomainError(ErrorCode.KEY_ALREADY_REVOKED, "this key is already revoked")
    active = [key for key in existing if key.state is KeyState.ACTIVE]
    if len(active) <= 1:
        raise DomainError(
            ErrorCode.LAST_ACTIVE_KEY, "the last active key cannot be revoked; register another"
        )
    return target
