"""Who is asking: console users, argon2 passwords, database sessions and the login rate limit."""

from __future__ import annotations

import enum
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.orm import Session

from exchange.console import store
from exchange.console.tables import ConsoleUserRow

SESSION_IDLE_S_MAX = 30 * 60
SESSION_AGE_S_MAX = 12 * 60 * 60
# A session's last-seen time is written at most this often: reading a page is not a write.
SESSION_TOUCH_S_MIN = 60
LOGIN_WINDOW_S = 15 * 60
LOGIN_FAILURES_PER_USER_MAX = 5
LOGIN_FAILURES_PER_ADDRESS_MAX = 20
PASSWORD_CHARS_MIN = 12
PASSWORD_CHARS_MAX = 256
USERNAME_CHARS_MAX = 64
SESSION_TOKEN_BYTES = 32
MICROSECONDS = 1_000_000

_HASHER = PasswordHasher()
# Verified against when the username is unknown, so a miss costs what a hit costs.
_DUMMY_HASH = _HASHER.hash("not a password anyone has")


class Role(enum.Enum):
    OPERATOR = "operator"  # the hub's finance team: every partner
    FINANCE = "finance"  # one partner: reads, uploads reconciliations, opens/resolves disputes
    VIEWER = "viewer"  # one partner: reads only


@dataclass(frozen=True)
class Principal:
    user_id: str
    username: str
    role: Role
    partner_id: str | None  # None for an operator

    @property
    def is_operator(self) -> bool:
        return self.role is Role.OPERATOR

    @property
    def may_act(self) -> bool:
        """Uploads and disputes are a partner's finance team's to make."""
        return self.role is Role.FINANCE

    @property
    def who(self) -> tuple[str, str | None]:
        return self.username, self.partner_id


class LoginRefused(Exception):
    """Wrong name or password (never which), or too many recent failures."""

    def __init__(self, message: str, *, throttled: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.throttled = throttled


def check_new_user(username: str, role: Role, partner_id: str | None, password: str) -> None:
    if not 0 < len(username) <= USERNAME_CHARS_MAX or not username.isprintable():
        raise ValueError(f"a username is 1-{USERNAME_CHARS_MAX} printable characters")
    if any(character.isspace() for character in username):
        raise ValueError("a username has no spaces")
    if (role is Role.OPERATOR) != (partner_id is None):
        raise ValueError("operators have no partner; finance and viewer users need --partner")
    if not PASSWORD_CHARS_MIN <= len(password) <= PASSWORD_CHARS_MAX:
        raise ValueError(f"a password is {PASSWORD_CHARS_MIN}-{PASSWORD_CHARS_MAX} characters long")


def new_user(
    username: str, role: Role, partner_id: str | None, password: str, now_us: int
) -> ConsoleUserRow:
    check_new_user(username, role, partner_id, password)
    return ConsoleUserRow(
        user_id="cu_" + secrets.token_hex(12),
        username=username,
        partner_id=partner_id,
        role=role.value,
        password_hash=_HASHER.hash(password),
        created_at_us=now_us,
    )


def principal_of(row: ConsoleUserRow) -> Principal:
    return Principal(row.user_id, row.username, Role(row.role), row.partner_id)


def _check_rate(session: Session, username: str, address: str, now_us: int) -> None:
    since_us = now_us - LOGIN_WINDOW_S * MICROSECONDS
    by_user = store.login_failures_since(session, since_us, username=username)
    by_address = store.login_failures_since(session, since_us, address=address)
    if by_user >= LOGIN_FAILURES_PER_USER_MAX or by_address >= LOGIN_FAILURES_PER_ADDRESS_MAX:
        minutes = LOGIN_WINDOW_S // 60
        raise LoginRefused(
            f"Too many failed logins. Wait {minutes} minutes and try again.", throttled=True
        )


def log_in(
    session: Session, username: str, password: str, address: str, now_us: int
) -> tuple[str, Principal]:
    """A new session token for the user, or LoginRefused. The caller commits either way:
    a failure is recorded for the rate limit."""
    _check_rate(session, username, address, now_us)
    row = store.user_named(session, username) if len(username) <= USERNAME_CHARS_MAX else None
    if not _password_matches(row, password):
        store.record_login_failure(session, username, address, now_us)
        raise LoginRefused("That username and password do not match.")
    assert row is not None
    if _HASHER.check_needs_rehash(row.password_hash):
        row.password_hash = _HASHER.hash(password)
    store.forget_login_failures(session, username)
    token = secrets.token_urlsafe(SESSION_TOKEN_BYTES)
    store.open_session(session, token, row.user_id, now_us)
    return token, principal_of(row)


def _password_matches(row: ConsoleUserRow | None, password: str) -> bool:
    if len(password) > PASSWORD_CHARS_MAX:
        return False
    try:
        return _HASHER.verify(row.password_hash if row else _DUMMY_HASH, password) and bool(row)
    except (VerificationError, InvalidHashError):
        return False


def session_principal(session: Session, token: str, now_us: int) -> Principal | None:
    """The user of a live session: not revoked, not idle too long, not too old."""
    if not token or len(token) > 2 * SESSION_TOKEN_BYTES:
        return None
    row = store.login_session(session, token)
    if row is None or row.revoked_at_us is not None:
        return None
    idle_us = now_us - row.last_seen_at_us
    if idle_us > SESSION_IDLE_S_MAX * MICROSECONDS:
        return None
    if now_us - row.created_at_us > SESSION_AGE_S_MAX * MICROSECONDS:
        return None
    user = store.user(session, row.user_id)
    if user is None:
        return None
    if idle_us > SESSION_TOUCH_S_MIN * MICROSECONDS:
        store.touch_session(session, token, now_us)
    return principal_of(user)
