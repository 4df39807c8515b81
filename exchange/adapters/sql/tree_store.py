"""SQL side of a settled day's stored Merkle tree: nodes written at settle time, proofs read
back in one indexed query.

A day's proof reads O(log n) rows: the leaf's own row by (business_day, transfer_id), then
the audit path's nodes by primary key. Level 0 is the settlement_leaves rows themselves, so
the leaves' hashes are not stored twice.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import cast

from sqlalchemy import (
    CompoundSelect,
    Integer,
    Select,
    Table,
    literal,
    select,
    tuple_,
    union_all,
)
from sqlalchemy.orm import Session

from coalition import merkle
from exchange.adapters.sql.bulk import insert_rows
from exchange.adapters.sql.settlement_tables import SettlementLeafRow, SettlementTreeNodeRow

NODE_BATCH_ROWS = 5_000
_NODES = cast(Table, SettlementTreeNodeRow.__table__)


class NodeWriter:
    """Builds a day's stored nodes from its leaf hashes, in order, and writes them in batches."""

    def __init__(self, session: Session, business_day: str) -> None:
        self.session = session
        self.business_day = business_day
        self.builder = merkle.NodeBuilder()
        self.buffer: list[merkle.Node] = []

    def add(self, leaf_hash: bytes) -> None:
        self.builder.add(leaf_hash)
        self.buffer.extend(self.builder.take())
        if len(self.buffer) >= NODE_BATCH_ROWS:
            self._write()

    def finish(self) -> int:
        """Writes the rest; returns the number of leaves seen."""
        self.buffer.extend(self.builder.finish())
        self._write()
        return self.builder.size

    def _write(self) -> None:
        day = self.business_day
        rows = [
            {"business_day": day, "level": level, "node_index": index, "node_hash": value}
            for level, index, value in self.buffer
        ]
        insert_rows(self.session, _NODES, rows)
        self.buffer = []


def store_nodes(session: Session, business_day: str, leaf_hashes: Iterable[bytes]) -> int:
    """Writes the nodes of a day's tree over these leaf hashes (in leaf order)."""
    writer = NodeWriter(session, business_day)
    for leaf_hash in leaf_hashes:
        writer.add(leaf_hash)
    return writer.finish()


def settled_leaf(session: Session, business_day: str, transfer_id: str) -> tuple[int, bytes] | None:
    """(leaf index, record bytes as settled) of one record, by the (day, transfer id) key."""
    row = session.execute(
        select(SettlementLeafRow.leaf_index, SettlementLeafRow.record).where(
            SettlementLeafRow.business_day == business_day,
            SettlementLeafRow.transfer_id == transfer_id,
        )
    ).first()
    return (row.leaf_index, row.record) if row is not None else None


def node_hashes(
    session: Session, business_day: str, keys: Iterable[merkle.NodeKey]
) -> dict[merkle.NodeKey, bytes]:
    """The stored hashes of these nodes that exist, in one query (leaves for level 0)."""
    query = nodes_query(business_day, keys)
    if query is None:
        return {}
    return {(level, index): value for level, index, value in session.execute(query)}


def nodes_query(
    business_day: str, keys: Iterable[merkle.NodeKey]
) -> Select[int, int, bytes] | CompoundSelect[int, int, bytes] | None:
    """(level, node_index, node_hash) of these nodes, by primary key; None for no keys."""
    wanted = set(keys)
    leaves = sorted(index for level, index in wanted if level == 0)
    nodes = sorted(key for key in wanted if key[0] > 0)
    parts: list[Select[int, int, bytes]] = []
    if leaves:
        parts.append(
            select(
                literal(0, Integer).label("level"),
                SettlementLeafRow.leaf_index.label("node_index"),
                SettlementLeafRow.leaf_hash.label("node_hash"),
            ).where(
                SettlementLeafRow.business_day == business_day,
                SettlementLeafRow.leaf_index.in_(leaves),
            )
        )
    if nodes:
        row = SettlementTreeNodeRow
        parts.append(
            select(row.level, row.node_index, row.node_hash).where(
                row.business_day == business_day,
                tuple_(row.level, row.node_index).in_(nodes),
            )
        )
    if len(parts) < 2:
        return parts[0] if parts else None
    return union_all(*parts)
