"""No partner reads or acts on another partner's objects, through any RPC (issue 7 item 5;
DESIGN §4.3, §7 inv. 8 and 9).

skyway and harbor share a linked member, rate and recognition agreements (one version accepted,
one proposed), quotes, a completed and a pending transfer, a tier grant, a live link code, a
settled day and a dispute. orbit, the outsider, is party to none of it; it has its own member,
agreement, transfer and dispute with harbor, so its own reads have something to return.

For every RPC of every coalition.v1 service (enumerated from the generated descriptors; a new
RPC without a case here fails `test_every_rpc_of_every_service_has_a_case`), orbit tries:

- by id (transfer, quote, agreement, dispute, ppid, key, statement line): the refusal must be
  NOT_FOUND or PERMISSION_DENIED and look exactly like the one for an id that does not exist
  (status, ErrorInfo reason, message, fields), and the database must not change;
- batch RPCs: each foreign item's error must equal the unknown item's error;
- reads of its own scope (lists, feed, statement, run, instructions): only orbit's objects;
- directory reads, which are public by design: exactly the bytes skyway itself gets;
- measures (tests/reliability/cross_partner_analytics.py): only pairs and figures it is party to,
  member counts below the release threshold withheld, no coalition total, no other partner's
  programme totals.

Whatever orbit receives, response or refusal, must carry none of the other partners'
identifiers (ppids, cmids, transfer, quote, dispute, agreement, grant, event ids, clearing
references, the link code), and its successful writes must leave the others' view unchanged.
"""

from __future__ import annotations

import importlib
import pkgutil
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from pathlib import Path
from typing import TYPE_CHECKING

import grpc
import pytest
from google.protobuf.descriptor import MethodDescriptor
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass
from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy import Engine

import coalition.v1
from coalition import wire
from coalition.keys import SigningKey
from coalition.v1 import common_pb2, event_pb2, identity_pb2, partner_pb2, settlement_pb2
from coalition.v1 import exchange_pb2 as xpb
from coalition.v1 import tier_pb2 as tpb
from exchange.adapters.memory import FixedClock
from exchange.adapters.sql.engine import create_database_engine
from exchange.bootstrap import bootstrap
from exchange.config import Settings
from exchange.domain.members import new_ppid
from exchange.services.settlement import settle_day
from partners.sdk import EventClient, HubConnection, HubError, verify_event
from tests.reliability import cross_partner_analytics as analytics
from tests.support import databases
from tests.support.coalition import AUDIENCE, TestCoalition, seed_partners
from tests.support.databases import REPLAY_BOOKKEEPING, table_snapshot
from tests.support.programs import ClockedCoalition, clocked_coalition, query_rows, refused
from tests.support.transfer_setup import agree_rates, create_transfer, linked_member, quote_id

if TYPE_CHECKING:
    from tests.reliability.conftest import ReliabilityTally

OWNER, COUNTERPARTY, OUTSIDER = "skyway", "harbor", "orbit"
BACKENDS = ("sqlite", "postgresql")
USD = "USD"
# Refusals that hide an object: "not found", or "not yours" with the same shape.
HIDDEN = frozenset({grpc.StatusCode.NOT_FOUND, grpc.StatusCode.PERMISSION_DENIED})
HIDDEN_CODES = frozenset({5, 7})  # google.rpc.Code NOT_FOUND, PERMISSION_DENIED (batch items)
# A successful batch stores its own response under the call's key; refused items write nothing.
REQUEST_BOOKKEEPING = REPLAY_BOOKKEEPING | {"idempotency_records"}
LADDER = [
    tpb.Tier(code="BASE", display_name="Base", rank=1, canonical_level=1),
    tpb.Tier(code="GOLD", display_name="Gold", rank=2, canonical_level=3),
]
PARTNER = "/coalition.v1.PartnerService/"
IDENTITY = "/coalition.v1.IdentityService/"
EVENT = "/coalition.v1.EventService/"
TIER = "/coalition.v1.TierService/"
EXCHANGE = "/coalition.v1.ExchangeService/"
SETTLEMENT = "/coalition.v1.SettlementService/"
SUBSCRIBE_DEADLINE_S = 10.0
PLACEHOLDER = "<probed id>"


