"""Settled days' Merkle tree nodes, for inclusion proofs in O(log n) reads; backfilled

Node (level, node_index), level >= 1, is the root of the perfect subtree over leaves
[node_index * 2**level, (node_index + 1) * 2**level) of the day's RFC 6962 tree. Days settled
before this revision get their nodes from their stored leaf hashes, a chunk of leaves at a
time, so memory stays flat however large a day is. The hashing is written out here rather
than imported, so this revision does what it did when it was written.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-10
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

CHUNK_LEVEL = 12
CHUNK_LEAVES = 1 << CHUNK_LEVEL
INSERT_BATCH_ROWS = 5_000
NODE_COLUMNS = ("business_day", "level", "node_index", "node_hash")

Node = tuple[int, int, bytes]

_days = sa.table("settlement_days", sa.column("business_day"), sa.column("tree_size"))
_leaves = sa.table(
    "settlement_leaves",
    sa.column("business_day"),
    sa.column("leaf_index"),
    sa.column("leaf_hash"),
)
_nodes = sa.table("settlement_tree_nodes", *(sa.column(name) for name in NODE_COLUMNS))


def upgrade() -> None:
    op.create_table(
        "settlement_tree_nodes",
        sa.Column("business_day", sa.String(length=10), nullable=False),
        sa.Column("level", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("node_index", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("node_hash", sa.LargeBinary(length=32), nullable=False),
        sa.PrimaryKeyConstraint(
            "business_day", "level", "node_index", name=op.f("pk_settlement_tree_nodes")
        ),
    )
    connection = op.get_bind()
    settled = sa.select(_days.c.business_day).where(_days.c.tree_size > 1)
    for business_day in list(connection.execute(settled).scalars()):
        _backfill(connection, business_day)


def downgrade() -> None:
    op.drop_table("settlement_tree_nodes")


def _levels(hashes: Sequence[bytes], level: int, first_index: int) -> Iterator[Node]:
    """The nodes above `hashes`, nodes of `level` from `first_index` (a multiple of a power
    of two at least as long as they are), a whole level at a time."""
    while len(hashes) > 1:
        hashes = [
            hashlib.sha256(b"\x01" + hashes[i] + hashes[i + 1]).digest()
            for i in range(0, len(hashes) - 1, 2)
        ]
        level += 1
        first_index >>= 1
        yield from ((level, first_index + i, value) for i, value in enumerate(hashes))


def _backfill(connection: sa.Connection, business_day: str) -> None:
    query = (
        sa.select(_leaves.c.leaf_hash)
        .where(_leaves.c.business_day == business_day)
        .order_by(_leaves.c.leaf_index)
        .execution_options(yield_per=CHUNK_LEAVES)
    )
    chunk_roots: list[bytes] = []
    result = connection.execute(query)
    for number, rows in enumerate(result.partitions(CHUNK_LEAVES)):
        nodes = list(_levels([row[0] for row in rows], 0, number * CHUNK_LEAVES))
        if len(rows) == CHUNK_LEAVES:
            chunk_roots.append(nodes[-1][2])
        _write(connection, business_day, nodes)
    _write(connection, business_day, list(_levels(chunk_roots, CHUNK_LEVEL, 0)))


def _write(connection: sa.Connection, business_day: str, nodes: list[Node]) -> None:
    if not nodes:
        return
    if connection.dialect.name == "postgresql":
        driver = connection.connection.driver_connection
        statement = f"COPY settlement_tree_nodes ({', '.join(NODE_COLUMNS)}) FROM STDIN"
        with driver.cursor() as cursor, cursor.copy(statement) as copy:  # type: ignore[union-attr]
            for level, index, value in nodes:
                copy.write_row((business_day, level, index, value))
        return
    for start in range(0, len(nodes), INSERT_BATCH_ROWS):
        rows = [
            {"business_day": business_day, "level": level, "node_index": index, "node_hash": value}
            for level, index, value in nodes[start : start + INSERT_BATCH_ROWS]
        ]
        connection.execute(sa.insert(_nodes), rows)
