"""Tier ladders, recognition agreements and the status-match decision (DESIGN §3.5)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from exchange.domain import limits
from exchange.domain.agreements import AgreementState
from exchange.domain.errors import DomainError, ErrorCode, FieldChecks

TIER_CODE_PATTERN = re.compile(r"[A-Z][A-Z0-9_]{0,31}")
DAY_US = 24 * 3600 * 1_000_000


@dataclass(frozen=True)
class Tier:
    code: str
    display_name: str
    rank: int
    canonical_level: int


@dataclass(frozen=True)
class TierLadder:
    partner_id: str
    version: int
    tiers: tuple[Tier, ...]
    canonical_matching: bool

    def tier(self, code: str) -> Tier | None:
        return next((tier for tier in self.tiers if tier.code == code), None)


@dataclass(frozen=True)
class RecognitionAgreement:
    agreement_id: str
    version: int
    source_partner_id: str
    target_partner_id: str
    rules: tuple[tuple[str, str], ...]
    validity_days: int
    min_days_between_grants: int
    state: AgreementState
    proposed_by: str
    proposed_at_us: int
    accepted_at_us: int | None = None

    @property
    def parties(self) -> tuple[str, str]:
        return (self.source_partner_id, self.target_partner_id)

    def has_party(self, partner_id: str) -> bool:
        return partner_id in self.parties

    def target_tier_for(self, source_tier_code: str) -> str | None:
        return dict(self.rules).get(source_tier_code)


@dataclass(frozen=True)
class ReportedTier:
    tier_code: str
    expires_at_us: int


@dataclass(frozen=True)
class Recognition:
    """What a status match grants: the target tier and the terms it came with."""

    target_tier_code: str
    validity_days: int
    min_days_between_grants: int
    agreement: RecognitionAgreement | None


def check_ladder(tiers: Sequence[Tier]) -> None:
    """Codes unique and well formed; ranks exactly 1..n; canonical levels 1-5, non-decreasing."""
    checks = FieldChecks()
    checks.require(
        0 < len(tiers) <= limits.TIERS_PER_LADDER_MAX,
        "tiers",
        f"must hold 1-{limits.TIERS_PER_LADDER_MAX} tiers",
    )
    seen: set[str] = set()
    for index, tier in enumerate(tiers):
        field = f"tiers[{index}]"
        checks.require(
            bool(TIER_CODE_PATTERN.fullmatch(tier.code)), f"{field}.code", "must be upper-case"
        )
        checks.require(tier.code not in seen, f"{field}.code", "is a duplicate")
        seen.add(tier.code)
        checks.require(
            0 < len(tier.display_name) <= limits.DISPLAY_NAME_CHARS_MAX,
            f"{field}.display_name",
            f"must be 1-{limits.DISPLAY_NAME_CHARS_MAX} characters",
        )
        checks.require(
            limits.CANONICAL_LEVEL_MIN <= tier.canonical_level <= limits.CANONICAL_LEVEL_MAX,
            f"{field}.canonical_level",
            "must be 1-5",
        )
    ranks = sorted(tier.rank for tier in tiers)
    checks.require(
        ranks == list(range(1, len(tiers) + 1)),
        "tiers.rank",
        "ranks must be 1, 2, 3, ... with no gaps and no duplicates",
    )
    by_rank = sorted(tiers, key=lambda tier: tier.rank)
    levels = [tier.canonical_level for tier in by_rank]
    checks.require(
        levels == sorted(levels),
        "tiers.canonical_level",
        "must not decrease as rank rises",
    )
    checks.raise_if_any()


def check_rules(rules: Sequence[tuple[str, str]], source: TierLadder, target: TierLadder) -> None:
    checks = FieldChecks()
    checks.require(
        0 < len(rules) <= limits.RECOGNITION_RULES_MAX,
        "rules",
        f"must hold 1-{limits.RECOGNITION_RULES_MAX} rules",
    )
    seen: set[str] = set()
    for index, (source_code, target_code) in enumerate(rules):
        checks.require(
            source.tier(source_code) is not None,
            f"rules[{index}].source_tier_code",
            "is not a tier of the source partner's ladder",
        )
        checks.require(
            source_code not in seen, f"rules[{index}].source_tier_code", "is a duplicate"
        )
        seen.add(source_code)
        checks.require(
            target.tier(target_code) is not None,
            f"rules[{index}].target_tier_code",
            "is not a tier of the target partner's ladder",
        )
    checks.raise_if_any()


def check_agreement_terms(validity_days: int, min_days_between_grants: int) -> None:
    checks = FieldChecks()
    checks.require(
        0 < validity_days <= limits.GRANT_VALIDITY_DAYS_MAX,
        "validity_days",
        f"must be 1-{limits.GRANT_VALIDITY_DAYS_MAX}",
    )
    checks.require(
        0 <= min_days_between_grants <= limits.GRANT_INTERVAL_DAYS_MAX,
        "min_days_between_grants",
        f"must be 0-{limits.GRANT_INTERVAL_DAYS_MAX}",
    )
    checks.raise_if_any()


def canonical_target(source_tier: Tier, target: TierLadder) -> str | None:
    """The highest target tier whose canonical level does not exceed the source tier's."""
    eligible = [t for t in target.tiers if t.canonical_level <= source_tier.canonical_level]
    return max(eligible, key=lambda t: t.rank).code if eligible else None


def recognise(
    source_tier: Tier,
    source: TierLadder,
    target: TierLadder,
    agreement: RecognitionAgreement | None,
) -> Recognition:
    """Applies the accepted agreement, or canonical levels when both partners opted in."""
    if agreement is not None:
        code = agreement.target_tier_for(source_tier.code)
        if code is None or target.tier(code) is None:
            raise DomainError(ErrorCode.NO_MATCHING_RULE, "the agreement has no rule for this tier")
        return Recognition(
            code, agreement.validity_days, agreement.min_days_between_grants, agreement
        )
    if not (source.canonical_matching and target.canonical_matching):
        raise DomainError(
            ErrorCode.NO_RECOGNITION,
            "no accepted recognition agreement, and canonical matching is not enabled by both",
        )
    code = canonical_target(source_tier, target)
    if code is None:
        raise DomainError(ErrorCode.NO_MATCHING_RULE, "no target tier at this canonical level")
    return Recognition(
        code, limits.CANONICAL_GRANT_VALIDITY_DAYS, limits.CANONICAL_GRANT_INTERVAL_DAYS, None
    )


def check_frequency(last_grant_at_us: int | None, interval_days: int, now_us: int) -> None:
    if last_grant_at_us is None or interval_days == 0:
        return
    if now_us - last_grant_at_us < interval_days * DAY_US:
        raise DomainError(
            ErrorCode.MATCH_TOO_FREQUENT,
            f"this member was matched to this partner within the last {interval_days} days",
        )