def all_methods() -> dict[str, MethodDescriptor]:
    """Every RPC of every service in every generated coalition.v1 module, by full path."""
    methods: dict[str, MethodDescriptor] = {}
    for module_info in pkgutil.iter_modules(coalition.v1.__path__):
        if not module_info.name.endswith("_pb2"):
            continue
        module = importlib.import_module(f"coalition.v1.{module_info.name}")
        for service in module.DESCRIPTOR.services_by_name.values():
            for method in service.methods:
                methods[f"/{service.full_name}/{method.name}"] = method
    return methods


METHODS = all_methods()


def call(connection: HubConnection, path: str, request: Message) -> Message:
    """A signed unary call; every call carries an idempotency key, which reads ignore."""
    response_type = GetMessageClass(METHODS[path].output_type)
    return connection.call(path, request, response_type, changes_state=True)


# --- the world -----------------------------------------------------------------------------------


@dataclass
class World:
    coalition: ClockedCoalition
    business_day: str
    # Named objects of skyway and harbor that orbit is not party to.
    ids: dict[str, str]
    # orbit's own objects.
    own: dict[str, str]
    # Every identifier orbit must never receive -> what it is.
    foreign: dict[str, str] = field(default_factory=dict)
    # Everything orbit received: (method, response bytes).
    received: list[tuple[str, bytes]] = field(default_factory=list)
    connections: dict[str, HubConnection] = field(default_factory=dict)

    @property
    def engine(self) -> Engine:
        return self.coalition.hub.engine

    def connection(self, partner_id: str) -> HubConnection:
        if partner_id not in self.connections:
            connection = self.coalition.connection(partner_id)
            if partner_id == OUTSIDER:
                connection.on_response = lambda method, body: self.received.append((method, body))
            self.connections[partner_id] = connection
        return self.connections[partner_id]

    @property
    def outsider(self) -> HubConnection:
        return self.connection(OUTSIDER)


def empty_database(request: pytest.FixtureRequest, directory: Path) -> str:
    if request.param == "sqlite":
        return databases.fresh_sqlite_copy(request.getfixturevalue("sqlite_template"), directory)
    url: str = request.getfixturevalue("postgres_url")
    engine = create_database_engine(url)
    databases.empty_all_tables(engine)
    engine.dispose()
    return url


def noon_today() -> FixedClock:
    """Half a day from the default (UTC midnight) cut-off: no day ends unless a test says so."""
    noon = datetime.combine(datetime.now(UTC).date(), time(12), tzinfo=UTC)
    return FixedClock(int(noon.timestamp()) * 1_000_000)


@pytest.fixture(scope="module", params=BACKENDS)
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    url = empty_database(request, tmp_path_factory.mktemp("cross-partner"))
    settings = Settings.load(
        environ={}, database_url=url, listen_address="127.0.0.1:0", audience=AUDIENCE
    )
    engine = create_database_engine(url)
    with clocked_coalition(settings, SigningKey.generate(), engine, noon_today()) as coalition:
        yield build_world(coalition)


def build_world(coalition: ClockedCoalition) -> World:
    world = World(coalition, "", {}, {})
    owner, counterparty, outsider = (world.connection(p) for p in (OWNER, COUNTERPARTY, OUTSIDER))
    for connection in (owner, counterparty, outsider):
        call(connection, TIER + "PublishTierLadder", tpb.PublishTierLadderRequest(tiers=LADDER))
    ids, own = world.ids, world.own
    ids["rate agreement"] = agreements(owner, counterparty)
    agree_rates(outsider, counterparty)
    ids["recognition agreement"] = recognitions(owner, counterparty)
    ids["owner ppid"], ids["counterparty ppid"] = linked_member(owner, counterparty)
    own["ppid"], ids["counterparty ppid of the outsider's member"] = linked_member(
        outsider, counterparty
    )
    ids["grant"] = status_match(coalition, owner, ids["owner ppid"])
    ids["completed transfer"] = completed(owner, counterparty, ids["owner ppid"])
    own["completed transfer"] = completed(outsider, counterparty, own["ppid"])
    calendar, clock = coalition.hub.settings.calendar, coalition.clock
    business_day = calendar.business_day_of(clock.now_us()).isoformat()
    settle_day(coalition.hub.engine, calendar, clock, business_day, close_early=True)
    ids["dispute"] = open_dispute(owner, business_day, ids["completed transfer"])
    own["dispute"] = open_dispute(outsider, business_day, own["completed transfer"])
    ids["pending transfer"] = create_transfer(
        owner, quote_id(owner, ids["owner ppid"], COUNTERPARTY, 3000)
    )
    ids["unused quote"] = quote_id(owner, ids["owner ppid"], COUNTERPARTY, 4000)
    ids["link code"] = call(
        owner,
        IDENTITY + "CreateLinkCode",
        identity_pb2.CreateLinkCodeRequest(ppid=ids["owner ppid"]),
    ).link_code  # type: ignore[attr-defined]
    ids["owner key"] = coalition.keys[OWNER].key_id
    world.business_day = business_day
    world.foreign = foreign_identifiers(world)
    world.received.clear()
    return world


