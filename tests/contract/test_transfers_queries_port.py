"""TransferRepository, queries and member changes: caps, reversals, listings, timeouts, merges."""

from __future__ import annotations

from dataclasses import replace

import pytest

from exchange.domain.ports import UnitOfWork, UnitOfWorkFactory
from exchange.domain.transfers import Transfer, TransferKind, TransferState
from tests.contract.support import (
    ALPHA,
    BRAVO,
    CHARLIE,
    T0,
    commit,
    quote,
    read,
    seed_member,
    seed_partners,
    transfer,
)

COVERS = {
    "TransferRepository.source_points_since",
    "TransferRepository.source_points_since_by_member",
    "TransferRepository.live_reversal_of",
    "TransferRepository.list_for",
    "TransferRepository.timed_out",
    "TransferRepository.move_member",
    "TransferRepository.scrub_member",
}
VOIDED, COMPLETED = TransferState.VOIDED, TransferState.COMPLETED


@pytest.fixture
def factory(uow_factory: UnitOfWorkFactory) -> UnitOfWorkFactory:
    seed_partners(uow_factory)
    seed_member(uow_factory, "m1", alpha="pa", bravo="pb")
    seed_member(uow_factory, "m2", alpha="qa", bravo="qb")
    return uow_factory


def _add(factory: UnitOfWorkFactory, *transfers: Transfer) -> None:
    commit(factory, lambda uow: uow.transfers.add_many(transfers))


def test_source_points_count_live_transfers_of_one_direction_since(
    factory: UnitOfWorkFactory,
) -> None:
    _add(
        factory,
        transfer("t1", "m1", created_at_us=T0 - 1, source_points=1),  # before the instant
        transfer("t2", "m1", created_at_us=T0, source_points=10),
        transfer("t3", "m1", created_at_us=T0 + 1, source_points=100, state=COMPLETED),
        transfer("t4", "m1", source_points=1000, state=VOIDED),
        transfer("t5", "m1", source_points=10_000, kind=TransferKind.REVERSAL),
        transfer("t6", "m1", source_points=100_000, destination_partner_id=CHARLIE),
        transfer("t7", "m2", source_points=7),
    )
    since = read(factory, lambda uow: uow.transfers.source_points_since("m1", ALPHA, BRAVO, T0))
    assert since == 110
    assert read(factory, lambda uow: uow.transfers.source_points_since("m1", BRAVO, ALPHA, 0)) == 0
    by_member = read(
        factory,
        lambda uow: uow.transfers.source_points_since_by_member(
            ["m2", "m1", "nobody"], ALPHA, BRAVO, T0
        ),
    )
    assert by_member == {"m1": 110, "m2": 7}, "members with none are absent"
    empty = read(
        factory, lambda uow: uow.transfers.source_points_since_by_member([], ALPHA, BRAVO, T0)
    )
    assert empty == {}


def test_the_live_reversal_is_one_not_voided(factory: UnitOfWorkFactory) -> None:
    reversal = transfer(
        "r2", "m1", kind=TransferKind.REVERSAL, original_transfer_id="t1", created_at_us=T0 + 2
    )
    _add(
        factory,
        transfer("t1", "m1", state=COMPLETED),
        replace(reversal, transfer_id="r1", state=VOIDED),
        reversal,
    )
    assert read(factory, lambda uow: uow.transfers.live_reversal_of("t1")) == reversal
    commit(factory, lambda uow: uow.transfers.save(replace(reversal, state=VOIDED)))
    assert read(factory, lambda uow: uow.transfers.live_reversal_of("t1")) is None
    assert read(factory, lambda uow: uow.transfers.live_reversal_of("r2")) is None


def _listing(
    factory: UnitOfWorkFactory,
    partner_id: str,
    *,
    state: TransferState | None = None,
    window: tuple[int | None, int | None] = (None, None),
    before: tuple[int, str] | None = None,
    limit: int = 10,
) -> list[str]:
    found = read(
        factory, lambda uow: uow.transfers.list_for(partner_id, state, window, before, limit)
    )
    return [t.transfer_id for t in found]


