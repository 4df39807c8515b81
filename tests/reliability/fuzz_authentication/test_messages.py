"""The message parser refuses garbage and invalid UTF-8 as bad input."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exchange.api.authentication import AuthenticationFailure, has_unknown_fields
from exchange.api.pipeline import _parse
from exchange.domain.errors import DomainError, ErrorCode
from tests.reliability.conftest import ReliabilityTally
from tests.reliability.fuzz_authentication.support import PER_TYPE_EXAMPLES, UNIT
from tests.reliability.fuzz_support import (
    EVERY_RPC,
    INVALID_UTF8,
    MALFORMED,
    Rpc,
    embedded,
    string_field_paths,
)


def parse_or_refusal(rpc: Rpc, body: bytes) -> str:
    """What the pipeline's parser makes of a body that passed authentication."""
    try:
        message = _parse(rpc.request_type, body)
    except DomainError as error:
        assert error.code is ErrorCode.INVALID_ARGUMENT
        return "invalid"
    except AuthenticationFailure:
        return "unknown fields"
    assert not has_unknown_fields(message)
    return "parsed"


@pytest.mark.parametrize("rpc", EVERY_RPC, ids=str)
@settings(UNIT, max_examples=PER_TYPE_EXAMPLES)
@given(body=st.one_of(st.binary(max_size=200), st.sampled_from(sorted(MALFORMED.values()))))
def test_the_message_parser_refuses_garbage_as_bad_input(
    rpc: Rpc, body: bytes, reliability_tally: ReliabilityTally
) -> None:
    reliability_tally.add("fuzz cases run", 1)
    parse_or_refusal(rpc, body)


@pytest.mark.parametrize(
    "rpc", [rpc for rpc in EVERY_RPC if string_field_paths(rpc.descriptor)], ids=str
)
def test_invalid_utf8_in_any_string_field_is_bad_input(
    rpc: Rpc, reliability_tally: ReliabilityTally
) -> None:
    """protobuf refuses such a string while parsing; the pipeline must call that bad input."""
    for path in string_field_paths(rpc.descriptor):
        for raw in INVALID_UTF8:
            reliability_tally.add("fuzz cases run", 1)
            assert parse_or_refusal(rpc, embedded(path, raw)) == "invalid", (path, raw)