def agreements(owner: HubConnection, counterparty: HubConnection) -> str:
    """skyway -> harbor: version 1 accepted, version 2 proposed."""
    agree_rates(owner, counterparty)
    (accepted,) = call(
        owner, EXCHANGE + "ListRateAgreements", xpb.ListRateAgreementsRequest()
    ).agreements  # type: ignore[attr-defined]
    call(
        owner,
        EXCHANGE + "ProposeRateAgreement",
        xpb.ProposeRateAgreementRequest(
            source_partner_id=OWNER, destination_partner_id=COUNTERPARTY, terms=accepted.terms
        ),
    )
    return str(accepted.agreement_id)


def recognitions(owner: HubConnection, counterparty: HubConnection) -> str:
    """skyway -> harbor recognition: version 1 accepted, version 2 proposed."""

    def propose(validity_days: int) -> tpb.RecognitionAgreement:
        request = tpb.ProposeRecognitionRequest(
            source_partner_id=OWNER,
            target_partner_id=COUNTERPARTY,
            rules=[tpb.RecognitionRule(source_tier_code="GOLD", target_tier_code="GOLD")],
            validity_days=validity_days,
            min_days_between_grants=30,
        )
        return call(owner, TIER + "ProposeRecognition", request).agreement  # type: ignore[attr-defined,no-any-return]

    first = propose(365)
    call(
        counterparty,
        TIER + "AcceptRecognition",
        tpb.AcceptRecognitionRequest(agreement_id=first.agreement_id, version=first.version),
    )
    propose(180)
    return first.agreement_id


def status_match(coalition: ClockedCoalition, owner: HubConnection, ppid: str) -> str:
    expire = Timestamp()
    expire.FromMicroseconds(coalition.clock.now_us() + 365 * 86_400 * 1_000_000)
    call(
        owner,
        TIER + "ReportMemberTier",
        tpb.ReportMemberTierRequest(ppid=ppid, tier_code="GOLD", expire_time=expire),
    )
    return str(
        call(
            owner,
            TIER + "RequestStatusMatch",
            tpb.RequestStatusMatchRequest(ppid=ppid, target_partner_id=COUNTERPARTY),
        ).grant_id  # type: ignore[attr-defined]
    )


def completed(source: HubConnection, destination: HubConnection, ppid: str) -> str:
    transfer_id = create_transfer(source, quote_id(source, ppid, COUNTERPARTY, 2000))
    call(destination, EXCHANGE + "ConfirmCredit", xpb.ConfirmCreditRequest(transfer_id=transfer_id))
    return transfer_id


def open_dispute(opener: HubConnection, business_day: str, transfer_id: str) -> str:
    request = settlement_pb2.OpenDisputeRequest(
        business_day=business_day,
        transfer_id=transfer_id,
        claimed_amount=common_pb2.Money(amount_minor=1, currency_code=USD),
        reason="the line is short",
    )
    return str(call(opener, SETTLEMENT + "OpenDispute", request).dispute.dispute_id)  # type: ignore[attr-defined]


