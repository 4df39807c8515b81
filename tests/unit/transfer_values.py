"""A transfer value for tests that only need one to store or fold: any field can be changed."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from exchange.domain.transfers import Transfer, TransferKind, TransferState

AT_US = 1_700_000_000_000_000

TRANSFER = Transfer(
    transfer_id="tr_1",
    kind=TransferKind.TRANSFER,
    state=TransferState.PENDING,
    source_partner_id="skyway",
    destination_partner_id="harbor",
    cmid="cm_1",
    source_ppid="pp_s",
    destination_ppid="pp_h",
    source_points=1_000,
    destination_points=750,
    bonus_points=0,
    currency="USD",
    settlement_amount_minor=300,
    fee_minor=0,
    agreement_id="rt_1",
    agreement_version=1,
    quote_id=None,
    original_transfer_id=None,
    created_at_us=AT_US,
    timeout_at_us=AT_US + 900_000_000,
)


def a_transfer(**changes: Any) -> Transfer:
    return replace(TRANSFER, **changes)
