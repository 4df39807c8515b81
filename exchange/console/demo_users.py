"""`coalition console --demo`: one login per role for the demo coalition, printed at start.

The passwords are made once and kept in <home>/console-logins.txt (owner-only), so a second
`make run` prints the same logins. They are demo accounts: never use --demo on a real hub.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from sqlalchemy import Engine

from exchange.adapters.clock import SystemClock
from exchange.adapters.sql.unit_of_work import SqlUnitOfWorkFactory
from exchange.console import auth, store
from exchange.console.auth import Role
from exchange.console.scope import partner_ids
from settlement.model import BankAccount

LOGINS_FILE = "console-logins.txt"
DEMO_USERS = (
    ("ops", Role.OPERATOR, None),
    ("skyway-finance", Role.FINANCE, "skyway"),
    ("harbor-finance", Role.FINANCE, "harbor"),
    ("orbit-finance", Role.FINANCE, "orbit"),
    ("skyway-viewer", Role.VIEWER, "skyway"),
)
PASSWORD_BYTES = 12

# The standard documentation example IBANs: well-formed, and no one's account.
DEMO_BANK_ACCOUNTS = {
    "hub": BankAccount("Coalition Exchange Clearing", "DE89370400440532013000", "COBADEFF"),
    "skyway": BankAccount("Skyway Airlines", "GB29NWBK60161331926819", "NWBKGB2L"),
    "harbor": BankAccount("Harbor Hotels", "FR1420041010050500013M02606", "PSSTFRPP"),
    "orbit": BankAccount("Orbit Card", "NL91ABNA0417164300", "ABNANL2A"),
}


def _kept_passwords(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    pairs = (line.split(" ", 1) for line in path.read_text().splitlines() if " " in line)
    return {name: password for name, password in pairs}


def _keep(path: Path, passwords: dict[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.writelines(f"{name} {password}\n" for name, password in sorted(passwords.items()))


def ensure_demo_users(engine: Engine, home: Path) -> list[tuple[str, Role, str | None, str]]:
    """(username, role, partner, password) of every demo user, creating what is missing."""
    path = home / LOGINS_FILE
    passwords = _kept_passwords(path)
    logins = []
    with SqlUnitOfWorkFactory(engine)() as uow:
        known = set(partner_ids(uow))
        for username, role, partner in DEMO_USERS:
            if partner is not None and partner not in known:
                continue  # the demo has not onboarded it (yet)
            if store.user_named(uow.session, username) is None or username not in passwords:
                passwords[username] = secrets.token_urlsafe(PASSWORD_BYTES)
                existing = store.user_named(uow.session, username)
                if existing is not None:
                    store.revoke_sessions_of(uow.session, existing.user_id, SystemClock().now_us())
                    uow.session.delete(existing)
                    uow.session.flush()
                row = auth.new_user(
                    username, role, partner, passwords[username], SystemClock().now_us()
                )
                store.add_user(uow.session, row)
            logins.append((username, role, partner, passwords[username]))
        uow.commit()
    _keep(path, passwords)
    return logins