def foreign_identifiers(world: World) -> dict[str, str]:
    """Every identifier of an object orbit is not party to, read from the hub database."""
    queries = {
        "ppid": f"SELECT ppid FROM ppids WHERE partner_id <> '{OUTSIDER}'",
        "cmid": "SELECT cmid FROM members",
        "quote": f"SELECT quote_id FROM quotes WHERE source_partner_id <> '{OUTSIDER}'",
        "transfer": "SELECT transfer_id FROM transfers WHERE source_partner_id <> :o"
        " AND destination_partner_id <> :o",
        "dispute": "SELECT dispute_id FROM disputes WHERE opened_by <> :o AND counterparty <> :o",
        "rate agreement": "SELECT agreement_id FROM rate_agreements"
        " WHERE source_partner_id <> :o AND destination_partner_id <> :o",
        "recognition agreement": "SELECT agreement_id FROM recognition_agreements"
        " WHERE source_partner_id <> :o AND target_partner_id <> :o",
        "tier grant": "SELECT grant_id FROM tier_grants",
        "event": f"SELECT event_id FROM events WHERE partner_id <> '{OUTSIDER}'",
        "clearing reference": "SELECT clearing_reference FROM payment_instructions"
        " WHERE participant <> :o",
        "journal": "SELECT journal_id FROM journals",
    }
    foreign: dict[str, str] = {}
    for kind, query in queries.items():
        for (value,) in query_rows(world.engine, query, o=OUTSIDER):
            foreign[str(value)] = kind
    code = world.ids["link code"]
    foreign[code] = foreign[code.replace("-", "")] = "link code"
    own_values = set(world.own.values())
    assert not own_values & set(foreign), "orbit's own objects are not foreign to it"
    for name in ("owner ppid", "counterparty ppid", "completed transfer", "pending transfer"):
        assert world.ids[name] in foreign, name
    return foreign


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


