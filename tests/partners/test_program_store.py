"""A program's event sink: each verified event changes its store once, atomically, or not at all."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from coalition.keys import SigningKey
from coalition.v1 import event_pb2
from partners.programs.program import (
    EVENT_HANDLERS,
    ProgramEventSink,
    UnsupportedEvent,
    apply_tier_granted,
)
from partners.programs.store import ProgramStore, StoreTransaction
from partners.sdk.events import verify_event
from tests.partners.fakes import PARTNER_ID, EventBody, signed_event, tier_granted

EXPIRES = datetime(2031, 6, 30, 12, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path) -> ProgramStore:
    store = ProgramStore(tmp_path / "harbor.db")
    with store.transaction() as transaction:
        transaction.add_member("H-1001", "ppid-ada", 5_000)
        transaction.add_member("H-1002", "ppid-bob", 0)
    return store


@pytest.fixture
def sink(store: ProgramStore) -> ProgramEventSink:
    return ProgramEventSink(store)


class Hub:
    """Signs payloads the way the hub does, and returns them verified, as the feed would."""

    def __init__(self) -> None:
        self.key = SigningKey.generate()
        self.sequence = 0

    def payload(
        self, body: EventBody | None = None, event_id: str | None = None
    ) -> event_pb2.EventPayload:
        self.sequence += 1
        event = signed_event(self.key, self.sequence, body, event_id=event_id)
        return verify_event(event, {self.key.key_id: self.key.public_key_bytes}, PARTNER_ID)


@pytest.fixture
def hub() -> Hub:
    return Hub()


def test_a_tier_grant_sets_the_members_tier_and_expiry(
    store: ProgramStore, sink: ProgramEventSink, hub: Hub
) -> None:
    sink.apply(hub.payload(tier_granted("ppid-ada", "GOLD", EXPIRES)))

    member = store.member("H-1001")
    assert member is not None
    assert (member.tier_code, member.tier_expires_at) == ("GOLD", EXPIRES)
    assert member.points == 5_000
    untouched = store.member("H-1002")
    assert untouched is not None and untouched.tier_code is None


def test_a_redelivered_event_is_not_applied_again(
    store: ProgramStore, sink: ProgramEventSink, hub: Hub
) -> None:
    """Gold then Silver, then Gold's event again: re-applying it would wrongly restore Gold."""
    gold = hub.payload(tier_granted("ppid-ada", "GOLD", EXPIRES))
    sink.apply(gold)
    sink.apply(hub.payload(tier_granted("ppid-ada", "SILVER", EXPIRES)))

    assert sink.seen(gold.event_id)
    sink.apply(gold)

    member = store.member("H-1001")
    assert member is not None and member.tier_code == "SILVER"


def test_member_erased_deletes_the_members_row(
    store: ProgramStore, sink: ProgramEventSink, hub: Hub
) -> None:
    erased = hub.payload(event_pb2.MemberErased(ppid="ppid-ada"))

    sink.apply(erased)

    assert store.member("H-1001") is None
    assert store.member("H-1002") is not None
    assert sink.seen(erased.event_id)


def test_an_event_for_an_unknown_ppid_is_recorded_and_changes_nothing(
    store: ProgramStore, sink: ProgramEventSink, hub: Hub
) -> None:
    stray = hub.payload(tier_granted("ppid-nobody", "GOLD", EXPIRES))

    sink.apply(stray)

    assert sink.seen(stray.event_id)
    for number in ("H-1001", "H-1002"):
        member = store.member(number)
        assert member is not None and member.tier_code is None


def test_member_unlinked_keeps_the_account_and_is_recorded(
    store: ProgramStore, sink: ProgramEventSink, hub: Hub
) -> None:
    unlinked = hub.payload(event_pb2.MemberUnlinked(ppid="ppid-ada"))

    sink.apply(unlinked)

    assert store.member("H-1001") is not None
    assert sink.seen(unlinked.event_id)


def test_a_failing_handler_leaves_neither_its_effect_nor_the_event_id(
    store: ProgramStore, hub: Hub
) -> None:
    def grant_then_fail(transaction: StoreTransaction, payload: event_pb2.EventPayload) -> None:
        apply_tier_granted(transaction, payload)
        raise RuntimeError("disk full")

    sink = ProgramEventSink(store, {**EVENT_HANDLERS, "tier_granted": grant_then_fail})
    grant = hub.payload(tier_granted("ppid-ada", "GOLD", EXPIRES))

    with pytest.raises(RuntimeError):
        sink.apply(grant)

    member = store.member("H-1001")
    assert member is not None and member.tier_code is None
    assert not sink.seen(grant.event_id)  # so the redelivery will apply it


def test_an_event_kind_the_program_does_not_know_stops_instead_of_being_dropped(
    sink: ProgramEventSink, hub: Hub
) -> None:
    unknown = hub.payload()  # a body this build has no field for arrives as no body at all

    with pytest.raises(UnsupportedEvent):
        sink.apply(unknown)

    assert not sink.seen(unknown.event_id)


def test_the_store_keeps_its_data_across_reopening(store: ProgramStore, hub: Hub) -> None:
    ProgramEventSink(store).apply(
        hub.payload(event_id="e-1", body=tier_granted("ppid-bob", "GOLD", EXPIRES))
    )

    reopened = ProgramStore(store.path)

    assert ProgramEventSink(reopened).seen("e-1")
    member = reopened.member("H-1002")
    assert member is not None and member.tier_code == "GOLD"


@pytest.mark.parametrize("path", [":memory:", "file::memory:?cache=shared", ""])
def test_an_in_memory_store_is_refused(path: str) -> None:
    with pytest.raises(ValueError, match="file"):
        ProgramStore(path)
