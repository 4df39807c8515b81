"""Cheap hostile calls for the hub's request pipeline, in process, by the ten thousand.

A case is an RPC, a body and a set of headers: the body drawn from the request's schema
(live ids of the prepared world, edge numbers, odd text) and then, half the time, mangled as
bytes (bits flipped, bytes cut, inserted or spliced, unknown fields, invalid UTF-8, malformed
wire format); the headers signed correctly over that body, or signed and then tampered with.
Plain `random`, seeded, instead of Hypothesis: a case must cost well under a millisecond to
make, and the seed replays the whole sequence.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass

from coalition import wire
from coalition.keys import SigningKey
from tests.reliability.fuzz_support import (
    EDGE_INTS,
    EDGE_SECONDS,
    INT_RANGES,
    INVALID_UTF8,
    MALFORMED,
    ODD_TEXT,
    PARTNER_IDS,
    UNKNOWN_FIELD,
    Rpc,
    World,
    embedded,
    string_field_paths,
)
from tests.support.raw_calls import SignedRequest

Metadata = list[tuple[str, str | bytes]]
DEPTH_MAX = 3
REPEATED_MAX = 3
# Values of these fields could lock the fuzzer out of its own world (a revoked key, an erased
# or unlinked member): those RPCs get random values instead.
WORLD_BREAKING = {"RevokeKey": "key_id", "EraseMember": "ppid", "Unlink": "ppid"}


@dataclass(frozen=True)
class Case:
    rpc: Rpc
    body: bytes
    metadata: Metadata
    partner_id: str
    body_note: str
    # True when the headers are exactly what the partner signed: the call may succeed.
    headers_intact: bool

    def describe(self) -> str:
        headers = [(k, v if isinstance(v, str) else v.hex()[:40]) for k, v in self.metadata]
        return (
            f"{self.rpc.path} as {self.partner_id} ({self.body_note}); "
            f"body {len(self.body)} bytes {self.body[:120].hex()}; headers {headers}"
        )


class CaseMaker:
    def __init__(
        self, rng: random.Random, world: World, keys: dict[str, SigningKey], audience: str
    ) -> None:
        self.rng = rng
        self.values = world.values_by_field()
        self.keys = keys
        self.audience = audience

    def case(self, rpc: Rpc) -> Case:
        """A signed call that reaches validation (or tampered headers, 4 in 10)."""
        partner_id = self.rng.choice(PARTNER_IDS)
        message = self.message(rpc.descriptor, rpc.name, 0)
        body, note = self.mangled(rpc, message.SerializeToString())
        metadata = self.signed(rpc, body, partner_id)
        tampered = self.tampered(metadata) if self.rng.random() < 0.4 else metadata
        return Case(rpc, body, tampered, partner_id, note, tampered == metadata)

    def header_case(self, rpc: Rpc) -> Case:
        """Headers mangled one to four times over, on any body: refused at the door."""
        partner_id = self.rng.choice(PARTNER_IDS)
        body = self.rng.randbytes(self.rng.randrange(64))
        metadata = self.signed(rpc, body, partner_id)
        tampered = metadata
        while tampered == metadata:
            for _ in range(self.rng.randrange(1, 5)):
                tampered = self.tampered(tampered) if tampered else tampered
        return Case(rpc, body, tampered, partner_id, "headers mangled", False)

    def signed(self, rpc: Rpc, body: bytes, partner_id: str) -> Metadata:
        signed = SignedRequest(
            rpc.path,
            body,
            partner_id,
            self.keys[partner_id],
            self.audience,
            created_s=int(time.time()),
            idempotency_key=str(uuid.uuid4()) if self.rng.random() < 0.9 else "",
        )
        return signed.metadata()

    # --- bodies ----------------------------------------------------------------------------

    def message(self, descriptor: Descriptor, rpc_name: str, depth: int) -> Message:
        message = GetMessageClass(descriptor)()
        for item in descriptor.fields:
            if self.rng.random() < 0.35:
                continue
            if item.is_repeated:
                for _ in range(self.rng.randrange(REPEATED_MAX + 1)):
                    self._add(message, item, rpc_name, depth)
            else:
                self._set(message, item, rpc_name, depth)
        return message

    def _set(self, message: Message, item: FieldDescriptor, rpc_name: str, depth: int) -> None:
        if item.type == FieldDescriptor.TYPE_MESSAGE:
            if depth < DEPTH_MAX and item.message_type is not None:
                inner = self.message(item.message_type, rpc_name, depth + 1)
                getattr(message, item.name).CopyFrom(inner)
            return
        setattr(message, item.name, self.scalar(item, rpc_name))

    def _add(self, message: Message, item: FieldDescriptor, rpc_name: str, depth: int) -> None:
        if item.type == FieldDescriptor.TYPE_MESSAGE:
            if depth < DEPTH_MAX and item.message_type is not None:
                inner = self.message(item.message_type, rpc_name, depth + 1)
                getattr(message, item.name).add().CopyFrom(inner)
            return
        getattr(message, item.name).append(self.scalar(item, rpc_name))

    def scalar(self, item: FieldDescriptor, rpc_name: str) -> object:
        kind, rng = item.type, self.rng
        if kind in INT_RANGES:
            low, high = INT_RANGES[kind]
            edges = EDGE_SECONDS if item.name == "seconds" else EDGE_INTS
            value = rng.choice(edges) if rng.random() < 0.7 else rng.randint(low, high)
            return min(max(value, low), high)
        if kind == FieldDescriptor.TYPE_STRING:
            known = () if WORLD_BREAKING.get(rpc_name) == item.name else self.values.get(item.name)
            if known and rng.random() < 0.6:
                return rng.choice(known)
            return rng.choice(ODD_TEXT) if rng.random() < 0.5 else _random_text(rng)
        if kind == FieldDescriptor.TYPE_BYTES:
            return rng.randbytes(rng.randrange(80))
        if kind == FieldDescriptor.TYPE_ENUM and item.enum_type is not None:
            defined = [value.number for value in item.enum_type.values]
            return rng.choice([*defined, 99, -1])
        if kind == FieldDescriptor.TYPE_BOOL:
            return rng.random() < 0.5
        return rng.choice((0.0, -1.5, 1e308, float("nan"), float("inf")))

    def mangled(self, rpc: Rpc, body: bytes) -> tuple[bytes, str]:
        if self.rng.random() < 0.5:
            return body, "schema-drawn"
        name, mangle = self.rng.choice(self._mangles(rpc))
        return mangle(body), name

    def _mangles(self, rpc: Rpc) -> list[tuple[str, Callable[[bytes], bytes]]]:
        rng = self.rng
        paths = string_field_paths(rpc.descriptor)
        mangles: list[tuple[str, Callable[[bytes], bytes]]] = [
            ("bit flipped", lambda b: _flip(rng, b)),
            ("truncated", lambda b: b[: rng.randrange(len(b) + 1)]),
            ("bytes inserted", lambda b: _insert(rng, b, rng.randbytes(rng.randrange(1, 9)))),
            ("random bytes", lambda b: rng.randbytes(rng.randrange(200))),
            ("unknown field", lambda b: b + UNKNOWN_FIELD),
            ("malformed", lambda b: b + rng.choice(list(MALFORMED.values()))),
        ]
        if paths:
            mangles.append(
                (
                    "invalid UTF-8",
                    lambda b: b + embedded(rng.choice(paths), rng.choice(INVALID_UTF8)),
                )
            )
        return mangles

    # --- headers ---------------------------------------------------------------------------

    def tampered(self, metadata: Metadata) -> Metadata:
        rng = self.rng
        edited = list(metadata)
        if not edited:
            return [(rng.choice(wire.REQUEST_HEADERS_REQUIRED), _header_value(rng, "x"))]
        index = rng.randrange(len(edited))
        name, value = edited[index]
        choice = rng.randrange(7)
        if choice == 0:
            del edited[index]
        elif choice == 1:
            edited.insert(index, (name, value))
        elif choice == 2:
            edited[index] = (name, _header_value(rng, name))
        elif choice == 3:
            other = rng.choice(PARTNER_IDS)
            edited[index] = (name, other.encode() if name.endswith("-bin") else other)
        elif choice == 4:
            created = int(time.time()) + rng.choice((-100_000, -3_600, 3_600, 10**12))
            edited = [(k, str(created) if k == wire.HEADER_CREATED else v) for k, v in edited]
        elif choice == 5:
            edited.append((wire.HEADER_IDEMPOTENCY_KEY, str(uuid.uuid4())))
        else:
            edited[index] = (name, value * rng.choice((2, 100)) if value else value)
        return edited


def _random_text(rng: random.Random) -> str:
    alphabet = "abcdefghijklmnopqrstuvwxyz_0123456789-\u00e9\u202e\U0001f600 "
    return "".join(rng.choice(alphabet) for _ in range(rng.randrange(1, 40)))


def _header_value(rng: random.Random, name: str) -> str | bytes:
    if name.endswith("-bin"):
        return rng.randbytes(rng.choice((0, 1, 63, 64, 65, 300)))
    printable = [chr(c) for c in range(0x21, 0x7F)]
    return "".join(rng.choice(printable) for _ in range(rng.randrange(0, 60)))


def _flip(rng: random.Random, body: bytes) -> bytes:
    if not body:
        return b"\xff"
    data = bytearray(body)
    position = rng.randrange(len(data))
    data[position] ^= 1 << rng.randrange(8)
    return bytes(data)


def _insert(rng: random.Random, body: bytes, extra: bytes) -> bytes:
    position = rng.randrange(len(body) + 1)
    return body[:position] + extra + body[position:]
