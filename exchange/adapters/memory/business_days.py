"""In-memory fake of the business-day port, behaving like SqlBusinessDayRepository."""

from __future__ import annotations

from datetime import date, timedelta

from exchange.adapters.memory.store import InMemoryStore


class InMemoryBusinessDayRepository:
    """Business days: opened on first use, closed once (a unit holds the whole store)."""

    def __init__(self, store: InMemoryStore) -> None:
        self._store = store

    def open_day_at_or_after(self, business_day: str) -> str:
        day = date.fromisoformat(business_day)
        while self._store.business_days.setdefault(day.isoformat(), "open") != "open":
            day += timedelta(days=1)
        return day.isoformat()

    def close(self, business_day: str, at_us: int) -> bool:
        if self._store.business_days.get(business_day) == "closed":
            return False
        self._store.business_days[business_day] = "closed"
        return True

    def state(self, business_day: str) -> str | None:
        return self._store.business_days.get(business_day)
