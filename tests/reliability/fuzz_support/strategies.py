"""Hypothesis strategies for requests drawn from the descriptors: edge integers and times, odd
text, hostile bodies and bodies at and over the size limit."""

from __future__ import annotations

import time

import grpc
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass
from hypothesis import strategies as st

from exchange.domain import limits
from tests.reliability.fuzz_support.rpcs import ANY_OUTCOME, Code, Rpc
from tests.reliability.fuzz_support.wire import (
    INVALID_UTF8,
    MALFORMED,
    UNKNOWN_FIELD,
    UNUSED_FIELD_NUMBER,
    WIRE_LENGTH,
    embedded,
    length_delimited,
    path_name,
    string_field_paths,
    tag,
    varint,
)
from tests.reliability.fuzz_support.world import World

# --- request strategies from the descriptors -----------------------------------------------------

INT_RANGES = {
    FieldDescriptor.TYPE_INT64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_SINT64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_SFIXED64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_INT32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_SINT32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_SFIXED32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_UINT32: (0, 2**32 - 1),
    FieldDescriptor.TYPE_FIXED32: (0, 2**32 - 1),
    FieldDescriptor.TYPE_UINT64: (0, 2**64 - 1),
    FieldDescriptor.TYPE_FIXED64: (0, 2**64 - 1),
}
SMALL_INTS = (0, 1, -1, 2, 30, 99, 100, 101, 500, 501, 999, 1000, 1001, 2000, 100_000)
LIMIT_INTS = (1_000_000_000, 1_000_000_001, 10**12, 10**12 + 1, 2**31 - 1, -(2**31), 2**32)
EXTREME_INTS = (2**53 + 1, 2**63 - 1, -(2**63))
EDGE_INTS = (*SMALL_INTS, *LIMIT_INTS, *EXTREME_INTS)
NOW_S = int(time.time())
EDGE_SECONDS = (
    NOW_S,
    NOW_S + 86_400,
    NOW_S + 10 * 365 * 86_400,
    NOW_S + 11 * 365 * 86_400,
    1_577_836_800,  # 2020-01-01
    253_402_300_799,  # 9999-12-31T23:59:59, Timestamp's documented maximum
    253_402_300_800,
    -62_135_596_800,  # 0001-01-01, Timestamp's documented minimum
    2**62,
)
ODD_TEXT = (
    "",
    " ",
    "\x00",
    "skyway\x00",
    "\u202eyawyks",  # right-to-left override
    "sky\u200bway",  # zero-width space
    "\uff33\uff4b\uff59\uff57\uff41\uff59",  # full-width letters
    "SKYWAY",
    "e\u0301",
    "\U0001f600",
    "\U0010ffff",
    "\ufeff",
    "' OR '1'='1",
    "%s%n{0}",
    "\r\n",
    "a" * 33,
    "a" * 201,
    "a" * 10_000,
)
# Repeated fields also come as one element many times: past every "up to 1,000" limit.
MANY_ELEMENTS = (1001, 2500)
MESSAGE_DEPTH_MAX = 5


class RequestStrategies:
    """Hypothesis strategies for any request message, biased towards the world's live ids."""

    def __init__(self, world: World) -> None:
        self.values = world.values_by_field()
        self._messages: dict[str, st.SearchStrategy[Message]] = {}

    def __repr__(self) -> str:
        return "RequestStrategies(world)"

    def message(self, descriptor: Descriptor, depth: int = 0) -> st.SearchStrategy[Message]:
        if descriptor.full_name not in self._messages:
            self._messages[descriptor.full_name] = self._build_message(descriptor, depth)
        return self._messages[descriptor.full_name]

    def _build_message(self, descriptor: Descriptor, depth: int) -> st.SearchStrategy[Message]:
        message_class = GetMessageClass(descriptor)
        if depth >= MESSAGE_DEPTH_MAX:
            return st.builds(message_class)
        optional = {item.name: self._field(item, depth) for item in descriptor.fields}
        return st.fixed_dictionaries({}, optional=optional).map(
            lambda values: _message_of(message_class, values)
        )

    def _field(self, item: FieldDescriptor, depth: int) -> st.SearchStrategy[object]:
        single = self._single(item, depth)
        if not item.is_repeated:
            return single
        assert item.message_type is None or not item.message_type.GetOptions().map_entry, (
            f"{item.full_name}: map fields need their own strategy"
        )
        many = st.tuples(single, st.sampled_from(MANY_ELEMENTS)).map(
            lambda pair: [pair[0]] * pair[1]
        )
        return st.one_of(st.lists(single, max_size=4), many)

    def _single(self, item: FieldDescriptor, depth: int) -> st.SearchStrategy[object]:
        kind = item.type
        if kind in INT_RANGES:
            return _integers(*INT_RANGES[kind], item.name)
        if kind == FieldDescriptor.TYPE_STRING:
            known = self.values.get(item.name, ())
            return st.one_of(
                st.sampled_from((*known, *ODD_TEXT)),
                st.text(max_size=40),
                st.from_regex(r"[a-z]{2,3}_[a-z0-9]{1,30}", fullmatch=True),
            )
        if kind == FieldDescriptor.TYPE_BYTES:
            return st.one_of(st.binary(max_size=80), st.sampled_from((b"\x00" * 32, b"\xff" * 64)))
        if kind == FieldDescriptor.TYPE_ENUM:
            assert item.enum_type is not None
            defined = tuple(value.number for value in item.enum_type.values)
            undefined = (99, -1, 2**31 - 1, -(2**31))
            return st.one_of(
                st.sampled_from(defined + undefined), _integers(-(2**31), 2**31 - 1, "")
            )
        if kind == FieldDescriptor.TYPE_BOOL:
            return st.booleans()
        if kind in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
            return st.floats(allow_nan=True, allow_infinity=True, width=32)
        assert kind == FieldDescriptor.TYPE_MESSAGE and item.message_type is not None, (
            item.full_name
        )
        return self.message(item.message_type, depth + 1)


