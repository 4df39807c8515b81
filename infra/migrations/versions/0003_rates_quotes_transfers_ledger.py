"""Rate agreements, quotes, transfers and the ledger

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "journals",
        sa.Column("journal_id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("transfer_id", sa.String(length=40), nullable=False),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("journal_id", name=op.f("pk_journals")),
        sa.UniqueConstraint("transfer_id", "kind", name=op.f("uq_journals_transfer_id_kind")),
    )
    op.create_table(
        "ledger_accounts",
        sa.Column("account_id", sa.String(length=120), nullable=False),
        sa.Column("owner", sa.String(length=32), nullable=False),
        sa.Column("purpose", sa.String(length=32), nullable=False),
        sa.Column("asset", sa.String(length=32), nullable=False),
        sa.Column("debits_pending", sa.BigInteger(), nullable=False),
        sa.Column("credits_pending", sa.BigInteger(), nullable=False),
        sa.Column("debits_posted", sa.BigInteger(), nullable=False),
        sa.Column("credits_posted", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_ledger_accounts")),
    )
    op.create_table(
        "ledger_entries",
        sa.Column(
            "entry_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("journal_id", sa.String(length=40), nullable=False),
        sa.Column("account_id", sa.String(length=120), nullable=False),
        sa.Column("side", sa.String(length=1), nullable=False),
        sa.Column("phase", sa.String(length=8), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["ledger_accounts.account_id"],
            name=op.f("fk_ledger_entries_account_id_ledger_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["journal_id"],
            ["journals.journal_id"],
            name=op.f("fk_ledger_entries_journal_id_journals"),
        ),
        sa.PrimaryKeyConstraint("entry_id", name=op.f("pk_ledger_entries")),
    )
    op.create_index(
        op.f("ix_ledger_entries_account_id"), "ledger_entries", ["account_id"], unique=False
    )
    op.create_index(
        op.f("ix_ledger_entries_journal_id"), "ledger_entries", ["journal_id"], unique=False
    )
    op.create_table(
        "quotes",
        sa.Column("quote_id", sa.String(length=40), nullable=False),
        sa.Column("source_partner_id", sa.String(length=32), nullable=False),
        sa.Column("destination_partner_id", sa.String(length=32), nullable=False),
        sa.Column("cmid", sa.String(length=35), nullable=False),
        sa.Column("source_ppid", sa.String(length=40), nullable=False),
        sa.Column("destination_ppid", sa.String(length=40), nullable=False),
        sa.Column("agreement_id", sa.String(length=40), nullable=False),
        sa.Column("agreement_version", sa.Integer(), nullable=False),
        sa.Column("source_points", sa.BigInteger(), nullable=False),
        sa.Column("destination_points", sa.BigInteger(), nullable=False),
        sa.Column("bonus_points", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("settlement_amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("fee_minor", sa.BigInteger(), nullable=False),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.Column("expires_at_us", sa.BigInteger(), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("signature", sa.LargeBinary(length=64), nullable=False),
        sa.Column("transfer_id", sa.String(length=40), nullable=True),
        sa.ForeignKeyConstraint(["cmid"], ["members.cmid"], name=op.f("fk_quotes_cmid_members")),
        sa.PrimaryKeyConstraint("quote_id", name=op.f("pk_quotes")),
        sa.UniqueConstraint("transfer_id", name=op.f("uq_quotes_transfer_id")),
    )
    op.create_index(op.f("ix_quotes_cmid"), "quotes", ["cmid"], unique=False)
    op.create_table(
        "rate_agreements",
        sa.Column("agreement_id", sa.String(length=40), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("source_partner_id", sa.String(length=32), nullable=False),
        sa.Column("destination_partner_id", sa.String(length=32), nullable=False),
        sa.Column("source_units", sa.BigInteger(), nullable=False),
        sa.Column("destination_units", sa.BigInteger(), nullable=False),
        sa.Column("minimum_source_points", sa.BigInteger(), nullable=False),
        sa.Column("increment_source_points", sa.BigInteger(), nullable=False),
        sa.Column("maximum_source_points", sa.BigInteger(), nullable=False),
        sa.Column("member_daily_cap_source_points", sa.BigInteger(), nullable=False),
        sa.Column("bonus_percent", sa.Integer(), nullable=False),
        sa.Column("bonus_start_us", sa.BigInteger(), nullable=True),
        sa.Column("bonus_end_us", sa.BigInteger(), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("price_per_destination_point", sa.String(length=24), nullable=False),
        sa.Column("effective_from_us", sa.BigInteger(), nullable=False),
        sa.Column("effective_to_us", sa.BigInteger(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("proposed_by", sa.String(length=32), nullable=False),
        sa.Column("proposed_at_us", sa.BigInteger(), nullable=False),
        sa.Column("accepted_at_us", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["destination_partner_id"],
            ["partners.partner_id"],
            name=op.f("fk_rate_agreements_destination_partner_id_partners"),
        ),
        sa.ForeignKeyConstraint(
            ["source_partner_id"],
            ["partners.partner_id"],
            name=op.f("fk_rate_agreements_source_partner_id_partners"),
        ),
        sa.PrimaryKeyConstraint("agreement_id", "version", name=op.f("pk_rate_agreements")),
    )
    op.create_index(
        op.f("ix_rate_agreements_source_partner_id_destination_partner_id"),
        "rate_agreements",
        ["source_partner_id", "destination_partner_id"],
        unique=False,
    )
    op.create_table(
        "transfers",
        sa.Column("transfer_id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("source_partner_id", sa.String(length=32), nullable=False),
        sa.Column("destination_partner_id", sa.String(length=32), nullable=False),
        sa.Column("cmid", sa.String(length=35), nullable=False),
        sa.Column("source_ppid", sa.String(length=40), nullable=False),
        sa.Column("destination_ppid", sa.String(length=40), nullable=False),
        sa.Column("source_points", sa.BigInteger(), nullable=False),
        sa.Column("destination_points", sa.BigInteger(), nullable=False),
        sa.Column("bonus_points", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("settlement_amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("fee_minor", sa.BigInteger(), nullable=False),
        sa.Column("agreement_id", sa.String(length=40), nullable=False),
        sa.Column("agreement_version", sa.Integer(), nullable=False),
        sa.Column("quote_id", sa.String(length=40), nullable=True),
        sa.Column("original_transfer_id", sa.String(length=40), nullable=True),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.Column("timeout_at_us", sa.BigInteger(), nullable=False),
        sa.Column("resolved_at_us", sa.BigInteger(), nullable=True),
        sa.Column("void_reason", sa.String(length=16), nullable=True),
        sa.Column("reject_reason", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(["cmid"], ["members.cmid"], name=op.f("fk_transfers_cmid_members")),
        sa.ForeignKeyConstraint(
            ["destination_partner_id"],
            ["partners.partner_id"],
            name=op.f("fk_transfers_destination_partner_id_partners"),
        ),
        sa.ForeignKeyConstraint(
            ["source_partner_id"],
            ["partners.partner_id"],
            name=op.f("fk_transfers_source_partner_id_partners"),
        ),
        sa.PrimaryKeyConstraint("transfer_id", name=op.f("pk_transfers")),
        sa.UniqueConstraint("quote_id", name=op.f("uq_transfers_quote_id")),
    )
    op.create_index(
        op.f("ix_transfers_cmid_source_partner_id_destination_partner_id_created_at_us"),
        "transfers",
        ["cmid", "source_partner_id", "destination_partner_id", "created_at_us"],
        unique=False,
    )
    op.create_index(
        op.f("ix_transfers_destination_partner_id_created_at_us"),
        "transfers",
        ["destination_partner_id", "created_at_us"],
        unique=False,
    )
    op.create_index(
        op.f("ix_transfers_original_transfer_id"),
        "transfers",
        ["original_transfer_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_transfers_source_partner_id_created_at_us"),
        "transfers",
        ["source_partner_id", "created_at_us"],
        unique=False,
    )
    op.create_index(
        op.f("ix_transfers_state_timeout_at_us"),
        "transfers",
        ["state", "timeout_at_us"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_transfers_state_timeout_at_us"), table_name="transfers")
    op.drop_index(op.f("ix_transfers_source_partner_id_created_at_us"), table_name="transfers")
    op.drop_index(op.f("ix_transfers_original_transfer_id"), table_name="transfers")
    op.drop_index(op.f("ix_transfers_destination_partner_id_created_at_us"), table_name="transfers")
    op.drop_index(
        op.f("ix_transfers_cmid_source_partner_id_destination_partner_id_created_at_us"),
        table_name="transfers",
    )
    op.drop_table("transfers")
    op.drop_index(
        op.f("ix_rate_agreements_source_partner_id_destination_partner_id"),
        table_name="rate_agreements",
    )
    op.drop_table("rate_agreements")
    op.drop_index(op.f("ix_quotes_cmid"), table_name="quotes")
    op.drop_table("quotes")
    op.drop_index(op.f("ix_ledger_entries_journal_id"), table_name="ledger_entries")
    op.drop_index(op.f("ix_ledger_entries_account_id"), table_name="ledger_entries")
    op.drop_table("ledger_entries")
    op.drop_table("ledger_accounts")
    op.drop_table("journals")
