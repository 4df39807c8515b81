"""A TCP proxy between the hub and PostgreSQL that can cut the database connection.

It forwards bytes both ways on 127.0.0.1, on an asyncio loop of its own thread. `cut()`
drops every open connection (both sides, abruptly) and stops listening, so new connections
are refused; `restore()` listens again on the same port. Every wait is bounded.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

CHUNK_BYTES = 65_536
LOOP_CALL_S_MAX = 10.0


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class ProxyCounts:
    connections: int = 0
    dropped: int = 0
    cuts: int = 0


@dataclass
class DatabaseProxy:
    """Listens on 127.0.0.1:`port` and forwards to `upstream_host`:`upstream_port`."""

    upstream_host: str
    upstream_port: int
    port: int = field(default_factory=_free_port)
    counts: ProxyCounts = field(default_factory=ProxyCounts)

    def __post_init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="db-proxy", daemon=True)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    def start(self) -> None:
        self._thread.start()
        self._call(self._listen())

    def cut(self) -> int:
        """Drops every connection and refuses new ones; returns how many were dropped."""
        return self._call(self._cut())

    def restore(self) -> None:
        self._call(self._listen())

    def close(self) -> None:
        with suppress(Exception):
            self._call(self._cut())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(LOOP_CALL_S_MAX)
        self._loop.close()

    def _call(self, coroutine: Coroutine[Any, Any, int | None]) -> int:
        future = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        return int(future.result(LOOP_CALL_S_MAX) or 0)

    async def _listen(self) -> None:
        if self._server is None:
            self._server = await asyncio.start_server(
                self._serve, "127.0.0.1", self.port, reuse_address=True
            )

    async def _cut(self) -> int:
        if self._server is not None:
            self._server.close()
            self._server = None
        dropped = len(self._writers) // 2
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()
        self.counts.cuts += 1
        self.counts.dropped += dropped
        return dropped

    async def _serve(
        self, client_reader: asyncio.StreamReader, client: asyncio.StreamWriter
    ) -> None:
        try:
            upstream_reader, upstream = await asyncio.open_connection(
                self.upstream_host, self.upstream_port
            )
        except OSError:
            client.transport.abort()
            return
        self.counts.connections += 1
        self._writers.update((client, upstream))
        await asyncio.gather(
            self._pipe(client_reader, upstream), self._pipe(upstream_reader, client)
        )
        self._writers.discard(client)
        self._writers.discard(upstream)

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Copies until either side ends; then closes the other side too."""
        try:
            while chunk := await reader.read(CHUNK_BYTES):
                writer.write(chunk)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.transport.abort()


@contextmanager
def database_proxy(upstream_host: str, upstream_port: int) -> Iterator[DatabaseProxy]:
    proxy = DatabaseProxy(upstream_host, upstream_port)
    proxy.start()
    try:
        yield proxy
    finally:
        proxy.close()
