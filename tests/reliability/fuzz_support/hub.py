"""The fuzzed hub: its gRPC server only (no purge, timeout or settlement loops), on a database
prepared once per module, with the answers of unary and streaming calls observed."""

from __future__ import annotations

import contextlib
import functools
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

import grpc
import pytest
from google.protobuf.descriptor import ServiceDescriptor
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from sqlalchemy import Engine

from coalition.keys import SigningKey
from exchange import bootstrap as hub_bootstrap
from exchange.adapters.sql.engine import create_database_engine
from exchange.api.calls import RpcMethod
from exchange.api.pipeline import RequestPipeline
from exchange.api.registry import declared_methods
from exchange.api.server import build_server
from exchange.bootstrap import Hub, bootstrap
from exchange.config import Settings
from partners.sdk.connection import connect
from tests.reliability.fuzz_support.observations import (
    ExceptionLog,
    Observation,
    TableReader,
    table_changes,
)
from tests.reliability.fuzz_support.rpcs import EVERY_RPC, Code, Rpc
from tests.reliability.fuzz_support.wire import UNKNOWN_FIELD
from tests.reliability.fuzz_support.world import PARTNER_IDS, World, build_world
from tests.support import databases
from tests.support.coalition import AUDIENCE, seed_partners
from tests.support.raw_calls import RawOutcome, SignedRequest, call_raw

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
