"""Handlers for tier ladders, recognition agreements, tier reports and status matches."""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, replace

from exchange.domain import limits
from exchange.domain.agreements import (
    AgreementState,
    check_acceptance,
    check_version,
    next_version,
)
from exchange.domain.errors import DomainError, ErrorCode, invalid
from exchange.domain.events import TierGranted
from exchange.domain.partners import PARTNER_ID_PATTERN
from exchange.domain.ports import Clock, UnitOfWork
from exchange.domain.tiers import (
    DAY_US,
    RecognitionAgreement,
    ReportedTier,
    Tier,
    TierLadder,
    canonical_target,
    check_agreement_terms,
    check_frequency,
    check_ladder,
    check_rules,
    recognise,
)
from exchange.services.identity import own_member


def publish_ladder(
    uow: UnitOfWork, clock: Clock, partner_id: str, tiers: Sequence[Tier], canonical: bool
) -> int:
    check_ladder(tiers)
    current = uow.tiers.current_ladder(partner_id)
    version = current.version + 1 if current else 1
    ordered = tuple(sorted(tiers, key=lambda tier: tier.rank))
    uow.tiers.add_ladder(TierLadder(partner_id, version, ordered, canonical), clock.now_us())
    return version


def _ladder(uow: UnitOfWork, partner_id: str) -> TierLadder:
    ladder = uow.tiers.current_ladder(partner_id)
    if ladder is None:
        raise DomainError(
            ErrorCode.LADDER_NOT_PUBLISHED, f"partner {partner_id} has not published a tier ladder"
        )
    return ladder


def check_partner_field(uow: UnitOfWork, partner_id: str, field: str) -> None:
    if not PARTNER_ID_PATTERN.fullmatch(partner_id):
        raise invalid(field, "is not a partner id")
    if uow.partners.get(partner_id) is None:
        raise DomainError(ErrorCode.PARTNER_NOT_FOUND, f"{field} names no partner")


@dataclass(frozen=True)
class ProposeRecognition:
    caller: str
    source_partner_id: str
    target_partner_id: str
    rules: tuple[tuple[str, str], ...]
    validity_days: int
    min_days_between_grants: int


def propose_recognition(
    uow: UnitOfWork, clock: Clock, command: ProposeRecognition
) -> RecognitionAgreement:
    source, target = command.source_partner_id, command.target_partner_id
    check_partner_field(uow, source, "source_partner_id")
    check_partner_field(uow, target, "target_partner_id")
    if source == target:
        raise invalid("target_partner_id", "must differ from source_partner_id")
    if command.caller not in (source, target):
        raise DomainError(ErrorCode.NOT_A_PARTY, "only the two partners may propose terms")
    check_agreement_terms(command.validity_days, command.min_days_between_grants)
    check_rules(command.rules, _ladder(uow, source), _ladder(uow, target))
    versions = uow.tiers.agreement_versions(source, target)
    agreement = RecognitionAgreement(
        agreement_id=uow.tiers.agreement_id_for(source, target) or "ra_" + secrets.token_hex(8),
        version=next_version(versions),
        source_partner_id=source,
        target_partner_id=target,
        rules=tuple(sorted(command.rules)),
        validity_days=command.validity_days,
        min_days_between_grants=command.min_days_between_grants,
        state=AgreementState.PROPOSED,
        proposed_by=command.caller,
        proposed_at_us=clock.now_us(),
    )
    uow.tiers.add_agreement(agreement)
    return agreement


def accept_recognition(
    uow: UnitOfWork, clock: Clock, caller: str, agreement_id: str, version: int
) -> RecognitionAgreement:
    check_version(version)
    agreement = uow.tiers.get_agreement(agreement_id, version)
    if agreement is None:
        raise DomainError(ErrorCode.AGREEMENT_NOT_FOUND, "no such agreement version")
    versions = uow.tiers.agreement_versions(*agreement.parties)
    check_acceptance(agreement, caller, versions, ErrorCode.AGREEMENT_NOT_FOUND)
    now_us = clock.now_us()
    uow.tiers.mark_accepted(agreement_id, version, now_us)
    return replace(agreement, state=AgreementState.ACCEPTED, accepted_at_us=now_us)


def effective_agreement(uow: UnitOfWork, source: str, target: str) -> RecognitionAgreement | None:
    """The newest accepted version; proposals and older versions never apply."""
    accepted = [
        a
        for a in uow.tiers.agreement_versions(source, target)
        if a.state is AgreementState.ACCEPTED
    ]
    return accepted[-1] if accepted else None


