"""What a crash run's checks read: the hub's transfers and feed events as plain records, the
events each final state implies, and a short rendering of what went wrong."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from exchange.adapters.sql.tables import TransferRow
from tests.reliability import crash_harness

TRANSFER_BODIES = frozenset(
    {"credit_requested", "debit_requested", "transfer_completed", "transfer_voided"}
)
# What each final state leaves in the feeds: (whose feed, event body) -> how many.
EVENTS_OF_STATE = {
    "completed": {("destination", "credit_requested"): 1, ("source", "transfer_completed"): 1},
    "voided": {("destination", "credit_requested"): 1, ("source", "transfer_voided"): 1},
}
# The scenario runs against each of these numbers of hub processes.
HUB_PROCESSES = (1, 2)
# A failure message lists at most this many offending items.
SHOWN_MAX = 10


@dataclass(frozen=True)
class HubTransfer:
    transfer_id: str
    kind: str
    state: str
    source: str
    destination: str
    source_ppid: str
    destination_ppid: str
    source_points: int
    destination_points: int
    quote_id: str | None
    currency: str
    amount_minor: int
    fee_minor: int
    business_day: str | None
    void_reason: str | None


@dataclass(frozen=True)
class FeedEvent:
    event_id: str
    partner_id: str
    sequence: int
    body: str
    transfer_id: str


CrashRunAndResult = tuple[crash_harness.CrashRun, crash_harness.CrashRunResult]


def hub_transfer(row: TransferRow) -> HubTransfer:
    return HubTransfer(
        transfer_id=row.transfer_id,
        kind=row.kind,
        state=row.state,
        source=row.source_partner_id,
        destination=row.destination_partner_id,
        source_ppid=row.source_ppid,
        destination_ppid=row.destination_ppid,
        source_points=row.source_points,
        destination_points=row.destination_points,
        quote_id=row.quote_id,
        currency=row.currency,
        amount_minor=row.settlement_amount_minor,
        fee_minor=row.fee_minor,
        business_day=row.business_day,
        void_reason=row.void_reason,
    )


def shown(items: list[Any]) -> str:
    more = f" (and {len(items) - SHOWN_MAX} more)" if len(items) > SHOWN_MAX else ""
    return f"{items[:SHOWN_MAX]}{more}"
