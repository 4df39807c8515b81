"""Wakes this process's feed subscribers when a commit appends events to their partner's feed.

Commits happen on worker threads; subscribers wait on the gRPC event loop. A waiter is a future
on its loop, woken through `call_soon_threadsafe`, so a waiting stream holds no thread.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterable

_Waiter = tuple[asyncio.AbstractEventLoop, "asyncio.Future[None]"]


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class FeedNotifier:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._versions: dict[str, int] = {}
        self._waiters: dict[str, set[_Waiter]] = {}
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    def notify(self, partner_ids: Iterable[str]) -> None:
        with self._lock:
            woken: list[_Waiter] = []
            for partner_id in partner_ids:
                self._versions[partner_id] = self._versions.get(partner_id, 0) + 1
                woken.extend(self._waiters.pop(partner_id, ()))
        _wake_all(woken)

    def version(self, partner_id: str) -> int:
        with self._lock:
            return self._versions.get(partner_id, 0)

    async def wait_async(self, partner_id: str, seen_version: int, timeout_s: float) -> None:
        """Returns on news for this partner, on close, or after the timeout (other processes)."""
        loop = asyncio.get_running_loop()
        waiter: _Waiter = (loop, loop.create_future())
        with self._lock:
            if self._closed or self._versions.get(partner_id, 0) != seen_version:
                return
            self._waiters.setdefault(partner_id, set()).add(waiter)
        try:
            await asyncio.wait_for(waiter[1], timeout_s)
        except TimeoutError:
            pass
        finally:
            with self._lock:
                waiting = self._waiters.get(partner_id)
                if waiting is not None:
                    waiting.discard(waiter)
                    if not waiting:
                        del self._waiters[partner_id]

    def close(self) -> None:
        with self._lock:
            self._closed = True
            woken = [waiter for waiting in self._waiters.values() for waiter in waiting]
            self._waiters.clear()
        _wake_all(woken)


def _wake_all(waiters: Iterable[_Waiter]) -> None:
    for loop, future in waiters:
        if not loop.is_closed():
            loop.call_soon_threadsafe(_wake, future)
