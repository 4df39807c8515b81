"""Repeated fields past their limits, odd text in string fields, times past what the hub can store,
and answers that would echo their input."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
from google.protobuf.message import Message

from coalition.v1 import exchange_pb2, tier_pb2
from exchange.domain import limits
from tests.reliability.fuzz_limits.baselines import (
    BASELINES,
    inline_transfer,
    list_transfers,
    member_tier,
)
from tests.reliability.fuzz_support import EVERY_RPC, World, path_name, string_field_paths

# --- repeated fields past their limits -----------------------------------------------------------


def _ids(count: int) -> list[str]:
    return [f"tr_{index:024x}" for index in range(count)]


def _entries(
    world: World, count: int, *, same_key: bool = False
) -> list[exchange_pb2.TransferBatchEntry]:
    key = str(uuid.uuid4())
    return [
        exchange_pb2.TransferBatchEntry(
            idempotency_key=key if same_key else str(uuid.uuid4()),
            transfer=inline_transfer(world),
        )
        for _ in range(count)
    ]


def _tiers(count: int) -> list[tier_pb2.Tier]:
    return [
        tier_pb2.Tier(code=f"T{rank}", display_name=f"Tier {rank}", rank=rank, canonical_level=1)
        for rank in range(1, count + 1)
    ]


def _rules(count: int) -> list[tier_pb2.RecognitionRule]:
    return [
        tier_pb2.RecognitionRule(source_tier_code="GOLD", target_tier_code="GOLD")
        for _ in range(count)
    ]


REPEATED_CASES: dict[str, tuple[str, str, Callable[[World], Message]]] = {
    "ConfirmCredits with 1001 ids": (
        "ConfirmCredits",
        "harbor",
        lambda w: exchange_pb2.ConfirmCreditsRequest(transfer_ids=_ids(1001)),
    ),
    "ConfirmCredits with no ids": (
        "ConfirmCredits",
        "harbor",
        lambda w: exchange_pb2.ConfirmCreditsRequest(),
    ),
    "ConfirmCredits with one id twice": (
        "ConfirmCredits",
        "harbor",
        lambda w: exchange_pb2.ConfirmCreditsRequest(transfer_ids=_ids(1) * 2),
    ),
    "CreateTransferBatch with 1001 entries": (
        "CreateTransferBatch",
        "skyway",
        lambda w: exchange_pb2.CreateTransferBatchRequest(entries=_entries(w, 1001)),
    ),
    "CreateTransferBatch with no entries": (
        "CreateTransferBatch",
        "skyway",
        lambda w: exchange_pb2.CreateTransferBatchRequest(),
    ),
    "CreateTransferBatch with one key twice": (
        "CreateTransferBatch",
        "skyway",
        lambda w: exchange_pb2.CreateTransferBatchRequest(entries=_entries(w, 2, same_key=True)),
    ),
    "PublishTierLadder with 21 tiers": (
        "PublishTierLadder",
        "orbit",
        lambda w: tier_pb2.PublishTierLadderRequest(tiers=_tiers(21)),
    ),
    "PublishTierLadder with no tiers": (
        "PublishTierLadder",
        "orbit",
        lambda w: tier_pb2.PublishTierLadderRequest(),
    ),
    "ProposeRecognition with 51 rules": (
        "ProposeRecognition",
        "skyway",
        lambda w: tier_pb2.ProposeRecognitionRequest(
            source_partner_id="skyway",
            target_partner_id="harbor",
            rules=_rules(51),
            validity_days=365,
        ),
    ),
    "ProposeRecognition with no rules": (
        "ProposeRecognition",
        "skyway",
        lambda w: tier_pb2.ProposeRecognitionRequest(
            source_partner_id="skyway", target_partner_id="harbor", validity_days=365
        ),
    ),
}


# --- NUL and other odd text in every string field ------------------------------------------------

ODD_STRINGS = {
    "NUL inside": "tr_\x00",
    "NUL alone": "\x00",
    "right-to-left override": "\u202epp_",
    "10,000 characters": "x" * 10_000,
}
STRING_FIELDS = [
    (rpc, path_name(path)) for rpc in EVERY_RPC for path in string_field_paths(rpc.descriptor)
]


def string_params() -> list[object]:
    return [
        pytest.param(rpc, path, label, id=f"{rpc.name}.{path}={label}")
        for rpc, path in STRING_FIELDS
        for label in ODD_STRINGS
    ]


# --- times and echoes past what the hub can hold or send -----------------------------------------

# Past 9.2e12 seconds a time's microseconds no longer fit the int64 columns.
SECONDS_PAST_INT64_MICROS = 2**44


def _forever_terms(world: World) -> Message:
    request = BASELINES["ProposeRateAgreement"].build(world)
    request.terms.ClearField("effective_to")  # type: ignore[attr-defined]
    request.terms.effective_from.seconds = SECONDS_PAST_INT64_MICROS  # type: ignore[attr-defined]
    return request


def _tier_expiring_never(world: World) -> Message:
    request = member_tier(world)
    request.expire_time.seconds = SECONDS_PAST_INT64_MICROS
    return request


def _transfers_since_never(world: World) -> Message:
    request = list_transfers(world)
    request.ClearField("end_time")
    request.start_time.seconds = SECONDS_PAST_INT64_MICROS
    return request


TIME_CASES: dict[str, tuple[str, Callable[[World], Message]]] = {
    "agreement effective from year 557,000": (
        "ProposeRateAgreement",
        _forever_terms,
    ),
    "tier expiring in year 557,000": ("ReportMemberTier", _tier_expiring_never),
    "transfers since year 557,000": ("ListTransfers", _transfers_since_never),
}


def filled_to_the_limit(build: Callable[[int], Message]) -> Message:
    """The message `build(n)` makes with the n that brings it to exactly MESSAGE_BYTES_MAX."""
    guess = limits.MESSAGE_BYTES_MAX - 256
    message = build(guess + limits.MESSAGE_BYTES_MAX - build(guess).ByteSize())
    assert message.ByteSize() == limits.MESSAGE_BYTES_MAX
    return message


ECHO_CASES: dict[str, tuple[str, str, Callable[[World], Message]]] = {
    "ConfirmCredits with a 4 MiB transfer id": (
        "ConfirmCredits",
        "harbor",
        lambda w: filled_to_the_limit(
            lambda n: exchange_pb2.ConfirmCreditsRequest(transfer_ids=["t" * n])
        ),
    ),
    "CreateTransferBatch with a 4 MiB idempotency key": (
        "CreateTransferBatch",
        "skyway",
        lambda w: filled_to_the_limit(
            lambda n: exchange_pb2.CreateTransferBatchRequest(
                entries=[
                    exchange_pb2.TransferBatchEntry(
                        idempotency_key="k" * n, transfer=inline_transfer(w)
                    )
                ]
            )
        ),
    ),
}


# --- a key no one possesses ----------------------------------------------------------------------

# The neutral point of Ed25519, encoded: [S]B = R + [k]A holds for R = A = identity and S = 0
# whatever the message, so this "signature" verifies everything under this "key".
IDENTITY_POINT = (1).to_bytes(32, "little")
FORGED_SIGNATURE = IDENTITY_POINT + bytes(32)
