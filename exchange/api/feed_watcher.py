"""Finds what other hub processes appended to the feeds this process streams, in one read.

A commit in this process wakes its own subscribers at once (FeedNotifier). Commits in other
processes are found here: every SUBSCRIBE_POLL_S, one query reads the last sequence of each
feed with an open stream in this process, however many streams there are, and wakes the
streams of every feed that moved.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Collection
from typing import Any

from exchange.adapters.feed_notifier import FeedNotifier
from exchange.adapters.telemetry import quiet
from exchange.domain import limits
from exchange.domain.ports import UnitOfWorkFactory

log = logging.getLogger(__name__)

RunBlocking = Callable[..., Awaitable[Any]]


class FeedWatcher:
    """Used on the event loop only."""

    def __init__(self, uow_factory: UnitOfWorkFactory, notifier: FeedNotifier) -> None:
        self.uow_factory = uow_factory
        self.notifier = notifier
        self._streams_by_partner: dict[str, int] = {}
        self._last_sequences: dict[str, int] = {}
        self._task: asyncio.Task[None] | None = None

    def watch(self, partner_id: str, run: RunBlocking) -> None:
        self._streams_by_partner[partner_id] = self._streams_by_partner.get(partner_id, 0) + 1
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._follow(run))

    def unwatch(self, partner_id: str) -> None:
        left = self._streams_by_partner[partner_id] - 1
        if left:
            self._streams_by_partner[partner_id] = left
        else:
            del self._streams_by_partner[partner_id]
            self._last_sequences.pop(partner_id, None)

    async def _follow(self, run: RunBlocking) -> None:
        while self._streams_by_partner and not self.notifier.closed:
            await asyncio.sleep(limits.SUBSCRIBE_POLL_S)
            partner_ids = tuple(self._streams_by_partner)
            try:
                positions: dict[str, int] = await run(self._read, partner_ids)
            except Exception:
                log.warning("reading feed positions failed; will try again", exc_info=True)
                continue
            moved = [
                partner_id
                for partner_id, last in positions.items()
                if self._last_sequences.get(partner_id, last) != last
            ]
            self._last_sequences.update(
                {p: last for p, last in positions.items() if p in self._streams_by_partner}
            )
            if moved:
                self.notifier.notify(moved)

    def _read(self, partner_ids: Collection[str]) -> dict[str, int]:
        with quiet(), self.uow_factory() as uow:
            return uow.events.last_sequences(partner_ids)
