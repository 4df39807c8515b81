"""One partner's unary latency with no streams open, then with 1,000 streams held by others.

Run as `python -m benchmarks.streams_p99`. Prints a table and writes bench-results/streams.json.
Hub and client share this process, the same in both stages: compare the two rows, not the
absolute figures with another machine's.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from coalition.keys import SigningKey
from coalition.v1 import partner_pb2
from exchange.adapters.clock import SystemClock
from exchange.adapters.sql.engine import create_database_engine
from exchange.adapters.sql.migrations import upgrade
from exchange.bootstrap import Hub, bootstrap
from exchange.config import Settings
from exchange.domain.partners import PartnerKind
from exchange.services import partners
from partners.sdk import HubConnection
from partners.sdk.connection import connect
from partners.sdk.events import EventClient, Subscription

AUDIENCE = "coalition-bench"
STREAMING_PARTNERS = 10
STREAMS_EACH = 100
CALLS = 1_000
WAIT_S_MAX = 120.0
RESULTS = Path("bench-results/streams.json")


def add_partners(hub: Hub, count: int) -> dict[str, SigningKey]:
    keys: dict[str, SigningKey] = {}
    with hub.uow_factory() as uow:
        for index in range(count):
            partner_id = f"brand{index:02d}"
            keys[partner_id] = SigningKey.generate()
            command = partners.AddPartner(
                partner_id,
                f"Brand {index}",
                PartnerKind.RETAILER,
                f"BRAND{index:02d}_POINTS",
                keys[partner_id].public_key_bytes,
            )
            partners.add_partner(uow, SystemClock(), command)
        uow.commit()
    return keys


def latencies_ms(connection: HubConnection, calls: int) -> list[float]:
    measured = []
    for _ in range(calls):
        started = time.perf_counter()
        connection.call(
            "/coalition.v1.PartnerService/GetHubKeys",
            partner_pb2.GetHubKeysRequest(),
            partner_pb2.GetHubKeysResponse,
            changes_state=False,
        )
        measured.append((time.perf_counter() - started) * 1000)
    return measured


def summary(name: str, streams: int, measured: list[float]) -> dict[str, float | int | str]:
    cuts = statistics.quantiles(measured, n=100)
    return {
        "stage": name,
        "open_streams": streams,
        "calls": len(measured),
        "p50_ms": round(cuts[49], 2),
        "p99_ms": round(cuts[98], 2),
    }


def open_streams(hub: Hub, connections: dict[str, HubConnection]) -> list[Subscription]:
    held = [
        EventClient(connection).open_subscription(None)
        for connection in connections.values()
        for _ in range(STREAMS_EACH)
    ]
    deadline = time.monotonic() + WAIT_S_MAX
    while hub.server.streams.open_total < len(held):
        if time.monotonic() > deadline:
            raise SystemExit(f"only {hub.server.streams.open_total} streams opened")
        time.sleep(0.05)
    return held


def run(calls: int, worker_threads: int) -> list[dict[str, float | int | str]]:
    directory = Path(tempfile.mkdtemp(prefix="bench-streams-"))
    url = f"sqlite:///{directory / 'hub.db'}"
    engine = create_database_engine(url)
    upgrade(engine)
    settings = Settings.load(
        environ={},
        database_url=url,
        listen_address="127.0.0.1:0",
        audience=AUDIENCE,
        worker_threads=worker_threads,
        streams_per_partner_max=STREAMS_EACH,
    )
    hub_key = SigningKey.generate()
    hub = bootstrap(settings, hub_key=hub_key, engine=engine)
    keys = add_partners(hub, STREAMING_PARTNERS + 1)
    hub.start()
    target, hub_keys = f"127.0.0.1:{hub.port}", {hub_key.key_id: hub_key.public_key_bytes}
    connections = {p: connect(target, p, k, AUDIENCE, hub_keys) for p, k in keys.items()}
    caller = connections.pop(f"brand{STREAMING_PARTNERS:02d}")
    try:
        latencies_ms(caller, 50)  # warm-up
        rows = [summary("no streams open", 0, latencies_ms(caller, calls))]
        held = open_streams(hub, connections)
        rows.append(summary("1,000 streams open by others", len(held), latencies_ms(caller, calls)))
        for subscription in held:
            subscription.cancel()
        return rows
    finally:
        for connection in [caller, *connections.values()]:
            connection.close()
        hub.stop(0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=CALLS)
    parser.add_argument("--worker-threads", type=int, default=32)
    args = parser.parse_args()
    rows = run(args.calls, args.worker_threads)
    print(f"{'stage':<32} {'streams':>8} {'calls':>6} {'p50 ms':>8} {'p99 ms':>8}")
    for row in rows:
        print(
            f"{row['stage']:<32} {row['open_streams']:>8} {row['calls']:>6}"
            f" {row['p50_ms']:>8} {row['p99_ms']:>8}"
        )
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(rows, indent=2) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
