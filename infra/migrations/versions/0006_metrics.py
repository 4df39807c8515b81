"""Coalition measures: day cells, folded days, link snapshot, activity, programme reports

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "metric_cells",
        sa.Column("metric", sa.String(length=40), nullable=False),
        sa.Column("business_day", sa.String(length=10), nullable=False),
        sa.Column("subject", sa.String(length=32), nullable=False),
        sa.Column("counterpart", sa.String(length=32), nullable=False),
        sa.Column("dimension", sa.String(length=16), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "metric",
            "business_day",
            "subject",
            "counterpart",
            "dimension",
            name=op.f("pk_metric_cells"),
        ),
    )
    op.create_index(
        op.f("ix_metric_cells_metric_business_day"), "metric_cells", ["metric", "business_day"]
    )
    op.create_table(
        "metric_days",
        sa.Column("business_day", sa.String(length=10), nullable=False),
        sa.Column("folded_at_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("business_day", name=op.f("pk_metric_days")),
    )
    op.create_table(
        "metric_links",
        sa.Column("cmid", sa.String(length=35), nullable=False),
        sa.Column("partner_id", sa.String(length=32), nullable=False),
        sa.Column("linked_day", sa.String(length=10), nullable=False),
        sa.PrimaryKeyConstraint("cmid", "partner_id", name=op.f("pk_metric_links")),
    )
    op.create_table(
        "metric_activity",
        sa.Column("cmid", sa.String(length=35), nullable=False),
        sa.Column("partner_id", sa.String(length=32), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("last_active_day", sa.String(length=10), nullable=False),
        sa.PrimaryKeyConstraint("cmid", "partner_id", "month", name=op.f("pk_metric_activity")),
    )
    op.create_index(
        op.f("ix_metric_activity_last_active_day"), "metric_activity", ["last_active_day"]
    )
    op.create_index(op.f("ix_metric_activity_month"), "metric_activity", ["month"])
    op.create_table(
        "programme_reports",
        sa.Column("partner_id", sa.String(length=32), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("points_issued", sa.BigInteger(), nullable=False),
        sa.Column("points_redeemed", sa.BigInteger(), nullable=False),
        sa.Column("points_expired", sa.BigInteger(), nullable=False),
        sa.Column("active_members", sa.BigInteger(), nullable=False),
        sa.Column("reported_at_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("partner_id", "period", name=op.f("pk_programme_reports")),
    )


def downgrade() -> None:
    op.drop_table("programme_reports")
    op.drop_index(op.f("ix_metric_activity_month"), table_name="metric_activity")
    op.drop_index(op.f("ix_metric_activity_last_active_day"), table_name="metric_activity")
    op.drop_table("metric_activity")
    op.drop_table("metric_links")
    op.drop_table("metric_days")
    op.drop_index(op.f("ix_metric_cells_metric_business_day"), table_name="metric_cells")
    op.drop_table("metric_cells")
