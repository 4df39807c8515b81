"""The servers a run measures, each in a process of its own: the hub and the echo servers.

A server in its own process shares no GIL with the load generators, which is the point: the
figures are the server's, not the client's.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from benchmarks.hub.proc import (
    child_pids,
    holds_socket,
    listening_socket_inodes,
    process_tree_cpu_s,
)
from benchmarks.hub.seed import PreparedHub
from benchmarks.hub.signed_echo import SignedEcho
from exchange.config import ENVIRONMENT_NAMES

SERVING_WAIT_S_MAX = 60.0
SERVING_POLL_S = 0.1
HEALTH_CHECK_TIMEOUT_S = 1.0
STOP_WAIT_S_MAX = 20.0
LOG_TAIL_BYTES_MAX = 2000


class ServerStartError(Exception):
    """A server process exited or never said SERVING; the message carries its log's tail."""


@dataclass(frozen=True)
class ServerProcess:
    name: str
    process: subprocess.Popen[bytes]
    target: str
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def cpu_by_process_s(self) -> dict[int, float]:
        """User plus system CPU time so far (Linux) of the process and of its children (a
        supervisor's workers), by pid; empty if not known."""
        return process_tree_cpu_s(self.pid)

    def cpu_s(self) -> float | None:
        """The CPU time of the process and its children together, else None."""
        found = self.cpu_by_process_s()
        return sum(found.values()) if found else None

    def log_tail(self) -> str:
        try:
            data = self.log_path.read_bytes()
        except OSError:
            return ""
        return data[-LOG_TAIL_BYTES_MAX:].decode(errors="replace")

    def stop(self) -> None:
        """SIGTERM (the hub stops gracefully), then SIGKILL if it takes too long."""
        if self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(STOP_WAIT_S_MAX)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(STOP_WAIT_S_MAX)


def free_port() -> int:
    """A port nothing listens on now; the server binds it a moment later."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_serving(server: ServerProcess, wait_s_max: float = SERVING_WAIT_S_MAX) -> None:
    """Polls the standard gRPC health check until the server says SERVING."""
    deadline_s = time.monotonic() + wait_s_max
    with grpc.insecure_channel(server.target) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline_s:
            if server.process.poll() is not None:
                raise ServerStartError(
                    f"{server.name} exited with status {server.process.returncode}:\n"
                    f"{server.log_tail()}"
                )
            try:
                request = health_pb2.HealthCheckRequest(service="")
                response = stub.Check(request, timeout=HEALTH_CHECK_TIMEOUT_S)
                if response.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.RpcError:
                pass
            time.sleep(SERVING_POLL_S)
    raise ServerStartError(f"{server.name} did not say SERVING within {wait_s_max:.0f} s")


def wait_workers_listening(server: ServerProcess, port: int, count: int) -> None:
    """Waits until `count` children of the server listen on `port`: a supervisor's workers
    each bind the port themselves, and a connection reaches only those already listening."""
    deadline_s = time.monotonic() + SERVING_WAIT_S_MAX
    while time.monotonic() < deadline_s:
        inodes = listening_socket_inodes(port)
        listening = [pid for pid in child_pids(server.pid) if holds_socket(pid, inodes)]
        if len(listening) >= count:
            return
        if server.process.poll() is not None:
            break
        time.sleep(SERVING_POLL_S)
    raise ServerStartError(
        f"{server.name}: fewer than {count} processes listen on port {port}:\n{server.log_tail()}"
    )


@contextmanager
def server_process(
    name: str,
    command: list[str],
    port: int,
    log_path: Path,
    env: Mapping[str, str],
    workers: int = 0,
) -> Iterator[ServerProcess]:
    """Starts `command`, waits for SERVING on `port` (and for `workers` children listening on
    it, if any), yields it, and stops it afterwards."""
    with log_path.open("wb") as log:
        process = subprocess.Popen(  # noqa: S603 - our own fixed argv
            command, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **env}
        )
    server = ServerProcess(name, process, f"127.0.0.1:{port}", log_path)
    try:
        wait_serving(server)
        if workers:
            wait_workers_listening(server, port, workers)
        yield server
    finally:
        server.stop()


@contextmanager
def hub_process(
    prepared: PreparedHub,
    audience: str,
    log_path: Path,
    settings: Mapping[str, str] | None = None,
    processes: int = 1,
) -> Iterator[ServerProcess]:
    """`coalition serve` with `processes` hub processes on a free loopback port, configured
    through its environment; `settings` adds or overrides COALITION_* variables by setting name.

    The count is always set: left unset, the hub would run one process per core on PostgreSQL.
    """
    port = free_port()
    extra = {ENVIRONMENT_NAMES[name]: value for name, value in (settings or {}).items()}
    env = {
        ENVIRONMENT_NAMES["database_url"]: prepared.database_url,
        ENVIRONMENT_NAMES["listen_address"]: f"127.0.0.1:{port}",
        ENVIRONMENT_NAMES["audience"]: audience,
        ENVIRONMENT_NAMES["hub_key_path"]: str(prepared.hub_key_path),
        ENVIRONMENT_NAMES["processes"]: str(processes),
        **extra,
    }
    command = [sys.executable, "-m", "exchange.cli", "serve"]
    name = "the hub" if processes == 1 else f"the hub ({processes} processes)"
    workers = processes if processes > 1 else 0  # one process serves itself, no children
    with server_process(name, command, port, log_path, env, workers) as server:
        yield server


@contextmanager
def echo_process(response_bytes: int, log_path: Path) -> Iterator[ServerProcess]:
    """The bare echo server (benchmarks.hub.echo) on a free loopback port."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "benchmarks.hub.echo",
        "--listen",
        f"127.0.0.1:{port}",
        "--response-bytes",
        str(response_bytes),
    ]
    with server_process("the echo server", command, port, log_path, {}) as server:
        yield server


@contextmanager
def signed_echo_process(signed: SignedEcho, log_path: Path) -> Iterator[ServerProcess]:
    """The signed echo server (benchmarks.hub.signed_echo); its configuration beside its log."""
    config_path = log_path.with_suffix(".json")
    config_path.write_text(signed.to_json())
    port = free_port()
    command = [sys.executable, "-m", "benchmarks.hub.echo", "--listen", f"127.0.0.1:{port}"]
    command += ["--signed", str(config_path)]
    with server_process("the signed echo server", command, port, log_path, {}) as server:
        yield server