def test_list_for_is_newest_first_and_pages_strictly_before(factory: UnitOfWorkFactory) -> None:
    _add(
        factory,
        transfer("t1", "m1", created_at_us=T0 + 1),
        transfer("t2", "m1", created_at_us=T0 + 2, state=COMPLETED),
        transfer("t3b", "m1", created_at_us=T0 + 3),
        transfer("t3a", "m1", created_at_us=T0 + 3, source_partner_id=CHARLIE),  # a tie on time
        transfer(
            "t4",
            "m1",
            created_at_us=T0 + 4,
            source_partner_id=BRAVO,
            destination_partner_id=CHARLIE,
        ),
    )
    assert _listing(factory, ALPHA) == ["t3b", "t2", "t1"], "either party; charlie's excluded"
    assert _listing(factory, BRAVO, limit=2) == ["t4", "t3b"]
    assert _listing(factory, BRAVO, before=(T0 + 3, "t3b")) == ["t3a", "t2", "t1"]
    assert _listing(factory, BRAVO, before=(T0 + 3, "t3a")) == ["t2", "t1"]
    assert _listing(factory, BRAVO, before=(T0 + 1, "t1")) == []


def test_list_for_filters_by_state_and_window(factory: UnitOfWorkFactory) -> None:
    _add(
        factory,
        *(transfer(f"t{n}", "m1", created_at_us=T0 + n) for n in (1, 2, 3)),
        transfer("t4", "m1", created_at_us=T0 + 4, state=COMPLETED),
    )
    assert _listing(factory, ALPHA, state=COMPLETED) == ["t4"]
    assert _listing(factory, ALPHA, window=(T0 + 2, T0 + 4)) == ["t3", "t2"], "[start, end)"
    assert _listing(factory, ALPHA, window=(T0 + 3, None)) == ["t4", "t3"]
    assert _listing(factory, ALPHA, window=(None, T0 + 2)) == ["t1"]
    assert _listing(factory, ALPHA, state=TransferState.PENDING, window=(T0 + 3, None)) == ["t3"]


def test_timed_out_are_pending_transfers_due_soonest_first(factory: UnitOfWorkFactory) -> None:
    _add(
        factory,
        transfer("t1", "m1", timeout_at_us=T0 + 30),
        transfer("t2", "m1", timeout_at_us=T0 + 10),
        transfer("t3", "m1", timeout_at_us=T0 + 20),
        transfer("t4", "m1", timeout_at_us=T0 + 5, state=COMPLETED),
        transfer("t5", "m1", timeout_at_us=T0 + 40),  # not yet due
    )
    assert read(factory, lambda uow: uow.transfers.timed_out(T0 + 30, 10)) == ["t2", "t3", "t1"]
    assert read(factory, lambda uow: uow.transfers.timed_out(T0 + 30, 2)) == ["t2", "t3"]
    assert read(factory, lambda uow: uow.transfers.timed_out(T0 + 9, 10)) == []


def _member_records(uow: UnitOfWork) -> list[tuple[str, str, str, str]]:
    found: list[tuple[str, str, str, str]] = []
    for t in uow.transfers.get_many(["t1", "t2"]).values():
        found.append((t.transfer_id, t.cmid, t.source_ppid, t.destination_ppid))
    for quote_id in ("q1", "q2"):
        q = uow.transfers.get_quote(quote_id)
        assert q is not None
        found.append((q.quote_id, q.cmid, q.source_ppid, q.destination_ppid))
    return sorted(found)


def _history(uow: UnitOfWork) -> None:
    uow.transfers.add_many([transfer("t1", "m1"), transfer("t2", "m2", source_ppid="qa")])
    uow.transfers.add_quote(quote("q1", "m1"))
    uow.transfers.add_quote(quote("q2", "m2", source_ppid="qa"))


def test_move_member_gives_transfers_and_quotes_to_the_survivor(
    factory: UnitOfWorkFactory,
) -> None:
    commit(factory, _history)
    commit(factory, lambda uow: uow.transfers.move_member("m2", "m1"))
    assert read(factory, _member_records) == [
        ("q1", "m1", "pa", "pb"),
        ("q2", "m1", "qa", "pb"),
        ("t1", "m1", "pa", "pb"),
        ("t2", "m1", "qa", "pb"),
    ]


def test_scrub_member_blanks_the_ppids_and_keeps_the_rest(factory: UnitOfWorkFactory) -> None:
    commit(factory, _history)
    commit(factory, lambda uow: uow.transfers.scrub_member("m2"))
    assert read(factory, _member_records) == [
        ("q1", "m1", "pa", "pb"),
        ("q2", "m2", "", ""),
        ("t1", "m1", "pa", "pb"),
        ("t2", "m2", "", ""),
    ]
    scrubbed = read(factory, lambda uow: uow.transfers.get("t2"))
    assert scrubbed is not None and scrubbed.source_points == 1000
