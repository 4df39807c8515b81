"""MemberRepository: members, their ppids at each partner, link codes and link failures."""

from __future__ import annotations

import hashlib

import pytest

from exchange.domain.members import LinkCode, MemberId
from exchange.domain.ports import UnitOfWork, UnitOfWorkFactory
from tests.contract.support import (
    ALPHA,
    BRAVO,
    CHARLIE,
    CONFLICT,
    T0,
    commit,
    contend,
    read,
    seed_member,
    seed_partners,
)

COVERS = {
    "MemberRepository.add_member",
    "MemberRepository.erase_member",
    "MemberRepository.delete_member",
    "MemberRepository.add_ppid",
    "MemberRepository.get_ppid",
    "MemberRepository.ppids_of",
    "MemberRepository.get_ppids",
    "MemberRepository.ppids_of_members",
    "MemberRepository.lock_members",
    "MemberRepository.move_ppid",
    "MemberRepository.lock_member",
    "MemberRepository.delete_ppid",
    "MemberRepository.add_link_code",
    "MemberRepository.get_link_code",
    "MemberRepository.mark_link_code_redeemed",
    "MemberRepository.record_link_failure",
    "MemberRepository.link_failures_since",
}


@pytest.fixture
def factory(uow_factory: UnitOfWorkFactory) -> UnitOfWorkFactory:
    """Three partners; member m1 with ppids at charlie and alpha, m2 with one at bravo."""
    seed_partners(uow_factory)
    seed_member(uow_factory, "m1", charlie="c1", alpha="a1")
    seed_member(uow_factory, "m2", bravo="b2")
    return uow_factory


def code(digit: str, ppid: str = "a1", partner_id: str = ALPHA) -> LinkCode:
    return LinkCode(hashlib.sha256(digit.encode()).digest(), partner_id, ppid, T0 + 99, None)


def test_add_member_refuses_a_second_cmid(factory: UnitOfWorkFactory) -> None:
    with pytest.raises(CONFLICT), factory() as uow:
        uow.members.add_member("m1", T0)


def test_get_ppid_finds_only_the_partners_own_ppid(factory: UnitOfWorkFactory) -> None:
    assert read(factory, lambda uow: uow.members.get_ppid(ALPHA, "a1")) == MemberId(
        "a1", ALPHA, "m1"
    )
    assert read(factory, lambda uow: uow.members.get_ppid(BRAVO, "a1")) is None
    assert read(factory, lambda uow: uow.members.get_ppid(ALPHA, "zz")) is None


@pytest.mark.parametrize(
    "refused",
    [
        MemberId("a1", BRAVO, "m2"),  # the ppid is taken
        MemberId("x1", "nobody", "m2"),  # unknown partner
        MemberId("x2", ALPHA, "nobody"),  # unknown member
        MemberId("x3", ALPHA, "m1"),  # m1 already has a ppid at alpha
    ],
)
def test_add_ppid_refuses(factory: UnitOfWorkFactory, refused: MemberId) -> None:
    with pytest.raises(CONFLICT), factory() as uow:
        uow.members.add_ppid(refused, T0)


def test_ppids_of_is_ordered_by_partner(factory: UnitOfWorkFactory) -> None:
    expected = [MemberId("a1", ALPHA, "m1"), MemberId("c1", CHARLIE, "m1")]
    assert read(factory, lambda uow: uow.members.ppids_of("m1")) == expected
    assert read(factory, lambda uow: uow.members.ppids_of("nobody")) == []


def test_get_ppids_returns_only_the_partners_own(factory: UnitOfWorkFactory) -> None:
    found = read(factory, lambda uow: uow.members.get_ppids(ALPHA, ["a1", "b2", "zz", "a1"]))
    assert found == {"a1": MemberId("a1", ALPHA, "m1")}
    assert read(factory, lambda uow: uow.members.get_ppids(ALPHA, [])) == {}


def test_ppids_of_members_groups_and_orders(factory: UnitOfWorkFactory) -> None:
    found = read(factory, lambda uow: uow.members.ppids_of_members(["m2", "m1", "nobody"]))
    assert found == {
        "m1": [MemberId("a1", ALPHA, "m1"), MemberId("c1", CHARLIE, "m1")],
        "m2": [MemberId("b2", BRAVO, "m2")],
    }
    assert read(factory, lambda uow: uow.members.ppids_of_members([])) == {}


def test_move_ppid_gives_the_ppid_to_another_member(factory: UnitOfWorkFactory) -> None:
    commit(factory, lambda uow: uow.members.move_ppid(MemberId("b2", BRAVO, "m2"), "m1"))
    assert [m.ppid for m in read(factory, lambda uow: uow.members.ppids_of("m1"))] == [
        "a1",
        "b2",
        "c1",
    ]
    assert read(factory, lambda uow: uow.members.ppids_of("m2")) == []