CASES: dict[str, Case] = {
    # PartnerService: the directory is public; keys are each partner's own.
    "PartnerService/GetPartner": public(
        PARTNER + "GetPartner", partner_pb2.GetPartnerRequest(partner_id=OWNER)
    ),
    "PartnerService/ListPartners": public(
        PARTNER + "ListPartners", partner_pb2.ListPartnersRequest()
    ),
    "PartnerService/GetHubKeys": public(PARTNER + "GetHubKeys", partner_pb2.GetHubKeysRequest()),
    "PartnerService/RegisterKey": register_key_case,
    "PartnerService/RevokeKey": alike(
        PARTNER + "RevokeKey",
        lambda w, key_id: partner_pb2.RevokeKeyRequest(key_id=key_id),
        named("owner key"),
        lambda w: SigningKey.generate().key_id,
    ),
    # IdentityService: every ppid-taking RPC, with skyway's and harbor's ppids.
    "IdentityService/EnrollMember": scoped_write(
        IDENTITY + "EnrollMember", lambda w: identity_pb2.EnrollMemberRequest(), enrolled_for_orbit
    ),
    "IdentityService/CreateLinkCode": alike(
        IDENTITY + "CreateLinkCode",
        lambda w, p: identity_pb2.CreateLinkCodeRequest(ppid=p),
        ppids,
        unknown_ppid,
    ),
    "IdentityService/RedeemLinkCode": alike(
        IDENTITY + "RedeemLinkCode",
        lambda w, p: identity_pb2.RedeemLinkCodeRequest(link_code=w.ids["link code"], ppid=p),
        ppids,
        unknown_ppid,
    ),
    "IdentityService/ListLinks": alike(
        IDENTITY + "ListLinks",
        lambda w, p: identity_pb2.ListLinksRequest(ppid=p),
        ppids,
        unknown_ppid,
    ),
    "IdentityService/Unlink": alike(
        IDENTITY + "Unlink",
        lambda w, p: identity_pb2.UnlinkRequest(ppid=p, partner_id=COUNTERPARTY),
        ppids,
        unknown_ppid,
    ),
    "IdentityService/EraseMember": alike(
        IDENTITY + "EraseMember",
        lambda w, p: identity_pb2.EraseMemberRequest(ppid=p),
        ppids,
        unknown_ppid,
    ),
    # EventService: each partner has one feed, its own.
    "EventService/Subscribe": subscribe_case,
    "EventService/ListEvents": scoped_read(
        EVENT + "ListEvents",
        lambda w: event_pb2.ListEventsRequest(after_sequence=0, page_size=500),
        listed_events_only_own,
    ),
    "EventService/AckEvents": scoped_write(
        EVENT + "AckEvents",
        lambda w: event_pb2.AckEventsRequest(up_to_sequence=last_sequence(w)),
        acked_own_feed,
    ),
    # TierService: agreements between two others, and members of others.
    "TierService/PublishTierLadder": scoped_write(
        TIER + "PublishTierLadder",
        lambda w: tpb.PublishTierLadderRequest(tiers=LADDER, canonical_matching=True),
        ladder_of_orbit,
    ),
    "TierService/ProposeRecognition": alike(
        TIER + "ProposeRecognition",
        lambda w, pair: tpb.ProposeRecognitionRequest(
            source_partner_id=pair.split(">")[0],
            target_partner_id=pair.split(">")[1],
            rules=[tpb.RecognitionRule(source_tier_code="GOLD", target_tier_code="GOLD")],
            validity_days=30,
            min_days_between_grants=30,
        ),
        lambda w: [f"{OWNER}>{COUNTERPARTY}"],  # agreed, with a proposal pending
        lambda w: f"{COUNTERPARTY}>{OWNER}",  # no agreement in this direction
    ),
    "TierService/AcceptRecognition": cases_of(
        *(
            alike(
                TIER + "AcceptRecognition",
                lambda w, agreement_id, v=version: tpb.AcceptRecognitionRequest(  # type: ignore[misc]
                    agreement_id=agreement_id, version=v
                ),
                named("recognition agreement"),
                lambda w: "ra_" + uuid.uuid4().hex[:16],
            )
            for version in (1, 2)  # accepted, proposed
        )
    ),
    "TierService/ReportMemberTier": alike(
        TIER + "ReportMemberTier",
        lambda w, p: tpb.ReportMemberTierRequest(
            ppid=p, tier_code="GOLD", expire_time=expire_in_a_year(w)
        ),
        ppids,
        unknown_ppid,
    ),
    "TierService/RequestStatusMatch": alike(
        TIER + "RequestStatusMatch",
        lambda w, p: tpb.RequestStatusMatchRequest(ppid=p, target_partner_id=COUNTERPARTY),
        ppids,
        unknown_ppid,
    ),
    "TierService/GetTierMapping": alike(
        TIER + "GetTierMapping",
        lambda w, pair: tpb.GetTierMappingRequest(
            source_partner_id=pair.split(">")[0], target_partner_id=pair.split(">")[1]
        ),
        lambda w: [f"{OWNER}>{COUNTERPARTY}"],
        lambda w: f"{COUNTERPARTY}>{OWNER}",
    ),
    # ExchangeService: agreements, quotes and transfers of others.
    "ExchangeService/ProposeRateAgreement": alike(
        EXCHANGE + "ProposeRateAgreement",
        lambda w, pair: xpb.ProposeRateAgreementRequest(
            source_partner_id=pair.split(">")[0],
            destination_partner_id=pair.split(">")[1],
            terms=call(
                w.connection(OWNER),
                EXCHANGE + "ListRateAgreements",
                xpb.ListRateAgreementsRequest(),
            )
            .agreements[0]
            .terms,  # type: ignore[attr-defined]
        ),
        lambda w: [f"{OWNER}>{COUNTERPARTY}"],
        lambda w: f"{COUNTERPARTY}>{OWNER}",
    ),
    "ExchangeService/AcceptRateAgreement": cases_of(
        *(
            alike(
                EXCHANGE + "AcceptRateAgreement",
                lambda w, agreement_id, v=version: xpb.AcceptRateAgreementRequest(  # type: ignore[misc]
                    agreement_id=agreement_id, version=v
                ),
                named("rate agreement"),
                lambda w: "rt_" + uuid.uuid4().hex[:16],
            )
            for version in (1, 2)
        )
    ),
    "ExchangeService/ListRateAgreements": scoped_read(
        EXCHANGE + "ListRateAgreements",
        lambda w: xpb.ListRateAgreementsRequest(page_size=500),
        only_own_agreements,
    ),
    "ExchangeService/CreateQuote": alike(
        EXCHANGE + "CreateQuote",
        lambda w, p: xpb.CreateQuoteRequest(
            ppid=p, destination_partner_id=COUNTERPARTY, source_points=2000
        ),
        ppids,
        unknown_ppid,
    ),
    "ExchangeService/CreateTransfer": cases_of(
        alike(
            EXCHANGE + "CreateTransfer",
            lambda w, q: xpb.CreateTransferRequest(quote_id=q),
            named("unused quote"),
            lambda w: unknown_quote(),
        ),
        alike(
            EXCHANGE + "CreateTransfer",
            lambda w, p: xpb.CreateTransferRequest(
                ppid=p, destination_partner_id=COUNTERPARTY, source_points=2000
            ),
            ppids,
            unknown_ppid,
        ),
    ),
    "ExchangeService/CreateTransferBatch": items_alike(
        EXCHANGE + "CreateTransferBatch",
        batch_of,
        lambda w: [w.ids["unused quote"], *ppids(w)],
        lambda w: [unknown_quote(), new_ppid(), new_ppid()],
    ),
    "ExchangeService/GetTransfer": alike(
        EXCHANGE + "GetTransfer",
        lambda w, t: xpb.GetTransferRequest(transfer_id=t),
        party_transfers,
        unknown_transfer,
    ),
    "ExchangeService/ListTransfers": scoped_read(
        EXCHANGE + "ListTransfers",
        lambda w: xpb.ListTransfersRequest(page_size=500),
        only_own_transfers,
    ),
    "ExchangeService/ConfirmCredit": alike(
        EXCHANGE + "ConfirmCredit",
        lambda w, t: xpb.ConfirmCreditRequest(transfer_id=t),
        party_transfers,
        unknown_transfer,
    ),
    "ExchangeService/ConfirmCredits": items_alike(
        EXCHANGE + "ConfirmCredits",
        lambda w, ids: xpb.ConfirmCreditsRequest(transfer_ids=ids),
        party_transfers,
        lambda w: [unknown_transfer(w), unknown_transfer(w)],
    ),
    "ExchangeService/RejectCredit": alike(
        EXCHANGE + "RejectCredit",
        lambda w, t: xpb.RejectCreditRequest(transfer_id=t, reason="account closed"),
        party_transfers,
        unknown_transfer,
    ),
    "ExchangeService/CreateReversal": alike(
        EXCHANGE + "CreateReversal",
        lambda w, t: xpb.CreateReversalRequest(transfer_id=t),
        party_transfers,
        unknown_transfer,
    ),
    # SettlementService: a settled day's lines, proofs, instructions and disputes of others.
    "SettlementService/GetSettlementRun": scoped_read(
        SETTLEMENT + "GetSettlementRun",
        lambda w: settlement_pb2.GetSettlementRunRequest(
            business_day=w.business_day, currency_code=USD
        ),
        only_own_position,
    ),
    "SettlementService/GetStatement": scoped_read(
        SETTLEMENT + "GetStatement",
        lambda w: settlement_pb2.GetStatementRequest(
            business_day=w.business_day, currency_code=USD
        ),
        only_own_statement_lines,
    ),
    "SettlementService/GetInclusionProof": alike(
        SETTLEMENT + "GetInclusionProof",
        lambda w, t: settlement_pb2.GetInclusionProofRequest(
            business_day=w.business_day, transfer_id=t
        ),
        named("completed transfer"),
        unknown_transfer,
    ),
    "SettlementService/ListPaymentInstructions": scoped_read(
        SETTLEMENT + "ListPaymentInstructions",
        lambda w: settlement_pb2.ListPaymentInstructionsRequest(business_day=w.business_day),
        only_own_instructions,
    ),
    "SettlementService/SubmitReconciliation": reconciliation_case,
    "SettlementService/OpenDispute": alike(
        SETTLEMENT + "OpenDispute", dispute_request, named("completed transfer"), unknown_transfer
    ),
    "SettlementService/ResolveDispute": alike(
        SETTLEMENT + "ResolveDispute",
        lambda w, d: settlement_pb2.ResolveDisputeRequest(
            dispute_id=d, accept=True, reason="agreed"
        ),
        named("dispute"),
        lambda w: "dp_" + uuid.uuid4().hex[:24],
    ),
    "SettlementService/ListDisputes": scoped_read(
        SETTLEMENT + "ListDisputes",
        lambda w: settlement_pb2.ListDisputesRequest(),
        only_own_disputes,
    ),
    # AnalyticsService: pairs orbit is not party to, member counts, others' programme totals.
    "AnalyticsService/GetMetricSeries": analytics.metric_series_case,
    "AnalyticsService/ReportProgrammeTotals": scoped_write(
        analytics.ANALYTICS + "ReportProgrammeTotals",
        analytics.report_request,
        analytics.reported_for_orbit_alone,
    ),
    "AnalyticsService/GetProgrammeComparison": analytics.programme_comparison_case,
}


