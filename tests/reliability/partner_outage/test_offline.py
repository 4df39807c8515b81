"""A destination offline past the timeout, and one back before it across a hub restart."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from partners.programs.program import LoyaltyProgram
from partners.programs.transfer_store import OutboxOutcome, OutgoingState
from tests.reliability.partner_outage.support import (
    CREDITED_POINTS,
    FIRST_ROUNDS,
    LATE_MEMBERS,
    LATER_ROUNDS,
    MEMBERS,
    NOT_PENDING,
    OFFLINE_LONGER_S,
    OFFLINE_SHORTER_S,
    OPENING_POINTS,
    POINTS,
    SENT_PER_MEMBER,
    SOURCES,
    TIMED_OUT,
    TIMEOUT_S,
    HubRestarts,
    all_answers_sent,
    assert_each_resolved_once,
    record_confirm_refusals,
    send_credits,
    states_of,
    sync_sources_twice,
)
from tests.support.programs import ClockedCoalition, feed_thread, processed_events, wait_until
from tests.support.transfers import Member

# --- offline longer than the timeout -------------------------------------------------------------


@pytest.mark.parametrize("sweeper_first", [True, False], ids=["swept", "answered-late"])
def test_a_destination_offline_past_the_timeout_gets_every_credit_voided_and_undone(
    hub: ClockedCoalition,
    programs: dict[str, LoyaltyProgram],
    enrol: Callable[[int], list[Member]],
    monkeypatch: pytest.MonkeyPatch,
    reliability_tally: Any,
    sweeper_first: bool,
) -> None:
    """Harbor applied the first credits, then went down before answering; the rest piled up
    in its feed. `swept`: the hub's sweeper voids everything before harbor is back;
    `answered-late`: harbor's late answers find the transfers still pending past the timeout."""
    harbor, engine = programs["harbor"], hub.hub.engine
    members = enrol(LATE_MEMBERS)
    sent = send_credits(programs, members, FIRST_ROUNDS)
    harbor.feed.drain()  # credited, answers queued; then harbor goes dark before sending them
    first_credits = len(SENT_PER_MEMBER) * CREDITED_POINTS  # one from each source
    assert {harbor.balance(m.at(harbor)) for m in members} == {first_credits}
    sent += send_credits(programs, members, LATER_ROUNDS)
    assert len(sent) == LATE_MEMBERS * sum(SENT_PER_MEMBER.values())

    hub.clock.advance_s(OFFLINE_LONGER_S)
    if sweeper_first:
        assert hub.hub.void_timed_out_transfers() == len(sent)
        sync_sources_twice(programs)
    refusals = record_confirm_refusals(monkeypatch, harbor)
    with feed_thread(harbor):  # back online: follows its stream, answering as it goes
        wait_until(all_answers_sent(harbor, len(sent)), "harbor to answer every credit")
    assert hub.hub.void_timed_out_transfers() == 0, "nothing is left for the sweeper"
    if not sweeper_first:
        sync_sources_twice(programs)

    # The hub voided each transfer exactly once, as timed out; a late confirm never completes.
    assert states_of(engine, sent) == Counter({("voided", "timed_out"): len(sent)})
    # Already voided by the sweeper, a late answer hears "not pending"; past its timeout but
    # still pending, the answer itself voids it and hears "timed out".
    assert refusals == Counter({NOT_PENDING if sweeper_first else TIMED_OUT: len(sent)})
    assert_each_resolved_once(programs, engine, sent, "transfer_voided")
    for one in sent:
        row = programs[one.source].outgoing(one.transfer_id)
        assert row is not None and (row.state, row.detail) == (OutgoingState.VOIDED, "timed_out")
    # Every source member is whole again (refunded once), and harbor kept none of the credits.
    for member in members:
        for source in SOURCES:
            assert programs[source].balance(member.at(programs[source])) == OPENING_POINTS
        assert harbor.balance(member.at(harbor)) == 0
    outcomes = Counter((entry.sent, entry.outcome) for entry in harbor.outbox())
    assert outcomes == Counter({(True, OutboxOutcome.RESOLVED_FIRST): len(sent)})
    reliability_tally.add("credits voided and refunded after outage", len(sent))
    reliability_tally.add("late credits undone at the destination", len(sent))


# --- offline shorter than the timeout ------------------------------------------------------------


def test_a_destination_back_before_the_timeout_gets_every_credit_once_across_a_hub_restart(
    hub: ClockedCoalition,
    programs: dict[str, LoyaltyProgram],
    enrol: Callable[[int], list[Member]],
    restarts: HubRestarts,
    reliability_tally: Any,
) -> None:
    harbor = programs["harbor"]
    members = enrol(MEMBERS)
    sent = send_credits(programs, members, FIRST_ROUNDS)
    harbor.feed.drain()  # credited, answers queued; then harbor goes dark before sending them
    hub.clock.advance_s(OFFLINE_SHORTER_S // 2)
    restarts.restart()  # the hub restarts while harbor is away
    sent += send_credits(programs, members, LATER_ROUNDS)
    hub.clock.advance_s(OFFLINE_SHORTER_S - OFFLINE_SHORTER_S // 2)
    engine = hub.hub.engine
    assert hub.hub.void_timed_out_transfers() == 0, "five hours is inside the six-hour timeout"

    with feed_thread(harbor):  # back online
        wait_until(
            lambda: states_of(engine, sent) == Counter({("completed", None): len(sent)}),
            "every transfer to complete",
        )
        wait_until(all_answers_sent(harbor, len(sent)), "harbor to record every answer")
    sync_sources_twice(programs)

    assert_each_resolved_once(programs, engine, sent, "transfer_completed")
    applied = [event_id for event_id, _ in processed_events(harbor)]
    assert len(applied) == len(set(applied)) == len(sent), "each credit applied exactly once"
    outcomes = Counter((entry.sent, entry.outcome) for entry in harbor.outbox())
    assert outcomes == Counter({(True, OutboxOutcome.ACCEPTED): len(sent)})
    for one in sent:
        row = programs[one.source].outgoing(one.transfer_id)
        assert row is not None and row.state is OutgoingState.COMPLETED
    # Points are conserved: what left each source arrived once at harbor.
    for member in members:
        for source, count in SENT_PER_MEMBER.items():
            program = programs[source]
            assert program.balance(member.at(program)) == OPENING_POINTS - count * POINTS
        credited = sum(SENT_PER_MEMBER.values()) * CREDITED_POINTS
        assert harbor.balance(member.at(harbor)) == credited

    hub.clock.advance_s(TIMEOUT_S)  # long past every original timeout: nothing to void
    assert hub.hub.void_timed_out_transfers() == 0
    assert states_of(engine, sent) == Counter({("completed", None): len(sent)})
    reliability_tally.add("credits delivered after outage", len(sent))
    reliability_tally.add("hub restarts during a partner outage", 1)
