"""Typed SQLAlchemy models: the one schema Alembic migrates on PostgreSQL and SQLite.

Instants are integer microseconds since the Unix epoch (`*_at_us`): exact, ordered, and
byte-identical on both databases.
"""

from __future__ import annotations

from sqlalchemy import (
    DDL,
    BigInteger,
    Boolean,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
    event,
)
from sqlalchemy.orm import Mapped, mapped_column

from exchange.adapters.sql import partitions
from exchange.adapters.sql.base import Base as Base  # re-exported: the one schema's base

# The settled days' and disputes' rows, for modules that import them from here.
from exchange.adapters.sql.settlement_tables import (  # noqa: F401  (re-exported)
    AdjustmentRow,
    DisputeRow,
    PaymentInstructionRow,
    ReconciliationRow,
    SettlementDayRow,
    SettlementLeafRow,
    SettlementPositionRow,
    SettlementRunRow,
)


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
    """A spent nonce. On PostgreSQL partitioned by day of `created_s` (migration 0008,
    partitions.py), whose primary key must then hold it: `created_s` is the request's signed
    `cx-created`, so a replay (the very same signed bytes) still conflicts on the key. SQLite
    keeps the narrower key (partner_id, nonce) of migration 0001."""

    __tablename__ = "request_nonces"
    __table_args__ = ({"postgresql_partition_by": "RANGE (created_s)"},)

    partner_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    nonce: Mapped[str] = mapped_column(String(22), primary_key=True)
    created_s: Mapped[int] = mapped_column(BigInteger, primary_key=True, index=True)


class IdempotencyRecordRow(Base):
    """A stored response. On PostgreSQL partitioned by day of `created_at_us` (migration 0008),
    so the key no longer makes (partner_id, idempotency_key) unique across days: the per-key
    advisory lock, taken before the lookup in the transaction that stores, does (SCALING.md).
    SQLite keeps the key (partner_id, idempotency_key) of migration 0001."""

    __tablename__ = "idempotency_records"
    __table_args__ = (
        Index(None, "created_at_us"),
        {"postgresql_partition_by": "RANGE (created_at_us)"},
    )

    partner_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(36), primary_key=True)
    method: Mapped[str] = mapped_column(String(200))
    request_sha256: Mapped[bytes] = mapped_column(LargeBinary(32))
    response: Mapped[bytes] = mapped_column(LargeBinary)
    created_at_us: Mapped[int] = mapped_column(BigInteger, primary_key=True)


# A partitioned table made from the models (create_all) gets its DEFAULT partition at once,
# so inserts work before the first day partitions exist.
for _table, _aged in (
    (RequestNonceRow.__table__, partitions.NONCES),
    (IdempotencyRecordRow.__table__, partitions.IDEMPOTENCY_RECORDS),
):
    for _statement in partitions.default_partition_ddl(_aged):
        _ddl = DDL(_statement)  # type: ignore[no-untyped-call]
        event.listen(_table, "after_create", _ddl.execute_if(dialect="postgresql"))


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


class RateAgreementRow(Base):
    """One version of a directional rate agreement; the price is kept as exact decimal text."""

    __tablename__ = "rate_agreements"
    __table_args__ = (Index(None, "source_partner_id", "destination_partner_id"),)

    agreement_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_partner_id: Mapped[str] = mapped_column(ForeignKey("partners.partner_id"))
    destination_partner_id: Mapped[str] = mapped_column(ForeignKey("partners.partner_id"))
    source_units: Mapped[int] = mapped_column(BigInteger)
    destination_units: Mapped[int] = mapped_column(BigInteger)
    minimum_source_points: Mapped[int] = mapped_column(BigInteger)
    increment_source_points: Mapped[int] = mapped_column(BigInteger)
    maximum_source_points: Mapped[int] = mapped_column(BigInteger)
    member_daily_cap_source_points: Mapped[int] = mapped_column(BigInteger)
    bonus_percent: Mapped[int] = mapped_column(Integer)
    bonus_start_us: Mapped[int | None] = mapped_column(BigInteger)
    bonus_end_us: Mapped[int | None] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    price_per_destination_point: Mapped[str] = mapped_column(String(24))
    effective_from_us: Mapped[int] = mapped_column(BigInteger)
    effective_to_us: Mapped[int | None] = mapped_column(BigInteger)
    state: Mapped[str] = mapped_column(String(16))
    proposed_by: Mapped[str] = mapped_column(String(32))
    proposed_at_us: Mapped[int] = mapped_column(BigInteger)
    accepted_at_us: Mapped[int | None] = mapped_column(BigInteger)


