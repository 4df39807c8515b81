"""Typed models of the measures' rollups (migration 0006), on the one schema's metadata."""

from __future__ import annotations

from sqlalchemy import BigInteger, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from exchange.adapters.sql.tables import Base


class MetricCellRow(Base):
    """One day figure of one metric; every measure is read from these, never from transfers."""

    __tablename__ = "metric_cells"
    __table_args__ = (Index(None, "metric", "business_day"),)

    metric: Mapped[str] = mapped_column(String(40), primary_key=True)
    business_day: Mapped[str] = mapped_column(String(10), primary_key=True)
    subject: Mapped[str] = mapped_column(String(32), primary_key=True)
    counterpart: Mapped[str] = mapped_column(String(32), primary_key=True)
    dimension: Mapped[str] = mapped_column(String(16), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger)


class MetricDayRow(Base):
    """A business day whose records were rolled up."""

    __tablename__ = "metric_days"

    business_day: Mapped[str] = mapped_column(String(10), primary_key=True)
    folded_at_us: Mapped[int] = mapped_column(BigInteger)


class MetricLinkRow(Base):
    """A member's brands as of the last fold: link growth is the difference from it."""

    __tablename__ = "metric_links"

    cmid: Mapped[str] = mapped_column(String(35), primary_key=True)
    partner_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    linked_day: Mapped[str] = mapped_column(String(10))


class MetricActivityRow(Base):
    """A linked member's last active day at one partner within one month."""

    __tablename__ = "metric_activity"
    __table_args__ = (Index(None, "last_active_day"), Index(None, "month"))

    cmid: Mapped[str] = mapped_column(String(35), primary_key=True)
    partner_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    last_active_day: Mapped[str] = mapped_column(String(10))


class ProgrammeReportRow(Base):
    """A partner's own programme totals for a month, as it reported them."""

    __tablename__ = "programme_reports"

    partner_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    period: Mapped[str] = mapped_column(String(7), primary_key=True)
    points_issued: Mapped[int] = mapped_column(BigInteger)
    points_redeemed: Mapped[int] = mapped_column(BigInteger)
    points_expired: Mapped[int] = mapped_column(BigInteger)
    active_members: Mapped[int] = mapped_column(BigInteger)
    reported_at_us: Mapped[int] = mapped_column(BigInteger)
