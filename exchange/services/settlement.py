"""Settling a business day: close it, net it per currency, root it, post it; once.

A day is settled at most once. Settling it again recomputes the root from the records and
returns what was stored; a different root means a closed day's input changed: an alarm, and
nothing is overwritten. Every step is one unit of work, run (and retried) by the factory.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from coalition import merkle
from exchange.domain.errors import DomainError, ErrorCode
from exchange.domain.ledger import (
    AccountRef,
    Entry,
    Journal,
    JournalKind,
    Phase,
    Side,
)
from exchange.domain.ports import Clock, UnitOfWork, UnitOfWorkFactory, WriteConflict
from exchange.domain.settlement import (
    DayTree,
    SettledDay,
    SettlementRepository,
    SettlementRun,
    record_bytes,
)
from exchange.services import analytics
from settlement.calendar import CoalitionCalendar, parse_day
from settlement.model import HUB_PARTICIPANT, NetPosition
from settlement.netting import Netting

log = logging.getLogger(__name__)

PROGRESS_EVERY_RECORDS = 100_000
Progress = Callable[[int], None]
__all__ = ["DaySettlement", "check_day_over", "record_bytes", "settle_day"]


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
    uows: UnitOfWorkFactory,
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
    found = uows.run(lambda uow: _stored(uow.settlement, business_day))
    if found is not None:
        _roll_up(uows, calendar, clock, business_day)
        return uows.run(lambda uow: _verified(uow.settlement, found))
    check_day_over(calendar, business_day, clock.now_us(), close_early=close_early)
    uows.run(lambda uow: _close(uow, business_day, clock.now_us()))
    try:
        settled = uows.run(lambda uow: _run(uow, business_day, clock.now_us(), progress))
    except WriteConflict:
        # Another process settled the day at the same moment; its result is the result.
        stored = uows.run(lambda uow: _stored(uow.settlement, business_day))
        assert stored is not None, "an insert conflict means a settlement was stored"
        return stored
    _roll_up(uows, calendar, clock, business_day)
    return settled


def _roll_up(
    uows: UnitOfWorkFactory, calendar: CoalitionCalendar, clock: Clock, business_day: str
) -> None:
    """The measures' rollups of a settled day (once); their failure never fails a settlement."""
    try:
        analytics.roll_up_settled_day(uows, calendar, business_day, clock.now_us())
    except Exception:
        log.exception("rolling up the measures of business day %s failed", business_day)


def _close(uow: UnitOfWork, business_day: str, at_us: int) -> None:
    # Waits for completions holding the day open; later ones land in the next day.
    if uow.business_days.close(business_day, at_us):
        log.info("business day %s closed", business_day)


def _stored(settlement: SettlementRepository, business_day: str) -> DaySettlement | None:
    day = settlement.settled_day(business_day)
    if day is None:
        return None
    currencies = [run.currency for run in settlement.runs(business_day)]
    return DaySettlement(
        business_day,
        day.merkle_root,
        day.tree_size,
        day.settled_at_us,
        currencies,
        True,
        positions={c: settlement.positions(business_day, c) for c in currencies},
    )


def _verified(settlement: SettlementRepository, stored: DaySettlement) -> DaySettlement:
    """Recomputes the day's root from its records: a closed day's input must never change."""
    builder = _current_root(settlement, stored.business_day)
    if builder.root() != stored.merkle_root or builder.size != stored.tree_size:
        stored.alarm = (
            f"ALARM: the records of closed business day {stored.business_day} changed since it "
            f"was settled ({builder.size} records now, {stored.tree_size} then); the stored "
            "settlement stands and nothing was changed"
        )
        log.error("%s", stored.alarm)
    return stored


def _current_root(settlement: SettlementRepository, business_day: str) -> merkle.RootBuilder:
    """The tree of the day's records as they are now, hashed by the store where it can."""
    hashes = settlement.current_leaf_hashes(business_day)
    if hashes is not None:
        builder = merkle.RootBuilder()
        for leaf in hashes:
            if leaf is None:
                break  # a record the encoder refuses: the streamed path below raises
            builder.add(leaf)
        else:
            return builder
    builder = merkle.RootBuilder()
    for record in settlement.day_records(business_day):
        builder.add(merkle.leaf_hash(record_bytes(record)))
    return builder


def _run(
    uow: UnitOfWork, business_day: str, at_us: int, progress: Progress | None
) -> DaySettlement:
    # One transaction reads the day and writes its settlement: the records cannot change
    # underneath (the day is closed) and nothing is visible until all of it is stored.
    settlement = uow.settlement
    tree = settlement.tree_in_store(business_day)
    if tree is None:
        tree = _streamed(settlement, business_day, progress)
    elif progress is not None:
        progress(tree.size)
    day = SettledDay(
        business_day=business_day, merkle_root=tree.root, tree_size=tree.size, settled_at_us=at_us
    )
    settlement.store_day(day)
    settled = DaySettlement(business_day, tree.root, tree.size, at_us, sorted(tree.nettings))
    for currency in sorted(tree.nettings):
        result = tree.nettings[currency].result()
        run = SettlementRun(
            business_day=business_day,
            currency=currency,
            record_count=result.record_count,
            settled_at_us=at_us,
        )
        settlement.store_run(run, result.positions, result.instructions)
        uow.ledger.record(_settlement_journal(business_day, currency, result.positions), at_us)
        settled.positions[currency] = result.positions
    log.info("business day %s settled: %s records", business_day, tree.size)
    return settled


def _streamed(
    settlement: SettlementRepository, business_day: str, progress: Progress | None
) -> DayTree:
    """Streams the day's records through Python: hashes, nets and writes them in batches."""
    builder = merkle.RootBuilder()
    nettings: dict[str, Netting] = {}
    leaves = settlement.leaf_sink(business_day)
    for index, record in enumerate(settlement.day_records(business_day)):
        data = record_bytes(record)
        leaf = merkle.leaf_hash(data)
        builder.add(leaf)
        leaves.add(index, record.transfer_id, leaf, data)
        netting = nettings.get(record.currency)
        if netting is None:
            netting = nettings[record.currency] = Netting(business_day, record.currency)
        netting.add(record)
        if progress is not None and (index + 1) % PROGRESS_EVERY_RECORDS == 0:
            progress(index + 1)
    leaves.finish()
    return DayTree(root=builder.root(), size=builder.size, nettings=nettings)


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