# --- the tests -----------------------------------------------------------------------------------


def test_every_rpc_of_every_service_has_a_case() -> None:
    served = {path.removeprefix("/coalition.v1.") for path in METHODS}
    assert served == set(CASES), (
        f"RPCs without a cross-partner case: {sorted(served - set(CASES))}; "
        f"cases for no RPC: {sorted(set(CASES) - served)}"
    )


def test_the_world_holds_every_object_the_cases_probe(world: World) -> None:
    """The probes are only as good as their targets: each exists, and its owner can use it."""
    owner = world.connection(OWNER)
    transfers = {
        name: call(
            owner, EXCHANGE + "GetTransfer", xpb.GetTransferRequest(transfer_id=world.ids[name])
        )
        for name in ("completed transfer", "pending transfer")
    }
    assert transfers["completed transfer"].transfer.state == xpb.TRANSFER_STATE_COMPLETED  # type: ignore[attr-defined]
    assert transfers["pending transfer"].transfer.state == xpb.TRANSFER_STATE_PENDING  # type: ignore[attr-defined]
    links = call(
        owner, IDENTITY + "ListLinks", identity_pb2.ListLinksRequest(ppid=world.ids["owner ppid"])
    )
    assert list(links.partner_ids) == [COUNTERPARTY]  # type: ignore[attr-defined]
    states = query_rows(
        world.engine,
        "SELECT version, state FROM rate_agreements WHERE agreement_id = :a ORDER BY version",
        a=world.ids["rate agreement"],
    )
    assert [version for version, _ in states] == [1, 2] and states[0][1] != states[1][1]
    assert query_rows(
        world.engine,
        "SELECT count(*) FROM recognition_agreements WHERE agreement_id = :a",
        a=world.ids["recognition agreement"],
    ) == [(2,)]
    for table, column, name in (
        ("quotes", "quote_id", "unused quote"),
        ("disputes", "dispute_id", "dispute"),
        ("tier_grants", "grant_id", "grant"),
    ):
        found = query_rows(
            world.engine, f"SELECT count(*) FROM {table} WHERE {column} = :v", v=world.ids[name]
        )
        assert found == [(1,)], name
    proof = call(
        owner,
        SETTLEMENT + "GetInclusionProof",
        settlement_pb2.GetInclusionProofRequest(
            business_day=world.business_day, transfer_id=world.ids["completed transfer"]
        ),
    )
    assert proof.record  # type: ignore[attr-defined]


