"""Partners, partner keys, request nonces and idempotency records.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "partners",
        sa.Column("partner_id", sa.String(32), nullable=False),
        sa.Column("display_name", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("program_code", sa.String(32), nullable=False),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("partner_id", name="pk_partners"),
        sa.UniqueConstraint("program_code", name="uq_partners_program_code"),
    )
    op.create_table(
        "partner_keys",
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("partner_id", sa.String(32), nullable=False),
        sa.Column("public_key", sa.LargeBinary(32), nullable=False),
        sa.Column("state", sa.String(8), nullable=False),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.Column("revoked_at_us", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partners.partner_id"], name="fk_partner_keys_partner_id_partners"
        ),
        sa.PrimaryKeyConstraint("key_id", name="pk_partner_keys"),
        sa.UniqueConstraint("public_key", name="uq_partner_keys_public_key"),
    )
    op.create_index("ix_partner_keys_partner_id", "partner_keys", ["partner_id"])
    op.create_table(
        "request_nonces",
        sa.Column("partner_id", sa.String(32), nullable=False),
        sa.Column("nonce", sa.String(22), nullable=False),
        sa.Column("created_s", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("partner_id", "nonce", name="pk_request_nonces"),
    )
    op.create_index("ix_request_nonces_created_s", "request_nonces", ["created_s"])
    op.create_table(
        "idempotency_records",
        sa.Column("partner_id", sa.String(32), nullable=False),
        sa.Column("idempotency_key", sa.String(36), nullable=False),
        sa.Column("method", sa.String(200), nullable=False),
        sa.Column("request_sha256", sa.LargeBinary(32), nullable=False),
        sa.Column("response", sa.LargeBinary(), nullable=False),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("partner_id", "idempotency_key", name="pk_idempotency_records"),
    )
    op.create_index(
        "ix_idempotency_records_created_at_us", "idempotency_records", ["created_at_us"]
    )


def downgrade() -> None:
    op.drop_table("idempotency_records")
    op.drop_table("request_nonces")
    op.drop_table("partner_keys")
    op.drop_table("partners")
