"""Finance console: users, sessions, audit log, login failures, reconciliation uploads

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "console_users",
        sa.Column("user_id", sa.String(length=40), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("partner_id", sa.String(length=32), nullable=True),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["partners.partner_id"],
            name=op.f("fk_console_users_partner_id_partners"),
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_console_users")),
        sa.UniqueConstraint("username", name=op.f("uq_console_users_username")),
    )
    op.create_table(
        "console_sessions",
        sa.Column("token_sha256", sa.LargeBinary(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=40), nullable=False),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.Column("last_seen_at_us", sa.BigInteger(), nullable=False),
        sa.Column("revoked_at_us", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["console_users.user_id"],
            name=op.f("fk_console_sessions_user_id_console_users"),
        ),
        sa.PrimaryKeyConstraint("token_sha256", name=op.f("pk_console_sessions")),
    )
    op.create_index(
        op.f("ix_console_sessions_user_id"), "console_sessions", ["user_id"], unique=False
    )
    op.create_table(
        "console_audit",
        sa.Column("audit_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at_us", sa.BigInteger(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("partner_id", sa.String(length=32), nullable=True),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("audit_id", name=op.f("pk_console_audit")),
    )
    for column in ("at_us", "username", "action"):
        op.create_index(
            op.f(f"ix_console_audit_{column}"), "console_audit", [column], unique=False
        )
    op.create_table(
        "console_login_failures",
        sa.Column("failure_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("client_address", sa.String(length=64), nullable=False),
        sa.Column("at_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("failure_id", name=op.f("pk_console_login_failures")),
    )
    for column in ("username", "client_address", "at_us"):
        op.create_index(
            op.f(f"ix_console_login_failures_{column}"),
            "console_login_failures",
            [column],
            unique=False,
        )
    op.create_table(
        "console_uploads",
        sa.Column("reconciliation_id", sa.String(length=40), nullable=False),
        sa.Column("partner_id", sa.String(length=32), nullable=False),
        sa.Column("business_day", sa.String(length=10), nullable=False),
        sa.Column("breaks_csv", sa.LargeBinary(), nullable=False),
        sa.Column("uploaded_by", sa.String(length=64), nullable=False),
        sa.Column("uploaded_at_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("reconciliation_id", name=op.f("pk_console_uploads")),
    )
    for column in ("partner_id", "business_day"):
        op.create_index(
            op.f(f"ix_console_uploads_{column}"), "console_uploads", [column], unique=False
        )


def downgrade() -> None:
    for column in ("partner_id", "business_day"):
        op.drop_index(op.f(f"ix_console_uploads_{column}"), table_name="console_uploads")
    op.drop_table("console_uploads")
    for column in ("username", "client_address", "at_us"):
        op.drop_index(
            op.f(f"ix_console_login_failures_{column}"), table_name="console_login_failures"
        )
    op.drop_table("console_login_failures")
    for column in ("at_us", "username", "action"):
        op.drop_index(op.f(f"ix_console_audit_{column}"), table_name="console_audit")
    op.drop_table("console_audit")
    op.drop_index(op.f("ix_console_sessions_user_id"), table_name="console_sessions")
    op.drop_table("console_sessions")
    op.drop_table("console_users")
