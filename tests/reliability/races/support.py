"""What every race checks: no INTERNAL answer, each transfer resolved once (one terminal event,
a clean ledger), and the coalition the callers race on."""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import grpc
import pytest

from coalition.keys import SigningKey
from coalition.v1 import common_pb2
from coalition.v1 import exchange_pb2 as xpb
from partners.sdk import EventClient, HubConnection, HubError, verify_event
from partners.sdk.exchange_client import ExchangeClient
from tests.support.coalition import TestCoalition
from tests.support.transfer_setup import (
    CONFIRM_CREDIT,
    REJECT_CREDIT,
    OffsetClock,
    Outcome,
    create_transfer,
    journal_kinds,
    quote_id,
    sdk_outcome,
    transfer_states,
)

TIMEOUT_S = 30
POINTS = 1_000
# A racer waits up to this long after the barrier, so who goes first differs between rounds.
JITTER_S_MAX = 0.02
NEVER = frozenset({grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN})
IN_PROGRESS = "ABORTED IDEMPOTENCY_IN_PROGRESS"
KEY_REUSED = "FAILED_PRECONDITION IDEMPOTENCY_KEY_REUSED"
NOT_PENDING = "FAILED_PRECONDITION TRANSFER_NOT_PENDING"
TIMED_OUT = "FAILED_PRECONDITION TRANSFER_TIMED_OUT"
STATUS_BY_NUMBER = {status.value[0]: status for status in grpc.StatusCode}
COMPLETED = ("completed", None)
REJECTED = ("voided", "rejected")
VOIDED_TIMED_OUT = ("voided", "timed_out")
EVENT_PAGE_SIZE = 500

# Longer than any test: the hub's own scheduler never runs during one.
IDLE_S = 3600
SETTLING_TIMEOUT_S = 3 * 24 * 3600  # transfers outlive the days the clock moves through


def pending_transfers(skyway: HubConnection, source_ppid: str, count: int) -> list[str]:
    return [
        create_transfer(skyway, quote_id(skyway, source_ppid, "harbor", POINTS))
        for _ in range(count)
    ]


def answer(harbor: HubConnection, action: str, transfer_id: str) -> Callable[[], Outcome]:
    if action == "reject":
        request: Any = xpb.RejectCreditRequest(transfer_id=transfer_id, reason="account closed")
        return lambda: sdk_outcome(harbor, REJECT_CREDIT, request, xpb.RejectCreditResponse)
    request = xpb.ConfirmCreditRequest(transfer_id=transfer_id)
    return lambda: sdk_outcome(harbor, CONFIRM_CREDIT, request, xpb.ConfirmCreditResponse)


def jittered(rng: random.Random, call: Callable[[], Any]) -> Callable[[], Any]:
    delay_s = rng.uniform(0, JITTER_S_MAX)

    def run() -> Any:
        time.sleep(delay_s)
        return call()

    return run


def assert_no_internal(outcomes: list[Outcome]) -> None:
    escaped = [o.label for o in outcomes if o.code in NEVER]
    assert not escaped, f"{len(escaped)} calls failed inside the hub: {Counter(escaped)}"


def item_label(error: common_pb2.ItemError) -> str:
    """An ItemError written like an Outcome label: 'FAILED_PRECONDITION TRANSFER_NOT_PENDING'."""
    return f"{STATUS_BY_NUMBER[error.code].name} {error.reason}"


def terminal_events(connection: HubConnection, keys: dict[str, bytes]) -> dict[str, list[str]]:
    """transfer id -> the completion and void events the partner's feed carries for it."""
    events = EventClient(connection)
    found: dict[str, list[str]] = {}
    after = 0
    while True:
        page = events.list_events(after_sequence=after, page_size=EVENT_PAGE_SIZE)
        if not page.events:
            return found
        for event in page.events:
            payload = verify_event(event, keys, connection.partner_id)
            body = payload.WhichOneof("body") or ""
            if body == "transfer_completed":
                found.setdefault(payload.transfer_completed.transfer_id, []).append("completed")
            elif body == "transfer_voided":
                reason = xpb.VoidReason.Name(payload.transfer_voided.reason)
                found.setdefault(payload.transfer_voided.transfer_id, []).append(reason)
        after = page.events[-1].sequence


TERMINAL_EVENT = {
    COMPLETED: ["completed"],
    REJECTED: ["VOID_REASON_REJECTED"],
    VOIDED_TIMED_OUT: ["VOID_REASON_TIMED_OUT"],
}


def assert_each_resolved_once(
    coalition: TestCoalition, source: HubConnection, transfer_ids: list[str]
) -> Counter[tuple[str, str | None]]:
    """One final state per transfer; one hold and exactly one post or void journal; exactly
    one TransferCompleted or TransferVoided (with the matching reason) in the source's feed."""
    engine = coalition.hub.engine
    states, journals = transfer_states(engine), journal_kinds(engine)
    events = terminal_events(source, coalition.hub_public_keys)
    finals: Counter[tuple[str, str | None]] = Counter()
    for transfer_id in transfer_ids:
        state = states[transfer_id]
        assert state in TERMINAL_EVENT, (transfer_id, state)
        journal = "post" if state == COMPLETED else "void"
        assert journals[transfer_id] == ["hold", journal], (transfer_id, journals[transfer_id])
        assert events.get(transfer_id) == TERMINAL_EVENT[state], (transfer_id, events)
        finals[state] += 1
    return finals


# --- hubs ----------------------------------------------------------------------------------------


@dataclass
class RacingCoalition(TestCoalition):
    """A hub on an OffsetClock (real time plus what the test adds); its connections sign with
    that clock, so requests stay fresh however far the test moves it."""

    clock: OffsetClock = field(default_factory=OffsetClock)

    def connection(self, partner_id: str, key: SigningKey | None = None) -> HubConnection:
        connection = super().connection(partner_id, key)
        connection.clock_s = lambda: self.clock.now_us() / 1_000_000
        return connection


def require_batch_rpcs(connection: HubConnection) -> None:
    """The hub serves the batch RPCs: empty calls are refused as bad input."""
    client = ExchangeClient(connection)
    for probe in (lambda: client.confirm_credits([]), lambda: client.create_transfer_batch([])):
        with pytest.raises(HubError) as refused:
            probe()
        assert refused.value.code is grpc.StatusCode.INVALID_ARGUMENT, refused.value
