"""`coalition serve --processes 2` on one PostgreSQL (issue 14 item 1): both processes serve
one port; transfers raced on the same idempotency keys across them are each exactly one;
exactly one process at a time holds the scheduler lease, and when it is SIGKILLed another
takes over within a sweep interval; SIGTERM drains them all. SQLite refuses more than one."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from sqlalchemy import Engine, create_engine, func, select, text

from coalition.keys import PRIVATE_KEY_FILE, SigningKey, load_signing_key, write_key_pair
from exchange.adapters.sql.tables import TransferRow
from exchange.bootstrap import bootstrap
from exchange.config import TIMEOUT_SWEEP_INTERVAL_S_DEFAULT, Settings
from partners.sdk import HubConnection, HubError
from partners.sdk.connection import connect
from tests.support import databases
from tests.support.coalition import seed_partners
from tests.support.transfer_setup import agree_rates, create_transfer, linked_member, quote_id

COALITION_CLI = Path(sys.executable).with_name("coalition")
AUDIENCE = "coalition-processes-test"
START_S_MAX = 30.0
# A SIGKILLed lease holder's session ends at once; the next holder takes the lease on its next
# sweep tick (TIMEOUT_SWEEP_INTERVAL_S), plus slack for a loaded machine.
TAKEOVER_S_MAX = TIMEOUT_SWEEP_INTERVAL_S_DEFAULT + 10.0
TRANSFERS = 24
LEASE_HOLDERS = text(
    """
    SELECT a.application_name, a.pid FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
    WHERE l.locktype = 'advisory' AND l.granted AND a.datname = current_database()
    """
)
HUB_PROCESSES = text(
    """
    SELECT DISTINCT application_name FROM pg_stat_activity
    WHERE datname = current_database() AND application_name LIKE 'coalition-hub-%'
    """
)


@dataclass
class Served:
    process: subprocess.Popen[bytes]
    target: str
    keys: dict[str, SigningKey]
    hub_public_keys: dict[str, bytes]
    engine: Engine
    log_path: Path

    def connection(self, partner_id: str) -> HubConnection:
        # A channel of its own (no shared subchannel): its own TCP connection, which the
        # kernel hands to one of the processes.
        return connect(
            self.target,
            partner_id,
            self.keys[partner_id],
            AUDIENCE,
            self.hub_public_keys,
            channel_options=(("grpc.use_local_subchannel_pool", 1),),
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_serving(served: Served) -> None:
    deadline = time.monotonic() + START_S_MAX
    with grpc.insecure_channel(served.target) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline:
            assert served.process.poll() is None, served.log()
            try:
                status = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=1).status
                if status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.RpcError:
                pass
            time.sleep(0.1)
    raise AssertionError("the hub processes did not serve in time:\n" + served.log())


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    databases.require_or_skip_postgres()
    with databases.migrated_postgres_database() as url:
        write_key_pair(tmp_path / "hub", SigningKey.generate())
        hub_key = load_signing_key(tmp_path / "hub" / PRIVATE_KEY_FILE)
        seeding = bootstrap(
            Settings.load(environ={}, database_url=url, listen_address="127.0.0.1:0"),
            hub_key=hub_key,
        )
        keys = seed_partners(seeding)
        seeding.stop(0)
        environment = {
            **os.environ,
            "COALITION_DATABASE_URL": url,
            "COALITION_HUB_KEY": str(tmp_path / "hub" / PRIVATE_KEY_FILE),
            "COALITION_AUDIENCE": AUDIENCE,
            "COALITION_LISTEN_ADDRESS": f"127.0.0.1:{free_port()}",
        }
        log_path = tmp_path / "serve.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [str(COALITION_CLI), "serve", "--processes", "2"],
                env=environment,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        engine = create_engine(url)
        hub_public = {hub_key.key_id: hub_key.public_key_bytes}
        target = environment["COALITION_LISTEN_ADDRESS"]
        served = Served(process, target, keys, hub_public, engine, log_path)
        try:
            wait_serving(served)
            yield served
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(10)
            engine.dispose()


def lease_holders(engine: Engine) -> list[tuple[str, int]]:
    with engine.connect() as connection:
        return [(str(name), int(pid)) for name, pid in connection.execute(LEASE_HOLDERS)]


def wait_for_one_holder(engine: Engine, other_than: str = "") -> str:
    deadline = time.monotonic() + TAKEOVER_S_MAX
    while time.monotonic() < deadline:
        holders = lease_holders(engine)
        assert len(holders) <= 1, holders
        if holders and holders[0][0] != other_than:
            return holders[0][0]
        time.sleep(0.2)
    raise AssertionError(f"no process took the scheduler lease within {TAKEOVER_S_MAX} s")


def transfer_once_settled(connection: HubConnection, quote: str, key: str) -> str:
    """CreateTransfer on `key`, asked again while the twin call holds the key."""
    deadline = time.monotonic() + START_S_MAX
    while True:
        try:
            return create_transfer(connection, quote, key)
        except HubError as error:
            if error.reason != "IDEMPOTENCY_IN_PROGRESS" or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def worker_pids(parent: int) -> set[int]:
    children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
    return {int(pid) for pid in children}


def test_two_processes_serve_transfers_raced_on_one_key_exactly_once(served: Served) -> None:
    skyway, harbor = served.connection("skyway"), served.connection("harbor")
    agree_rates(skyway, harbor)
    source_ppid, _ = linked_member(skyway, harbor)
    quotes = [quote_id(skyway, source_ppid, "harbor", 1_000) for _ in range(TRANSFERS)]
    keys = [str(uuid.uuid4()) for _ in quotes]
    # Each transfer is sent twice at once on separate connections, which the kernel spreads
    # over the two processes.
    callers = [served.connection("skyway") for _ in range(8)]
    jobs = [(quote, key) for quote, key in zip(quotes, keys, strict=True) for _ in range(2)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        ids = list(
            pool.map(
                lambda job: transfer_once_settled(callers[hash(job) % len(callers)], *job), jobs
            )
        )

    assert all(first == second for first, second in zip(ids[::2], ids[1::2], strict=True))
    with served.engine.connect() as connection:
        rows = connection.execute(select(func.count()).select_from(TransferRow)).scalar_one()
        hubs = connection.execute(HUB_PROCESSES).scalars().all()
    assert rows == TRANSFERS
    assert len(worker_pids(served.process.pid)) == 2
    assert len(hubs) == 2, f"both processes hold database connections: {hubs}"


def test_one_process_runs_the_scheduler_and_another_takes_over_when_it_dies(
    served: Served,
) -> None:
    holder = wait_for_one_holder(served.engine)
    holder_pid = int(holder.rsplit("-", 1)[1])
    assert holder_pid in worker_pids(served.process.pid)

    os.kill(holder_pid, signal.SIGKILL)
    successor = wait_for_one_holder(served.engine, other_than=holder)

    assert successor != holder
    assert int(successor.rsplit("-", 1)[1]) in worker_pids(served.process.pid)
    deadline = time.monotonic() + START_S_MAX
    while len(worker_pids(served.process.pid)) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(worker_pids(served.process.pid)) == 2, "the dead process was replaced"


def test_sigterm_drains_every_process(served: Served) -> None:
    workers = worker_pids(served.process.pid)
    served.process.send_signal(signal.SIGTERM)
    assert served.process.wait(30) == 0, served.log()
    assert not any(Path(f"/proc/{pid}").exists() for pid in workers)


def test_sqlite_refuses_more_than_one_process(tmp_path: Path) -> None:
    completed = subprocess.run(
        [str(COALITION_CLI), "serve", "--processes", "2"],
        env={**os.environ, "COALITION_DATABASE_URL": f"sqlite:///{tmp_path / 'hub.db'}"},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode != 0
    assert "SQLite serves one hub process" in completed.stderr
