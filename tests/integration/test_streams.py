"""Subscribe streams hold no worker thread, are capped per partner and per hub, end when the
peer is gone, and their refusals are signed like every other answer."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import grpc
import pytest
from sqlalchemy import Engine

from benchmarks.hub.streams import add_partners
from coalition.keys import SigningKey
from coalition.v1 import partner_pb2
from exchange.bootstrap import Hub, bootstrap
from exchange.config import Settings
from partners.sdk import HubError
from partners.sdk.events import EventClient, Subscription
from tests.support.coalition import AUDIENCE, TestCoalition, seed_partners

WAIT_S_MAX = 20.0
PARTNER_SERVICE = "/coalition.v1.PartnerService/"


def stream_settings(database_url: str, **overrides: int) -> Settings:
    return Settings.load(
        environ={},
        database_url=database_url,
        listen_address="127.0.0.1:0",
        audience=AUDIENCE,
        **overrides,
    )


@contextmanager
def running(settings: Settings, hub_key: SigningKey, engine: Engine) -> Iterator[TestCoalition]:
    hub = bootstrap(settings, hub_key=hub_key, engine=engine)
    keys = seed_partners(hub)
    hub.start()
    coalition = TestCoalition(hub, keys)
    try:
        yield coalition
    finally:
        coalition.close()
        hub.stop(0)


def wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_S_MAX
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def open_streams(hub: Hub, client: EventClient, partner_id: str, count: int) -> list[Subscription]:
    before = hub.server.streams.open_by_partner.get(partner_id, 0)
    opened = [client.open_subscription(None) for _ in range(count)]
    wait_until(
        lambda: hub.server.streams.open_by_partner.get(partner_id, 0) == before + count,
        f"{count} streams of {partner_id}",
    )
    return opened


def refused_stream(client: EventClient) -> HubError:
    with pytest.raises(HubError) as refused:
        next(iter(client.open_subscription(None)))
    return refused.value


def hub_keys(coalition: TestCoalition, partner_id: str) -> int:
    response = coalition.connection(partner_id).call(
        PARTNER_SERVICE + "GetHubKeys",
        partner_pb2.GetHubKeysRequest(),
        partner_pb2.GetHubKeysResponse,
        changes_state=False,
    )
    return len(response.keys)


def test_a_partner_over_its_stream_cap_gets_a_signed_refusal(
    database_url: str, hub_key: SigningKey, engine: Engine
) -> None:
    settings = stream_settings(database_url, streams_per_partner_max=2)
    with running(settings, hub_key, engine) as coalition:
        skyway = EventClient(coalition.connection("skyway"))
        held = open_streams(coalition.hub, skyway, "skyway", 2)

        # The SDK verified the hub's signature over this refusal, or it would have raised
        # ResponseVerificationError instead.
        refusal = refused_stream(skyway)
        assert refusal.code is grpc.StatusCode.RESOURCE_EXHAUSTED
        assert refusal.reason == "STREAM_LIMIT_REACHED"
        # Another partner is not held back by skyway's streams.
        harbor = EventClient(coalition.connection("harbor"))
        held += open_streams(coalition.hub, harbor, "harbor", 2)

        held[0].cancel()
        wait_until(lambda: coalition.hub.server.streams.open_by_partner["skyway"] == 1, "release")
        open_streams(coalition.hub, skyway, "skyway", 1)


def test_the_hub_wide_stream_cap_holds(
    database_url: str, hub_key: SigningKey, engine: Engine
) -> None:
    settings = stream_settings(database_url, streams_per_partner_max=2, streams_max=3)
    with running(settings, hub_key, engine) as coalition:
        held = [
            *open_streams(coalition.hub, EventClient(coalition.connection("skyway")), "skyway", 2),
            *open_streams(coalition.hub, EventClient(coalition.connection("harbor")), "harbor", 1),
        ]

        refusal = refused_stream(EventClient(coalition.connection("orbit")))

        assert refusal.reason == "STREAM_LIMIT_REACHED"
        assert coalition.hub.server.streams.open_total == len(held) == 3


def test_a_thousand_open_streams_leave_unary_calls_their_workers(
    database_url: str, hub_key: SigningKey, engine: Engine
) -> None:
    streams_each = 100
    settings = stream_settings(
        database_url, worker_threads=4, streams_per_partner_max=streams_each, streams_max=1_100
    )
    with running(settings, hub_key, engine) as coalition:
        coalition.keys.update(add_partners(coalition.hub, 10))
        held: list[Subscription] = []
        for partner_id in [f"brand{index:02d}" for index in range(10)]:
            client = EventClient(coalition.connection(partner_id))
            held += open_streams(coalition.hub, client, partner_id, streams_each)
        # One more partner at its cap: every brand is, and skyway too.
        held += open_streams(
            coalition.hub, EventClient(coalition.connection("skyway")), "skyway", streams_each
        )
        assert coalition.hub.server.streams.open_total == len(held) == 1_100

        # Four worker threads, 1,100 open streams: another partner's calls still run.
        for _ in range(20):
            assert hub_keys(coalition, "harbor") == 1


@contextmanager
def freezable_proxy(target_port: int) -> Iterator[tuple[int, threading.Event]]:
    """A TCP relay that, once `frozen` is set, stops moving bytes but keeps sockets open:
    a peer that vanished without closing its connection."""
    frozen = threading.Event()
    listener = socket.create_server(("127.0.0.1", 0))
    sockets: list[socket.socket] = [listener]

    def pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                while frozen.is_set():
                    time.sleep(0.05)
                sink.sendall(data)
        except OSError:
            return

    def accept() -> None:
        try:
            while True:
                client, _ = listener.accept()
                upstream = socket.create_connection(("127.0.0.1", target_port))
                sockets.extend((client, upstream))
                for source, sink in ((client, upstream), (upstream, client)):
                    threading.Thread(target=pump, args=(source, sink), daemon=True).start()
        except OSError:
            return

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield listener.getsockname()[1], frozen
    finally:
        frozen.clear()
        for sock in sockets:
            sock.close()


def test_a_stream_whose_peer_is_gone_is_dropped(
    database_url: str, hub_key: SigningKey, engine: Engine
) -> None:
    settings = stream_settings(database_url, stream_keepalive_s=1, stream_keepalive_timeout_s=1)
    with (
        running(settings, hub_key, engine) as coalition,
        freezable_proxy(coalition.hub.port) as (port, frozen),
    ):
        connection = coalition.connection("skyway")
        connection.channel.close()
        connection.channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        held = open_streams(coalition.hub, EventClient(connection), "skyway", 1)

        frozen.set()

        wait_until(lambda: coalition.hub.server.streams.open_total == 0, "the stream to end")
        assert held