def test_move_ppid_refuses_a_second_ppid_at_one_partner(factory: UnitOfWorkFactory) -> None:
    seed_member(factory, "m3", alpha="a3")
    with pytest.raises(CONFLICT), factory() as uow:
        uow.members.move_ppid(MemberId("a3", ALPHA, "m3"), "m1")


def test_delete_ppid_takes_its_link_codes_with_it(factory: UnitOfWorkFactory) -> None:
    commit(factory, lambda uow: uow.members.add_link_code(code("1"), T0))
    commit(factory, lambda uow: uow.members.delete_ppid(MemberId("a1", ALPHA, "m1")))
    assert read(factory, lambda uow: uow.members.get_ppid(ALPHA, "a1")) is None
    assert read(factory, lambda uow: uow.members.get_link_code(code("1").code_sha256)) is None


def test_delete_member_removes_an_unreferenced_member(factory: UnitOfWorkFactory) -> None:
    commit(factory, lambda uow: uow.members.add_member("m9", T0))
    commit(factory, lambda uow: uow.members.delete_member("m9"))
    commit(factory, lambda uow: uow.members.add_member("m9", T0 + 1))  # the cmid is free again


def test_delete_member_refuses_a_member_still_referenced(factory: UnitOfWorkFactory) -> None:
    with pytest.raises(CONFLICT), factory() as uow:
        uow.members.delete_member("m2")  # still holds ppid b2 and its data key


def test_erase_member_leaves_a_tombstone(factory: UnitOfWorkFactory) -> None:
    def erase(uow: UnitOfWork) -> None:
        uow.members.erase_member("m2", T0 + 5)
        uow.members.erase_member("nobody", T0 + 5)  # an unknown member is a no-op

    commit(factory, erase)
    with pytest.raises(CONFLICT), factory() as uow:
        uow.members.add_member("m2", T0 + 6)


def test_a_link_code_round_trips_and_is_redeemed_once_marked(factory: UnitOfWorkFactory) -> None:
    claims_redeemed = LinkCode(code("1").code_sha256, ALPHA, "a1", T0 + 99, T0 + 1)
    commit(factory, lambda uow: uow.members.add_link_code(claims_redeemed, T0))
    digest = claims_redeemed.code_sha256
    assert read(factory, lambda uow: uow.members.get_link_code(digest)) == code("1")
    commit(factory, lambda uow: uow.members.mark_link_code_redeemed(digest, T0 + 7))
    redeemed = read(factory, lambda uow: uow.members.get_link_code(digest))
    assert redeemed is not None and redeemed.redeemed_at_us == T0 + 7
    assert read(factory, lambda uow: uow.members.get_link_code(code("2").code_sha256)) is None


def test_add_link_code_refuses_a_second_digest(factory: UnitOfWorkFactory) -> None:
    commit(factory, lambda uow: uow.members.add_link_code(code("1"), T0))
    with pytest.raises(CONFLICT), factory() as uow:
        uow.members.add_link_code(code("1", "c1", CHARLIE), T0)


def test_link_failures_are_counted_per_partner_since_an_instant(
    factory: UnitOfWorkFactory,
) -> None:
    def fail(uow: UnitOfWork) -> None:
        for at_us in (T0, T0 + 10, T0 + 20):
            uow.members.record_link_failure(ALPHA, at_us)
        uow.members.record_link_failure(BRAVO, T0 + 20)

    commit(factory, fail)
    assert read(factory, lambda uow: uow.members.link_failures_since(ALPHA, T0 + 10)) == 2
    assert read(factory, lambda uow: uow.members.link_failures_since(ALPHA, T0 + 21)) == 0
    assert read(factory, lambda uow: uow.members.link_failures_since(CHARLIE, 0)) == 0


def _move_b2_to_m1(uow: UnitOfWork) -> None:
    uow.members.move_ppid(MemberId("b2", BRAVO, "m2"), "m1")


def test_lock_member_holds_the_member_until_commit(factory: UnitOfWorkFactory) -> None:
    def locked_ppids(uow: UnitOfWork) -> list[str]:
        uow.members.lock_member("m1")
        return [m.ppid for m in uow.members.ppids_of("m1")]

    waited, seen = contend(
        factory, lambda uow: uow.members.lock_member("m1"), locked_ppids, _move_b2_to_m1
    )
    assert waited and seen == ["a1", "b2", "c1"]


def test_lock_members_holds_every_member_named(factory: UnitOfWorkFactory) -> None:
    def locked_ppids(uow: UnitOfWork) -> list[str]:
        uow.members.lock_members(["m2", "m1"])
        uow.members.lock_members([])
        return [m.ppid for m in uow.members.ppids_of("m1")]

    waited, seen = contend(
        factory, lambda uow: uow.members.lock_members(["m1", "m2"]), locked_ppids, _move_b2_to_m1
    )
    assert waited and seen == ["a1", "b2", "c1"]
