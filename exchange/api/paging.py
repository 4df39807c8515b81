"""Opaque page tokens and page sizes, the same for every list RPC."""

from __future__ import annotations

import base64
import binascii

from exchange.domain import limits
from exchange.domain.errors import invalid

PAGE_TOKEN_CHARS_MAX = 512


def page_size(requested: int) -> int:
    if requested < 0 or requested > limits.PAGE_SIZE_MAX:
        raise invalid("page_size", f"must be 0-{limits.PAGE_SIZE_MAX} (0 means the default)")
    return requested or limits.PAGE_SIZE_DEFAULT


def encode_token(position: str) -> str:
    return base64.urlsafe_b64encode(position.encode()).decode()


def decode_token(token: str) -> str:
    """The position a token stands for; an empty token is the first page."""
    if not token:
        return ""
    try:
        if len(token) > PAGE_TOKEN_CHARS_MAX:
            raise ValueError("too long")
        return base64.urlsafe_b64decode(token.encode("ascii")).decode()
    except (ValueError, binascii.Error, UnicodeError):
        raise invalid("page_token", "is not a token from a previous response") from None
