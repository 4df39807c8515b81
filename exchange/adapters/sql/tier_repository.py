"""SQL storage of tier ladders, recognition agreements, member tiers and tier grants."""

from __future__ import annotations

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from exchange.adapters.sql.tables import (
    MemberTierRow,
    RecognitionAgreementRow,
    RecognitionRuleRow,
    TierGrantRow,
    TierLadderRow,
    TierRow,
)
from exchange.domain.agreements import AgreementState
from exchange.domain.tiers import RecognitionAgreement, Tier, TierLadder


class SqlTierRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def current_ladder(self, partner_id: str) -> TierLadder | None:
        ladder = self.session.scalars(
            select(TierLadderRow)
            .where(TierLadderRow.partner_id == partner_id)
            .order_by(TierLadderRow.version.desc())
            .limit(1)
        ).first()
        if ladder is None:
            return None
        rows = self.session.scalars(
            select(TierRow)
            .where(TierRow.partner_id == partner_id, TierRow.version == ladder.version)
            .order_by(TierRow.rank)
        )
        tiers = tuple(Tier(r.code, r.display_name, r.rank, r.canonical_level) for r in rows)
        return TierLadder(partner_id, ladder.version, tiers, ladder.canonical_matching)

    def add_ladder(self, ladder: TierLadder, at_us: int) -> None:
        self.session.execute(
            insert(TierLadderRow).values(
                partner_id=ladder.partner_id,
                version=ladder.version,
                canonical_matching=ladder.canonical_matching,
                published_at_us=at_us,
            )
        )
        self.session.execute(
            insert(TierRow),
            [
                {
                    "partner_id": ladder.partner_id,
                    "version": ladder.version,
                    "code": t.code,
                    "display_name": t.display_name,
                    "rank": t.rank,
                    "canonical_level": t.canonical_level,
                }
                for t in ladder.tiers
            ],
        )

    def agreement_versions(
        self, source_partner_id: str, target_partner_id: str
    ) -> list[RecognitionAgreement]:
        rows = self.session.scalars(
            select(RecognitionAgreementRow)
            .where(
                RecognitionAgreementRow.source_partner_id == source_partner_id,
                RecognitionAgreementRow.target_partner_id == target_partner_id,
            )
            .order_by(RecognitionAgreementRow.version)
        )
        return [self._agreement(row) for row in rows]

    def get_agreement(self, agreement_id: str, version: int) -> RecognitionAgreement | None:
        row = self.session.get(RecognitionAgreementRow, (agreement_id, version))
        return self._agreement(row) if row is not None else None

    def agreement_id_for(self, source_partner_id: str, target_partner_id: str) -> str | None:
        return self.session.scalar(
            select(RecognitionAgreementRow.agreement_id)
            .where(
                RecognitionAgreementRow.source_partner_id == source_partner_id,
                RecognitionAgreementRow.target_partner_id == target_partner_id,
            )
            .limit(1)
        )

    def add_agreement(self, agreement: RecognitionAgreement) -> None:
        self.session.execute(
            insert(RecognitionAgreementRow).values(
                agreement_id=agreement.agreement_id,
                version=agreement.version,
                source_partner_id=agreement.source_partner_id,
                target_partner_id=agreement.target_partner_id,
                validity_days=agreement.validity_days,
                min_days_between_grants=agreement.min_days_between_grants,
                state=agreement.state.value,
                proposed_by=agreement.proposed_by,
                proposed_at_us=agreement.proposed_at_us,
                accepted_at_us=agreement.accepted_at_us,
            )
        )
        self.session.execute(
            insert(RecognitionRuleRow),
            [
                {
                    "agreement_id": agreement.agreement_id,
                    "version": agreement.version,
                    "source_tier_code": source,
                    "target_tier_code": target,
                }
                for source, target in agreement.rules
            ],
        )

    def mark_accepted(self, agreement_id: str, version: int, at_us: int) -> None:
        self.session.execute(
            update(RecognitionAgreementRow)
            .where(
                RecognitionAgreementRow.agreement_id == agreement_id,
                RecognitionAgreementRow.version == version,
            )
            .values(state=AgreementState.ACCEPTED.value, accepted_at_us=at_us)
        )

    def save_member_tier(self, cmid: str, partner_id: str, sealed: bytes, at_us: int) -> None:
        self.delete_member_tiers(cmid, partner_id)
        self.session.execute(
            insert(MemberTierRow).values(
                cmid=cmid, partner_id=partner_id, sealed=sealed, reported_at_us=at_us
            )
        )

    def member_tier(self, cmid: str, partner_id: str) -> bytes | None:
        row = self.session.get(MemberTierRow, (cmid, partner_id))
        return row.sealed if row is not None else None

    def delete_member_tiers(self, cmid: str, partner_id: str | None = None) -> None:
        statement = delete(MemberTierRow).where(MemberTierRow.cmid == cmid)
        if partner_id is not None:
            statement = statement.where(MemberTierRow.partner_id == partner_id)
        self.session.execute(statement)

    def last_grant_at_us(self, cmid: str, source: str, target: str) -> int | None:
        return self.session.scalar(
            select(func.max(TierGrantRow.granted_at_us)).where(
                TierGrantRow.cmid == cmid,
                TierGrantRow.source_partner_id == source,
                TierGrantRow.target_partner_id == target,
            )
        )

    def add_grant(
        self,
        grant_id: str,
        cmid: str,
        recognition: tuple[str, str, str],
        agreement: tuple[str, int] | None,
        granted_at_us: int,
        expires_at_us: int,
    ) -> None:
        source, target, tier_code = recognition
        self.session.execute(
            insert(TierGrantRow).values(
                grant_id=grant_id,
                cmid=cmid,
                source_partner_id=source,
                target_partner_id=target,
                tier_code=tier_code,
                agreement_id=agreement[0] if agreement else None,
                agreement_version=agreement[1] if agreement else None,
                granted_at_us=granted_at_us,
                expires_at_us=expires_at_us,
            )
        )

    def move_grants(self, from_cmid: str, to_cmid: str) -> None:
        self.session.execute(
            update(TierGrantRow).where(TierGrantRow.cmid == from_cmid).values(cmid=to_cmid)
        )

    def delete_grants(self, cmid: str) -> None:
        self.session.execute(delete(TierGrantRow).where(TierGrantRow.cmid == cmid))

    def _agreement(self, row: RecognitionAgreementRow) -> RecognitionAgreement:
        rules = self.session.execute(
            select(RecognitionRuleRow.source_tier_code, RecognitionRuleRow.target_tier_code)
            .where(
                RecognitionRuleRow.agreement_id == row.agreement_id,
                RecognitionRuleRow.version == row.version,
            )
            .order_by(RecognitionRuleRow.source_tier_code)
        ).all()
        return RecognitionAgreement(
            row.agreement_id,
            row.version,
            row.source_partner_id,
            row.target_partner_id,
            tuple((source, target) for source, target in rules),
            row.validity_days,
            row.min_days_between_grants,
            AgreementState(row.state),
            row.proposed_by,
            row.proposed_at_us,
            row.accepted_at_us,
        )
