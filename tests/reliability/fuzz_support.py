"""Hostile input (issue 7 item 4): every coalition.v1 RPC, requests drawn from the descriptors,
hand-built wire bytes, a hub with a prepared world, and the database compared before and after.

The hub runs its gRPC server only, not its purge, timeout and settlement loops: those write on
their own schedule, and a refused request must be seen to leave every row exactly as it was.
"""

from __future__ import annotations

import contextlib
import datetime
import functools
import logging
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast
from unittest import mock

import grpc
import pytest
from google.protobuf.descriptor import Descriptor, FieldDescriptor, ServiceDescriptor
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from hypothesis import strategies as st
from sqlalchemy import Engine, inspect, text

from coalition.keys import SigningKey
from coalition.v1 import (
    analytics_pb2,
    event_pb2,
    exchange_pb2,
    identity_pb2,
    partner_pb2,
    settlement_pb2,
    tier_pb2,
)
from exchange import bootstrap as hub_bootstrap
from exchange.adapters.sql.engine import create_database_engine
from exchange.api import paging
from exchange.api.calls import RpcMethod
from exchange.api.pipeline import RequestPipeline
from exchange.api.registry import declared_methods
from exchange.api.server import build_server
from exchange.bootstrap import Hub, bootstrap
from exchange.config import Settings
from exchange.domain import limits
from exchange.services.settlement import settle_day
from partners.sdk import HubConnection
from partners.sdk.connection import connect
from tests.support import databases
from tests.support.coalition import AUDIENCE, seed_partners
from tests.support.raw_calls import RawOutcome, SignedRequest, call_raw
from tests.support.transfer_setup import EXCHANGE, IDENTITY, linked_member

Code = grpc.StatusCode

# --- every RPC, from the descriptors -------------------------------------------------------------

# Identity last: erasing and unlinking the prepared members would starve the RPCs after them.
SERVICE_MODULES = (
    partner_pb2,
    event_pb2,
    tier_pb2,
    exchange_pb2,
    settlement_pb2,
    analytics_pb2,
    identity_pb2,
)


@dataclass(frozen=True)
class Rpc:
    path: str
    request_type: type[Message]
    server_streaming: bool

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[1]

    @property
    def descriptor(self) -> Descriptor:
        return cast(Descriptor, self.request_type.DESCRIPTOR)

    def __str__(self) -> str:
        return self.name


def every_rpc() -> tuple[Rpc, ...]:
    found = []
    for module in SERVICE_MODULES:
        for service in module.DESCRIPTOR.services_by_name.values():
            for method in service.methods:
                request_type = GetMessageClass(method.input_type)
                path = f"/{service.full_name}/{method.name}"
                found.append(Rpc(path, request_type, bool(method.server_streaming)))
    return tuple(found)


EVERY_RPC = every_rpc()
RPC_BY_NAME = {rpc.name: rpc for rpc in EVERY_RPC}
assert len(RPC_BY_NAME) == len(EVERY_RPC), "RPC names are unique across coalition.v1"

# --- what may come back --------------------------------------------------------------------------

NEVER = frozenset({Code.INTERNAL, Code.UNKNOWN})
REFUSALS = frozenset(
    {
        Code.INVALID_ARGUMENT,
        Code.FAILED_PRECONDITION,
        Code.NOT_FOUND,
        Code.PERMISSION_DENIED,
        Code.UNAUTHENTICATED,
        Code.ALREADY_EXISTS,
        Code.RESOURCE_EXHAUSTED,
        Code.OUT_OF_RANGE,
        Code.ABORTED,
        Code.UNIMPLEMENTED,
    }
)
ANY_OUTCOME = REFUSALS | {Code.OK}
# A correctly signed request built from the schema always authenticates.
SIGNED_OUTCOME = ANY_OUTCOME - {Code.UNAUTHENTICATED}

# --- the database, before and after --------------------------------------------------------------

Rows = dict[str, list[str]]
NONCE_TABLE = "request_nonces"
# A wrong link code is remembered on purpose: the failures feed the redemption throttle.
LINK_FAILURE_TABLE = "link_failures"
ROW_SEPARATOR = "\n"


