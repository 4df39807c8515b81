"""The partner, the day and the hub records the reconciliation tests match uploads against."""

from __future__ import annotations

from collections.abc import Callable

from settlement.model import Break, PartnerRecord, TransferRecord
from settlement.reconciliation import reconcile

PARTNER = "alpha"
DAY = "2026-11-23"
NEXT_DAY = "2026-11-24"
HEADER = "transfer_id,direction,points,amount_minor,currency"


def record(
    transfer_id: str,
    *,
    kind: str = "transfer",
    source: str = PARTNER,
    destination: str = "bravo",
    source_points: int = 1000,
    destination_points: int = 800,
    currency: str = "USD",
    amount_minor: int = 1250,
    fee_minor: int = 3,
) -> TransferRecord:
    return TransferRecord(
        transfer_id=transfer_id,
        kind=kind,
        source_partner_id=source,
        destination_partner_id=destination,
        source_points=source_points,
        destination_points=destination_points,
        currency=currency,
        amount_minor=amount_minor,
        fee_minor=fee_minor,
        business_day=DAY,
        completed_at_us=1_700_000_000_000_000,
    )


def expected_line(partner_id: str, hub: TransferRecord) -> PartnerRecord:
    """The partner's view, written out from the spec independently of the module under test."""
    payer = hub.source_partner_id if hub.kind == "transfer" else hub.destination_partner_id
    is_source = partner_id == hub.source_partner_id
    return PartnerRecord(
        transfer_id=hub.transfer_id,
        direction="outgoing" if partner_id == payer else "incoming",
        points=hub.source_points if is_source else hub.destination_points,
        amount_minor=hub.amount_minor,
        currency=hub.currency,
    )


def never_completed(transfer_id: str) -> str | None:
    return None


def run(
    hub: list[TransferRecord],
    partner: list[PartnerRecord],
    hub_day_of: Callable[[str], str | None] = never_completed,
) -> list[Break]:
    return reconcile(PARTNER, DAY, iter(hub), iter(partner), hub_day_of)


HUB = [
    record("tr_a"),  # alpha pays bravo
    record("tr_b", source="bravo", destination=PARTNER),  # bravo pays alpha
    record("tr_c", kind="reversal"),  # alpha is the source; bravo pays it back
    record("tr_d", kind="reversal", source="charlie", destination=PARTNER),  # alpha pays back
]
CLEAN = [expected_line(PARTNER, hub) for hub in HUB]
