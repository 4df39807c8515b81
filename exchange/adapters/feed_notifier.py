"""Wakes this process's feed subscribers when a commit appends events to their partner's feed."""

from __future__ import annotations

import threading
from collections.abc import Iterable


class FeedNotifier:
    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._versions: dict[str, int] = {}
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    def notify(self, partner_ids: Iterable[str]) -> None:
        with self._condition:
            for partner_id in partner_ids:
                self._versions[partner_id] = self._versions.get(partner_id, 0) + 1
            self._condition.notify_all()

    def version(self, partner_id: str) -> int:
        with self._condition:
            return self._versions.get(partner_id, 0)

    def wait(self, partner_id: str, seen_version: int, timeout_s: float) -> None:
        """Returns on news for this partner, on close, or after the timeout (other processes)."""
        with self._condition:
            self._condition.wait_for(
                lambda: self._closed or self._versions.get(partner_id, 0) != seen_version,
                timeout_s,
            )

    def close(self) -> None:
        with self._condition:
            self._closed = True
            self._condition.notify_all()
