"""Members, links, event feeds and tiers.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("event_id", sa.String(length=32), nullable=False),
        sa.Column("partner_id", sa.String(length=32), nullable=False),
        sa.Column("sequence", sa.BigInteger(), nullable=False),
        sa.Column("event_type", sa.String(length=32), nullable=False),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("signing_key_id", sa.String(length=64), nullable=False),
        sa.Column("signature", sa.LargeBinary(length=64), nullable=False),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_events")),
        sa.UniqueConstraint("partner_id", "sequence", name=op.f("uq_events_partner_id_sequence")),
    )
    op.create_table(
        "link_codes",
        sa.Column("code_sha256", sa.LargeBinary(length=32), nullable=False),
        sa.Column("partner_id", sa.String(length=32), nullable=False),
        sa.Column("ppid", sa.String(length=40), nullable=False),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.Column("expires_at_us", sa.BigInteger(), nullable=False),
        sa.Column("redeemed_at_us", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("code_sha256", name=op.f("pk_link_codes")),
    )
    op.create_index(op.f("ix_link_codes_ppid"), "link_codes", ["ppid"], unique=False)
    op.create_table(
        "link_failures",
        sa.Column(
            "failure_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("partner_id", sa.String(length=32), nullable=False),
        sa.Column("failed_at_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("failure_id", name=op.f("pk_link_failures")),
    )
    op.create_index(
        op.f("ix_link_failures_partner_id_failed_at_us"),
        "link_failures",
        ["partner_id", "failed_at_us"],
        unique=False,
    )
    op.create_table(
        "members",
        sa.Column("cmid", sa.String(length=35), nullable=False),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.Column("erased_at_us", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("cmid", name=op.f("pk_members")),
    )
    op.create_table(
        "member_keys",
        sa.Column("cmid", sa.String(length=35), nullable=False),
        sa.Column("wrapped_key", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["cmid"], ["members.cmid"], name=op.f("fk_member_keys_cmid_members")
        ),
        sa.PrimaryKeyConstraint("cmid", name=op.f("pk_member_keys")),
    )
    op.create_table(
        "member_tiers",
        sa.Column("cmid", sa.String(length=35), nullable=False),
        sa.Column("partner_id", sa.String(length=32), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.Column("reported_at_us", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["cmid"], ["members.cmid"], name=op.f("fk_member_tiers_cmid_members")
        ),
        sa.PrimaryKeyConstraint("cmid", "partner_id", name=op.f("pk_member_tiers")),
    )
    op.create_table(
        "partner_feeds",
        sa.Column("partner_id", sa.String(length=32), nullable=False),
        sa.Column("last_sequence", sa.BigInteger(), nullable=False),
        sa.Column("acked_sequence", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["partners.partner_id"],
            name=op.f("fk_partner_feeds_partner_id_partners"),
        ),
        sa.PrimaryKeyConstraint("partner_id", name=op.f("pk_partner_feeds")),
    )
    op.create_table(
        "ppids",
        sa.Column("ppid", sa.String(length=40), nullable=False),
        sa.Column("partner_id", sa.String(length=32), nullable=False),
        sa.Column("cmid", sa.String(length=35), nullable=False),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["cmid"], ["members.cmid"], name=op.f("fk_ppids_cmid_members")),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partners.partner_id"], name=op.f("fk_ppids_partner_id_partners")
        ),
        sa.PrimaryKeyConstraint("ppid", name=op.f("pk_ppids")),
        sa.UniqueConstraint("cmid", "partner_id", name=op.f("uq_ppids_cmid_partner_id")),
    )
    op.create_index(op.f("ix_ppids_cmid"), "ppids", ["cmid"], unique=False)
    op.create_table(
        "recognition_agreements",
        sa.Column("agreement_id", sa.String(length=40), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("source_partner_id", sa.String(length=32), nullable=False),
        sa.Column("target_partner_id", sa.String(length=32), nullable=False),
        sa.Column("validity_days", sa.Integer(), nullable=False),
        sa.Column("min_days_between_grants", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("proposed_by", sa.String(length=32), nullable=False),
        sa.Column("proposed_at_us", sa.BigInteger(), nullable=False),
        sa.Column("accepted_at_us", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["source_partner_id"],
            ["partners.partner_id"],
            name=op.f("fk_recognition_agreements_source_partner_id_partners"),
        ),
        sa.ForeignKeyConstraint(
            ["target_partner_id"],
            ["partners.partner_id"],
            name=op.f("fk_recognition_agreements_target_partner_id_partners"),
        ),
        sa.PrimaryKeyConstraint("agreement_id", "version", name=op.f("pk_recognition_agreements")),
    )
    op.create_index(
        op.f("ix_recognition_agreements_source_partner_id_target_partner_id"),
        "recognition_agreements",
        ["source_partner_id", "target_partner_id"],
        unique=False,
    )
    op.create_table(
        "tier_grants",
        sa.Column("grant_id", sa.String(length=40), nullable=False),
        sa.Column("cmid", sa.String(length=35), nullable=False),
        sa.Column("source_partner_id", sa.String(length=32), nullable=False),
        sa.Column("target_partner_id", sa.String(length=32), nullable=False),
        sa.Column("tier_code", sa.String(length=32), nullable=False),
        sa.Column("agreement_id", sa.String(length=40), nullable=True),
        sa.Column("agreement_version", sa.Integer(), nullable=True),
        sa.Column("granted_at_us", sa.BigInteger(), nullable=False),
        sa.Column("expires_at_us", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["cmid"], ["members.cmid"], name=op.f("fk_tier_grants_cmid_members")
        ),
        sa.PrimaryKeyConstraint("grant_id", name=op.f("pk_tier_grants")),
    )
    op.create_index(
        op.f("ix_tier_grants_cmid_source_partner_id_target_partner_id"),
        "tier_grants",
        ["cmid", "source_partner_id", "target_partner_id"],
        unique=False,
    )
    op.create_table(
        "tier_ladders",
        sa.Column("partner_id", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("canonical_matching", sa.Boolean(), nullable=False),
        sa.Column("published_at_us", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["partners.partner_id"],
            name=op.f("fk_tier_ladders_partner_id_partners"),
        ),
        sa.PrimaryKeyConstraint("partner_id", "version", name=op.f("pk_tier_ladders")),
    )
    op.create_table(
        "recognition_rules",
        sa.Column("agreement_id", sa.String(length=40), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("source_tier_code", sa.String(length=32), nullable=False),
        sa.Column("target_tier_code", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["agreement_id", "version"],
            ["recognition_agreements.agreement_id", "recognition_agreements.version"],
            name=op.f("fk_recognition_rules_agreement_id_recognition_agreements"),
        ),
        sa.PrimaryKeyConstraint(
            "agreement_id", "version", "source_tier_code", name=op.f("pk_recognition_rules")
        ),
    )
    op.create_table(
        "tiers",
        sa.Column("partner_id", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("display_name", sa.String(length=100), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("canonical_level", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["partner_id", "version"],
            ["tier_ladders.partner_id", "tier_ladders.version"],
            name=op.f("fk_tiers_partner_id_tier_ladders"),
        ),
        sa.PrimaryKeyConstraint("partner_id", "version", "code", name=op.f("pk_tiers")),
    )
    # Every partner has a feed; partners onboarded before this revision get theirs here.
    op.execute(
        "INSERT INTO partner_feeds (partner_id, last_sequence, acked_sequence) "
        "SELECT partner_id, 0, 0 FROM partners"
    )


def downgrade() -> None:
    op.drop_table("tiers")
    op.drop_table("recognition_rules")
    op.drop_table("tier_ladders")
    op.drop_index(
        op.f("ix_tier_grants_cmid_source_partner_id_target_partner_id"), table_name="tier_grants"
    )
    op.drop_table("tier_grants")
    op.drop_index(
        op.f("ix_recognition_agreements_source_partner_id_target_partner_id"),
        table_name="recognition_agreements",
    )
    op.drop_table("recognition_agreements")
    op.drop_index(op.f("ix_ppids_cmid"), table_name="ppids")
    op.drop_table("ppids")
    op.drop_table("partner_feeds")
    op.drop_table("member_tiers")
    op.drop_table("member_keys")
    op.drop_table("members")
    op.drop_index(op.f("ix_link_failures_partner_id_failed_at_us"), table_name="link_failures")
    op.drop_table("link_failures")
    op.drop_index(op.f("ix_link_codes_ppid"), table_name="link_codes")
    op.drop_table("link_codes")
    op.drop_table("events")
