"""The console's own store on SQLite and PostgreSQL: users, sessions, rate limit, audit, uploads."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from exchange.console import auth, store
from exchange.console.auth import Role
from exchange.console.tables import ConsoleUploadRow
from tests.console.support import ensure_console_tables

PASSWORD = "a long enough password"
NOW_US = 1_800_000_000 * 1_000_000
S = 1_000_000


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    ensure_console_tables(engine)
    with Session(engine) as session:
        session.add(auth.new_user("ops", Role.OPERATOR, None, PASSWORD, NOW_US))
        session.commit()
        yield session


def test_a_right_password_opens_a_session_that_names_the_user(session: Session) -> None:
    token, principal = auth.log_in(session, "ops", PASSWORD, "127.0.0.1", NOW_US)
    session.commit()
    assert principal.role is Role.OPERATOR and principal.partner_id is None
    assert auth.session_principal(session, token, NOW_US + S) == principal
    stored = store.user_named(session, "ops")
    assert stored is not None and stored.password_hash.startswith("$argon2id$")
    assert PASSWORD not in stored.password_hash


@pytest.mark.parametrize("username", ["ops", "nobody"])
def test_a_wrong_password_or_name_gets_one_answer_and_counts(
    session: Session, username: str
) -> None:
    with pytest.raises(auth.LoginRefused) as refused:
        auth.log_in(session, username, "wrong password here", "10.0.0.1", NOW_US)
    session.commit()
    assert refused.value.message == "That username and password do not match."
    assert store.login_failures_since(session, NOW_US - S, username=username) == 1


def test_logins_are_throttled_per_user_even_with_the_right_password(session: Session) -> None:
    for attempt in range(auth.LOGIN_FAILURES_PER_USER_MAX):
        with pytest.raises(auth.LoginRefused):
            auth.log_in(session, "ops", "wrong password here", "10.0.0.2", NOW_US + attempt)
        session.commit()
    with pytest.raises(auth.LoginRefused) as refused:
        auth.log_in(session, "ops", PASSWORD, "10.0.0.2", NOW_US + S)
    assert refused.value.throttled
    later_us = NOW_US + (auth.LOGIN_WINDOW_S + 1) * S
    assert auth.log_in(session, "ops", PASSWORD, "10.0.0.2", later_us)[1].username == "ops"


def test_sessions_end_when_idle_too_old_or_revoked(session: Session) -> None:
    idle_us = (auth.SESSION_IDLE_S_MAX + 1) * S
    token, _ = auth.log_in(session, "ops", PASSWORD, "127.0.0.1", NOW_US)
    assert auth.session_principal(session, token, NOW_US + idle_us) is None
    # Kept busy, it still ends at the absolute age.
    at_us = NOW_US
    while at_us - NOW_US <= auth.SESSION_AGE_S_MAX * S:
        assert auth.session_principal(session, token, at_us) is not None
        at_us += auth.SESSION_IDLE_S_MAX * S // 2
    assert auth.session_principal(session, token, at_us) is None
    other, _ = auth.log_in(session, "ops", PASSWORD, "127.0.0.1", NOW_US)
    store.revoke_session(session, other, NOW_US + S)
    assert auth.session_principal(session, other, NOW_US + 2 * S) is None
    assert auth.session_principal(session, "not-a-token", NOW_US) is None


def test_a_user_needs_a_partner_exactly_when_not_an_operator() -> None:
    with pytest.raises(ValueError):
        auth.check_new_user("x", Role.FINANCE, None, PASSWORD)
    with pytest.raises(ValueError):
        auth.check_new_user("x", Role.OPERATOR, "skyway", PASSWORD)
    with pytest.raises(ValueError):
        auth.check_new_user("x", Role.OPERATOR, None, "short")


def test_the_audit_log_filters_by_user_action_and_time(session: Session) -> None:
    store.audit(session, NOW_US, ("ops", None), "login", "operator")
    store.audit(session, NOW_US + S, ("sky", "skyway"), "export downloaded", "2026-12-03 x.csv")
    store.audit(session, NOW_US + 2 * S, ("sky", "skyway"), "login", "finance")
    session.commit()
    by_sky = store.audit_entries(session, store.AuditFilter(username="sky"))
    assert [e.action for e in by_sky] == ["login", "export downloaded"]  # newest first
    logins = store.audit_entries(session, store.AuditFilter(action="login", until_us=NOW_US + S))
    assert [e.username for e in logins] == ["ops"]
    found = store.audit_entries(session, store.AuditFilter(search="x.csv"))
    assert [e.partner_id for e in found] == ["skyway"]


def test_the_same_upload_is_kept_once(session: Session) -> None:
    def row(at_us: int) -> ConsoleUploadRow:
        return ConsoleUploadRow(
            reconciliation_id="rc_1", partner_id="skyway", business_day="2026-12-03",
            breaks_csv=b"kind,transfer_id,detail\n", uploaded_by="sky", uploaded_at_us=at_us,
        )  # fmt: skip

    assert store.store_upload(session, row(NOW_US))
    session.commit()
    assert not store.store_upload(session, row(NOW_US + S))
    assert len(store.latest_uploads(session, ["skyway"], ["2026-12-03"])) == 1
