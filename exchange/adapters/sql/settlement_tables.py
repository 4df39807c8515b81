"""Typed models of business days, settled days (their roots, leaves, tree nodes, runs, positions and
instructions), disputes, adjustments and reconciliations, on the one schema's metadata."""

from __future__ import annotations

from sqlalchemy import BigInteger, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from exchange.adapters.sql.base import Base


class BusinessDayRow(Base):
    """A business day of the coalition calendar; once closed it never changes."""

    __tablename__ = "business_days"

    business_day: Mapped[str] = mapped_column(String(10), primary_key=True)
    state: Mapped[str] = mapped_column(String(8))
    closed_at_us: Mapped[int | None] = mapped_column(BigInteger)


class SettlementTreeNodeRow(Base):
    """Node (level, node_index) of a settled day's Merkle tree, level >= 1: the root of the
    perfect subtree over leaves [node_index * 2**level, (node_index + 1) * 2**level). Level 0
    is the day's settlement_leaves rows. Written once, with the leaves; never changed."""

    __tablename__ = "settlement_tree_nodes"

    business_day: Mapped[str] = mapped_column(String(10), primary_key=True)
    level: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    node_index: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    node_hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class SettlementDayRow(Base):
    """The settled day: the Merkle root over all of its records."""

    __tablename__ = "settlement_days"

    business_day: Mapped[str] = mapped_column(String(10), primary_key=True)
    merkle_root: Mapped[bytes] = mapped_column(LargeBinary(32))
    tree_size: Mapped[int] = mapped_column(BigInteger)
    settled_at_us: Mapped[int] = mapped_column(BigInteger)


class SettlementLeafRow(Base):
    __tablename__ = "settlement_leaves"
    __table_args__ = (UniqueConstraint("business_day", "transfer_id"),)

    business_day: Mapped[str] = mapped_column(String(10), primary_key=True)
    leaf_index: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    transfer_id: Mapped[str] = mapped_column(String(40))
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    # The canonical record as settled: statements and exports of a closed day read this,
    # never the live rows, so they cannot change after the day is settled.
    record: Mapped[bytes] = mapped_column(LargeBinary)


class SettlementRunRow(Base):
    __tablename__ = "settlement_runs"

    business_day: Mapped[str] = mapped_column(String(10), primary_key=True)
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    record_count: Mapped[int] = mapped_column(BigInteger)
    settled_at_us: Mapped[int] = mapped_column(BigInteger)


class SettlementPositionRow(Base):
    __tablename__ = "settlement_positions"

    business_day: Mapped[str] = mapped_column(String(10), primary_key=True)
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    participant: Mapped[str] = mapped_column(String(32), primary_key=True)
    receivable_minor: Mapped[int] = mapped_column(BigInteger)
    payable_minor: Mapped[int] = mapped_column(BigInteger)
    net_minor: Mapped[int] = mapped_column(BigInteger)


class PaymentInstructionRow(Base):
    __tablename__ = "payment_instructions"

    clearing_reference: Mapped[str] = mapped_column(String(80), primary_key=True)
    business_day: Mapped[str] = mapped_column(String(10), index=True)
    currency: Mapped[str] = mapped_column(String(3))
    participant: Mapped[str] = mapped_column(String(32))
    direction: Mapped[str] = mapped_column(String(8))
    amount_minor: Mapped[int] = mapped_column(BigInteger)


class AdjustmentRow(Base):
    """An accepted dispute's correction, settled in the next open business day."""

    __tablename__ = "adjustments"

    adjustment_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    dispute_id: Mapped[str] = mapped_column(String(40), unique=True)
    business_day: Mapped[str] = mapped_column(String(10), index=True)
    payer: Mapped[str] = mapped_column(String(32))
    payee: Mapped[str] = mapped_column(String(32))
    currency: Mapped[str] = mapped_column(String(3))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    created_at_us: Mapped[int] = mapped_column(BigInteger)


class DisputeRow(Base):
    __tablename__ = "disputes"

    dispute_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    business_day: Mapped[str] = mapped_column(String(10))
    transfer_id: Mapped[str] = mapped_column(String(40), index=True)
    opened_by: Mapped[str] = mapped_column(String(32), index=True)
    counterparty: Mapped[str] = mapped_column(String(32), index=True)
    currency: Mapped[str] = mapped_column(String(3))
    claimed_minor: Mapped[int] = mapped_column(BigInteger)
    recorded_minor: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(8))
    resolution_reason: Mapped[str] = mapped_column(String(200))
    adjustment_business_day: Mapped[str | None] = mapped_column(String(10))
    opened_at_us: Mapped[int] = mapped_column(BigInteger)
    resolved_at_us: Mapped[int | None] = mapped_column(BigInteger)


class ReconciliationRow(Base):
    """A partner's upload for a day, by its digest: the same upload gets the same report."""

    __tablename__ = "reconciliations"
    __table_args__ = (UniqueConstraint("partner_id", "business_day", "upload_sha256"),)

    reconciliation_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    partner_id: Mapped[str] = mapped_column(String(32))
    business_day: Mapped[str] = mapped_column(String(10))
    upload_sha256: Mapped[bytes] = mapped_column(LargeBinary(32))
    breaks_csv: Mapped[bytes] = mapped_column(LargeBinary)
    created_at_us: Mapped[int] = mapped_column(BigInteger)
