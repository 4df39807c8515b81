"""SQL storage of rate agreements."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, or_, select, tuple_, update
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session

from exchange.adapters.sql.tables import RateAgreementRow
from exchange.domain.agreements import AgreementState
from exchange.domain.rates import RateAgreement, RateTerms


def _agreement(row: RateAgreementRow | Row[Any]) -> RateAgreement:
    terms = RateTerms(
        row.source_units,
        row.destination_units,
        row.minimum_source_points,
        row.increment_source_points,
        row.maximum_source_points,
        row.member_daily_cap_source_points,
        row.bonus_percent,
        row.bonus_start_us,
        row.bonus_end_us,
        row.currency,
        Decimal(row.price_per_destination_point),
        row.effective_from_us,
        row.effective_to_us,
    )
    return RateAgreement(
        row.agreement_id,
        row.version,
        row.source_partner_id,
        row.destination_partner_id,
        terms,
        AgreementState(row.state),
        row.proposed_by,
        row.proposed_at_us,
        row.accepted_at_us,
    )


RATES = cast(Table, RateAgreementRow.__table__)
# Built once: constructing and cache-keying a statement costs more than running it.
VERSIONS = (
    select(RATES)
    .where(
        RATES.c.source_partner_id == bindparam("source"),
        RATES.c.destination_partner_id == bindparam("destination"),
    )
    .order_by(RATES.c.version)
)


class SqlRateAgreementRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def versions(self, source_partner_id: str, destination_partner_id: str) -> list[RateAgreement]:
        rows = self.session.execute(
            VERSIONS, {"source": source_partner_id, "destination": destination_partner_id}
        )
        return [_agreement(row) for row in rows]

    def get(self, agreement_id: str, version: int) -> RateAgreement | None:
        row = self.session.get(RateAgreementRow, (agreement_id, version))
        return _agreement(row) if row is not None else None

    def agreement_id_for(self, source_partner_id: str, destination_partner_id: str) -> str | None:
        return self.session.scalar(
            select(RateAgreementRow.agreement_id)
            .where(
                RateAgreementRow.source_partner_id == source_partner_id,
                RateAgreementRow.destination_partner_id == destination_partner_id,
            )
            .limit(1)
        )

    def add(self, agreement: RateAgreement) -> None:
        terms = agreement.terms
        self.session.execute(
            insert(RateAgreementRow).values(
                agreement_id=agreement.agreement_id,
                version=agreement.version,
                source_partner_id=agreement.source_partner_id,
                destination_partner_id=agreement.destination_partner_id,
                source_units=terms.source_units,
                destination_units=terms.destination_units,
                minimum_source_points=terms.minimum_source_points,
                increment_source_points=terms.increment_source_points,
                maximum_source_points=terms.maximum_source_points,
                member_daily_cap_source_points=terms.member_daily_cap_source_points,
                bonus_percent=terms.bonus_percent,
                bonus_start_us=terms.bonus_start_us,
                bonus_end_us=terms.bonus_end_us,
                currency=terms.currency,
                price_per_destination_point=str(terms.price_per_destination_point),
                effective_from_us=terms.effective_from_us,
                effective_to_us=terms.effective_to_us,
                state=agreement.state.value,
                proposed_by=agreement.proposed_by,
                proposed_at_us=agreement.proposed_at_us,
                accepted_at_us=agreement.accepted_at_us,
            )
        )

    def mark_accepted(self, agreement_id: str, version: int, at_us: int) -> None:
        self.session.execute(
            update(RateAgreementRow)
            .where(
                RateAgreementRow.agreement_id == agreement_id,
                RateAgreementRow.version == version,
            )
            .values(state=AgreementState.ACCEPTED.value, accepted_at_us=at_us)
        )

    def list_for(
        self, partner_id: str, after: tuple[str, int] | None, limit: int
    ) -> list[RateAgreement]:
        query = select(RateAgreementRow).where(
            or_(
                RateAgreementRow.source_partner_id == partner_id,
                RateAgreementRow.destination_partner_id == partner_id,
            )
        )
        if after is not None:
            position = tuple_(RateAgreementRow.agreement_id, RateAgreementRow.version)
            query = query.where(position > tuple_(*after))
        query = query.order_by(RateAgreementRow.agreement_id, RateAgreementRow.version).limit(limit)
        return [_agreement(row) for row in self.session.scalars(query)]
