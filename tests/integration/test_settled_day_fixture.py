"""A recorded settled day: settling the same fixture day must give exactly the recorded bytes.

tests/fixtures/settled_day_v1.json was written by settling this day with the settlement code of
its time. It holds everything a settled day hands out: the root and tree size, every leaf
(index, transfer id, hash, record bytes), every stored tree node, the positions, payment
instructions and ledger postings, each partner's statement payload bytes, every inclusion
proof and every export file. Any change to how a day settles must leave all of it unchanged,
on SQLite and PostgreSQL.

    COALITION_RECORD_SETTLED_DAY=1 .venv/bin/pytest tests/test_settled_day_fixture.py -k sqlite

rewrites the fixture (only ever on purpose, for a new record version).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, insert, select
from sqlalchemy.orm import Session

from coalition import merkle
from coalition.v1 import settlement_pb2 as pb
from exchange.adapters.memory import FixedClock
from exchange.adapters.sql import settlement_store as store
from exchange.adapters.sql.settlement_tables import SettlementTreeNodeRow
from exchange.adapters.sql.tables import (
    AdjustmentRow,
    JournalRow,
    LedgerEntryRow,
    MemberRow,
    PartnerRow,
    SettlementLeafRow,
    SettlementRunRow,
    TransferRow,
)
from exchange.adapters.sql.unit_of_work import SqlUnitOfWork, SqlUnitOfWorkFactory
from exchange.api.settlement_servicer import SettlementServicer
from exchange.api.transfer_codec import money
from exchange.services import export_files, statements
from exchange.services.settlement import settle_day
from settlement.calendar import CoalitionCalendar, parse_day
from settlement.model import HUB_PARTICIPANT, BankAccount

FIXTURE = Path(__file__).parents[1] / "fixtures" / "settled_day_v1.json"
RECORD_ENV = "COALITION_RECORD_SETTLED_DAY"
BUSINESS_DAY = "2026-04-14"
OTHER_DAY = "2026-04-15"
PARTNERS = ("skyway", "harbor", "orbit", "tern~co")
CMID = "cm_fixture000000"
HOUR_US = 3_600 * 1_000_000
CALENDAR = CoalitionCalendar()
# Ids that exercise the record's text rules and the order of the tree: punctuation sorting
# before and after letters and digits, and adjustments interleaved with the transfers.
ODD_IDS = ("tr_!first", "tr_#2", "tr_'quote", "tr_\\back", "tr_{brace}", "tr_~last", "TR_UPPER")
BANK_ACCOUNTS = {
    p: BankAccount(f"{p.title()} Ltd", f"DE89370400440532013{i:03d}", "COBADEFFXXX")
    for i, p in enumerate((*PARTNERS, HUB_PARTICIPANT))
}


def _transfer(number: int, transfer_id: str, day: str, state: str = "completed") -> dict[str, Any]:
    at_us = CALENDAR.cutoff_us(parse_day(day)) - 2 * HOUR_US
    source = PARTNERS[number % len(PARTNERS)]
    destination = PARTNERS[(number * 3 + 1) % len(PARTNERS)]
    if destination == source:
        destination = PARTNERS[(number + 1) % len(PARTNERS)]
    amount = (number * 7_919) % 250_000 if number % 11 else 0
    if number == 5:
        amount = 10**15  # large sums stay exact
    return {
        "transfer_id": transfer_id,
        "kind": "reversal" if number % 9 == 4 else "transfer",
        "state": state,
        "source_partner_id": source,
        "destination_partner_id": destination,
        "cmid": CMID,
        "source_ppid": f"pp_{source}",
        "destination_ppid": f"pp_{destination}",
        "source_points": 0 if number == 7 else 1_000 * (number + 1),
        "destination_points": 10 * number,
        "bonus_points": 0,
        "currency": ("USD", "EUR", "GBP")[number % 3],
        "settlement_amount_minor": amount,
        "fee_minor": 0 if number % 4 == 0 else amount // 100 + 1,
        "agreement_id": f"ra_{number}",
        "agreement_version": 1,
        "quote_id": None,
        "original_transfer_id": None,
        "created_at_us": at_us,
        "timeout_at_us": at_us + HOUR_US,
        "resolved_at_us": at_us + number * 1_000_003,
        "void_reason": None,
        "reject_reason": "",
        "business_day": day,
    }


def seed_fixture_day(engine: Engine) -> None:
    """About fifty records of BUSINESS_DAY in three currencies (transfers, reversals, two
    adjustments), with voided and next-day transfers around them that must not settle."""
    ids = [f"tr_{n:04d}" for n in range(43)] + list(ODD_IDS)
    rows = [_transfer(n, transfer_id, BUSINESS_DAY) for n, transfer_id in enumerate(ids)]
    rows.append(_transfer(3, "tr_0002x", BUSINESS_DAY, state="voided"))
    rows.append(_transfer(8, "tr_0001y", OTHER_DAY))
    partners = [
        {"partner_id": p, "display_name": p, "kind": "other", "program_code": p.upper()[:4]}
        for p in PARTNERS
    ]
    with engine.begin() as connection:
        connection.execute(insert(PartnerRow), [{**p, "created_at_us": 0} for p in partners])
        connection.execute(insert(MemberRow).values(cmid=CMID, created_at_us=0))
        connection.execute(insert(TransferRow), rows)
        _seed_adjustments(connection)


def _seed_adjustments(connection: Any) -> None:
    at_us = CALENDAR.cutoff_us(parse_day(BUSINESS_DAY)) - HOUR_US
    adjustments = [
        ("adj_0001", "orbit", "skyway", "USD", 1_234),
        ("tr_0010a", "harbor", "orbit", "EUR", 99),
    ]
    for number, (adjustment_id, payer, payee, currency, amount) in enumerate(adjustments):
        connection.execute(
            insert(AdjustmentRow).values(
                adjustment_id=adjustment_id,
                dispute_id=f"dp_{number}",
                business_day=BUSINESS_DAY,
                payer=payer,
                payee=payee,
                currency=currency,
                amount_minor=amount,
                created_at_us=at_us + number,
            )
        )


def settle_fixture_day(engine: Engine) -> None:
    clock = FixedClock(CALENDAR.cutoff_us(parse_day(BUSINESS_DAY)) + HOUR_US)
    settle_day(SqlUnitOfWorkFactory(engine), CALENDAR, clock, BUSINESS_DAY)


def _statement_payload(uow: SqlUnitOfWork, partner_id: str, currency: str) -> bytes:
    # The payload GetStatement signs, built as the servicer builds it.
    day = statements.settled(uow, BUSINESS_DAY)
    lines = list(statements.statement_lines(uow, partner_id, BUSINESS_DAY, currency))
    totals = statements.totals(lines)
    return pb.StatementPayload(
        partner_id=partner_id,
        business_day=BUSINESS_DAY,
        currency_code=currency,
        lines=[SettlementServicer._line(line, partner_id) for line in lines],
        total_receivable=money(totals.receivable_minor, currency),
        total_payable=money(totals.payable_minor, currency),
        total_fees=money(totals.fees_minor, currency),
        net=money(totals.net_minor, currency),
        merkle_root=day.merkle_root,
        tree_size=day.tree_size,
    ).SerializeToString(deterministic=True)


def _leaves(session: Session) -> list[list[object]]:
    leaf = SettlementLeafRow
    query = (
        select(leaf.leaf_index, leaf.transfer_id, leaf.leaf_hash, leaf.record)
        .where(leaf.business_day == BUSINESS_DAY)
        .order_by(leaf.leaf_index)
    )
    return [[i, t, h.hex(), r.decode("ascii")] for i, t, h, r in session.execute(query)]


def _nodes(session: Session) -> list[list[object]]:
    node = SettlementTreeNodeRow
    query = (
        select(node.level, node.node_index, node.node_hash)
        .where(node.business_day == BUSINESS_DAY)
        .order_by(node.level, node.node_index)
    )
    return [[level, index, value.hex()] for level, index, value in session.execute(query)]


def _postings(session: Session) -> list[list[object]]:
    entry, journal = LedgerEntryRow, JournalRow
    query = (
        select(journal.kind, journal.transfer_id, entry.account_id, entry.side, entry.phase)
        .add_columns(entry.amount)
        .join(journal, journal.journal_id == entry.journal_id)
        .where(journal.kind == "settle")
    )
    return sorted([list(row) for row in session.execute(query)], key=repr)


def _money_state(session: Session) -> dict[str, object]:
    runs = list(session.execute(select(SettlementRunRow).order_by(SettlementRunRow.currency)))
    currencies = [run.currency for (run,) in runs]
    return {
        "runs": [[run.currency, run.record_count, run.settled_at_us] for (run,) in runs],
        "positions": {
            c: [list(vars_of(p)) for p in store.positions(session, BUSINESS_DAY, c)]
            for c in currencies
        },
        "instructions": [list(vars_of(i)) for i in store.instructions(session, BUSINESS_DAY)],
        "postings": _postings(session),
    }


def vars_of(value: object) -> tuple[object, ...]:
    fields = dataclasses.fields(value)  # type: ignore[arg-type]
    return tuple(
        getattr(getattr(value, name), "value", getattr(value, name))
        for name in (f.name for f in fields)
    )


def _partner_views(uow: SqlUnitOfWork, currencies: list[str]) -> dict[str, object]:
    payloads, proofs = {}, {}
    for partner_id in PARTNERS:
        for currency in currencies:
            payload = _statement_payload(uow, partner_id, currency)
            payloads[f"{partner_id}/{currency}"] = payload.hex()
        for line in statements.statement_lines(uow, partner_id, BUSINESS_DAY):
            index, size, path, data = statements.inclusion_proof(
                uow, partner_id, BUSINESS_DAY, line.record.transfer_id
            )
            proofs[f"{partner_id}/{line.record.transfer_id}"] = [
                index,
                size,
                [p.hex() for p in path],
                data.decode("ascii"),
            ]
    return {"statement_payloads": payloads, "inclusion_proofs": proofs}


def settled_day_snapshot(engine: Engine) -> dict[str, object]:
    """Every byte the settled fixture day hands out, as JSON-able values."""
    with SqlUnitOfWorkFactory(engine)() as uow:
        session = uow.session
        day = statements.settled(uow, BUSINESS_DAY)
        money_state = _money_state(session)
        currencies = [run[0] for run in money_state["runs"]]  # type: ignore[attr-defined]
        files, notes = export_files.day_files(uow, BUSINESS_DAY, BANK_ACCOUNTS)
        leaves = _leaves(session)
        return {
            "business_day": BUSINESS_DAY,
            "merkle_root": day.merkle_root.hex(),
            "tree_size": day.tree_size,
            "settled_at_us": day.settled_at_us,
            "leaves": leaves,
            "nodes": _nodes(session),
            **money_state,
            **_partner_views(uow, currencies),
            "export_files": {name: data.decode("utf-8") for name, data in sorted(files.items())},
            "export_notes": notes,
            "export_sha256": {
                name: hashlib.sha256(data).hexdigest() for name, data in sorted(files.items())
            },
        }


def test_settling_the_fixture_day_gives_the_recorded_bytes(engine: Engine) -> None:
    seed_fixture_day(engine)
    settle_fixture_day(engine)
    snapshot = json.loads(json.dumps(settled_day_snapshot(engine)))
    if os.environ.get(RECORD_ENV):
        FIXTURE.parent.mkdir(parents=True, exist_ok=True)
        FIXTURE.write_text(json.dumps(snapshot, indent=1, sort_keys=True) + "\n")
    recorded = json.loads(FIXTURE.read_text())
    # Key by key first, so a failure names what changed.
    for key in sorted(recorded):
        assert snapshot[key] == recorded[key], f"{key} differs from the recorded settled day"
    assert snapshot == recorded


def test_the_recorded_day_is_self_consistent() -> None:
    """The fixture is what RFC 6962 and the record encoding say: leaves hash their records,
    the root is their tree's, every stored node is the tree's."""
    recorded = json.loads(FIXTURE.read_text())
    leaves = [bytes.fromhex(h) for _i, _t, h, _r in recorded["leaves"]]
    assert [merkle.leaf_hash(r.encode("ascii")) for *_x, r in recorded["leaves"]] == leaves
    assert merkle.root(leaves).hex() == recorded["merkle_root"]
    assert recorded["tree_size"] == len(leaves) == 52
    builder = merkle.NodeBuilder()
    for leaf in leaves:
        builder.add(leaf)
    built = sorted([level, index, value.hex()] for level, index, value in builder.finish())
    assert built == recorded["nodes"]
