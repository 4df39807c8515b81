"""Business days and settlement

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "adjustments",
        sa.Column("adjustment_id", sa.String(length=40), nullable=False),
        sa.Column("dispute_id", sa.String(length=40), nullable=False),
        sa.Column("business_day", sa.String(length=10), nullable=False),
        sa.Column("payer", sa.String(length=32), nullable=False),
        sa.Column("payee", sa.String(length=32), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("adjustment_id", name=op.f("pk_adjustments")),
        sa.UniqueConstraint("dispute_id", name=op.f("uq_adjustments_dispute_id")),
    )
    op.create_index(
        op.f("ix_adjustments_business_day"), "adjustments", ["business_day"], unique=False
    )
    op.create_table(
        "business_days",
        sa.Column("business_day", sa.String(length=10), nullable=False),
        sa.Column("state", sa.String(length=8), nullable=False),
        sa.Column("closed_at_us", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("business_day", name=op.f("pk_business_days")),
    )
    op.create_table(
        "disputes",
        sa.Column("dispute_id", sa.String(length=40), nullable=False),
        sa.Column("business_day", sa.String(length=10), nullable=False),
        sa.Column("transfer_id", sa.String(length=40), nullable=False),
        sa.Column("opened_by", sa.String(length=32), nullable=False),
        sa.Column("counterparty", sa.String(length=32), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("claimed_minor", sa.BigInteger(), nullable=False),
        sa.Column("recorded_minor", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("state", sa.String(length=8), nullable=False),
        sa.Column("resolution_reason", sa.String(length=200), nullable=False),
        sa.Column("adjustment_business_day", sa.String(length=10), nullable=True),
        sa.Column("opened_at_us", sa.BigInteger(), nullable=False),
        sa.Column("resolved_at_us", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("dispute_id", name=op.f("pk_disputes")),
    )
    op.create_index(op.f("ix_disputes_counterparty"), "disputes", ["counterparty"], unique=False)
    op.create_index(op.f("ix_disputes_opened_by"), "disputes", ["opened_by"], unique=False)
    op.create_index(op.f("ix_disputes_transfer_id"), "disputes", ["transfer_id"], unique=False)
    op.create_table(
        "payment_instructions",
        sa.Column("clearing_reference", sa.String(length=80), nullable=False),
        sa.Column("business_day", sa.String(length=10), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("participant", sa.String(length=32), nullable=False),
        sa.Column("direction", sa.String(length=8), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("clearing_reference", name=op.f("pk_payment_instructions")),
    )
    op.create_index(
        op.f("ix_payment_instructions_business_day"),
        "payment_instructions",
        ["business_day"],
        unique=False,
    )
    op.create_table(
        "reconciliations",
        sa.Column("reconciliation_id", sa.String(length=40), nullable=False),
        sa.Column("partner_id", sa.String(length=32), nullable=False),
        sa.Column("business_day", sa.String(length=10), nullable=False),
        sa.Column("upload_sha256", sa.LargeBinary(length=32), nullable=False),
        sa.Column("breaks_csv", sa.LargeBinary(), nullable=False),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("reconciliation_id", name=op.f("pk_reconciliations")),
        sa.UniqueConstraint(
            "partner_id",
            "business_day",
            "upload_sha256",
            name=op.f("uq_reconciliations_partner_id_business_day_upload_sha256"),
        ),
    )
    op.create_table(
        "settlement_days",
        sa.Column("business_day", sa.String(length=10), nullable=False),
        sa.Column("merkle_root", sa.LargeBinary(length=32), nullable=False),
        sa.Column("tree_size", sa.BigInteger(), nullable=False),
        sa.Column("settled_at_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("business_day", name=op.f("pk_settlement_days")),
    )
    op.create_table(
        "settlement_leaves",
        sa.Column("business_day", sa.String(length=10), nullable=False),
        sa.Column("leaf_index", sa.BigInteger(), nullable=False),
        sa.Column("transfer_id", sa.String(length=40), nullable=False),
        sa.Column("leaf_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("record", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("business_day", "leaf_index", name=op.f("pk_settlement_leaves")),
        sa.UniqueConstraint(
            "business_day",
            "transfer_id",
            name=op.f("uq_settlement_leaves_business_day_transfer_id"),
        ),
    )
    op.create_table(
        "settlement_positions",
        sa.Column("business_day", sa.String(length=10), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("participant", sa.String(length=32), nullable=False),
        sa.Column("receivable_minor", sa.BigInteger(), nullable=False),
        sa.Column("payable_minor", sa.BigInteger(), nullable=False),
        sa.Column("net_minor", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "business_day", "currency", "participant", name=op.f("pk_settlement_positions")
        ),
    )
    op.create_table(
        "settlement_runs",
        sa.Column("business_day", sa.String(length=10), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("record_count", sa.BigInteger(), nullable=False),
        sa.Column("settled_at_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("business_day", "currency", name=op.f("pk_settlement_runs")),
    )
    op.add_column("transfers", sa.Column("business_day", sa.String(length=10), nullable=True))
    op.create_index(op.f("ix_transfers_business_day"), "transfers", ["business_day"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_transfers_business_day"), table_name="transfers")
    op.drop_column("transfers", "business_day")
    op.drop_table("settlement_runs")
    op.drop_table("settlement_positions")
    op.drop_table("settlement_leaves")
    op.drop_table("settlement_days")
    op.drop_table("reconciliations")
    op.drop_index(op.f("ix_payment_instructions_business_day"), table_name="payment_instructions")
    op.drop_table("payment_instructions")
    op.drop_index(op.f("ix_disputes_transfer_id"), table_name="disputes")
    op.drop_index(op.f("ix_disputes_opened_by"), table_name="disputes")
    op.drop_index(op.f("ix_disputes_counterparty"), table_name="disputes")
    op.drop_table("disputes")
    op.drop_table("business_days")
    op.drop_index(op.f("ix_adjustments_business_day"), table_name="adjustments")
    op.drop_table("adjustments")
