"""Coalition members, their pairwise ids (ppids) and link codes (DESIGN §3.2).

A member (cmid) never leaves the hub. Each partner knows the member only by its own ppid;
a link is two ppids sharing one cmid.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from dataclasses import dataclass

from exchange.domain import limits
from exchange.domain.errors import DomainError, ErrorCode, invalid

PPID_PREFIX = "pp_"
PPID_PATTERN = re.compile(r"pp_[a-z2-7]{26}")
# Crockford's base32 without I, L, O, U: nothing a member can misread or mistype into another.
LINK_CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


@dataclass(frozen=True)
class MemberId:
    """The pairwise id one partner holds, and the member it belongs to."""

    ppid: str
    partner_id: str
    cmid: str


@dataclass(frozen=True)
class LinkCode:
    code_sha256: bytes
    partner_id: str
    ppid: str
    expires_at_us: int
    redeemed_at_us: int | None


def new_cmid() -> str:
    return "cm_" + secrets.token_hex(16)


def new_ppid() -> str:
    return PPID_PREFIX + base64.b32encode(secrets.token_bytes(16)).decode().lower().rstrip("=")


def check_ppid(ppid: str, field: str = "ppid") -> str:
    if not PPID_PATTERN.fullmatch(ppid):
        raise invalid(field, "is not a ppid issued by this hub")
    return ppid


def new_link_code() -> str:
    return "".join(secrets.choice(LINK_CODE_ALPHABET) for _ in range(limits.LINK_CODE_CHARS))


def display_link_code(code: str) -> str:
    half = len(code) // 2
    return f"{code[:half]}-{code[half:]}"


def normalize_link_code(text: str) -> str:
    """Accepts what a member types: any case, with or without the dash or spaces."""
    code = text.replace("-", "").replace(" ", "").upper()
    if len(code) != limits.LINK_CODE_CHARS or any(c not in LINK_CODE_ALPHABET for c in code):
        raise invalid("link_code", f"must be {limits.LINK_CODE_CHARS} letters and digits")
    return code


def link_code_digest(code: str) -> bytes:
    # Only the digest is stored: a database reader cannot redeem live codes.
    return hashlib.sha256(code.encode("ascii")).digest()


def check_redeemable(code: LinkCode | None, now_us: int) -> LinkCode:
    if code is None:
        raise DomainError(ErrorCode.LINK_CODE_NOT_FOUND, "no such link code")
    if code.redeemed_at_us is not None:
        raise DomainError(ErrorCode.LINK_CODE_USED, "link code already used")
    if code.expires_at_us <= now_us:
        raise DomainError(ErrorCode.LINK_CODE_EXPIRED, "link code expired")
    return code


def member_not_found() -> DomainError:
    """Unknown ppids and other partners' ppids get exactly this answer."""
    return DomainError(ErrorCode.MEMBER_NOT_FOUND, "no such member")
