"""Opaque page tokens and page sizes, the same for every list RPC."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable

from exchange.domain import limits
from exchange.domain.errors import invalid

PAGE_TOKEN_CHARS_MAX = 512
TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]+={0,2}")


def page_size(requested: int) -> int:
    if requested < 0 or requested > limits.PAGE_SIZE_MAX:
        raise invalid("page_size", f"must be 0-{limits.PAGE_SIZE_MAX} (0 means the default)")
    return requested or limits.PAGE_SIZE_DEFAULT


def encode_token(position: str) -> str:
    return base64.urlsafe_b64encode(position.encode()).decode()


def decode_token(token: str, is_position: Callable[[str], bool]) -> str:
    """The position a token stands for; an empty token is the first page.

    Only what `encode_token` produced for a valid position is accepted: base64 that drops
    stray characters, or a position holding bytes the database refuses, is bad input.
    """
    if not token:
        return ""
    try:
        if len(token) > PAGE_TOKEN_CHARS_MAX or not TOKEN_PATTERN.fullmatch(token):
            raise ValueError("not a token")
        position = base64.urlsafe_b64decode(token.encode("ascii")).decode()
        if encode_token(position) != token or not is_position(position):
            raise ValueError("not a position")
    except (ValueError, binascii.Error, UnicodeError):
        raise invalid("page_token", "is not a token from a previous response") from None
    return position
