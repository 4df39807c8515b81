"""In-memory fake of the rate-agreement port, behaving like SqlRateAgreementRepository."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from exchange.adapters.memory.store import InMemoryStore
from exchange.domain.agreements import AgreementState
from exchange.domain.rates import RateAgreement

if TYPE_CHECKING:
    from exchange.domain.ports import RateAgreementRepository


class InMemoryRateAgreementRepository:
    """Raises ValueError where the database's keys and foreign keys would refuse a write."""

    def __init__(self, store: InMemoryStore) -> None:
        self._store = store

    def versions(self, source_partner_id: str, destination_partner_id: str) -> list[RateAgreement]:
        direction = (source_partner_id, destination_partner_id)
        found = [
            a
            for a in self._store.rate_agreements.values()
            if (a.source_partner_id, a.destination_partner_id) == direction
        ]
        return sorted(found, key=lambda a: a.version)

    def get(self, agreement_id: str, version: int) -> RateAgreement | None:
        return self._store.rate_agreements.get((agreement_id, version))

    def agreement_id_for(self, source_partner_id: str, destination_partner_id: str) -> str | None:
        versions = self.versions(source_partner_id, destination_partner_id)
        return versions[0].agreement_id if versions else None

    def add(self, agreement: RateAgreement) -> None:
        key = (agreement.agreement_id, agreement.version)
        if key in self._store.rate_agreements:
            raise ValueError(f"duplicate rate agreement version {key}")
        for partner_id in agreement.parties:
            if partner_id not in self._store.partners:
                raise ValueError(f"rate agreement with unknown partner {partner_id!r}")
        self._store.rate_agreements[key] = agreement

    def mark_accepted(self, agreement_id: str, version: int, at_us: int) -> None:
        agreement = self._store.rate_agreements.get((agreement_id, version))
        if agreement is not None:
            self._store.rate_agreements[(agreement_id, version)] = replace(
                agreement, state=AgreementState.ACCEPTED, accepted_at_us=at_us
            )

    def list_for(
        self, partner_id: str, after: tuple[str, int] | None, limit: int
    ) -> list[RateAgreement]:
        found = sorted(
            (key, a)
            for key, a in self._store.rate_agreements.items()
            if a.has_party(partner_id) and (after is None or key > after)
        )
        return [agreement for _, agreement in found[:limit]]


if TYPE_CHECKING:
    # mypy proves the fakes satisfy the ports structurally.
    _rates_check: RateAgreementRepository = InMemoryRateAgreementRepository(InMemoryStore())
