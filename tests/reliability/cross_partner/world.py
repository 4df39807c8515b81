"""The world the cross-partner cases probe: skyway and harbor's shared objects, orbit's own, on a
fresh database of each backend, with the RPCs enumerated from the coalition.v1 descriptors."""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from pathlib import Path

import grpc
import pytest
from google.protobuf.descriptor import MethodDescriptor
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass
from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy import Engine

import coalition.v1
from coalition.v1 import common_pb2, identity_pb2, settlement_pb2
from coalition.v1 import exchange_pb2 as xpb
from coalition.v1 import tier_pb2 as tpb
from exchange.adapters.memory import FixedClock
from exchange.adapters.sql.engine import create_database_engine
from exchange.services.settlement import settle_day
from partners.sdk import HubConnection
from tests.support import databases
from tests.support.databases import REPLAY_BOOKKEEPING
from tests.support.programs import ClockedCoalition, query_rows
from tests.support.transfer_setup import agree_rates, create_transfer, linked_member, quote_id

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
    settle_day(coalition.hub.uow_factory, calendar, clock, business_day, close_early=True)
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
