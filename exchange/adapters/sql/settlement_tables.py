"""Typed model of the settled days' stored tree nodes (migration 0007), on the one schema's
metadata."""

from __future__ import annotations

from sqlalchemy import BigInteger, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from exchange.adapters.sql.tables import Base


class SettlementTreeNodeRow(Base):
    """Node (level, node_index) of a settled day's Merkle tree, level >= 1: the root of the
    perfect subtree over leaves [node_index * 2**level, (node_index + 1) * 2**level). Level 0
    is the day's settlement_leaves rows. Written once, with the leaves; never changed."""

    __tablename__ = "settlement_tree_nodes"

    business_day: Mapped[str] = mapped_column(String(10), primary_key=True)
    level: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    node_index: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    node_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