class QuoteRow(Base):
    __tablename__ = "quotes"

    quote_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    source_partner_id: Mapped[str] = mapped_column(String(32))
    destination_partner_id: Mapped[str] = mapped_column(String(32))
    cmid: Mapped[str] = mapped_column(ForeignKey("members.cmid"), index=True)
    source_ppid: Mapped[str] = mapped_column(String(40))
    destination_ppid: Mapped[str] = mapped_column(String(40))
    agreement_id: Mapped[str] = mapped_column(String(40))
    agreement_version: Mapped[int] = mapped_column(Integer)
    source_points: Mapped[int] = mapped_column(BigInteger)
    destination_points: Mapped[int] = mapped_column(BigInteger)
    bonus_points: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    settlement_amount_minor: Mapped[int] = mapped_column(BigInteger)
    fee_minor: Mapped[int] = mapped_column(BigInteger)
    created_at_us: Mapped[int] = mapped_column(BigInteger)
    expires_at_us: Mapped[int] = mapped_column(BigInteger)
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    signature: Mapped[bytes] = mapped_column(LargeBinary(64))
    transfer_id: Mapped[str | None] = mapped_column(String(40), unique=True)


class TransferRow(Base):
    __tablename__ = "transfers"
    __table_args__ = (
        Index(None, "source_partner_id", "created_at_us"),
        Index(None, "destination_partner_id", "created_at_us"),
        Index(None, "state", "timeout_at_us"),
        Index(None, "cmid", "source_partner_id", "destination_partner_id", "created_at_us"),
    )

    transfer_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16))
    source_partner_id: Mapped[str] = mapped_column(ForeignKey("partners.partner_id"))
    destination_partner_id: Mapped[str] = mapped_column(ForeignKey("partners.partner_id"))
    cmid: Mapped[str] = mapped_column(ForeignKey("members.cmid"))
    source_ppid: Mapped[str] = mapped_column(String(40))
    destination_ppid: Mapped[str] = mapped_column(String(40))
    source_points: Mapped[int] = mapped_column(BigInteger)
    destination_points: Mapped[int] = mapped_column(BigInteger)
    bonus_points: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    settlement_amount_minor: Mapped[int] = mapped_column(BigInteger)
    fee_minor: Mapped[int] = mapped_column(BigInteger)
    agreement_id: Mapped[str] = mapped_column(String(40))
    agreement_version: Mapped[int] = mapped_column(Integer)
    quote_id: Mapped[str | None] = mapped_column(String(40), unique=True)
    original_transfer_id: Mapped[str | None] = mapped_column(String(40), index=True)
    created_at_us: Mapped[int] = mapped_column(BigInteger)
    timeout_at_us: Mapped[int] = mapped_column(BigInteger)
    resolved_at_us: Mapped[int | None] = mapped_column(BigInteger)
    void_reason: Mapped[str | None] = mapped_column(String(16))
    reject_reason: Mapped[str] = mapped_column(String(200))
    # Set on completion: the open business day the transfer settles in.
    business_day: Mapped[str | None] = mapped_column(String(10), index=True)


class LedgerAccountRow(Base):
    """An account with counters cached from its entries, updated in the same transaction."""

    __tablename__ = "ledger_accounts"

    account_id: Mapped[str] = mapped_column(String(120), primary_key=True)
    owner: Mapped[str] = mapped_column(String(32))
    purpose: Mapped[str] = mapped_column(String(32))
    asset: Mapped[str] = mapped_column(String(32))
    debits_pending: Mapped[int] = mapped_column(BigInteger)
    credits_pending: Mapped[int] = mapped_column(BigInteger)
    debits_posted: Mapped[int] = mapped_column(BigInteger)
    credits_posted: Mapped[int] = mapped_column(BigInteger)


class JournalRow(Base):
    """One business event in the ledger. A transfer has at most one journal of each kind."""

    __tablename__ = "journals"
    __table_args__ = (UniqueConstraint("transfer_id", "kind"),)

    journal_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    transfer_id: Mapped[str] = mapped_column(String(40))
    created_at_us: Mapped[int] = mapped_column(BigInteger)


class LedgerEntryRow(Base):
    __tablename__ = "ledger_entries"

    entry_id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    journal_id: Mapped[str] = mapped_column(ForeignKey("journals.journal_id"), index=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("ledger_accounts.account_id"), index=True)
    side: Mapped[str] = mapped_column(String(1))
    phase: Mapped[str] = mapped_column(String(8))
    amount: Mapped[int] = mapped_column(BigInteger)
