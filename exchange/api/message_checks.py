"""Checks every request passes before any handler sees it, whatever its type."""

from __future__ import annotations

from collections.abc import Iterator

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

NUL = "\x00"


def nul_character_field(message: Message) -> str | None:
    """The path of the first string field holding a NUL character, or None.

    No id, name or reason of the hub ever contains one, and PostgreSQL text cannot store
    one: refused up front as bad input, rather than failing deep inside a query.
    """
    return next(_nul_paths(message, ""), None)


def _nul_paths(message: Message, prefix: str) -> Iterator[str]:
    for descriptor, value in message.ListFields():
        path = prefix + descriptor.name
        if descriptor.type == FieldDescriptor.TYPE_STRING:
            if descriptor.is_repeated:
                yield from (f"{path}[{i}]" for i, item in enumerate(value) if NUL in item)
            elif NUL in value:
                yield path
        elif descriptor.type == FieldDescriptor.TYPE_MESSAGE:
            if (
                descriptor.message_type is not None
                and descriptor.message_type.GetOptions().map_entry
            ):
                continue  # no request of the hub carries a map
            if descriptor.is_repeated:
                for index, item in enumerate(value):
                    yield from _nul_paths(item, f"{path}[{index}].")
            else:
                yield from _nul_paths(value, path + ".")
