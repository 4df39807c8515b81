"""Settling a business day: close it, net it per currency, root it, post it; once.

A day is settled at most once. Settling it again recomputes the root from the records and
returns what was stored; a different root means a closed day's input changed: an alarm, and
nothing is overwritten.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from coalition import merkle
from coalition.records import check_business_day, decode_record, encode_record
from exchange.adapters.sql import settlement_bulk as bulk
from exchange.adapters.sql import settlement_store as store
from exchange.adapters.sql import tree_store
from exchange.adapters.sql.business_days import SqlBusinessDayRepository
from exchange.adapters.sql.engine import run_with_retries
from exchange.adapters.sql.ledger_repository import SqlLedger
from exchange.domain.errors import DomainError, ErrorCode
from exchange.domain.ledger import (
    AccountRef,
    Entry,
    Journal,
    JournalKind,
    Phase,
    Side,
)
from exchange.domain.ports import Clock
from exchange.services import analytics
from settlement.calendar import CoalitionCalendar, parse_day
from settlement.model import HUB_PARTICIPANT, NetPosition, TransferRecord
from settlement.netting import Netting

log = logging.getLogger(__name__)

PROGRESS_EVERY_RECORDS = 100_000
Progress = Callable[[int], None]


def record_bytes(record: TransferRecord) -> bytes:
    return encode_record(
        transfer_id=record.transfer_id,
        kind=record.kind,
        source_partner_id=record.source_partner_id,
        destination_partner_id=record.destination_partner_id,
        source_points=record.source_points,
        destination_points=record.destination_points,
        currency=record.currency,
        amount_minor=record.amount_minor,
        fee_minor=record.fee_minor,
        business_day=record.business_day,
        completed_at_us=record.completed_at_us,
    )


@dataclass
class DaySettlement:
    business_day: str
    merkle_root: bytes
    tree_size: int
    settled_at_us: int
    currencies: list[str]
    already_settled: bool = False
    alarm: str | None = None
    positions: dict[str, list[NetPosition]] = field(default_factory=dict)


def check_day_over(
    calendar: CoalitionCalendar, business_day: str, now_us: int, *, close_early: bool = False
) -> None:
    try:
        day = parse_day(business_day)
    except ValueError:
        raise DomainError(
            ErrorCode.INVALID_ARGUMENT, "business_day must be a date written YYYY-MM-DD"
        ) from None
    if not close_early and calendar.cutoff_us(day) > now_us:
        raise DomainError(ErrorCode.DAY_NOT_OVER, f"business day {business_day} has not ended")


def settle_day(
    engine: Engine,
    calendar: CoalitionCalendar,
    clock: Clock,
    business_day: str,
    progress: Progress | None = None,
    *,
    close_early: bool = False,
) -> DaySettlement:
    """Closes and settles one business day, or returns the stored settlement of it.

    `close_early` lets the operator end the day before its cut-off: completions from then on
    land in the next open day, exactly as after a cut-off.
    """
    check_day_over(calendar, business_day, clock.now_us(), close_early=True)
    stored = _stored(engine, business_day)
    if stored is not None:
        _roll_up(engine, calendar, clock, business_day)
        return _verified(engine, stored)
    check_day_over(calendar, business_day, clock.now_us(), close_early=close_early)
    _close(engine, business_day, clock.now_us())
    try:
        settled = run_with_retries(lambda: _run(engine, business_day, clock.now_us(), progress))
    except IntegrityError:
        # Another process settled the day at the same moment; its result is the result.
        stored = _stored(engine, business_day)
        assert stored is not None, "an insert conflict means a settlement was stored"
        return stored
    _roll_up(engine, calendar, clock, business_day)
    return settled


def _roll_up(engine: Engine, calendar: CoalitionCalendar, clock: Clock, business_day: str) -> None:
    """The measures' rollups of a settled day (once); their failure never fails a settlement."""
    try:
        analytics.roll_up_settled_day(engine, calendar, business_day, clock.now_us())
    except Exception:
        log.exception("rolling up the measures of business day %s failed", business_day)


def _close(engine: Engine, business_day: str, at_us: int) -> None:
    def close() -> None:
        with Session(engine) as session, session.begin():
            # Waits for completions holding the day open; later ones land in the next day.
            if SqlBusinessDayRepository(session).close(business_day, at_us):
                log.info("business day %s closed", business_day)

    run_with_retries(close)


def _stored(engine: Engine, business_day: str) -> DaySettlement | None:
    with Session(engine) as session:
        day = store.settled_day(session, business_day)
        if day is None:
            return None
        currencies = [run.currency for run in store.runs(session, business_day)]
        return DaySettlement(
            business_day,
            day.merkle_root,
            day.tree_size,
            day.settled_at_us,
            currencies,
            True,
            positions={c: store.positions(session, business_day, c) for c in currencies},
        )


def _verified(engine: Engine, stored: DaySettlement) -> DaySettlement:
    """Recomputes the day's root from its records: a closed day's input must never change."""
    with Session(engine) as session:
        builder = _current_root(session, stored.business_day)
    if builder.root() != stored.merkle_root or builder.size != stored.tree_size:
        stored.alarm = (
            f"ALARM: the records of closed business day {stored.business_day} changed since it "
            f"was settled ({builder.size} records now, {stored.tree_size} then); the stored "
            "settlement stands and nothing was changed"
        )
        log.error("%s", stored.alarm)
    return stored


