"""A hub outage while the destination catches up on its feed."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from partners.programs.program import LoyaltyProgram
from tests.reliability.partner_outage.support import (
    ANSWER_GRACE_S,
    OFFLINE_SHORTER_S,
    OUTAGE_MEMBERS,
    SEND_ROUNDS,
    HubRestarts,
    feed_position,
    send_credits,
    states_of,
)
from tests.support.programs import ClockedCoalition, feed_thread, wait_until
from tests.support.transfers import Member


@dataclass
class OutageAtConfirm:
    """The hub goes down just as the program confirms one transfer, and comes back once that
    call has given up: down for the SDK's whole retry budget, and not a moment longer."""

    restarts: HubRestarts
    transfer_id: str
    back: threading.Event = field(default_factory=threading.Event)

    def wrap(self, monkeypatch: pytest.MonkeyPatch, program: LoyaltyProgram) -> None:
        real = program.exchange.confirm_credit

        def confirm_credit(transfer_id: str, *args: Any, **kwargs: Any) -> Any:
            if transfer_id != self.transfer_id or self.back.is_set():
                return real(transfer_id, *args, **kwargs)
            self.restarts.stop()
            try:
                return real(transfer_id, *args, **kwargs)
            finally:
                self.restarts.start()
                self.back.set()

        monkeypatch.setattr(program.exchange, "confirm_credit", confirm_credit)


def held_for(condition: Callable[[], bool], timeout_s: float) -> bool:
    """Polls `condition` for up to `timeout_s`; whether it came to hold."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_a_hub_outage_during_the_catch_up_still_gets_every_credit_confirmed(
    hub: ClockedCoalition,
    programs: dict[str, LoyaltyProgram],
    enrol: Callable[[int], list[Member]],
    restarts: HubRestarts,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Harbor is back within the timeout and follows its stream; the hub goes down just as
    harbor confirms the last credit, stays down through the SDK's retries, then returns."""
    harbor = programs["harbor"]
    sent = send_credits(programs, enrol(OUTAGE_MEMBERS), range(SEND_ROUNDS))
    hub.clock.advance_s(OFFLINE_SHORTER_S)
    outage = OutageAtConfirm(restarts, sent[-1].transfer_id)
    outage.wrap(monkeypatch, harbor)

    with feed_thread(harbor):
        wait_until(outage.back.is_set, "the hub to go down and come back")
        engine = hub.hub.engine
        last, _ = feed_position(engine, "harbor")
        wait_until(
            lambda: feed_position(engine, "harbor")[1] == last,
            "harbor to catch up with its feed after the hub came back",
        )

        # Harbor is online, its feed is caught up: every credit it applied gets confirmed, and
        # harbor records each answer as taken (the hub commits a confirmation a moment before
        # harbor reads its response, so both are awaited together).
        def unsent() -> list[str]:
            return [entry.transfer_id for entry in harbor.store.outbox(unsent_only=True)]

        everything_confirmed = held_for(
            lambda: (
                states_of(engine, sent) == Counter({("completed", None): len(sent)})
                and not unsent()
            ),
            ANSWER_GRACE_S,
        )
    assert everything_confirmed, f"answers never sent: {unsent()}"
