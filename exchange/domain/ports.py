"""Ports the domain needs from the outside world; adapters implement them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from exchange.domain.partners import Partner, PartnerKey


class Clock(Protocol):
    def now_us(self) -> int:
        """Microseconds since the Unix epoch."""


class PartnerRepository(Protocol):
    def get(self, partner_id: str) -> Partner | None: ...

    def list_after(self, after_partner_id: str, limit: int) -> list[Partner]:
        """Partners ordered by id, strictly after `after_partner_id`."""

    def add(self, partner: Partner) -> None: ...

    def program_exists(self, program_code: str) -> bool: ...

    def keys(self, partner_id: str) -> list[PartnerKey]:
        """All keys of one partner, active and revoked, oldest first."""

    def active_keys(self, partner_ids: list[str]) -> dict[str, list[PartnerKey]]: ...

    def get_key(self, key_id: str) -> PartnerKey | None: ...

    def add_key(self, key: PartnerKey) -> None: ...

    def save_key(self, key: PartnerKey) -> None: ...


@dataclass(frozen=True)
class StoredResponse:
    method: str
    request_sha256: bytes
    response: bytes


class RequestLedger(Protocol):
    """Replay protection (nonces) and idempotent responses, both kept in the database."""

    def record_nonce(self, partner_id: str, nonce: str, created_s: int) -> bool:
        """False if this partner already used this nonce."""

    def lock_idempotency_key(self, partner_id: str, idempotency_key: str) -> bool:
        """Serialises calls with one key; False if another call holds it now."""

    def stored_response(self, partner_id: str, idempotency_key: str) -> StoredResponse | None: ...

    def store_response(
        self, partner_id: str, idempotency_key: str, stored: StoredResponse, at_us: int
    ) -> None: ...

    def purge(self, nonces_before_s: int, responses_before_us: int) -> int:
        """Deletes expired nonces and idempotency records; returns how many rows went."""


class UnitOfWork(Protocol):
    """One database transaction: commit explicitly, roll back by default on exit."""

    @property
    def partners(self) -> PartnerRepository: ...

    @property
    def requests(self) -> RequestLedger: ...

    def __enter__(self) -> UnitOfWork: ...

    def __exit__(self, *exc_info: object) -> None: ...

    def commit(self) -> None: ...

    def rollback(self) -> None: ...


class UnitOfWorkFactory(Protocol):
    def __call__(self) -> UnitOfWork: ...
