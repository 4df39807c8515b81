"""EventFeed: each partner's ordered, gapless feed and how far the partner acknowledged it."""

from __future__ import annotations

import pytest

from exchange.adapters.memory import FixedClock
from exchange.domain.events import FeedPosition, MemberErased
from exchange.domain.ports import UnitOfWork, UnitOfWorkFactory
from tests.contract.support import ALPHA, BRAVO, CHARLIE, CONFLICT, commit, read, seed_partners

COVERS = {
    "EventFeed.append",
    "EventFeed.append_many",
    "EventFeed.after",
    "EventFeed.position",
    "EventFeed.last_sequences",
    "EventFeed.acknowledge",
    "EventFeed.create_feed",
}


@pytest.fixture
def factory(uow_factory: UnitOfWorkFactory) -> UnitOfWorkFactory:
    seed_partners(uow_factory, ALPHA, BRAVO)  # each with its feed
    return uow_factory


def erased(*ppids: str) -> list[MemberErased]:
    return [MemberErased(ppid) for ppid in ppids]


def _sequences(factory: UnitOfWorkFactory, partner_id: str, after: int, limit: int) -> list[int]:
    found = read(factory, lambda uow: uow.events.after(partner_id, after, limit))
    return [event.sequence for event in found]


def test_a_new_feed_starts_at_zero(factory: UnitOfWorkFactory) -> None:
    assert read(factory, lambda uow: uow.events.position(ALPHA)) == FeedPosition(0, 0)
    assert read(factory, lambda uow: uow.events.after(ALPHA, 0, 10)) == []


@pytest.mark.parametrize("partner_id", [ALPHA, "nobody"])
def test_create_feed_refuses_a_second_feed_or_an_unknown_partner(
    factory: UnitOfWorkFactory, partner_id: str
) -> None:
    with pytest.raises(CONFLICT), factory() as uow:
        uow.events.create_feed(partner_id)


def test_append_numbers_events_and_stamps_them_now(
    factory: UnitOfWorkFactory, clock: FixedClock
) -> None:
    def append(uow: UnitOfWork) -> list[int]:
        first = uow.events.append(ALPHA, MemberErased("p1"))
        second = uow.events.append(ALPHA, MemberErased("p2"))
        assert (first.partner_id, first.event_type) == (ALPHA, "MemberErased")
        assert first.created_at_us == clock.now_us()
        return [first.sequence, second.sequence]

    assert commit(factory, append) == [1, 2]
    stored = read(factory, lambda uow: uow.events.after(ALPHA, 0, 10))
    assert [e.payload for e in stored] == [repr(e).encode() for e in erased("p1", "p2")]
    assert read(factory, lambda uow: uow.events.position(ALPHA)) == FeedPosition(2, 0)


def test_append_many_appends_in_order_with_consecutive_sequences(
    factory: UnitOfWorkFactory,
) -> None:
    commit(factory, lambda uow: uow.events.append(ALPHA, MemberErased("p0")))

    def append(uow: UnitOfWork) -> None:
        uow.events.append_many(ALPHA, erased("p1", "p2", "p3"))
        uow.events.append_many(ALPHA, [])

    commit(factory, append)
    stored = read(factory, lambda uow: uow.events.after(ALPHA, 0, 10))
    assert [(e.sequence, e.payload) for e in stored] == [
        (n, repr(MemberErased(f"p{n - 1}")).encode()) for n in range(1, 5)
    ]
    assert len({e.event_id for e in stored}) == 4


def test_after_pages_strictly_after_a_sequence(factory: UnitOfWorkFactory) -> None:
    commit(factory, lambda uow: uow.events.append_many(ALPHA, erased("a", "b", "c", "d")))
    commit(factory, lambda uow: uow.events.append(BRAVO, MemberErased("other")))
    assert _sequences(factory, ALPHA, 0, 2) == [1, 2]
    assert _sequences(factory, ALPHA, 2, 2) == [3, 4]
    assert _sequences(factory, ALPHA, 4, 2) == []
    assert _sequences(factory, BRAVO, 0, 10) == [1], "each partner's feed numbers its own"


def test_events_not_committed_leave_no_gap(factory: UnitOfWorkFactory) -> None:
    read(factory, lambda uow: uow.events.append_many(ALPHA, erased("lost", "lost")))
    stored = commit(factory, lambda uow: uow.events.append(ALPHA, MemberErased("kept")))
    assert stored.sequence == 1
    assert _sequences(factory, ALPHA, 0, 10) == [1]


def test_last_sequences_leave_out_partners_without_a_feed(factory: UnitOfWorkFactory) -> None:
    commit(factory, lambda uow: uow.events.append_many(ALPHA, erased("a", "b")))
    seed_partners(factory, CHARLIE)
    found = read(factory, lambda uow: uow.events.last_sequences([ALPHA, BRAVO, CHARLIE, "x"]))
    assert found == {ALPHA: 2, BRAVO: 0, CHARLIE: 0}
    assert read(factory, lambda uow: uow.events.last_sequences([])) == {}


def test_acknowledge_only_moves_forward(factory: UnitOfWorkFactory) -> None:
    commit(factory, lambda uow: uow.events.append_many(ALPHA, erased("a", "b", "c")))
    commit(factory, lambda uow: uow.events.acknowledge(ALPHA, 2))
    assert read(factory, lambda uow: uow.events.position(ALPHA)) == FeedPosition(3, 2)
    commit(factory, lambda uow: uow.events.acknowledge(ALPHA, 1))
    assert read(factory, lambda uow: uow.events.position(ALPHA)) == FeedPosition(3, 2)
    commit(factory, lambda uow: uow.events.acknowledge("nobody", 5))  # no feed: a no-op


def test_appending_to_a_partner_without_a_feed_fails(factory: UnitOfWorkFactory) -> None:
    with pytest.raises(AssertionError), factory() as uow:
        uow.events.append("nobody", MemberErased("p1"))
