"""Hand-built protobuf wire bytes: varints, tags, field paths into a message, malformed bodies."""

from __future__ import annotations

from collections.abc import Callable

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

# --- wire bytes by hand --------------------------------------------------------------------------

WIRE_VARINT, WIRE_FIXED64, WIRE_LENGTH, WIRE_START_GROUP, WIRE_END_GROUP, WIRE_FIXED32 = range(6)


def varint(value: int) -> bytes:
    value &= (1 << 64) - 1  # negative numbers are sent as their 64-bit two's complement
    out = bytearray()
    while True:
        low, value = value & 0x7F, value >> 7
        out.append(low | (0x80 if value else 0))
        if not value:
            return bytes(out)


def tag(number: int, wire_type: int) -> bytes:
    return varint(number << 3 | wire_type)


def length_delimited(number: int, payload: bytes) -> bytes:
    return tag(number, WIRE_LENGTH) + varint(len(payload)) + payload


# Field 2047 varint 1: no coalition.v1 request has a field 2047.
UNKNOWN_FIELD = tag(2047, WIRE_VARINT) + varint(1)
UNUSED_FIELD_NUMBER = 2047

FieldPath = tuple[FieldDescriptor, ...]


def field_paths(
    descriptor: Descriptor, wanted: Callable[[FieldDescriptor], bool], depth_max: int = 4
) -> list[FieldPath]:
    """Every wanted field reachable from a message through its message fields."""
    paths: list[FieldPath] = []
    for item in descriptor.fields:
        if wanted(item):
            paths.append((item,))
        elif item.type == FieldDescriptor.TYPE_MESSAGE and depth_max > 1:
            assert item.message_type is not None
            inner = field_paths(item.message_type, wanted, depth_max - 1)
            paths.extend((item, *rest) for rest in inner)
    return paths


def string_field_paths(descriptor: Descriptor) -> list[FieldPath]:
    return field_paths(descriptor, lambda item: item.type == FieldDescriptor.TYPE_STRING)


def set_field(message: Message, path: str, value: object) -> None:
    """Sets the field at a dotted path; a repeated message on the way means its first element
    (added if there is none), a repeated field at the end gets the value appended."""
    *parents, leaf = path.split(".")
    target = message
    for name in parents:
        child = getattr(target, name)
        if target.DESCRIPTOR.fields_by_name[name].is_repeated:
            child = child[0] if len(child) else child.add()
        target = child
    if target.DESCRIPTOR.fields_by_name[leaf].is_repeated:
        getattr(target, leaf).append(value)
    else:
        setattr(target, leaf, value)


def path_name(path: FieldPath) -> str:
    return ".".join(item.name for item in path)


def embedded(path: FieldPath, payload: bytes) -> bytes:
    """`payload` as the raw bytes of the string at `path`, wrapped in its parent messages."""
    data = length_delimited(path[-1].number, payload)
    for parent in reversed(path[:-1]):
        data = length_delimited(parent.number, data)
    return data


# Bytes no UTF-8 decoder may accept: protobuf refuses them in a proto3 string field.
INVALID_UTF8 = (
    b"\xff\xfe",
    b"\x80",
    b"\xc0\x80",  # an over-long NUL
    b"\xed\xa0\x80",  # a UTF-16 surrogate
    b"\xe2\x82",  # a truncated sequence
    b"\xf4\x90\x80\x80",  # beyond U+10FFFF
    b"skyway\xff",
)

# Bytes that are not a protobuf message at all.
MALFORMED = {
    "truncated varint": tag(1, WIRE_VARINT) + b"\xff",
    "eleven-byte varint": tag(1, WIRE_VARINT) + b"\xff" * 10 + b"\x01",
    "length past the end": tag(1, WIRE_LENGTH) + b"\x05ab",
    "huge length": tag(1, WIRE_LENGTH) + varint(2**62) + b"ab",
    "field number 0": tag(0, WIRE_LENGTH) + b"\x00",
    "wire type 6": tag(1, 6),
    "wire type 7": tag(1, 7),
    "end group with no start": tag(1, WIRE_END_GROUP),
    "unterminated group": tag(UNUSED_FIELD_NUMBER, WIRE_START_GROUP),
    "groups nested 200 deep": tag(UNUSED_FIELD_NUMBER, WIRE_START_GROUP) * 200
    + tag(UNUSED_FIELD_NUMBER, WIRE_END_GROUP) * 200,
    "truncated fixed64": tag(1, WIRE_FIXED64) + b"\x00\x01",
}
