"""Hostile input (issue 7 item 4): every coalition.v1 RPC, requests drawn from the descriptors,
hand-built wire bytes, a hub with a prepared world, and the database compared before and after.

The hub runs its gRPC server only, not its purge, timeout and settlement loops: those write on
their own schedule, and a refused request must be seen to leave every row exactly as it was."""

from __future__ import annotations

from tests.reliability.fuzz_support.hub import FuzzHub, module_database, running_fuzz_hub
from tests.reliability.fuzz_support.observations import Observation, assert_contained
from tests.reliability.fuzz_support.rpcs import (
    ANY_OUTCOME,
    EVERY_RPC,
    RPC_BY_NAME,
    SIGNED_OUTCOME,
    Rpc,
)
from tests.reliability.fuzz_support.strategies import (
    EDGE_INTS,
    EDGE_SECONDS,
    INT_RANGES,
    ODD_TEXT,
    RequestStrategies,
    body_at_size,
    hostile_bodies,
    over_size_body,
)
from tests.reliability.fuzz_support.wire import (
    INVALID_UTF8,
    MALFORMED,
    UNKNOWN_FIELD,
    FieldPath,
    embedded,
    field_paths,
    path_name,
    set_field,
    string_field_paths,
)
from tests.reliability.fuzz_support.world import PARTNER_IDS, World

__all__ = [
    "ANY_OUTCOME",
    "EDGE_INTS",
    "EDGE_SECONDS",
    "EVERY_RPC",
    "INT_RANGES",
    "INVALID_UTF8",
    "MALFORMED",
    "ODD_TEXT",
    "PARTNER_IDS",
    "RPC_BY_NAME",
    "SIGNED_OUTCOME",
    "UNKNOWN_FIELD",
    "FieldPath",
    "FuzzHub",
    "Observation",
    "RequestStrategies",
    "Rpc",
    "World",
    "assert_contained",
    "body_at_size",
    "embedded",
    "field_paths",
    "hostile_bodies",
    "module_database",
    "over_size_body",
    "path_name",
    "running_fuzz_hub",
    "set_field",
    "string_field_paths",
]