class TableReader:
    """Every row of every application table as text, read in one statement: a snapshot per
    call must cost little next to the call itself."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        tables = databases.application_tables(engine)
        inspector = inspect(engine)
        parts = []
        for table in tables:
            if engine.dialect.name == "postgresql":
                rows = f"(SELECT coalesce(string_agg(t::text, E'\\n'), '') FROM \"{table}\" t)"
            else:
                columns = [column["name"] for column in inspector.get_columns(table)]
                line = " || ',' || ".join(f'quote("{column}")' for column in columns)
                rows = f"(SELECT coalesce(group_concat({line}, char(10)), '') FROM \"{table}\")"
            parts.append(f"SELECT '{table}', {rows}")
        self.statement = text(" UNION ALL ".join(parts))

    def nonce_spent(self, partner_id: str, nonce: str) -> bool:
        query = text(f"SELECT 1 FROM {NONCE_TABLE} WHERE partner_id = :partner AND nonce = :nonce")
        with self.engine.connect() as connection:
            found = connection.execute(query, {"partner": partner_id, "nonce": nonce})
            return found.first() is not None

    def snapshot(self) -> Rows:
        with self.engine.connect() as connection:
            return {
                table: rows.split(ROW_SEPARATOR) if rows else []
                for table, rows in connection.execute(self.statement)
            }


@dataclass(frozen=True)
class TableChange:
    table: str
    added: tuple[str, ...]
    removed: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.table}: +{_rows_text(self.added)} -{_rows_text(self.removed)}"


def _rows_text(rows: Sequence[str]) -> str:
    shown = ", ".join(row[:160] for row in rows[:3])
    return f"{len(rows)} [{shown}{', ...' if len(rows) > 3 else ''}]"


def table_changes(before: Rows, after: Rows) -> list[TableChange]:
    changes = []
    for table in sorted(set(before) | set(after)):
        old, new = Counter(before.get(table, [])), Counter(after.get(table, []))
        added, removed = tuple((new - old).elements()), tuple((old - new).elements())
        if added or removed:
            changes.append(TableChange(table, added, removed))
    return changes


def writes_on_refusal(
    changes: Sequence[TableChange], rpc: Rpc, partner_id: str, nonce: str
) -> list[TableChange]:
    """The changes a refused request must not make: all but its own spent nonce and, for
    RedeemLinkCode only, new throttle failure records."""
    unexpected = []
    for change in changes:
        own_nonce = all(nonce in row and partner_id in row for row in change.added)
        if change.table == NONCE_TABLE and not change.removed and own_nonce:
            continue
        throttle = change.table == LINK_FAILURE_TABLE and rpc.name == "RedeemLinkCode"
        if throttle and not change.removed:
            continue
        unexpected.append(change)
    return unexpected


# --- what the hub logs ---------------------------------------------------------------------------


class ExceptionLog(logging.Handler):
    """Collects every record the hub logs with a traceback (a request that failed inside)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self._guard = threading.Lock()
        self.records: list[str] = []
        self.setFormatter(logging.Formatter("%(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info is None:
            return
        with self._guard:
            self.records.append(self.format(record))

    def take(self) -> tuple[str, ...]:
        with self._guard:
            taken, self.records = tuple(self.records), []
            return taken


# --- one observed call ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Observation:
    rpc: Rpc
    request: SignedRequest
    code: grpc.StatusCode
    reason: str
    message: str
    changes: tuple[TableChange, ...]
    hub_tracebacks: tuple[str, ...]
    response: bytes | None = None
    note: str = ""

    def unexpected_writes(self) -> list[TableChange]:
        if self.code is Code.OK:
            return []
        return writes_on_refusal(
            self.changes, self.rpc, self.request.partner_id, self.request.nonce
        )

    def problems(self, allowed: frozenset[grpc.StatusCode]) -> list[str]:
        found = []
        if self.code in NEVER or self.code not in allowed:
            names = ", ".join(sorted(code.name for code in allowed))
            found.append(f"status {self.code.name} is not one of {names}")
        found.extend(f"refused but wrote {change}" for change in self.unexpected_writes())
        found.extend(f"hub logged a failure:\n{trace}" for trace in self.hub_tracebacks)
        return found

    def report(self, problems: Sequence[str]) -> str:
        body = self.request.body
        return "\n".join(
            [
                f"{self.rpc.path} as {self.request.partner_id} {self.note}".rstrip(),
                f"request: {describe_body(self.rpc, body)}",
                f"outcome: {self.code.name} {self.reason} {self.message[:300]!r}",
                *problems,
            ]
        )


def describe_body(rpc: Rpc, body: bytes) -> str:
    shown = body[:160].hex() + ("..." if len(body) > 160 else "")
    try:
        parsed = rpc.request_type.FromString(body)
    except Exception:  # the description of an unparseable body is its bytes
        return f"{len(body)} bytes {shown}"
    text_form = str(parsed).replace("\n", " ")
    return f"{len(body)} bytes {shown} = {{{text_form[:600]}}}"


def assert_contained(observation: Observation, allowed: frozenset[grpc.StatusCode]) -> None:
    problems = observation.problems(allowed)
    assert not problems, observation.report(problems)


# --- the prepared world --------------------------------------------------------------------------

PARTNER_IDS = ("skyway", "harbor", "orbit")
PARTNER_FIELDS = (
    "partner_id",
    "source_partner_id",
    "destination_partner_id",
    "target_partner_id",
)
TIER_FIELDS = ("code", "tier_code", "source_tier_code", "target_tier_code")
TRANSFER_FIELDS = ("transfer_id", "transfer_ids", "original_transfer_id")
CURRENCY_FIELDS = ("currency_code", "settlement_currency_code")
# A few of the measures (docs/metrics.md), one of each kind and scope, and one no metric has.
METRIC_NAMES = (
    "transfer_count",
    "coalition_total_value",
    "quote_conversion",
    "time_to_credit_p95_ms",
    "members_linked_2",
    "cohort_size",
    "net_position_30d",
    "no_such_metric",
)


@dataclass(frozen=True)
class World:
    """Live ids a hostile caller could know, so fuzzed requests reach past the first lookup."""

    source_ppid: str  # skyway's member, linked to harbor
    destination_ppid: str  # the same member at harbor
    orbit_ppid: str  # linked nowhere
    unlinked_skyway_ppid: str
    rate_agreement_id: str  # skyway -> harbor, accepted (version 1)
    proposed_rate_agreement_id: str  # orbit -> skyway, proposed by orbit (version 1)
    recognition_agreement_id: str  # skyway -> harbor, proposed by skyway (version 1)
    quote_id: str  # skyway's member, 1000 points to harbor
    pending_transfer_id: str  # skyway -> harbor
    completed_transfer_id: str  # skyway -> harbor, settled
    settled_day: str
    dispute_id: str  # opened by skyway on the completed transfer
    link_code: str  # issued by orbit for its member
    key_ids: tuple[str, ...]

    def values_by_field(self) -> dict[str, tuple[str, ...]]:
        values: dict[str, tuple[str, ...]] = {name: PARTNER_IDS for name in PARTNER_FIELDS}
        values.update({name: ("BLUE", "SILVER", "GOLD", "PLATINUM") for name in TIER_FIELDS})
        values.update(
            {
                name: (self.pending_transfer_id, self.completed_transfer_id)
                for name in TRANSFER_FIELDS
            }
        )
        values.update({name: ("USD", "EUR", "JPY", "usd", "XXX") for name in CURRENCY_FIELDS})
        ppids = (self.source_ppid, self.destination_ppid, self.orbit_ppid)
        values["ppid"] = (*ppids, self.unlinked_skyway_ppid)
        values["agreement_id"] = (
            self.rate_agreement_id,
            self.proposed_rate_agreement_id,
            self.recognition_agreement_id,
        )
        values["quote_id"] = (self.quote_id,)
        values["business_day"] = (self.settled_day, "2020-01-01", "2020-02-30", "20200101")
        values["dispute_id"] = (self.dispute_id,)
        values["link_code"] = (self.link_code,)
        values["key_id"] = self.key_ids
        values["direction"] = ("outgoing", "incoming")
        values["price_per_destination_point"] = ("0.0040", "1", "0.00000001", "1e3", "NaN")
        values["page_token"] = (paging.encode_token("skyway"), paging.encode_token("rt_|1"))
        values["display_name"] = ("Gold",)
        values["reason"] = ("account closed", "amount differs")
        values["idempotency_key"] = (str(uuid.UUID(int=1)), "not-a-uuid")
        values["counterpart_partner_id"] = PARTNER_IDS
        values["metric"] = METRIC_NAMES
        days = (self.settled_day, "2020-01-01", "2020-02-30", "20200101")
        values["start_date"] = values["end_date"] = days
        values["period"] = (self.settled_day[:7], "2020-01", "2020-13", "202001")
        return values


def _call(
    connection: HubConnection, method: str, request: Message, response_type: type[Message]
) -> Message:
    return connection.call(method, request, response_type, changes_state=True)


def rate_terms(minimum_source_points: int = 1000) -> exchange_pb2.RateTerms:
    terms = exchange_pb2.RateTerms(
        source_units=1000,
        destination_units=750,
        minimum_source_points=minimum_source_points,
        increment_source_points=1000,
        maximum_source_points=100_000,
        member_daily_cap_source_points=1_000_000,
        settlement_currency_code="USD",
        price_per_destination_point="0.0040",
    )
    terms.effective_from.FromDatetime(datetime.datetime(2020, 1, 1))
    return terms


def propose_rates(source: HubConnection, destination_id: str) -> str:
    request = exchange_pb2.ProposeRateAgreementRequest(
        source_partner_id=source.partner_id,
        destination_partner_id=destination_id,
        terms=rate_terms(),
    )
    response = _call(
        source,
        EXCHANGE + "ProposeRateAgreement",
        request,
        exchange_pb2.ProposeRateAgreementResponse,
    )
    return str(response.agreement.agreement_id)  # type: ignore[attr-defined]


def _accept_rates(destination: HubConnection, agreement_id: str) -> None:
    request = exchange_pb2.AcceptRateAgreementRequest(agreement_id=agreement_id, version=1)
    _call(
        destination,
        EXCHANGE + "AcceptRateAgreement",
        request,
        exchange_pb2.AcceptRateAgreementResponse,
    )


def _enroll(connection: HubConnection) -> str:
    response = _call(
        connection,
        IDENTITY + "EnrollMember",
        identity_pb2.EnrollMemberRequest(),
        identity_pb2.EnrollMemberResponse,
    )
    return str(response.ppid)  # type: ignore[attr-defined]


def new_quote(source: HubConnection, ppid: str, points: int) -> str:
    request = exchange_pb2.CreateQuoteRequest(
        ppid=ppid, destination_partner_id="harbor", source_points=points
    )
    response = _call(source, EXCHANGE + "CreateQuote", request, exchange_pb2.CreateQuoteResponse)
    payload = response.quote.payload  # type: ignore[attr-defined]
    return str(exchange_pb2.QuotePayload.FromString(payload).quote_id)


def _transfer(source: HubConnection, quote_id: str) -> str:
    request = exchange_pb2.CreateTransferRequest(quote_id=quote_id)
    response = _call(
        source, EXCHANGE + "CreateTransfer", request, exchange_pb2.CreateTransferResponse
    )
    return str(response.transfer.transfer_id)  # type: ignore[attr-defined]


def _publish_ladder(connection: HubConnection, codes: Sequence[str]) -> None:
    tiers = [
        tier_pb2.Tier(code=code, display_name=code.title(), rank=rank, canonical_level=rank)
        for rank, code in enumerate(codes, start=1)
    ]
    request = tier_pb2.PublishTierLadderRequest(tiers=tiers, canonical_matching=True)
    _call(
        connection,
        "/coalition.v1.TierService/PublishTierLadder",
        request,
        tier_pb2.PublishTierLadderResponse,
    )


def _propose_recognition(skyway: HubConnection) -> str:
    request = tier_pb2.ProposeRecognitionRequest(
        source_partner_id="skyway",
        target_partner_id="harbor",
        rules=[tier_pb2.RecognitionRule(source_tier_code="GOLD", target_tier_code="GOLD")],
        validity_days=365,
        min_days_between_grants=30,
    )
    response = _call(
        skyway,
        "/coalition.v1.TierService/ProposeRecognition",
        request,
        tier_pb2.ProposeRecognitionResponse,
    )
    return str(response.agreement.agreement_id)  # type: ignore[attr-defined]


def _settle_day_of(hub: Hub, transfer_id: str) -> str:
    """Closes and settles the business day the transfer completed in (before its cut-off)."""
    query = text("SELECT business_day FROM transfers WHERE transfer_id = :transfer_id")
    with hub.engine.connect() as connection:
        day = str(connection.execute(query, {"transfer_id": transfer_id}).scalar_one())
    settle_day(hub.engine, hub.settings.calendar, hub.clock, day, close_early=True)
    return day


def _open_dispute(skyway: HubConnection, day: str, transfer_id: str) -> str:
    request = settlement_pb2.OpenDisputeRequest(
        business_day=day,
        transfer_id=transfer_id,
        claimed_amount={"amount_minor": 1, "currency_code": "USD"},
        reason="amount differs",
    )
    response = _call(
        skyway,
        "/coalition.v1.SettlementService/OpenDispute",
        request,
        settlement_pb2.OpenDisputeResponse,
    )
    return str(response.dispute.dispute_id)  # type: ignore[attr-defined]


def build_world(
    hub: Hub, connections: dict[str, HubConnection], keys: dict[str, SigningKey]
) -> World:
    skyway, harbor, orbit = (connections[p] for p in PARTNER_IDS)
    source_ppid, destination_ppid = linked_member(skyway, harbor)
    rate_agreement_id = propose_rates(skyway, "harbor")
    _accept_rates(harbor, rate_agreement_id)
    pending = _transfer(skyway, new_quote(skyway, source_ppid, 2000))
    completed = _transfer(skyway, new_quote(skyway, source_ppid, 3000))
    _call(
        harbor,
        EXCHANGE + "ConfirmCredit",
        exchange_pb2.ConfirmCreditRequest(transfer_id=completed),
        exchange_pb2.ConfirmCreditResponse,
    )
    day = _settle_day_of(hub, completed)
    _publish_ladder(skyway, ("BLUE", "SILVER", "GOLD"))
    _publish_ladder(harbor, ("MEMBER", "GOLD", "PLATINUM"))
    orbit_ppid = _enroll(orbit)
    link_code = _call(
        orbit,
        IDENTITY + "CreateLinkCode",
        identity_pb2.CreateLinkCodeRequest(ppid=orbit_ppid),
        identity_pb2.CreateLinkCodeResponse,
    ).link_code  # type: ignore[attr-defined]
    return World(
        source_ppid=source_ppid,
        destination_ppid=destination_ppid,
        orbit_ppid=orbit_ppid,
        unlinked_skyway_ppid=_enroll(skyway),
        rate_agreement_id=rate_agreement_id,
        proposed_rate_agreement_id=propose_rates(orbit, "skyway"),
        recognition_agreement_id=_propose_recognition(skyway),
        quote_id=new_quote(skyway, source_ppid, 1000),
        pending_transfer_id=pending,
        completed_transfer_id=completed,
        settled_day=day,
        dispute_id=_open_dispute(skyway, day, completed),
        link_code=str(link_code),
        key_ids=tuple(keys[p].key_id for p in PARTNER_IDS),
    )


# --- the hub under fuzz --------------------------------------------------------------------------

# An accepted subscription stays open. It counts as accepted once it sends an event, or once
# its nonce is spent (authentication passed and the body parsed) and it has not ended this
# long afterwards; then it is cancelled.
STREAM_QUIET_S = 1.0
STREAM_POLL_S = 0.02
CALL_TIMEOUT_S = 30.0


@dataclass
class FuzzHub:
    hub: Hub
    keys: dict[str, SigningKey]
    channel: grpc.Channel
    reader: TableReader
    exceptions: ExceptionLog
    world: World
    undeclared: frozenset[str] = frozenset()
    # The hub's own request pipeline and declared methods, for fuzzing without the network.
    pipeline: RequestPipeline | None = None
    methods: dict[str, RpcMethod] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __repr__(self) -> str:
        return f"FuzzHub({self.backend}, port {self.hub.port})"

    @property
    def backend(self) -> str:
        return str(self.hub.engine.dialect.name)

    def signed(self, rpc: Rpc, body: bytes, partner_id: str = "skyway") -> SignedRequest:
        return SignedRequest(
            rpc.path,
            body,
            partner_id,
            self.keys[partner_id],
            AUDIENCE,
            idempotency_key=str(uuid.uuid4()),
        )

    def observe(
        self,
        rpc: Rpc,
        request: SignedRequest,
        metadata: Sequence[tuple[str, str | bytes]] | None = None,
        note: str = "",
    ) -> Observation:
        """Sends one call and reports its status and every row it changed."""
        sent = list(request.metadata() if metadata is None else metadata)
        with self._lock:
            before = self.reader.snapshot()
            self.exceptions.take()
            if rpc.server_streaming:
                spent = functools.partial(
                    self.reader.nonce_spent, request.partner_id, request.nonce
                )
                outcome = stream_outcome(self.channel, rpc.path, request.body, sent, spent)
            else:
                outcome = call_raw(self.channel, rpc.path, request.body, sent)
            changes = table_changes(before, self.reader.snapshot())
            return Observation(
                rpc,
                request,
                outcome.code,
                outcome.reason,
                outcome.message,
                tuple(changes),
                self.exceptions.take(),
                outcome.response,
                note,
            )

    def send(
        self, rpc: Rpc, body: bytes, partner_id: str = "skyway", note: str = ""
    ) -> Observation:
        return self.observe(rpc, self.signed(rpc, body, partner_id), note=note)

    def implemented(self, rpc: Rpc) -> bool:
        return rpc.path not in self.undeclared


def stream_outcome(
    channel: grpc.Channel,
    path: str,
    body: bytes,
    metadata: Sequence[tuple[str, str | bytes]],
    nonce_spent: Callable[[], bool],
) -> RawOutcome:
    """A server-streaming call's refusal, or OK once it is seen accepted (then cancelled)."""
    callable_ = channel.unary_stream(path, request_serializer=None, response_deserializer=None)
    # The rendezvous is a Call, a Future and an iterator at once; the stubs know only the last.
    call: Any = callable_(body, metadata=tuple(metadata), timeout=CALL_TIMEOUT_S)
    ended, first_event = threading.Event(), threading.Event()
    call.add_done_callback(lambda _call: ended.set())

    def read_first_event() -> None:
        with contextlib.suppress(grpc.RpcError, StopIteration):
            next(call)
            first_event.set()

    threading.Thread(target=read_first_event, name="first-event", daemon=True).start()
    deadline = time.monotonic() + CALL_TIMEOUT_S
    spent_at: float | None = None
    while not ended.wait(STREAM_POLL_S):
        now = time.monotonic()
        if spent_at is None and nonce_spent():
            spent_at = now
        accepted = first_event.is_set() or (
            spent_at is not None and now - spent_at > STREAM_QUIET_S
        )
        if accepted or now > deadline:
            call.cancel()
            assert accepted, f"{path}: the subscription neither ended nor was accepted"
            return RawOutcome(Code.OK, "", "", None, {})
    return RawOutcome(call.code(), call.details() or "", _reason(call), None, {})


def _reason(call: grpc.Call) -> str:
    status = rpc_status.from_call(call)
    for detail in status.details if status is not None else []:
        info = error_details_pb2.ErrorInfo()
        if detail.Unpack(info):
            return str(info.reason)
    return ""


def _undeclared_rpcs(fuzz_hub: FuzzHub) -> frozenset[str]:
    """RPCs the hub refuses as not declared. An unknown field makes every declared RPC refuse
    before it writes anything, so the probe leaves the database as it was."""
    undeclared = set()
    for rpc in EVERY_RPC:
        outcome = fuzz_hub.send(rpc, UNKNOWN_FIELD, note="(declaration probe)")
        if outcome.code is Code.UNIMPLEMENTED:
            undeclared.add(rpc.path)
    return frozenset(undeclared)


@contextmanager
def module_database(request: pytest.FixtureRequest, directory: Path) -> Iterator[str]:
    """A migrated, empty database of the requested backend that belongs to one module alone."""
    if request.param == "sqlite":
        template = request.getfixturevalue("sqlite_template")
        yield databases.fresh_sqlite_copy(template, directory)
        return
    databases.require_or_skip_postgres()
    with databases.migrated_postgres_database() as url:
        yield url


@dataclass
class _Wiring:
    pipeline: RequestPipeline | None = None
    methods: dict[str, RpcMethod] = field(default_factory=dict)


def _bootstrap_capturing(settings: Settings, engine: Engine) -> tuple[Hub, _Wiring]:
    """The hub as bootstrap wires it, and the pipeline and methods it hands its server."""
    wiring = _Wiring()

    def capture(
        server_settings: Settings,
        pipeline: RequestPipeline,
        services: Sequence[tuple[ServiceDescriptor, object]],
        *rest: Any,
    ) -> Any:
        wiring.pipeline = pipeline
        for service, servicer in services:
            wiring.methods.update(declared_methods(servicer, service))
        return build_server(server_settings, pipeline, services, *rest)

    with mock.patch.object(hub_bootstrap, "build_server", capture):
        hub = bootstrap(settings, hub_key=SigningKey.generate(), engine=engine)
    return hub, wiring


@contextmanager
def running_fuzz_hub(database_url: str) -> Iterator[FuzzHub]:
    settings = Settings.load(
        environ={}, database_url=database_url, listen_address="127.0.0.1:0", audience=AUDIENCE
    )
    engine = create_database_engine(database_url)
    hub, wiring = _bootstrap_capturing(settings, engine)
    keys = seed_partners(hub)
    hub.server.start()
    exceptions = ExceptionLog()
    logging.getLogger("exchange").addHandler(exceptions)
    target = f"127.0.0.1:{hub.port}"
    hub_keys = {hub.hub_key.key_id: hub.hub_key.public_key_bytes}
    connections = {p: connect(target, p, keys[p], AUDIENCE, hub_keys) for p in PARTNER_IDS}
    channel = grpc.insecure_channel(target)
    try:
        world = build_world(hub, connections, keys)
        fuzz_hub = FuzzHub(hub, keys, channel, TableReader(engine), exceptions, world)
        fuzz_hub.pipeline, fuzz_hub.methods = wiring.pipeline, wiring.methods
        fuzz_hub.undeclared = _undeclared_rpcs(fuzz_hub)
        yield fuzz_hub
    finally:
        channel.close()
        for connection in connections.values():
            connection.close()
        logging.getLogger("exchange").removeHandler(exceptions)
        hub.stop(0)
        engine.dispose()


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

# --- request strategies from the descriptors -----------------------------------------------------

INT_RANGES = {
    FieldDescriptor.TYPE_INT64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_SINT64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_SFIXED64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_INT32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_SINT32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_SFIXED32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_UINT32: (0, 2**32 - 1),
    FieldDescriptor.TYPE_FIXED32: (0, 2**32 - 1),
    FieldDescriptor.TYPE_UINT64: (0, 2**64 - 1),
    FieldDescriptor.TYPE_FIXED64: (0, 2**64 - 1),
}
SMALL_INTS = (0, 1, -1, 2, 30, 99, 100, 101, 500, 501, 999, 1000, 1001, 2000, 100_000)
LIMIT_INTS = (1_000_000_000, 1_000_000_001, 10**12, 10**12 + 1, 2**31 - 1, -(2**31), 2**32)
EXTREME_INTS = (2**53 + 1, 2**63 - 1, -(2**63))
EDGE_INTS = (*SMALL_INTS, *LIMIT_INTS, *EXTREME_INTS)
NOW_S = int(time.time())
EDGE_SECONDS = (
    NOW_S,
    NOW_S + 86_400,
    NOW_S + 10 * 365 * 86_400,
    NOW_S + 11 * 365 * 86_400,
    1_577_836_800,  # 2020-01-01
    253_402_300_799,  # 9999-12-31T23:59:59, Timestamp's documented maximum
    253_402_300_800,
    -62_135_596_800,  # 0001-01-01, Timestamp's documented minimum
    2**62,
)
ODD_TEXT = (
    "",
    " ",
    "\x00",
    "skyway\x00",
    "\u202eyawyks",  # right-to-left override
    "sky\u200bway",  # zero-width space
    "\uff33\uff4b\uff59\uff57\uff41\uff59",  # full-width letters
    "SKYWAY",
    "e\u0301",
    "\U0001f600",
    "\U0010ffff",
    "\ufeff",
    "' OR '1'='1",
    "%s%n{0}",
    "\r\n",
    "a" * 33,
    "a" * 201,
    "a" * 10_000,
)
# Repeated fields also come as one element many times: past every "up to 1,000" limit.
MANY_ELEMENTS = (1001, 2500)
MESSAGE_DEPTH_MAX = 5


class RequestStrategies:
    """Hypothesis strategies for any request message, biased towards the world's live ids."""

    def __init__(self, world: World) -> None:
        self.values = world.values_by_field()
        self._messages: dict[str, st.SearchStrategy[Message]] = {}

    def __repr__(self) -> str:
        return "RequestStrategies(world)"

    def message(self, descriptor: Descriptor, depth: int = 0) -> st.SearchStrategy[Message]:
        if descriptor.full_name not in self._messages:
            self._messages[descriptor.full_name] = self._build_message(descriptor, depth)
        return self._messages[descriptor.full_name]

    def _build_message(self, descriptor: Descriptor, depth: int) -> st.SearchStrategy[Message]:
        message_class = GetMessageClass(descriptor)
        if depth >= MESSAGE_DEPTH_MAX:
            return st.builds(message_class)
        optional = {item.name: self._field(item, depth) for item in descriptor.fields}
        return st.fixed_dictionaries({}, optional=optional).map(
            lambda values: _message_of(message_class, values)
        )

    def _field(self, item: FieldDescriptor, depth: int) -> st.SearchStrategy[object]:
        single = self._single(item, depth)
        if not item.is_repeated:
            return single
        assert item.message_type is None or not item.message_type.GetOptions().map_entry, (
            f"{item.full_name}: map fields need their own strategy"
        )
        many = st.tuples(single, st.sampled_from(MANY_ELEMENTS)).map(
            lambda pair: [pair[0]] * pair[1]
        )
        return st.one_of(st.lists(single, max_size=4), many)

    def _single(self, item: FieldDescriptor, depth: int) -> st.SearchStrategy[object]:
        kind = item.type
        if kind in INT_RANGES:
            return _integers(*INT_RANGES[kind], item.name)
        if kind == FieldDescriptor.TYPE_STRING:
            known = self.values.get(item.name, ())
            return st.one_of(
                st.sampled_from((*known, *ODD_TEXT)),
                st.text(max_size=40),
                st.from_regex(r"[a-z]{2,3}_[a-z0-9]{1,30}", fullmatch=True),
            )
        if kind == FieldDescriptor.TYPE_BYTES:
            return st.one_of(st.binary(max_size=80), st.sampled_from((b"\x00" * 32, b"\xff" * 64)))
        if kind == FieldDescriptor.TYPE_ENUM:
            assert item.enum_type is not None
            defined = tuple(value.number for value in item.enum_type.values)
            undefined = (99, -1, 2**31 - 1, -(2**31))
            return st.one_of(
                st.sampled_from(defined + undefined), _integers(-(2**31), 2**31 - 1, "")
            )
        if kind == FieldDescriptor.TYPE_BOOL:
            return st.booleans()
        if kind in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
            return st.floats(allow_nan=True, allow_infinity=True, width=32)
        assert kind == FieldDescriptor.TYPE_MESSAGE and item.message_type is not None, (
            item.full_name
        )
        return self.message(item.message_type, depth + 1)


def _integers(low: int, high: int, name: str) -> st.SearchStrategy[int]:
    edges = EDGE_SECONDS if name == "seconds" else EDGE_INTS
    inside = tuple(value for value in (*edges, low, high) if low <= value <= high)
    return st.one_of(st.sampled_from(inside), st.integers(low, high))


def _message_of(message_class: type[Message], values: dict[str, object]) -> Message:
    message = message_class()
    for name, value in values.items():
        item = message_class.DESCRIPTOR.fields_by_name[name]
        if item.is_repeated:
            getattr(message, name).extend(value)
        elif item.type == FieldDescriptor.TYPE_MESSAGE:
            getattr(message, name).CopyFrom(value)
        else:
            setattr(message, name, value)
    return message


# Bytes that are no valid message: unparseable, or parsed with fields the schema lacks.
NOT_A_MESSAGE = frozenset({Code.INVALID_ARGUMENT, Code.UNAUTHENTICATED})


def hostile_bodies(
    rpc: Rpc, strategies: RequestStrategies
) -> st.SearchStrategy[tuple[str, bytes, frozenset[grpc.StatusCode]]]:
    """(what it is, the bytes, the statuses a signed call with them may get)."""
    valid = strategies.message(rpc.descriptor).map(lambda m: m.SerializeToString())
    options = [
        st.binary(max_size=300).map(lambda b: ("random bytes", b, ANY_OUTCOME)),
        st.tuples(valid, st.integers(0, 2**16)).map(
            lambda pair: ("truncated", pair[0][: pair[1] % (len(pair[0]) + 1)], ANY_OUTCOME)
        ),
        st.sampled_from(sorted(MALFORMED.items())).map(
            lambda item: (f"malformed: {item[0]}", item[1], NOT_A_MESSAGE)
        ),
        valid.map(
            lambda b: ("unknown field", b + UNKNOWN_FIELD, frozenset({Code.UNAUTHENTICATED}))
        ),
    ]
    paths = string_field_paths(rpc.descriptor)
    if paths:
        options.append(
            st.tuples(valid, st.sampled_from(paths), st.sampled_from(INVALID_UTF8)).map(
                lambda t: (
                    f"invalid UTF-8 {t[2]!r} in {path_name(t[1])}",
                    t[0] + embedded(t[1], t[2]),
                    frozenset({Code.INVALID_ARGUMENT}),
                )
            )
        )
    return st.one_of(options).map(_size_checked)


def _size_checked(
    case: tuple[str, bytes, frozenset[grpc.StatusCode]],
) -> tuple[str, bytes, frozenset[grpc.StatusCode]]:
    """Past MESSAGE_BYTES_MAX, gRPC refuses whatever the bytes are."""
    kind, body, _ = case
    if len(body) > limits.MESSAGE_BYTES_MAX:
        return f"{kind}, over the size limit", body, frozenset({Code.RESOURCE_EXHAUSTED})
    return case


def body_at_size(rpc: Rpc, size: int) -> bytes | None:
    """A request of exactly `size` bytes, its first top-level string or bytes field filled."""
    for item in rpc.descriptor.fields:
        if item.type not in (FieldDescriptor.TYPE_STRING, FieldDescriptor.TYPE_BYTES):
            continue
        return _field_of_size(item.number, size)
    return None


def _field_of_size(number: int, size: int) -> bytes:
    head = len(tag(number, WIRE_LENGTH))
    payload_size = size - head - len(varint(size))
    while head + len(varint(payload_size)) + payload_size < size:
        payload_size += 1
    body = length_delimited(number, b"a" * payload_size)
    assert len(body) == size, "no field encodes to exactly this size"
    return body


def over_size_body() -> bytes:
    """One byte past MESSAGE_BYTES_MAX, in a field no request has: gRPC refuses it unread."""
    return _field_of_size(UNUSED_FIELD_NUMBER, limits.MESSAGE_BYTES_MAX + 1)
