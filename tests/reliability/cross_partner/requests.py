"""The case kinds (public, scoped writes and reads, by-id probes) and the requests orbit sends."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING

import grpc
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from coalition import wire
from coalition.keys import SigningKey
from coalition.v1 import common_pb2, event_pb2, partner_pb2, settlement_pb2
from coalition.v1 import exchange_pb2 as xpb
from exchange.domain.members import new_ppid
from partners.sdk import EventClient, verify_event
from tests.reliability.cross_partner.comparison import (
    Case,
    Ids,
    alike,
    forget_echoes,
    views_of_the_others,
)
from tests.reliability.cross_partner.world import (
    COUNTERPARTY,
    EVENT,
    OUTSIDER,
    OWNER,
    PARTNER,
    PLACEHOLDER,
    REQUEST_BOOKKEEPING,
    SETTLEMENT,
    SUBSCRIBE_DEADLINE_S,
    USD,
    World,
    call,
)
from tests.support.databases import table_snapshot
from tests.support.programs import query_rows

if TYPE_CHECKING:
    from tests.reliability.conftest import ReliabilityTally


def public(path: str, request: Message) -> Case:
    """The directory is public by design: orbit gets exactly the bytes skyway gets."""

    def case(world: World, tally: ReliabilityTally) -> None:
        seen_by_outsider = call(world.outsider, path, request)
        seen_by_owner = call(world.connection(OWNER), path, request)
        assert seen_by_outsider.SerializeToString(
            deterministic=True
        ) == seen_by_owner.SerializeToString(deterministic=True)
        tally.add("cross-partner: public reads compared", 1)

    return case


def scoped_write(
    path: str, request_for: Callable[[World], Message], check: Callable[[World, Message], None]
) -> Case:
    """orbit acts on its own scope: it succeeds, and skyway's and harbor's views do not move."""

    def case(world: World, tally: ReliabilityTally) -> None:
        before = views_of_the_others(world)
        response = call(world.outsider, path, request_for(world))
        check(world, response)
        assert views_of_the_others(world) == before
        tally.add("cross-partner: own-scope writes checked", 1)

    return case


def scoped_read(
    path: str, request_for: Callable[[World], Message], check: Callable[[World, Message], None]
) -> Case:
    """orbit reads its own scope: only its objects come back (and never a foreign id)."""

    def case(world: World, tally: ReliabilityTally) -> None:
        check(world, call(world.outsider, path, request_for(world)))
        tally.add("cross-partner: own-scope reads checked", 1)

    return case


# --- identifiers --------------------------------------------------------------------------------


def named(*names: str) -> Ids:
    return lambda world: [world.ids[name] for name in names]


def ppids(world: World) -> list[str]:
    return [world.ids["owner ppid"], world.ids["counterparty ppid"]]


def unknown_ppid(world: World) -> str:
    return new_ppid()


def unknown_transfer(world: World) -> str:
    return "tr_" + uuid.uuid4().hex[:24]


def party_transfers(world: World) -> list[str]:
    return [world.ids["completed transfer"], world.ids["pending transfer"]]


def of_orbit(world: World, query: str) -> set[str]:
    return {str(value) for (value,) in query_rows(world.engine, query, o=OUTSIDER)}


# --- the checks of orbit's own reads -------------------------------------------------------------


def only_own_transfers(world: World, response: Message) -> None:
    listed = {t.transfer_id for t in response.transfers}  # type: ignore[attr-defined]
    mine = of_orbit(
        world,
        "SELECT transfer_id FROM transfers WHERE source_partner_id = :o"
        " OR destination_partner_id = :o",
    )
    assert world.own["completed transfer"] in listed
    assert listed <= mine


def only_own_agreements(world: World, response: Message) -> None:
    parties = [
        {a.source_partner_id, a.destination_partner_id}
        for a in response.agreements  # type: ignore[attr-defined]
    ]
    assert parties
    assert all(OUTSIDER in pair for pair in parties)


def only_own_events(world: World, events: list[event_pb2.Event]) -> None:
    hub_keys = world.coalition.hub_public_keys
    assert events, "orbit's feed has its own events"
    payloads = [verify_event(event, hub_keys, OUTSIDER) for event in events]
    assert {payload.partner_id for payload in payloads} == {OUTSIDER}
    listed = {event.event_id for event in events}
    assert listed <= of_orbit(world, "SELECT event_id FROM events WHERE partner_id = :o")


def listed_events_only_own(world: World, response: Message) -> None:
    only_own_events(world, list(response.events))  # type: ignore[attr-defined]


def only_own_disputes(world: World, response: Message) -> None:
    listed = {d.dispute_id for d in response.disputes}  # type: ignore[attr-defined]
    assert listed == {world.own["dispute"]}


def only_own_position(world: World, response: Message) -> None:
    run = response.run  # type: ignore[attr-defined]
    assert [p.participant for p in run.positions] == [OUTSIDER]


def only_own_statement_lines(world: World, response: Message) -> None:
    payload = settlement_pb2.StatementPayload.FromString(response.statement.payload)  # type: ignore[attr-defined]
    assert payload.partner_id == OUTSIDER
    assert {line.transfer_id for line in payload.lines} == {world.own["completed transfer"]}


def only_own_instructions(world: World, response: Message) -> None:
    participants = {i.participant for i in response.instructions}  # type: ignore[attr-defined]
    assert participants == {OUTSIDER}


def enrolled_for_orbit(world: World, response: Message) -> None:
    ppid = response.ppid  # type: ignore[attr-defined]
    assert query_rows(world.engine, "SELECT partner_id FROM ppids WHERE ppid = :p", p=ppid) == [
        (OUTSIDER,)
    ]


def ladder_of_orbit(world: World, response: Message) -> None:
    assert response.version >= 2  # type: ignore[attr-defined]


def acked_own_feed(world: World, response: Message) -> None:
    assert response.acked_sequence == last_sequence(world)  # type: ignore[attr-defined]


def last_sequence(world: World) -> int:
    listed = call(
        world.outsider, EVENT + "ListEvents", event_pb2.ListEventsRequest(after_sequence=0)
    )
    return int(listed.last_sequence)  # type: ignore[attr-defined]


# --- the cases with their own shape --------------------------------------------------------------


def subscribe_case(world: World, tally: ReliabilityTally) -> None:
    """orbit's stream from the start carries orbit's events, and only those."""
    expected = call(
        world.outsider,
        EVENT + "ListEvents",
        event_pb2.ListEventsRequest(after_sequence=0, page_size=500),
    ).events  # type: ignore[attr-defined]
    subscription = EventClient(world.outsider, SUBSCRIBE_DEADLINE_S).open_subscription(0)
    streamed: list[event_pb2.Event] = []
    try:
        for event in subscription:
            streamed.append(event)
            if len(streamed) == len(expected):
                break
    finally:
        subscription.cancel()
    for event in streamed:
        world.received.append((EVENT + "Subscribe", event.SerializeToString()))
    assert [e.event_id for e in streamed] == [e.event_id for e in expected]
    only_own_events(world, streamed)
    tally.add("cross-partner: own-scope reads checked", 1)


def reconciliation_case(world: World, tally: ReliabilityTally) -> None:
    """Uploading another partner's transfer id reveals nothing: its breaks read exactly like
    those of an id that exists nowhere."""
    outsider = world.outsider

    def breaks_for(transfer_id: str) -> list[tuple[int, str, str]]:
        record = settlement_pb2.ReconciliationRecord(
            transfer_id=transfer_id,
            direction="outgoing",
            points=2000,
            amount=common_pb2.Money(amount_minor=600, currency_code=USD),
        )
        request = settlement_pb2.SubmitReconciliationRequest(
            business_day=world.business_day, records=[record]
        )
        before = table_snapshot(world.engine, exclude=REQUEST_BOOKKEEPING | {"reconciliations"})
        response = call(outsider, SETTLEMENT + "SubmitReconciliation", request)
        assert (
            table_snapshot(world.engine, exclude=REQUEST_BOOKKEEPING | {"reconciliations"})
            == before
        )
        return sorted(
            (
                b.kind,
                b.transfer_id.replace(transfer_id, PLACEHOLDER),
                b.detail.replace(transfer_id, PLACEHOLDER),
            )
            for b in response.breaks  # type: ignore[attr-defined]
        )

    reference = breaks_for(unknown_transfer(world))
    assert reference, "an upload that matches nothing has breaks"
    for probed in party_transfers(world):
        assert breaks_for(probed) == reference, world.foreign[probed]
        forget_echoes(world, [probed])
    tally.add("cross-partner: refusals alike unknown ids", 2)


def register_key_case(world: World, tally: ReliabilityTally) -> None:
    """orbit cannot take over skyway's key: replaying skyway's own registration proof (which
    was valid for skyway) is refused exactly like a proof for a key nobody registered."""
    owner_key = world.coalition.keys[OWNER]
    fresh = SigningKey.generate()

    def proof_for_owner(key: SigningKey) -> bytes:
        return key.sign(
            wire.key_registration_bytes(partner_id=OWNER, public_key=key.public_key_bytes)
        )

    def request_for(world: World, probed: str) -> Message:
        key = owner_key if probed == owner_key.key_id else fresh
        return partner_pb2.RegisterKeyRequest(
            public_key=key.public_key_bytes, proof_of_possession=proof_for_owner(key)
        )

    alike(
        PARTNER + "RegisterKey",
        request_for,
        named("owner key"),
        lambda w: fresh.key_id,
        codes=frozenset({grpc.StatusCode.INVALID_ARGUMENT}),
    )(world, tally)


# --- the table: every RPC of every service -------------------------------------------------------


def dispute_request(world: World, transfer_id: str) -> Message:
    return settlement_pb2.OpenDisputeRequest(
        business_day=world.business_day,
        transfer_id=transfer_id,
        claimed_amount=common_pb2.Money(amount_minor=1, currency_code=USD),
        reason="the line is short",
    )


def expire_in_a_year(world: World) -> Timestamp:
    expire = Timestamp()
    expire.FromMicroseconds(world.coalition.clock.now_us() + 365 * 86_400 * 1_000_000)
    return expire


def batch_of(world: World, probes: list[str]) -> Message:
    """Half quote ids, half inline ppids: [quote, ppid, ppid, unknown quote, unknown ppid x2]."""
    entries = []
    for probed in probes:
        if probed.startswith("qt_"):
            order = xpb.CreateTransferRequest(quote_id=probed)
        else:
            order = xpb.CreateTransferRequest(
                ppid=probed, destination_partner_id=COUNTERPARTY, source_points=2000
            )
        entries.append(xpb.TransferBatchEntry(idempotency_key=str(uuid.uuid4()), transfer=order))
    return xpb.CreateTransferBatchRequest(entries=entries)


def unknown_quote() -> str:
    return "qt_" + uuid.uuid4().hex[:24]
