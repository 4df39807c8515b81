"""Typed SQLAlchemy models: the one schema Alembic migrates on PostgreSQL and SQLite.

Instants are integer microseconds since the Unix epoch (`*_at_us`): exact, ordered, and
byte-identical on both databases.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class PartnerRow(Base):
    __tablename__ = "partners"

    partner_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    display_name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16))
    program_code: Mapped[str] = mapped_column(String(32), unique=True)
    created_at_us: Mapped[int] = mapped_column(BigInteger)


class PartnerKeyRow(Base):
    __tablename__ = "partner_keys"

    key_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    partner_id: Mapped[str] = mapped_column(ForeignKey("partners.partner_id"), index=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    state: Mapped[str] = mapped_column(String(8))
    created_at_us: Mapped[int] = mapped_column(BigInteger)
    revoked_at_us: Mapped[int | None] = mapped_column(BigInteger)


class RequestNonceRow(Base):
    __tablename__ = "request_nonces"

    partner_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    nonce: Mapped[str] = mapped_column(String(22), primary_key=True)
    created_s: Mapped[int] = mapped_column(BigInteger, index=True)


class IdempotencyRecordRow(Base):
    __tablename__ = "idempotency_records"
    __table_args__ = (Index(None, "created_at_us"),)

    partner_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(36), primary_key=True)
    method: Mapped[str] = mapped_column(String(200))
    request_sha256: Mapped[bytes] = mapped_column(LargeBinary(32))
    response: Mapped[bytes] = mapped_column(LargeBinary)
    created_at_us: Mapped[int] = mapped_column(BigInteger)


class MemberRow(Base):
    """A coalition member; after erasure only this tombstone remains."""

    __tablename__ = "members"

    cmid: Mapped[str] = mapped_column(String(35), primary_key=True)
    created_at_us: Mapped[int] = mapped_column(BigInteger)
    erased_at_us: Mapped[int | None] = mapped_column(BigInteger)


class MemberKeyRow(Base):
    """A member's data key, wrapped under the hub's key; deleting it crypto-shreds the data."""

    __tablename__ = "member_keys"

    cmid: Mapped[str] = mapped_column(ForeignKey("members.cmid"), primary_key=True)
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary)


class PpidRow(Base):
    __tablename__ = "ppids"
    __table_args__ = (UniqueConstraint("cmid", "partner_id"),)

    ppid: Mapped[str] = mapped_column(String(40), primary_key=True)
    partner_id: Mapped[str] = mapped_column(ForeignKey("partners.partner_id"))
    cmid: Mapped[str] = mapped_column(ForeignKey("members.cmid"), index=True)
    created_at_us: Mapped[int] = mapped_column(BigInteger)


class LinkCodeRow(Base):
    __tablename__ = "link_codes"

    code_sha256: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    partner_id: Mapped[str] = mapped_column(String(32))
    ppid: Mapped[str] = mapped_column(String(40), index=True)
    created_at_us: Mapped[int] = mapped_column(BigInteger)
    expires_at_us: Mapped[int] = mapped_column(BigInteger)
    redeemed_at_us: Mapped[int | None] = mapped_column(BigInteger)


class LinkFailureRow(Base):
    __tablename__ = "link_failures"
    __table_args__ = (Index(None, "partner_id", "failed_at_us"),)

    failure_id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    partner_id: Mapped[str] = mapped_column(String(32))
    failed_at_us: Mapped[int] = mapped_column(BigInteger)


class PartnerFeedRow(Base):
    __tablename__ = "partner_feeds"

    partner_id: Mapped[str] = mapped_column(ForeignKey("partners.partner_id"), primary_key=True)
    last_sequence: Mapped[int] = mapped_column(BigInteger)
    acked_sequence: Mapped[int] = mapped_column(BigInteger)


class EventRow(Base):
    __tablename__ = "events"
    __table_args__ = (UniqueConstraint("partner_id", "sequence"),)

    event_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    partner_id: Mapped[str] = mapped_column(String(32))
    sequence: Mapped[int] = mapped_column(BigInteger)
    event_type: Mapped[str] = mapped_column(String(32))
    created_at_us: Mapped[int] = mapped_column(BigInteger)
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    signing_key_id: Mapped[str] = mapped_column(String(64))
    signature: Mapped[bytes] = mapped_column(LargeBinary(64))


class TierLadderRow(Base):
    __tablename__ = "tier_ladders"

    partner_id: Mapped[str] = mapped_column(ForeignKey("partners.partner_id"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    canonical_matching: Mapped[bool] = mapped_column(Boolean)
    published_at_us: Mapped[int] = mapped_column(BigInteger)


class TierRow(Base):
    __tablename__ = "tiers"
    __table_args__ = (
        ForeignKeyConstraint(
            ["partner_id", "version"], ["tier_ladders.partner_id", "tier_ladders.version"]
        ),
    )

    partner_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    display_name: Mapped[str] = mapped_column(String(100))
    rank: Mapped[int] = mapped_column(Integer)
    canonical_level: Mapped[int] = mapped_column(Integer)


class RecognitionAgreementRow(Base):
    __tablename__ = "recognition_agreements"
    __table_args__ = (Index(None, "source_partner_id", "target_partner_id"),)

    agreement_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_partner_id: Mapped[str] = mapped_column(ForeignKey("partners.partner_id"))
    target_partner_id: Mapped[str] = mapped_column(ForeignKey("partners.partner_id"))
    validity_days: Mapped[int] = mapped_column(Integer)
    min_days_between_grants: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16))
    proposed_by: Mapped[str] = mapped_column(String(32))
    proposed_at_us: Mapped[int] = mapped_column(BigInteger)
    accepted_at_us: Mapped[int | None] = mapped_column(BigInteger)


class RecognitionRuleRow(Base):
    __tablename__ = "recognition_rules"
    __table_args__ = (
        ForeignKeyConstraint(
            ["agreement_id", "version"],
            ["recognition_agreements.agreement_id", "recognition_agreements.version"],
        ),
    )

    agreement_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_tier_code: Mapped[str] = mapped_column(String(32), primary_key=True)
    target_tier_code: Mapped[str] = mapped_column(String(32))


class MemberTierRow(Base):
    """A member's reported tier at one partner, sealed with the member's data key."""

    __tablename__ = "member_tiers"

    cmid: Mapped[str] = mapped_column(ForeignKey("members.cmid"), primary_key=True)
    partner_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    reported_at_us: Mapped[int] = mapped_column(BigInteger)


class TierGrantRow(Base):
    __tablename__ = "tier_grants"
    __table_args__ = (Index(None, "cmid", "source_partner_id", "target_partner_id"),)

    grant_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    cmid: Mapped[str] = mapped_column(ForeignKey("members.cmid"))
    source_partner_id: Mapped[str] = mapped_column(String(32))
    target_partner_id: Mapped[str] = mapped_column(String(32))
    tier_code: Mapped[str] = mapped_column(String(32))
    agreement_id: Mapped[str | None] = mapped_column(String(40))
    agreement_version: Mapped[int | None] = mapped_column(Integer)
    granted_at_us: Mapped[int] = mapped_column(BigInteger)
    expires_at_us: Mapped[int] = mapped_column(BigInteger)
