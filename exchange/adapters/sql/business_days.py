"""SQL storage of business days: opened on first use, closed once, never reopened."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as postgres_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from exchange.adapters.sql.settlement_tables import BusinessDayRow

OPEN = "open"
CLOSED = "closed"


class SqlBusinessDayRepository:
    def __init__(self, session: Session) -> None:
        self.session = session
        self.dialect = session.get_bind().dialect.name

    def _ensure(self, business_day: str) -> None:
        dialect_insert = postgres_insert if self.dialect == "postgresql" else sqlite_insert
        self.session.execute(
            dialect_insert(BusinessDayRow)
            .values(business_day=business_day, state=OPEN, closed_at_us=None)
            .on_conflict_do_nothing()
        )

    def open_day_at_or_after(self, business_day: str) -> str:
        day = date.fromisoformat(business_day)
        while True:
            text = day.isoformat()
            self._ensure(text)
            # FOR SHARE: completions share the day; closing it (an UPDATE) waits for them.
            state = self.session.scalar(
                select(BusinessDayRow.state)
                .where(BusinessDayRow.business_day == text)
                .with_for_update(read=True)
                .execution_options(populate_existing=True)
            )
            if state == OPEN:
                return text
            day += timedelta(days=1)

    def close(self, business_day: str, at_us: int) -> bool:
        self._ensure(business_day)
        result = self.session.execute(
            update(BusinessDayRow)
            .where(BusinessDayRow.business_day == business_day, BusinessDayRow.state == OPEN)
            .values(state=CLOSED, closed_at_us=at_us)
            .returning(BusinessDayRow.business_day)
        )
        return result.first() is not None

    def state(self, business_day: str) -> str | None:
        return self.session.scalar(
            select(BusinessDayRow.state)
            .where(BusinessDayRow.business_day == business_day)
            .execution_options(populate_existing=True)
        )
