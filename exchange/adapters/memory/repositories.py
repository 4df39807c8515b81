"""In-memory fakes of the partner repository and the request ledger, like the SQL adapters."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from exchange.adapters.memory.store import InMemoryStore
from exchange.domain.partners import KeyState, Partner, PartnerKey
from exchange.domain.ports import StoredResponse


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
