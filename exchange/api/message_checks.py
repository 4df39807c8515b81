"""Checks every request passes before any handler sees it, whatever its type: one walk."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from google.protobuf import unknown_fields
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

NUL = "\x00"


@dataclass
class Findings:
    # Fields the schema lacks anywhere in the message: the signer and the hub disagree on
    # what was signed, so the request is refused as unauthenticated.
    unknown_fields: bool = False
    # The path of the first string holding a NUL character. No id, name or reason of the hub
    # contains one, and PostgreSQL text cannot store one: bad input, refused up front.
    nul_field: str | None = None


def inspect(message: Message) -> Findings:
    findings = Findings()
    _walk(message, "", findings)
    return findings


def _walk(message: Message, prefix: str, findings: Findings) -> None:
    if len(unknown_fields.UnknownFieldSet(message)) > 0:
        findings.unknown_fields = True
    for descriptor, value in message.ListFields():
        path = prefix + descriptor.name
        if descriptor.type == FieldDescriptor.TYPE_STRING and findings.nul_field is None:
            findings.nul_field = _nul_in(path, descriptor, value)
        elif descriptor.type == FieldDescriptor.TYPE_MESSAGE:
            for item_path, item in _messages(path, descriptor, value):
                _walk(item, item_path, findings)


def _nul_in(path: str, descriptor: FieldDescriptor, value: Any) -> str | None:
    if not descriptor.is_repeated:
        return path if NUL in value else None
    return next((f"{path}[{i}]" for i, text in enumerate(value) if NUL in text), None)


def _messages(path: str, descriptor: FieldDescriptor, value: Any) -> list[tuple[str, Message]]:
    entry_type = descriptor.message_type
    if entry_type is not None and entry_type.GetOptions().map_entry:
        if entry_type.fields_by_name["value"].type != FieldDescriptor.TYPE_MESSAGE:
            return []
        return [(f"{path}[{key!r}].", item) for key, item in value.items()]
    if descriptor.is_repeated:
        return [(f"{path}[{index}].", item) for index, item in enumerate(value)]
    return [(path + ".", value)]