def _integers(low: int, high: int, name: str) -> st.SearchStrategy[int]:
    edges = EDGE_SECONDS if name == "seconds" else EDGE_INTS
    inside = tuple(value for value in (*edges, low, high) if low <= value <= high)
    return st.one_of(st.sampled_from(inside), st.integers(low, high))


def _message_of(message_class: type[Message], values: dict[str, object]) -> Message:
    message = message_class()
    for name, value in values.items():
        item = message_class.DESCRIPTOR.fields_by_name[name]
        if item.is_repeated:
            getattr(message, name).extend(value)
        elif item.type == FieldDescriptor.TYPE_MESSAGE:
            getattr(message, name).CopyFrom(value)
        else:
            setattr(message, name, value)
    return message


# Bytes that are no valid message: unparseable, or parsed with fields the schema lacks.
NOT_A_MESSAGE = frozenset({Code.INVALID_ARGUMENT, Code.UNAUTHENTICATED})


def hostile_bodies(
    rpc: Rpc, strategies: RequestStrategies
) -> st.SearchStrategy[tuple[str, bytes, frozenset[grpc.StatusCode]]]:
    """(what it is, the bytes, the statuses a signed call with them may get)."""
    valid = strategies.message(rpc.descriptor).map(lambda m: m.SerializeToString())
    options = [
        st.binary(max_size=300).map(lambda b: ("random bytes", b, ANY_OUTCOME)),
        st.tuples(valid, st.integers(0, 2**16)).map(
            lambda pair: ("truncated", pair[0][: pair[1] % (len(pair[0]) + 1)], ANY_OUTCOME)
        ),
        st.sampled_from(sorted(MALFORMED.items())).map(
            lambda item: (f"malformed: {item[0]}", item[1], NOT_A_MESSAGE)
        ),
        valid.map(
            lambda b: ("unknown field", b + UNKNOWN_FIELD, frozenset({Code.UNAUTHENTICATED}))
        ),
    ]
    paths = string_field_paths(rpc.descriptor)
    if paths:
        options.append(
            st.tuples(valid, st.sampled_from(paths), st.sampled_from(INVALID_UTF8)).map(
                lambda t: (
                    f"invalid UTF-8 {t[2]!r} in {path_name(t[1])}",
                    t[0] + embedded(t[1], t[2]),
                    frozenset({Code.INVALID_ARGUMENT}),
                )
            )
        )
    return st.one_of(options).map(_size_checked)


def _size_checked(
    case: tuple[str, bytes, frozenset[grpc.StatusCode]],
) -> tuple[str, bytes, frozenset[grpc.StatusCode]]:
    """Past MESSAGE_BYTES_MAX, gRPC refuses whatever the bytes are."""
    kind, body, _ = case
    if len(body) > limits.MESSAGE_BYTES_MAX:
        return f"{kind}, over the size limit", body, frozenset({Code.RESOURCE_EXHAUSTED})
    return case


def body_at_size(rpc: Rpc, size: int) -> bytes | None:
    """A request of exactly `size` bytes, its first top-level string or bytes field filled."""
    for item in rpc.descriptor.fields:
        if item.type not in (FieldDescriptor.TYPE_STRING, FieldDescriptor.TYPE_BYTES):
            continue
        return _field_of_size(item.number, size)
    return None


def _field_of_size(number: int, size: int) -> bytes:
    head = len(tag(number, WIRE_LENGTH))
    payload_size = size - head - len(varint(size))
    while head + len(varint(payload_size)) + payload_size < size:
        payload_size += 1
    body = length_delimited(number, b"a" * payload_size)
    assert len(body) == size, "no field encodes to exactly this size"
    return body


def over_size_body() -> bytes:
    """One byte past MESSAGE_BYTES_MAX, in a field no request has: gRPC refuses it unread."""
    return _field_of_size(UNUSED_FIELD_NUMBER, limits.MESSAGE_BYTES_MAX + 1)
