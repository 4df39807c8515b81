"""Stored tree nodes on SQLite and PostgreSQL: written when a day settles, backfilled by
migration 0007, and read back as inclusion proofs equal to rehashing every leaf.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, delete, insert, select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from coalition import merkle
from exchange.adapters.memory import FixedClock
from exchange.adapters.sql import settlement_store, tree_store
from exchange.adapters.sql.engine import create_database_engine
from exchange.adapters.sql.migrations import upgrade
from exchange.adapters.sql.settlement_tables import SettlementTreeNodeRow
from exchange.adapters.sql.tables import (
    MemberRow,
    PartnerRow,
    SettlementDayRow,
    SettlementLeafRow,
    TransferRow,
)
from exchange.adapters.sql.unit_of_work import SqlUnitOfWorkFactory
from exchange.domain.errors import DomainError, ErrorCode
from exchange.services import statements
from exchange.services.settlement import record_bytes, settle_day
from settlement.calendar import CoalitionCalendar, parse_day
from tests.support import databases

PARTNERS = ("skyway", "harbor", "orbit")
CMID = "cm_tree00000000"
HOUR_US = 3_600 * 1_000_000
# One leaf (no nodes), a power of two, odd sizes; one business day each.
DAY_SIZES = {"2026-03-02": 1, "2026-03-03": 2, "2026-03-04": 7, "2026-03-05": 300}


def seed_partners(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(
            insert(PartnerRow),
            [
                {
                    "partner_id": p,
                    "display_name": p.title(),
                    "kind": "other",
                    "program_code": p.upper(),
                    "created_at_us": 0,
                }
                for p in PARTNERS
            ],
        )
        connection.execute(insert(MemberRow).values(cmid=CMID, created_at_us=0))


def transfer_id(business_day: str, number: int) -> str:
    return f"tr_{business_day.replace('-', '')}_{number:06d}"


def seed_day(engine: Engine, business_day: str, count: int) -> None:
    """`count` completed transfers; the source and destination cycle through the partners,
    so every partner is party to some records and not to others."""
    at_us = CoalitionCalendar().cutoff_us(parse_day(business_day)) - HOUR_US
    rows = []
    for number in range(count):
        source, destination = PARTNERS[number % 3], PARTNERS[(number + 1) % 3]
        rows.append(
            {
                "transfer_id": transfer_id(business_day, number),
                "kind": "transfer",
                "state": "completed",
                "source_partner_id": source,
                "destination_partner_id": destination,
                "cmid": CMID,
                "source_ppid": f"pp_{source}",
                "destination_ppid": f"pp_{destination}",
                "source_points": 1_000 + number,
                "destination_points": 500 + number,
                "bonus_points": 0,
                "currency": "USD",
                "settlement_amount_minor": 100 + number,
                "fee_minor": 1,
                "agreement_id": f"ra_{source}_{destination}",
                "agreement_version": 1,
                "quote_id": None,
                "original_transfer_id": None,
                "created_at_us": at_us,
                "timeout_at_us": at_us + HOUR_US,
                "resolved_at_us": at_us + number,
                "void_reason": None,
                "reject_reason": "",
                "business_day": business_day,
            }
        )
    with engine.begin() as connection:
        connection.execute(insert(TransferRow), rows)


def settle(engine: Engine, business_day: str) -> None:
    calendar = CoalitionCalendar()
    clock = FixedClock(calendar.cutoff_us(parse_day(business_day)) + HOUR_US)
    settle_day(SqlUnitOfWorkFactory(engine), calendar, clock, business_day)


@pytest.fixture
def settled_days(engine: Engine) -> Engine:
    seed_partners(engine)
    for business_day, count in DAY_SIZES.items():
        seed_day(engine, business_day, count)
        settle(engine, business_day)
    return engine


def stored_leaf_hashes(engine: Engine, business_day: str) -> list[bytes]:
    with Session(engine) as session:
        return settlement_store.leaf_hashes(session, business_day)


def stored_nodes(engine: Engine, business_day: str) -> dict[merkle.NodeKey, bytes]:
    row = SettlementTreeNodeRow
    query = select(row.level, row.node_index, row.node_hash).where(row.business_day == business_day)
    with engine.connect() as connection:
        return {(level, index): value for level, index, value in connection.execute(query)}


def built_nodes(leaf_hashes: list[bytes]) -> dict[merkle.NodeKey, bytes]:
    builder = merkle.NodeBuilder()
    for leaf_hash in leaf_hashes:
        builder.add(leaf_hash)
    return {(level, index): value for level, index, value in builder.finish()}


def party_of(number: int) -> str:
    return PARTNERS[number % 3]


def outsider_of(number: int) -> str:
    return PARTNERS[(number + 2) % 3]


def proof_of(engine: Engine, partner_id: str, business_day: str, transfer: str) -> object:
    with SqlUnitOfWorkFactory(engine)() as uow:
        return statements.inclusion_proof(uow, partner_id, business_day, transfer)


def rehashed_proof(engine: Engine, business_day: str, number: int) -> object:
    """What GetInclusionProof answered before nodes were stored: every leaf rehashed."""
    leaves = stored_leaf_hashes(engine, business_day)
    with Session(engine) as session:
        record = settlement_store.settled_record(
            session, business_day, transfer_id(business_day, number)
        )
    assert record is not None
    return (
        number,
        len(leaves),
        merkle.inclusion_proof(leaves, number),
        record_bytes(record),
    )


def assert_every_proof_is_the_rehashed_one(engine: Engine) -> None:
    for business_day, count in DAY_SIZES.items():
        for number in range(count):
            transfer = transfer_id(business_day, number)
            answer = proof_of(engine, party_of(number), business_day, transfer)
            assert answer == rehashed_proof(engine, business_day, number)


def test_settling_stores_exactly_the_nodes_of_each_days_tree(settled_days: Engine) -> None:
    for business_day, count in DAY_SIZES.items():
        leaves = stored_leaf_hashes(settled_days, business_day)
        assert len(leaves) == count
        nodes = stored_nodes(settled_days, business_day)
        assert len(nodes) == count - count.bit_count()
        assert nodes == built_nodes(leaves)


def test_a_day_larger_than_a_chunk_of_leaves_stores_its_nodes(engine: Engine) -> None:
    business_day, count = "2026-03-06", 2 * 4_096 + 3
    seed_partners(engine)
    seed_day(engine, business_day, count)
    settle(engine, business_day)
    leaves = stored_leaf_hashes(engine, business_day)
    assert stored_nodes(engine, business_day) == built_nodes(leaves)
    for number in (0, 4_095, 4_096, count - 1):
        answer = proof_of(engine, party_of(number), business_day, transfer_id(business_day, number))
        assert answer == rehashed_proof(engine, business_day, number)


def test_proofs_from_stored_nodes_equal_rehashing_every_leaf(settled_days: Engine) -> None:
    assert_every_proof_is_the_rehashed_one(settled_days)


def test_a_record_of_others_is_not_found_just_like_a_missing_one(settled_days: Engine) -> None:
    business_day = "2026-03-05"
    for partner_id, transfer in (
        (outsider_of(5), transfer_id(business_day, 5)),
        ("skyway", transfer_id(business_day, 999_999)),
        ("skyway", transfer_id("2026-03-04", 0)),  # a record of another day
    ):
        with pytest.raises(DomainError) as refusal:
            proof_of(settled_days, partner_id, business_day, transfer)
        assert refusal.value.code is ErrorCode.RECORD_NOT_FOUND
        assert str(refusal.value) == "no such record of yours on that day"
    with pytest.raises(DomainError) as refusal:
        proof_of(settled_days, "skyway", "2026-03-09", transfer_id(business_day, 0))
    assert refusal.value.code is ErrorCode.NOT_SETTLED


def test_a_day_without_stored_nodes_is_answered_by_rehashing(settled_days: Engine) -> None:
    with settled_days.begin() as connection:
        connection.execute(delete(SettlementTreeNodeRow))
    assert_every_proof_is_the_rehashed_one(settled_days)


def test_a_wrong_stored_node_is_never_served(settled_days: Engine) -> None:
    with settled_days.begin() as connection:
        connection.execute(update(SettlementTreeNodeRow).values(node_hash=b"\x00" * 32))
    assert_every_proof_is_the_rehashed_one(settled_days)


def test_a_proof_reads_one_query_of_nodes(settled_days: Engine) -> None:
    business_day, number = "2026-03-05", 137
    keys = merkle.audit_path_keys(number, DAY_SIZES[business_day])
    wanted = [key for pieces in keys for key in pieces]
    with Session(settled_days) as session:
        found = tree_store.node_hashes(session, business_day, wanted)
    assert set(found) == set(wanted)


# --- migration 0007 backfills days settled before it ---

BACKFILL_SIZES = {"2026-02-02": 1, "2026-02-03": 3, "2026-02-04": 2 * 4_096 + 5}


@pytest.fixture(params=["sqlite", "postgresql"])
def engine_at_0006(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A fresh database migrated to revision 0006, before the tree nodes existed."""
    if request.param == "sqlite":
        engine = create_database_engine(f"sqlite:///{tmp_path / 'at-0006.db'}")
        upgrade(engine, "0006")
        yield engine
        engine.dispose()
        return
    databases.require_or_skip_postgres()
    name = f"coalition_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(databases.postgres_admin_url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(databases.postgres_admin_url()).set(database=name)
    engine = create_database_engine(url.render_as_string(hide_password=False))
    try:
        upgrade(engine, "0006")
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def old_settled_day(engine: Engine, business_day: str, count: int) -> list[bytes]:
    """A day as settlement stored it before 0007: its leaves and root, no nodes."""
    leaves = [merkle.leaf_hash(f"{business_day}/{n}".encode()) for n in range(count)]
    with engine.begin() as connection:
        connection.execute(
            insert(SettlementLeafRow),
            [
                {
                    "business_day": business_day,
                    "leaf_index": index,
                    "transfer_id": f"tr_{index}",
                    "leaf_hash": leaf,
                    "record": b"",
                }
                for index, leaf in enumerate(leaves)
            ],
        )
        connection.execute(
            insert(SettlementDayRow).values(
                business_day=business_day,
                merkle_root=merkle.root(leaves),
                tree_size=count,
                settled_at_us=0,
            )
        )
    return leaves


def test_migration_0007_backfills_the_nodes_of_settled_days(engine_at_0006: Engine) -> None:
    leaves = {day: old_settled_day(engine_at_0006, day, n) for day, n in BACKFILL_SIZES.items()}
    upgrade(engine_at_0006)
    for business_day, day_leaves in leaves.items():
        nodes = stored_nodes(engine_at_0006, business_day)
        assert nodes == built_nodes(day_leaves)
        size = len(day_leaves)
        for index in {0, size // 2, size - 1}:
            keys = merkle.audit_path_keys(index, size)
            with_leaves = {**nodes, **{(0, i): leaf for i, leaf in enumerate(day_leaves)}}
            proof = merkle.proof_from_nodes(keys, with_leaves)
            assert proof == merkle.inclusion_proof(day_leaves, index)
