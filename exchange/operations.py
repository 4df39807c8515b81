"""What an operator does to a hub's database, written once for the CLI, the demo and the
scheduler: open it, bring its schema up, onboard a partner, settle a day and write its files.

Each raises OperationError with a one-line message for the operator; nothing else here prints.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from exchange.adapters.clock import SystemClock
from exchange.adapters.sql.engine import create_database_engine, is_sqlite
from exchange.adapters.sql.migrations import current_revision, head_revision, upgrade
from exchange.adapters.sql.unit_of_work import SqlUnitOfWorkFactory
from exchange.config import Settings
from exchange.domain.errors import DomainError
from exchange.domain.ports import Clock
from exchange.services import partners
from exchange.services.export_files import day_files, load_bank_accounts
from exchange.services.settlement import DaySettlement, settle_day
from settlement.model import BankAccount


class OperationError(Exception):
    """A one-line message for the operator."""


@contextmanager
def database(settings: Settings) -> Iterator[Engine]:
    """The hub's database for one operation, closed afterwards."""
    engine = create_database_engine(settings.database_url)
    try:
        yield engine
    except OperationalError as error:
        raise OperationError(f"cannot open the database: {error.orig}") from None
    finally:
        engine.dispose()


def ensure_schema(settings: Settings, *, migrate_sqlite: bool = True) -> None:
    """SQLite is migrated on start (zero set-up); PostgreSQL must be migrated explicitly."""
    with database(settings) as engine:
        current = current_revision(engine)
        if current == head_revision():
            return
        if migrate_sqlite and is_sqlite(settings.database_url):
            upgrade(engine)
            return
        raise OperationError(
            f"database schema is at {current or 'nothing'}, not {head_revision()}: "
            "run `coalition db upgrade` first"
        )


def upgrade_schema(settings: Settings) -> str | None:
    """Migrates the database to the newest revision; returns it."""
    with database(settings) as engine:
        upgrade(engine)
        return current_revision(engine)


def add_partner(settings: Settings, command: partners.AddPartner) -> partners.DirectoryEntry:
    with database(settings) as engine, SqlUnitOfWorkFactory(engine)() as uow:
        try:
            entry = partners.add_partner(uow, SystemClock(), command)
        except DomainError as error:
            raise OperationError(error.message) from None
        uow.commit()
        return entry


@dataclass(frozen=True)
class WrittenFiles:
    directory: Path
    sizes: dict[str, int]  # file name -> bytes
    notes: list[str]  # files that could not be made, and why


def bank_accounts(path: Path | None) -> dict[str, BankAccount]:
    """The participants' accounts for pay-out files; none without a file."""
    try:
        return load_bank_accounts(path) if path is not None else {}
    except ValueError as error:
        raise OperationError(str(error)) from None


def export_day(
    engine: Engine, business_day: str, out: Path, banks: dict[str, BankAccount]
) -> WrittenFiles:
    """Writes every export of a settled day into `out` (the same day gives the same bytes)."""
    try:
        with SqlUnitOfWorkFactory(engine)() as uow:
            files, notes = day_files(uow, business_day, banks)
    except DomainError as error:
        raise OperationError(error.message) from None
    out.mkdir(parents=True, exist_ok=True)
    for name, data in sorted(files.items()):
        (out / name).write_bytes(data)
    return WrittenFiles(out, {name: len(data) for name, data in sorted(files.items())}, notes)


def settle_and_export(
    engine: Engine,
    settings: Settings,
    business_day: str,
    out: Path,
    banks: dict[str, BankAccount],
    *,
    clock: Clock | None = None,
    close_early: bool = False,
    progress: Callable[[int], None] | None = None,
) -> tuple[DaySettlement, WrittenFiles]:
    """Settles the day (closing it first if asked) and writes its files into `out`."""
    try:
        settled = settle_day(
            SqlUnitOfWorkFactory(engine),
            settings.calendar,
            clock or SystemClock(),
            business_day,
            progress,
            close_early=close_early,
        )
    except DomainError as error:
        raise OperationError(error.message) from None
    return settled, export_day(engine, business_day, out, banks)
