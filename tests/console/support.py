"""The console's browser tests: a demo hub database, console users, and the console process."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import Engine

from exchange.adapters.sql.engine import create_database_engine
from exchange.adapters.sql.tables import Base
from exchange.console import tables
from exchange.console.demo_users import DEMO_BANK_ACCOUNTS
from exchange.services.statements import StatementLine

PASSWORD = "correct horse battery staple"
USERS = {
    # username: (role, partner)
    "ops": ("operator", None),
    "sky-finance": ("finance", "skyway"),
    "harbor-finance": ("finance", "harbor"),
    "orbit-finance": ("finance", "orbit"),
    "sky-viewer": ("viewer", "skyway"),
}
CONSOLE_TABLES = (
    tables.ConsoleUserRow,
    tables.ConsoleSessionRow,
    tables.ConsoleAuditRow,
    tables.ConsoleLoginFailureRow,
    tables.ConsoleUploadRow,
)
START_S_MAX = 30
DEMO_S_MAX = 180


def ensure_console_tables(engine: Engine) -> None:
    """Migration 0005 creates these; created here too (if missing) so the tests do not depend
    on the order other revisions land in."""
    Base.metadata.create_all(
        engine, tables=[Base.metadata.tables[m.__tablename__] for m in CONSOLE_TABLES]
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def run(*argv: str, cwd: Path, stdin: str | None = None) -> str:
    done = subprocess.run(
        [sys.executable, *argv],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=DEMO_S_MAX,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )
    assert done.returncode == 0, (argv, done.stdout[-2000:], done.stderr[-2000:])
    return done.stdout


@dataclass(frozen=True)
class DemoHub:
    home: Path
    database_url: str
    bank_accounts: Path
    days: tuple[str, str]  # two settled business days, the demo run on each

    @property
    def hub_key(self) -> Path:
        return self.home / "hub" / "signing.key"


def demo_hub(directory: Path) -> DemoHub:
    """The demo scenario, run twice: its second run settles the next business day."""
    database_url = f"sqlite:///{directory / 'coalition.db'}"
    home = directory / "home"
    demo = ("-m", "exchange.cli", "demo", "--exit", "--listen", "127.0.0.1:0")
    for _ in range(2):
        run(*demo, "--database-url", database_url, "--home", str(home), cwd=directory)
    engine = create_database_engine(database_url)
    try:
        ensure_console_tables(engine)
    finally:
        engine.dispose()
    banks = directory / "banks.json"
    banks.write_text(json.dumps({k: vars(v) for k, v in DEMO_BANK_ACCOUNTS.items()}))
    exports = sorted(path.name for path in (home / "exports").iterdir())
    assert len(exports) == 2, exports
    assert date.fromisoformat(exports[1]) == date.fromisoformat(exports[0]) + timedelta(days=1)
    hub = DemoHub(home, database_url, banks, (exports[0], exports[1]))
    password_file = directory / "password"
    password_file.write_text(PASSWORD + "\n")
    for username, (role, partner) in USERS.items():
        argv = ["-m", "exchange.console", "user", "add", "--username", username, "--role", role]
        argv += ["--partner", partner] if partner else []
        argv += ["--password-file", str(password_file), "--database-url", database_url]
        run(*argv, cwd=directory)
    return hub


class ConsoleProcess:
    def __init__(self, hub: DemoHub, directory: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        argv = [
            sys.executable, "-m", "exchange.console",
            "--database-url", hub.database_url,
            "--listen", f"127.0.0.1:{self.port}",
            "--hub-key", str(hub.hub_key),
            "--bank-accounts", str(hub.bank_accounts),
        ]  # fmt: skip
        self.log = (directory / "console.log").open("w")
        self.process = subprocess.Popen(argv, cwd=directory, stdout=self.log, stderr=self.log)
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_S_MAX
        while time.monotonic() < deadline:
            assert self.process.poll() is None, "the console exited on start"
            try:
                with urllib.request.urlopen(self.url + "/login", timeout=1) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        raise AssertionError("the console did not start")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


def statement_lines(hub: DemoHub, partner_id: str, business_day: str) -> list[StatementLine]:
    """The partner's lines of a day, read through the hub's own handler."""
    from exchange.adapters.sql.unit_of_work import SqlUnitOfWorkFactory
    from exchange.services.statements import statement_lines as lines_of

    engine = create_database_engine(hub.database_url)
    try:
        with SqlUnitOfWorkFactory(engine)() as uow:
            return list(lines_of(uow, partner_id, business_day))
    finally:
        engine.dispose()


def count_rows(hub: DemoHub, table: str) -> int:
    from sqlalchemy import text

    engine = create_database_engine(hub.database_url)
    try:
        with engine.connect() as connection:
            return int(connection.execute(text(f'SELECT COUNT(*) FROM "{table}"')).scalar_one())
    finally:
        engine.dispose()
