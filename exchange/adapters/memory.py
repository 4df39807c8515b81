"""In-memory fakes of the storage ports and the clock, behaving like the SQL adapters."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, TypeVar

from exchange.adapters.memory_exchange import (
    InMemoryBusinessDayRepository,
    InMemoryLedger,
    InMemoryRateAgreementRepository,
    InMemoryTransferRepository,
)
from exchange.adapters.memory_members import (
    InMemoryMemberRepository,
    InMemoryMemberVault,
    InMemoryTierRepository,
)
from exchange.adapters.memory_metrics import InMemoryMetricsRepository
from exchange.adapters.memory_settlement import (
    InMemoryDisputeRepository,
    InMemorySettlementRepository,
)
from exchange.adapters.memory_store import InMemoryStore
from exchange.domain.events import FeedEvent, FeedPosition, StoredEvent
from exchange.domain.partners import KeyState, Partner, PartnerKey
from exchange.domain.ports import Clock, EventEncoder, StoredResponse, UnitOfWork

if TYPE_CHECKING:
    from exchange.domain.ports import UnitOfWorkFactory

# Like SQLite's busy timeout: a unit of work waiting this long for the store gives up
# instead of hanging a test (e.g. one opened inside another on the same thread).
LOCK_WAIT_S_MAX = 10.0
# 2023-11-14T22:13:20Z: a fixed, recognisable instant for tests.
FIXED_CLOCK_START_US = 1_700_000_000_000_000
MICROSECONDS_PER_SECOND = 1_000_000
_Repository = TypeVar("_Repository")
_Result = TypeVar("_Result")


def _key_order(key: PartnerKey) -> tuple[int, str]:
    return (key.created_at_us, key.key_id)


class InMemoryPartnerRepository:
    def __init__(self, store: InMemoryStore) -> None:
        self._store = store

    def get(self, partner_id: str) -> Partner | None:
        return self._store.partners.get(partner_id)

    def lock(self, partner_id: str) -> None:
        """Nothing to do: the unit of work already holds the whole store."""

    def list_after(self, after_partner_id: str, limit: int) -> list[Partner]:
        partner_ids = sorted(p for p in self._store.partners if p > after_partner_id)
        return [self._store.partners[p] for p in partner_ids[:limit]]

    def add(self, partner: Partner) -> None:
        # Constraint violations raise, as the database's unique keys would.
        if partner.partner_id in self._store.partners:
            raise ValueError(f"duplicate partner_id {partner.partner_id!r}")
        if self.program_exists(partner.program_code):
            raise ValueError(f"duplicate program_code {partner.program_code!r}")
        self._store.partners[partner.partner_id] = partner

    def program_exists(self, program_code: str) -> bool:
        return any(p.program_code == program_code for p in self._store.partners.values())

    def keys(self, partner_id: str) -> list[PartnerKey]:
        found = [key for key in self._store.keys.values() if key.partner_id == partner_id]
        return sorted(found, key=_key_order)

    def active_keys(self, partner_ids: list[str]) -> dict[str, list[PartnerKey]]:
        wanted = set(partner_ids)
        found: dict[str, list[PartnerKey]] = {}
        for key in sorted(self._store.keys.values(), key=_key_order):
            if key.partner_id in wanted and key.state is KeyState.ACTIVE:
                found.setdefault(key.partner_id, []).append(key)
        return found

    def get_key(self, key_id: str) -> PartnerKey | None:
        return self._store.keys.get(key_id)

    def add_key(self, key: PartnerKey) -> None:
        if key.partner_id not in self._store.partners:
            raise ValueError(f"key for unknown partner {key.partner_id!r}")
        if key.key_id in self._store.keys:
            raise ValueError(f"duplicate key_id {key.key_id!r}")
        if any(k.public_key == key.public_key for k in self._store.keys.values()):
            raise ValueError("duplicate public_key")
        self._store.keys[key.key_id] = key

    def save_key(self, key: PartnerKey) -> None:
        row = self._store.keys.get(key.key_id)
        assert row is not None and row.partner_id == key.partner_id, "saving a key never added"
        # Like the SQL adapter, only the rotation state is updatable.
        self._store.keys[key.key_id] = replace(
            row, state=key.state, revoked_at_us=key.revoked_at_us
        )


class InMemoryRequestLedger:
    def __init__(self, store: InMemoryStore) -> None:
        self._store = store

    def record_nonce(self, partner_id: str, nonce: str, created_s: int) -> bool:
        if (partner_id, nonce) in self._store.nonces:
            return False
        self._store.nonces[(partner_id, nonce)] = created_s
        return True

    def lock_idempotency_key(self, partner_id: str, idempotency_key: str) -> bool:
        # The unit of work holds the whole store for its lifetime, as SQLite does.
        return True

    def stored_response(self, partner_id: str, idempotency_key: str) -> StoredResponse | None:
        found = self._store.responses.get((partner_id, idempotency_key))
        return found[0] if found is not None else None

    def store_response(
        self, partner_id: str, idempotency_key: str, stored: StoredResponse, at_us: int
    ) -> None:
        if (partner_id, idempotency_key) in self._store.responses:
            raise ValueError("duplicate idempotency record")
        self._store.responses[(partner_id, idempotency_key)] = (stored, at_us)

    def lock_idempotency_keys(self, partner_id: str, idempotency_keys: Sequence[str]) -> set[str]:
        return set()

    def stored_responses(
        self, partner_id: str, idempotency_keys: Sequence[str]
    ) -> dict[str, StoredResponse]:
        found = {key: self.stored_response(partner_id, key) for key in idempotency_keys}
        return {key: stored for key, stored in found.items() if stored is not None}

    def store_responses(
        self, partner_id: str, stored: Sequence[tuple[str, StoredResponse]], at_us: int
    ) -> None:
        for idempotency_key, record in stored:
            self.store_response(partner_id, idempotency_key, record, at_us)

    def purge(self, nonces_before_s: int, responses_before_us: int) -> int:
        store = self._store
        nonces = {
            k: created_s for k, created_s in store.nonces.items() if created_s >= nonces_before_s
        }
        responses = {k: r for k, r in store.responses.items() if r[1] >= responses_before_us}
        purged = len(store.nonces) - len(nonces) + len(store.responses) - len(responses)
        store.nonces, store.responses = nonces, responses
        return purged


class InMemoryEventFeed:
    def __init__(self, store: InMemoryStore, encoder: EventEncoder | None, clock: Clock) -> None:
        self._store = store
        self._encoder = encoder
        self._clock = clock
        self.appended_partner_ids: set[str] = set()

    def append(self, partner_id: str, event: FeedEvent) -> StoredEvent:
        position = self.position(partner_id)
        if self._encoder is None:
            raise RuntimeError("appending events needs the hub's signing key")
        sequence = position.last_sequence + 1
        stored = self._encoder(
            event,
            event_id=uuid.uuid4().hex,
            partner_id=partner_id,
            sequence=sequence,
            at_us=self._clock.now_us(),
        )
        self._store.feeds[partner_id] = replace(position, last_sequence=sequence)
        self._store.events[(partner_id, sequence)] = stored
        self.appended_partner_ids.add(partner_id)
        return stored

    def after(self, partner_id: str, after_sequence: int, limit: int) -> list[StoredEvent]:
        found = sorted(
            (sequence, event)
            for (owner, sequence), event in self._store.events.items()
            if owner == partner_id and sequence > after_sequence
        )
        return [event for _, event in found[:limit]]

    def append_many(self, partner_id: str, events: Sequence[FeedEvent]) -> None:
        for event in events:
            self.append(partner_id, event)

    def position(self, partner_id: str) -> FeedPosition:
        position = self._store.feeds.get(partner_id)
        assert position is not None, f"partner {partner_id} has no feed"
        return position

    def last_sequences(self, partner_ids: Collection[str]) -> dict[str, int]:
        feeds = self._store.feeds
        return {p: feeds[p].last_sequence for p in partner_ids if p in feeds}

    def acknowledge(self, partner_id: str, up_to_sequence: int) -> None:
        position = self._store.feeds.get(partner_id)
        # Like the SQL update: acknowledgement only moves forward, and no feed is a no-op.
        if position is not None and position.acked_sequence < up_to_sequence:
            self._store.feeds[partner_id] = replace(position, acked_sequence=up_to_sequence)

    def create_feed(self, partner_id: str) -> None:
        if partner_id not in self._store.partners:
            raise ValueError(f"feed for unknown partner {partner_id!r}")
        if partner_id in self._store.feeds:
            raise ValueError(f"duplicate feed for {partner_id!r}")
        self._store.feeds[partner_id] = FeedPosition(0, 0)


FeedListener = Callable[[Iterable[str]], None]


class _Database:
    """The committed store shared by every unit of work of one factory."""

    def __init__(
        self, encoder: EventEncoder | None, clock: Clock, feed_listener: FeedListener
    ) -> None:
        self.committed = InMemoryStore()
        self.lock = threading.Lock()
        self.encoder = encoder
        self.clock = clock
        self.feed_listener = feed_listener


class InMemoryUnitOfWork:
    """Works on a private copy of the store; commit publishes it, exit discards the rest."""

    def __init__(self, database: _Database) -> None:
        self._database = database
        self._working = InMemoryStore()
        self._partners = InMemoryPartnerRepository(self._working)
        self._requests = InMemoryRequestLedger(self._working)
        self._members = InMemoryMemberRepository(self._working)
        self._vault = InMemoryMemberVault(self._working)
        self._events = InMemoryEventFeed(self._working, database.encoder, database.clock)
        self._tiers = InMemoryTierRepository(self._working)
        self._rates = InMemoryRateAgreementRepository(self._working)
        self._transfers = InMemoryTransferRepository(self._working)
        self._ledger = InMemoryLedger(self._working)
        self._business_days = InMemoryBusinessDayRepository(self._working)
        self._metrics = InMemoryMetricsRepository(self._working)
        self._settlement = InMemorySettlementRepository(self._working)
        self._disputes = InMemoryDisputeRepository(self._working)
        self._open = False

    def _opened(self, repository: _Repository) -> _Repository:
        assert self._open, "use the unit of work inside its with block"
        return repository

    @property
    def partners(self) -> InMemoryPartnerRepository:
        return self._opened(self._partners)

    @property
    def requests(self) -> InMemoryRequestLedger:
        return self._opened(self._requests)

    @property
    def events(self) -> InMemoryEventFeed:
        return self._opened(self._events)

    @property
    def members(self) -> InMemoryMemberRepository:
        return self._opened(self._members)

    @property
    def vault(self) -> InMemoryMemberVault:
        return self._opened(self._vault)

    @property
    def tiers(self) -> InMemoryTierRepository:
        return self._opened(self._tiers)

    @property
    def rates(self) -> InMemoryRateAgreementRepository:
        return self._opened(self._rates)

    @property
    def transfers(self) -> InMemoryTransferRepository:
        return self._opened(self._transfers)

    @property
    def ledger(self) -> InMemoryLedger:
        return self._opened(self._ledger)

    @property
    def business_days(self) -> InMemoryBusinessDayRepository:
        return self._opened(self._business_days)

    @property
    def metrics(self) -> InMemoryMetricsRepository:
        return self._opened(self._metrics)

    @property
    def settlement(self) -> InMemorySettlementRepository:
        return self._opened(self._settlement)

    @property
    def disputes(self) -> InMemoryDisputeRepository:
        return self._opened(self._disputes)

    def __enter__(self) -> InMemoryUnitOfWork:
        # Held until exit, like BEGIN IMMEDIATE: one unit of work at a time, so no lost updates.
        if not self._database.lock.acquire(timeout=LOCK_WAIT_S_MAX):
            raise TimeoutError("another unit of work holds the in-memory store")
        self._working.load(self._database.committed)
        self._open = True
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._open = False
        self._working.load(InMemoryStore())
        self._events.appended_partner_ids = set()
        self._database.lock.release()

    def commit(self) -> None:
        assert self._open, "commit inside the with block"
        self._database.committed = self._working.copy()
        if self._events.appended_partner_ids:
            self._database.feed_listener(self._events.appended_partner_ids)
            self._events.appended_partner_ids = set()

    def rollback(self) -> None:
        assert self._open, "roll back inside the with block"
        self._working.load(self._database.committed)
        self._events.appended_partner_ids = set()


class InMemoryUnitOfWorkFactory:
    """Like SqlUnitOfWorkFactory: events are encoded with `encoder` and stamped by `clock`."""

    def __init__(
        self,
        *,
        encoder: EventEncoder | None = None,
        clock: Clock | None = None,
        feed_listener: FeedListener = lambda partner_ids: None,
    ) -> None:
        self._database = _Database(encoder, clock or FixedClock(), feed_listener)

    def __call__(self) -> InMemoryUnitOfWork:
        return InMemoryUnitOfWork(self._database)

    def retrying(self, work: Callable[[], _Result]) -> _Result:
        """Nothing here fails transiently, so `work` runs once."""
        return work()

    def run(self, work: Callable[[UnitOfWork], _Result]) -> _Result:
        """Nothing here fails transiently, so `work` runs once."""
        with self() as uow:
            result = work(uow)
            uow.commit()
            return result


class FixedClock:
    """A clock that moves only when told to."""

    def __init__(self, current_us: int = FIXED_CLOCK_START_US) -> None:
        self.current_us = current_us

    def now_us(self) -> int:
        return self.current_us

    def advance_s(self, seconds: int) -> None:
        assert seconds >= 0, "time does not run backwards"
        self.current_us += seconds * MICROSECONDS_PER_SECOND


if TYPE_CHECKING:
    # mypy proves the fakes satisfy the ports structurally.
    _factory_check: UnitOfWorkFactory = InMemoryUnitOfWorkFactory()
    _clock_check: Clock = FixedClock()
