"""In-memory fake of the tier port, behaving like SqlTierRepository."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from exchange.adapters.memory.store import GrantRow, InMemoryStore
from exchange.domain.agreements import AgreementState
from exchange.domain.tiers import RecognitionAgreement, TierLadder

if TYPE_CHECKING:
    from exchange.domain.ports import TierRepository


def _tiers_by_rank(ladder: TierLadder) -> TierLadder:
    return replace(ladder, tiers=tuple(sorted(ladder.tiers, key=lambda tier: tier.rank)))


def _rules_by_source_code(agreement: RecognitionAgreement) -> RecognitionAgreement:
    return replace(agreement, rules=tuple(sorted(agreement.rules, key=lambda rule: rule[0])))


class InMemoryTierRepository:
    """Raises ValueError where the database's keys and foreign keys would refuse a write."""

    def __init__(self, store: InMemoryStore) -> None:
        self._store = store

    def current_ladder(self, partner_id: str) -> TierLadder | None:
        versions = [version for owner, version in self._store.ladders if owner == partner_id]
        if not versions:
            return None
        return _tiers_by_rank(self._store.ladders[(partner_id, max(versions))])

    def add_ladder(self, ladder: TierLadder, at_us: int) -> None:
        if (ladder.partner_id, ladder.version) in self._store.ladders:
            raise ValueError(f"duplicate ladder version {ladder.version}")
        if ladder.partner_id not in self._store.partners:
            raise ValueError(f"ladder for unknown partner {ladder.partner_id!r}")
        if len({tier.code for tier in ladder.tiers}) != len(ladder.tiers):
            raise ValueError("duplicate tier code in one ladder")
        self._store.ladders[(ladder.partner_id, ladder.version)] = ladder

    def agreement_versions(
        self, source_partner_id: str, target_partner_id: str
    ) -> list[RecognitionAgreement]:
        found = [
            a
            for a in self._store.agreements.values()
            if (a.source_partner_id, a.target_partner_id) == (source_partner_id, target_partner_id)
        ]
        return [_rules_by_source_code(a) for a in sorted(found, key=lambda a: a.version)]

    def get_agreement(self, agreement_id: str, version: int) -> RecognitionAgreement | None:
        agreement = self._store.agreements.get((agreement_id, version))
        return _rules_by_source_code(agreement) if agreement is not None else None

    def agreement_id_for(self, source_partner_id: str, target_partner_id: str) -> str | None:
        versions = self.agreement_versions(source_partner_id, target_partner_id)
        return versions[0].agreement_id if versions else None

    def add_agreement(self, agreement: RecognitionAgreement) -> None:
        if (agreement.agreement_id, agreement.version) in self._store.agreements:
            raise ValueError(f"duplicate agreement version {agreement.version}")
        for partner_id in agreement.parties:
            if partner_id not in self._store.partners:
                raise ValueError(f"agreement with unknown partner {partner_id!r}")
        if len(dict(agreement.rules)) != len(agreement.rules):
            raise ValueError("duplicate source tier code in one agreement")
        self._store.agreements[(agreement.agreement_id, agreement.version)] = agreement

    def mark_accepted(self, agreement_id: str, version: int, at_us: int) -> None:
        agreement = self._store.agreements.get((agreement_id, version))
        if agreement is not None:
            self._store.agreements[(agreement_id, version)] = replace(
                agreement, state=AgreementState.ACCEPTED, accepted_at_us=at_us
            )

    def save_member_tier(self, cmid: str, partner_id: str, sealed: bytes, at_us: int) -> None:
        if cmid not in self._store.members:
            raise ValueError(f"tier for unknown member {cmid!r}")
        self._store.member_tiers[(cmid, partner_id)] = sealed

    def member_tier(self, cmid: str, partner_id: str) -> bytes | None:
        return self._store.member_tiers.get((cmid, partner_id))

    def delete_member_tiers(self, cmid: str, partner_id: str | None = None) -> None:
        def doomed(owner: str, partner: str) -> bool:
            return owner == cmid and partner_id in (None, partner)

        tiers = self._store.member_tiers
        self._store.member_tiers = {k: sealed for k, sealed in tiers.items() if not doomed(*k)}

    def last_grant_at_us(self, cmid: str, source: str, target: str) -> int | None:
        times = [
            g.granted_at_us
            for g in self._store.grants.values()
            if (g.cmid, g.source_partner_id, g.target_partner_id) == (cmid, source, target)
        ]
        return max(times, default=None)

    def add_grant(
        self,
        grant_id: str,
        cmid: str,
        recognition: tuple[str, str, str],
        agreement: tuple[str, int] | None,
        granted_at_us: int,
        expires_at_us: int,
    ) -> None:
        if grant_id in self._store.grants:
            raise ValueError(f"duplicate grant_id {grant_id!r}")
        if cmid not in self._store.members:
            raise ValueError(f"grant for unknown member {cmid!r}")
        source, target, tier_code = recognition
        self._store.grants[grant_id] = GrantRow(
            cmid, source, target, tier_code, agreement, granted_at_us, expires_at_us
        )

    def move_grants(self, from_cmid: str, to_cmid: str) -> None:
        self._store.grants = {
            g: replace(row, cmid=to_cmid) if row.cmid == from_cmid else row
            for g, row in self._store.grants.items()
        }

    def delete_grants(self, cmid: str) -> None:
        grants = self._store.grants
        self._store.grants = {g: row for g, row in grants.items() if row.cmid != cmid}


if TYPE_CHECKING:
    # mypy proves the fakes satisfy the ports structurally.
    _tiers_check: TierRepository = InMemoryTierRepository(InMemoryStore())
