"""The console's own tables (migration 0005): users, sessions, audit log, login failures, uploads.

They live in the hub's database and on its schema's metadata, but only the console reads or
writes them; the console reaches the hub's own rows through the hub's handlers alone.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from exchange.adapters.sql.tables import Base


class ConsoleUserRow(Base):
    """A person who logs in; an operator has no partner, finance and viewer users have one."""

    __tablename__ = "console_users"

    user_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    partner_id: Mapped[str | None] = mapped_column(ForeignKey("partners.partner_id"))
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(200))
    created_at_us: Mapped[int] = mapped_column(BigInteger)


class ConsoleSessionRow(Base):
    """A login. The cookie holds a random token; only its SHA-256 is stored."""

    __tablename__ = "console_sessions"

    token_sha256: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("console_users.user_id"), index=True)
    created_at_us: Mapped[int] = mapped_column(BigInteger)
    last_seen_at_us: Mapped[int] = mapped_column(BigInteger)
    revoked_at_us: Mapped[int | None] = mapped_column(BigInteger)


class ConsoleAuditRow(Base):
    """One action a user took: who, as which partner, what, on what."""

    __tablename__ = "console_audit"

    audit_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at_us: Mapped[int] = mapped_column(BigInteger, index=True)
    username: Mapped[str] = mapped_column(String(64), index=True)
    partner_id: Mapped[str | None] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(32), index=True)
    subject: Mapped[str] = mapped_column(String(200))


class ConsoleLoginFailureRow(Base):
    """A refused login, counted for the rate limit; the password tried is never kept."""

    __tablename__ = "console_login_failures"

    failure_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), index=True)
    client_address: Mapped[str] = mapped_column(String(64), index=True)
    at_us: Mapped[int] = mapped_column(BigInteger, index=True)


class ConsoleUploadRow(Base):
    """A reconciliation upload's breaks as the hub reported them: the partner's worklist.

    Keyed by the hub's reconciliation id, which is the same for the same file: re-uploading a
    file adds nothing.
    """

    __tablename__ = "console_uploads"

    reconciliation_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    partner_id: Mapped[str] = mapped_column(String(32), index=True)
    business_day: Mapped[str] = mapped_column(String(10), index=True)
    breaks_csv: Mapped[bytes] = mapped_column(LargeBinary)
    uploaded_by: Mapped[str] = mapped_column(String(64))
    uploaded_at_us: Mapped[int] = mapped_column(BigInteger)
