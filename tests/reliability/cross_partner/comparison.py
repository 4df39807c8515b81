"""How a case is judged: no foreign identifier in what orbit receives, a refusal alike to the one
for an unknown id, the others' view unchanged by orbit's writes."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import grpc
from google.protobuf.message import Message

from coalition.v1 import common_pb2, event_pb2, identity_pb2, partner_pb2, settlement_pb2
from coalition.v1 import exchange_pb2 as xpb
from coalition.v1 import tier_pb2 as tpb
from partners.sdk import HubError
from tests.reliability.cross_partner.world import (
    COUNTERPARTY,
    EVENT,
    EXCHANGE,
    HIDDEN,
    HIDDEN_CODES,
    IDENTITY,
    OWNER,
    PARTNER,
    PLACEHOLDER,
    REQUEST_BOOKKEEPING,
    SETTLEMENT,
    TIER,
    World,
    call,
)
from tests.support.databases import table_snapshot
from tests.support.programs import refused

if TYPE_CHECKING:
    from tests.reliability.conftest import ReliabilityTally


def foreign_in(world: World, place: str, data: bytes | str) -> list[str]:
    raw = data.encode() if isinstance(data, str) else data
    return [
        f"{world.foreign[value]} {value} in {place}"
        for value in world.foreign
        if value.encode() in raw
    ]


def views_of_the_others(world: World) -> dict[str, bytes]:
    """What skyway and harbor read of their own objects: orbit's writes must not move it."""
    views: dict[str, bytes] = {}
    reads: list[tuple[str, Message]] = [
        (EXCHANGE + "ListTransfers", xpb.ListTransfersRequest(page_size=500)),
        (EXCHANGE + "ListRateAgreements", xpb.ListRateAgreementsRequest(page_size=500)),
        (EVENT + "ListEvents", event_pb2.ListEventsRequest(after_sequence=0, page_size=500)),
        (SETTLEMENT + "ListDisputes", settlement_pb2.ListDisputesRequest()),
        (
            TIER + "GetTierMapping",
            tpb.GetTierMappingRequest(source_partner_id=OWNER, target_partner_id=COUNTERPARTY),
        ),
    ]
    for partner_id, ppid in ((OWNER, "owner ppid"), (COUNTERPARTY, "counterparty ppid")):
        connection = world.connection(partner_id)
        member_read = (IDENTITY + "ListLinks", identity_pb2.ListLinksRequest(ppid=world.ids[ppid]))
        own_entry = (PARTNER + "GetPartner", partner_pb2.GetPartnerRequest(partner_id=partner_id))
        for path, request in [*reads, member_read, own_entry]:
            views[f"{partner_id} {path}"] = call(connection, path, request).SerializeToString(
                deterministic=True
            )
    return views


# --- the kinds of case ---------------------------------------------------------------------------

Case = Callable[[World, "ReliabilityTally"], None]
RequestFor = Callable[[World, str], Message]
Ids = Callable[[World], list[str]]


def shape(error: HubError, probed: str) -> tuple[object, ...]:
    """What the caller can tell about a refusal; the id it sent itself is blanked out."""
    return (
        error.code,
        error.reason,
        error.message.replace(probed, PLACEHOLDER),
        tuple(
            sorted((k, v.replace(probed, PLACEHOLDER)) for k, v in error.field_violations.items())
        ),
    )


def alike(
    path: str,
    request_for: RequestFor,
    foreign: Ids,
    unknown: Callable[[World], str],
    codes: frozenset[grpc.StatusCode] = HIDDEN,
) -> Case:
    """orbit sends each foreign id, then an id that exists nowhere: every refusal looks the same,
    is one of `codes`, and writes nothing but the nonce."""

    def case(world: World, tally: ReliabilityTally) -> None:
        outsider = world.outsider
        probes = [*foreign(world), unknown(world)]
        shapes: dict[str, tuple[object, ...]] = {}
        for probed in probes:
            error = refused(
                world.engine, lambda p=probed: call(outsider, path, request_for(world, p))
            )  # type: ignore[misc]
            assert not foreign_in(world, f"refusal of {path}", error.message)
            shapes[probed] = shape(error, probed)
        reference = shapes[probes[-1]]
        assert reference[0] in codes, f"{path}: an unknown id is answered {reference[:2]}"
        for probed in probes[:-1]:
            assert shapes[probed] == reference, (
                f"{path}: {world.foreign.get(probed, probed)} {probed} is answered "
                f"{shapes[probed]}, an unknown id {reference}"
            )
        tally.add("cross-partner: refusals alike unknown ids", len(probes) - 1)

    return case


def cases_of(*cases: Case) -> Case:
    def case(world: World, tally: ReliabilityTally) -> None:
        for each in cases:
            each(world, tally)

    return case


def unchanged_but_bookkeeping(world: World, action: Callable[[], Message]) -> Message:
    before = table_snapshot(world.engine, exclude=REQUEST_BOOKKEEPING)
    response = action()
    assert table_snapshot(world.engine, exclude=REQUEST_BOOKKEEPING) == before
    return response


def forget_echoes(world: World, sent: list[str]) -> None:
    """orbit sent these ids itself: a response may echo them; nothing else foreign may appear."""
    for probed in sent:
        world.received = [(m, body.replace(probed.encode(), b"")) for m, body in world.received]


def item_shape(error: common_pb2.ItemError, probed: str) -> tuple[object, ...]:
    return (error.code, error.reason, error.message.replace(probed, PLACEHOLDER), error.field)


def items_alike(
    path: str, request_for: Callable[[World, list[str]], Message], foreign: Ids, unknown: Ids
) -> Case:
    """One batch of foreign ids and unknown ids: each foreign item's error equals its unknown
    twin's (foreign()[i] pairs with unknown()[i]); nothing but bookkeeping is written."""

    def case(world: World, tally: ReliabilityTally) -> None:
        foreign_ids, unknown_ids = foreign(world), unknown(world)
        assert len(foreign_ids) == len(unknown_ids)
        probes = [*foreign_ids, *unknown_ids]
        outsider = world.outsider
        response = unchanged_but_bookkeeping(
            world, lambda: call(outsider, path, request_for(world, probes))
        )
        results = list(response.results)  # type: ignore[attr-defined]
        assert len(results) == len(probes)
        for result in results:
            assert result.WhichOneof("outcome") == "error", f"{path}: an item passed: {result}"
        forget_echoes(world, probes)
        shapes = [item_shape(r.error, p) for r, p in zip(results, probes, strict=True)]
        half = len(foreign_ids)
        for probed, got, twin in zip(foreign_ids, shapes[:half], shapes[half:], strict=True):
            assert twin[0] in HIDDEN_CODES, f"{path}: an unknown item is answered {twin}"
            assert got == twin, f"{path}: {world.foreign.get(probed, probed)} answered {got}"
        tally.add("cross-partner: batch items alike unknown ids", half)

    return case