def report_member_tier(
    uow: UnitOfWork, clock: Clock, partner_id: str, ppid: str, tier_code: str, expires_at_us: int
) -> None:
    member = own_member(uow, partner_id, ppid)
    if _ladder(uow, partner_id).tier(tier_code) is None:
        raise invalid("tier_code", "is not a tier of your published ladder")
    now_us = clock.now_us()
    if not now_us < expires_at_us <= now_us + limits.TIER_EXPIRY_S_MAX * 1_000_000:
        raise invalid("expire_time", "must be in the future, at most 10 years ahead")
    report = json.dumps({"tier": tier_code, "expires_at_us": expires_at_us}).encode()
    uow.tiers.save_member_tier(member.cmid, partner_id, uow.vault.seal(member.cmid, report), now_us)


def _current_tier(uow: UnitOfWork, cmid: str, partner_id: str, now_us: int) -> ReportedTier:
    sealed = uow.tiers.member_tier(cmid, partner_id)
    opened = uow.vault.open(cmid, sealed) if sealed is not None else None
    report = json.loads(opened) if opened is not None else None
    if report is None or report["expires_at_us"] <= now_us:
        raise DomainError(ErrorCode.NO_CURRENT_TIER, "no current tier reported for this member")
    return ReportedTier(report["tier"], report["expires_at_us"])


@dataclass(frozen=True)
class Grant:
    grant_id: str
    target_partner_id: str
    tier_code: str
    expires_at_us: int


def request_status_match(
    uow: UnitOfWork, clock: Clock, partner_id: str, ppid: str, target_partner_id: str
) -> Grant:
    """Grants the linked member status at the target; the target learns only the grant."""
    member = own_member(uow, partner_id, ppid)
    check_partner_field(uow, target_partner_id, "target_partner_id")
    # One match per member at a time: the frequency check below must see earlier grants.
    uow.members.lock_member(member.cmid)
    target_member = next(
        (m for m in uow.members.ppids_of(member.cmid) if m.partner_id == target_partner_id), None
    )
    if target_member is None or target_partner_id == partner_id:
        raise DomainError(ErrorCode.NOT_LINKED, "the member is not linked at the target partner")
    now_us = clock.now_us()
    source_ladder = _ladder(uow, partner_id)
    reported = _current_tier(uow, member.cmid, partner_id, now_us)
    source_tier = source_ladder.tier(reported.tier_code)
    if source_tier is None:
        raise DomainError(ErrorCode.NO_CURRENT_TIER, "the reported tier left the ladder")
    agreement = effective_agreement(uow, partner_id, target_partner_id)
    recognition = recognise(source_tier, source_ladder, _ladder(uow, target_partner_id), agreement)
    last = uow.tiers.last_grant_at_us(member.cmid, partner_id, target_partner_id)
    check_frequency(last, recognition.min_days_between_grants, now_us)
    grant = Grant(
        "tg_" + secrets.token_hex(12),
        target_partner_id,
        recognition.target_tier_code,
        now_us + recognition.validity_days * DAY_US,
    )
    version = (agreement.agreement_id, agreement.version) if agreement else None
    uow.tiers.add_grant(
        grant.grant_id,
        member.cmid,
        (partner_id, target_partner_id, grant.tier_code),
        version,
        now_us,
        grant.expires_at_us,
    )
    uow.events.append(
        target_partner_id,
        TierGranted(target_member.ppid, grant.grant_id, grant.tier_code, grant.expires_at_us),
    )
    return grant


@dataclass(frozen=True)
class TierMapping:
    rules: tuple[tuple[str, str], ...]
    agreement: RecognitionAgreement | None


def tier_mapping(uow: UnitOfWork, caller: str, source: str, target: str) -> TierMapping:
    """The source → target table in force; only the two partners may read it."""
    check_partner_field(uow, source, "source_partner_id")
    check_partner_field(uow, target, "target_partner_id")
    if caller not in (source, target):
        raise DomainError(ErrorCode.NOT_A_PARTY, "only the two partners may read their mapping")
    agreement = effective_agreement(uow, source, target)
    if agreement is not None:
        return TierMapping(agreement.rules, agreement)
    source_ladder, target_ladder = _ladder(uow, source), _ladder(uow, target)
    if not (source_ladder.canonical_matching and target_ladder.canonical_matching):
        raise DomainError(ErrorCode.NO_RECOGNITION, "no recognition between these partners")
    rules = tuple(
        (tier.code, code)
        for tier in source_ladder.tiers
        if (code := canonical_target(tier, target_ladder)) is not None
    )
    return TierMapping(rules, None)
