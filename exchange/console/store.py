"""The console's own rows: users, sessions, the audit log, login failures and uploads.

Functions over the unit of work's session, so an action and its audit entry commit together.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from exchange.console.tables import (
    ConsoleAuditRow,
    ConsoleLoginFailureRow,
    ConsoleSessionRow,
    ConsoleUploadRow,
    ConsoleUserRow,
)

AUDIT_SUBJECT_CHARS_MAX = 200


def token_digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("ascii")).digest()


def add_user(session: Session, row: ConsoleUserRow) -> None:
    session.add(row)
    session.flush()


def user_named(session: Session, username: str) -> ConsoleUserRow | None:
    return session.scalars(
        select(ConsoleUserRow).where(ConsoleUserRow.username == username)
    ).first()


def user(session: Session, user_id: str) -> ConsoleUserRow | None:
    return session.get(ConsoleUserRow, user_id)


def usernames(session: Session) -> list[str]:
    return list(session.scalars(select(ConsoleUserRow.username).order_by(ConsoleUserRow.username)))


def open_session(session: Session, token: str, user_id: str, now_us: int) -> None:
    session.add(ConsoleSessionRow(
        token_sha256=token_digest(token),
        user_id=user_id,
        created_at_us=now_us,
        last_seen_at_us=now_us,
        revoked_at_us=None,
    ))  # fmt: skip


def login_session(session: Session, token: str) -> ConsoleSessionRow | None:
    return session.get(ConsoleSessionRow, token_digest(token))


def touch_session(session: Session, token: str, now_us: int) -> None:
    session.execute(
        update(ConsoleSessionRow)
        .where(ConsoleSessionRow.token_sha256 == token_digest(token))
        .values(last_seen_at_us=now_us)
    )


def revoke_session(session: Session, token: str, now_us: int) -> None:
    session.execute(
        update(ConsoleSessionRow)
        .where(ConsoleSessionRow.token_sha256 == token_digest(token))
        .where(ConsoleSessionRow.revoked_at_us.is_(None))
        .values(revoked_at_us=now_us)
    )


def revoke_sessions_of(session: Session, user_id: str, now_us: int) -> None:
    session.execute(
        update(ConsoleSessionRow)
        .where(ConsoleSessionRow.user_id == user_id)
        .where(ConsoleSessionRow.revoked_at_us.is_(None))
        .values(revoked_at_us=now_us)
    )


def record_login_failure(session: Session, username: str, address: str, now_us: int) -> None:
    session.add(ConsoleLoginFailureRow(
        username=username[:64], client_address=address[:64], at_us=now_us
    ))  # fmt: skip


def login_failures_since(
    session: Session, since_us: int, *, username: str = "", address: str = ""
) -> int:
    query = select(func.count()).select_from(ConsoleLoginFailureRow)
    query = query.where(ConsoleLoginFailureRow.at_us >= since_us)
    if username:
        query = query.where(ConsoleLoginFailureRow.username == username[:64])
    if address:
        query = query.where(ConsoleLoginFailureRow.client_address == address[:64])
    return int(session.scalar(query) or 0)


def forget_login_failures(session: Session, username: str) -> None:
    session.execute(
        delete(ConsoleLoginFailureRow).where(ConsoleLoginFailureRow.username == username[:64])
    )


def audit(
    session: Session, at_us: int, who: tuple[str, str | None], action: str, subject: str
) -> None:
    username, partner_id = who
    session.add(ConsoleAuditRow(
        at_us=at_us,
        username=username,
        partner_id=partner_id,
        action=action,
        subject=subject[:AUDIT_SUBJECT_CHARS_MAX],
    ))  # fmt: skip


@dataclass(frozen=True)
class AuditFilter:
    since_us: int | None = None
    until_us: int | None = None
    username: str = ""
    action: str = ""
    search: str = ""


def audit_entries(session: Session, wanted: AuditFilter) -> Sequence[ConsoleAuditRow]:
    """Newest first. Bounded by the caller's date range; paging is done on the result."""
    query = select(ConsoleAuditRow)
    if wanted.since_us is not None:
        query = query.where(ConsoleAuditRow.at_us >= wanted.since_us)
    if wanted.until_us is not None:
        query = query.where(ConsoleAuditRow.at_us < wanted.until_us)
    if wanted.username:
        query = query.where(ConsoleAuditRow.username == wanted.username)
    if wanted.action:
        query = query.where(ConsoleAuditRow.action == wanted.action)
    if wanted.search:
        query = query.where(ConsoleAuditRow.subject.contains(wanted.search, autoescape=True))
    order = (ConsoleAuditRow.at_us.desc(), ConsoleAuditRow.audit_id.desc())
    return session.scalars(query.order_by(*order)).all()


def store_upload(session: Session, row: ConsoleUploadRow) -> bool:
    """Keeps an upload's breaks; False (and nothing written) when the same file was uploaded."""
    if session.get(ConsoleUploadRow, row.reconciliation_id) is not None:
        return False
    session.add(row)
    return True


def latest_uploads(
    session: Session, partner_ids: Sequence[str], days: Sequence[str]
) -> list[ConsoleUploadRow]:
    """The newest upload per (partner, day): the breaks still to work on."""
    if not partner_ids or not days:
        return []
    rows = session.scalars(
        select(ConsoleUploadRow)
        .where(ConsoleUploadRow.partner_id.in_(partner_ids))
        .where(ConsoleUploadRow.business_day.in_(days))
        .order_by(ConsoleUploadRow.uploaded_at_us)
    ).all()
    newest: dict[tuple[str, str], ConsoleUploadRow] = {}
    for row in rows:
        newest[(row.partner_id, row.business_day)] = row
    return sorted(newest.values(), key=lambda r: (r.business_day, r.partner_id), reverse=True)