@pytest.mark.parametrize("rpc", sorted(CASES))
def test_the_outsider_cannot_read_or_act_on_another_partners_objects(
    world: World, rpc: str, reliability_tally: ReliabilityTally
) -> None:
    world.received.clear()

    CASES[rpc](world, reliability_tally)

    leaks = [
        leak
        for method, body in world.received
        for leak in foreign_in(world, f"a {method} response to orbit", body)
    ]
    assert leaks == []
    reliability_tally.add("cross-partner: RPCs probed", 1)
    reliability_tally.add("cross-partner: responses scanned", len(world.received))


def test_a_confirmation_batch_of_nothing_but_refusals_writes_nothing(
    sqlite_template: Path, tmp_path: Path
) -> None:
    """§7 inv. 9, and the batch's own promise: a refused item leaves nothing behind.

    On a database of its own (the defect is in the handler, not the backend), so the module's
    world on the run's shared PostgreSQL database is never emptied under it.
    """
    url = databases.fresh_sqlite_copy(sqlite_template, tmp_path)
    settings = Settings.load(
        environ={}, database_url=url, listen_address="127.0.0.1:0", audience=AUDIENCE
    )
    hub = bootstrap(settings, hub_key=SigningKey.generate(), engine=create_database_engine(url))
    coalition = TestCoalition(hub, seed_partners(hub))
    hub.start()
    try:
        confirm_nothing(coalition)
    finally:
        coalition.close()
        hub.stop(0)


def confirm_nothing(coalition: TestCoalition) -> None:
    outsider = coalition.connection(OUTSIDER)
    unknown = ["tr_" + uuid.uuid4().hex[:24] for _ in range(2)]
    single = refused(
        coalition.hub.engine,
        lambda: call(
            outsider, EXCHANGE + "ConfirmCredit", xpb.ConfirmCreditRequest(transfer_id=unknown[0])
        ),
    )
    assert single.reason == "TRANSFER_NOT_FOUND"
    before = table_snapshot(coalition.hub.engine, exclude=REQUEST_BOOKKEEPING)

    confirmed = call(
        outsider, EXCHANGE + "ConfirmCredits", xpb.ConfirmCreditsRequest(transfer_ids=unknown)
    )

    assert {r.error.reason for r in confirmed.results} == {"TRANSFER_NOT_FOUND"}  # type: ignore[attr-defined]
    assert table_snapshot(coalition.hub.engine, exclude=REQUEST_BOOKKEEPING) == before
