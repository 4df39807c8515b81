"""The in-memory store's settlement and dispute tables (the settlement and dispute fakes)."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

from exchange.domain.disputes import Adjustment, Dispute, Reconciliation
from exchange.domain.settlement import NodeKey, SettledDay, SettlementRun
from settlement.model import NetPosition, PaymentInstruction


@dataclass(frozen=True)
class LeafRow:
    transfer_id: str
    leaf_hash: bytes
    record: bytes


@dataclass
class SettlementTables:
    """Keyed like their primary keys; copied table by table with the store."""

    days: dict[str, SettledDay] = field(default_factory=dict)
    runs: dict[tuple[str, str], SettlementRun] = field(default_factory=dict)
    positions: dict[tuple[str, str, str], NetPosition] = field(default_factory=dict)
    instructions: dict[str, PaymentInstruction] = field(default_factory=dict)
    leaves: dict[tuple[str, int], LeafRow] = field(default_factory=dict)
    nodes: dict[tuple[str, int, int], bytes] = field(default_factory=dict)
    disputes: dict[str, Dispute] = field(default_factory=dict)
    adjustments: dict[str, Adjustment] = field(default_factory=dict)
    reconciliations: dict[str, Reconciliation] = field(default_factory=dict)

    def __copy__(self) -> SettlementTables:
        return SettlementTables(*(copy.copy(table) for table in vars(self).values()))

    def node_keys(self, business_day: str) -> list[NodeKey]:
        return [(level, index) for day, level, index in self.nodes if day == business_day]