def _current_root(session: Session, business_day: str) -> merkle.RootBuilder:
    """The tree of the day's records as they are now, hashed by the database where it can."""
    if bulk.supported(session):
        builder = merkle.RootBuilder()
        for leaf in bulk.current_leaf_hashes(session, business_day):
            if leaf is None:
                break  # a record the encoder refuses: the streamed path below raises
            builder.add(leaf)
        else:
            return builder
    builder = merkle.RootBuilder()
    for record in store.day_records(session, business_day):
        builder.add(merkle.leaf_hash(record_bytes(record)))
    return builder


@dataclass
class _Tree:
    root: bytes
    size: int
    nettings: dict[str, Netting]


def _run(engine: Engine, business_day: str, at_us: int, progress: Progress | None) -> DaySettlement:
    # One transaction reads the day and writes its settlement: the records cannot change
    # underneath (the day is closed) and nothing is visible until all of it is stored.
    with Session(engine) as session, session.begin():
        tree = _in_database(session, business_day) if bulk.supported(session) else None
        if tree is None:
            tree = _streamed(session, business_day, progress)
        elif progress is not None:
            progress(tree.size)
        store.store_day(session, business_day, tree.root, tree.size, at_us)
        settlement = DaySettlement(business_day, tree.root, tree.size, at_us, sorted(tree.nettings))
        for currency in sorted(tree.nettings):
            result = tree.nettings[currency].result()
            store.store_run(
                session,
                (business_day, currency, result.record_count, at_us),
                result.positions,
                result.instructions,
            )
            journal = _settlement_journal(business_day, currency, result.positions)
            ledger = SqlLedger(session)
            ledger.record(journal, at_us)
            ledger.flush()
            settlement.positions[currency] = result.positions
    log.info("business day %s settled: %s records", business_day, tree.size)
    return settlement


def _in_database(session: Session, business_day: str) -> _Tree | None:
    """Nets, encodes, hashes and writes the day inside the database; None (nothing written)
    if a record is one the encoder refuses, for the streamed path to refuse it."""
    check_business_day(business_day)  # the day's text, by the encoder's rule, once
    rows = bulk.gross(session, business_day)
    if rows is None:
        return None
    nettings: dict[str, Netting] = {}
    for row in rows:
        netting = nettings.get(row.currency)
        if netting is None:
            netting = nettings[row.currency] = Netting(business_day, row.currency)
        netting.add_gross(row.payer, row.payee, row.amount_minor, row.fee_minor, row.records)
    size = bulk.write_leaves(session, business_day)
    counted = sum(row.records for row in rows)
    if size != counted:
        raise RuntimeError(f"{size} leaves written for {counted} records netted")
    bulk.write_nodes(session, business_day, size)
    keys = merkle.root_node_keys(size) if size else ()
    root = merkle.root_from_nodes(size, tree_store.node_hashes(session, business_day, keys))
    _check_stored_records(session, business_day, size)
    return _Tree(root, size, nettings)


def _check_stored_records(session: Session, business_day: str, size: int) -> None:
    # The strict decoder over the first and last records written, as a guard on the SQL.
    for index in {0, size - 1} if size else set():
        decode_record(bulk.record_at(session, business_day, index))


def _streamed(session: Session, business_day: str, progress: Progress | None) -> _Tree:
    """Streams the day's records through Python: hashes, nets and writes them in batches."""
    builder = merkle.RootBuilder()
    nettings: dict[str, Netting] = {}
    leaves = store.LeafWriter(session, business_day)
    nodes = tree_store.NodeWriter(session, business_day)
    for index, record in enumerate(store.day_records(session, business_day)):
        data = record_bytes(record)
        leaf = merkle.leaf_hash(data)
        builder.add(leaf)
        leaves.add(index, record.transfer_id, leaf, data)
        nodes.add(leaf)
        netting = nettings.get(record.currency)
        if netting is None:
            netting = nettings[record.currency] = Netting(business_day, record.currency)
        netting.add(record)
        if progress is not None and (index + 1) % PROGRESS_EVERY_RECORDS == 0:
            progress(index + 1)
    leaves.flush()
    nodes.finish()
    return _Tree(builder.root(), builder.size, nettings)


def _settlement_journal(business_day: str, currency: str, positions: list[NetPosition]) -> Journal:
    """Pays every net position through the hub's clearing account, zeroing the day."""
    clearing = AccountRef(owner=HUB_PARTICIPANT, purpose="clearing", asset=currency)
    entries: list[Entry] = []
    for position in positions:
        if position.net_minor == 0:
            continue
        purpose = "fees" if position.participant == HUB_PARTICIPANT else "settlement"
        account = AccountRef(owner=position.participant, purpose=purpose, asset=currency)
        amount = abs(position.net_minor)
        debit, credit = (account, clearing) if position.net_minor > 0 else (clearing, account)
        entries.append(Entry(account=debit, side=Side.DEBIT, phase=Phase.POST, amount=amount))
        entries.append(Entry(account=credit, side=Side.CREDIT, phase=Phase.POST, amount=amount))
    return Journal(
        kind=JournalKind.SETTLE,
        transfer_id=f"settle:{business_day}:{currency}",
        entries=tuple(entries),
    )
