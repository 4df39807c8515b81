"""UnitOfWork: what commit, rollback and leaving the block make visible to the next one."""

from __future__ import annotations

import pytest

from exchange.domain.ports import UnitOfWork, UnitOfWorkFactory
from tests.contract.support import ALPHA, BRAVO, partner, read

COVERS = {
    "UnitOfWork.commit",
    "UnitOfWork.rollback",
    "UnitOfWorkFactory.run",
    "UnitOfWorkFactory.retrying",
}


def _partner_ids(factory: UnitOfWorkFactory) -> list[str]:
    return read(factory, lambda uow: [p.partner_id for p in uow.partners.list_after("", 10)])


def test_a_committed_write_is_seen_by_the_next_unit_of_work(uow_factory: UnitOfWorkFactory) -> None:
    with uow_factory() as uow:
        uow.partners.add(partner(ALPHA))
        uow.commit()
    assert _partner_ids(uow_factory) == [ALPHA]


def test_a_unit_of_work_not_committed_leaves_nothing(uow_factory: UnitOfWorkFactory) -> None:
    with uow_factory() as uow:
        uow.partners.add(partner(ALPHA))
        assert uow.partners.get(ALPHA) is not None, "a unit of work reads its own writes"
    assert _partner_ids(uow_factory) == []


def test_an_exception_in_the_block_leaves_nothing(uow_factory: UnitOfWorkFactory) -> None:
    with pytest.raises(RuntimeError), uow_factory() as uow:
        uow.partners.add(partner(ALPHA))
        raise RuntimeError("handler failed")
    assert _partner_ids(uow_factory) == []


def test_rollback_discards_the_writes_so_far_and_the_unit_goes_on(
    uow_factory: UnitOfWorkFactory,
) -> None:
    with uow_factory() as uow:
        uow.partners.add(partner(ALPHA))
        uow.rollback()
        assert uow.partners.get(ALPHA) is None
        uow.partners.add(partner(BRAVO))
        uow.commit()
    assert _partner_ids(uow_factory) == [BRAVO]


def test_writes_after_a_commit_need_a_commit_of_their_own(uow_factory: UnitOfWorkFactory) -> None:
    with uow_factory() as uow:
        uow.partners.add(partner(ALPHA))
        uow.commit()
        uow.partners.add(partner(BRAVO))
    assert _partner_ids(uow_factory) == [ALPHA]


def test_rollback_after_a_commit_keeps_what_was_committed(uow_factory: UnitOfWorkFactory) -> None:
    def add_then_roll_back(uow: UnitOfWork) -> None:
        uow.partners.add(partner(ALPHA))
        uow.commit()
        uow.partners.add(partner(BRAVO))
        uow.rollback()

    read(uow_factory, add_then_roll_back)
    assert _partner_ids(uow_factory) == [ALPHA]


def test_run_commits_the_work_and_returns_its_result(uow_factory: UnitOfWorkFactory) -> None:
    def add(uow: UnitOfWork) -> str:
        uow.partners.add(partner(ALPHA))
        return "done"

    assert uow_factory.run(add) == "done"
    assert _partner_ids(uow_factory) == [ALPHA]


def test_run_leaves_nothing_when_the_work_fails(uow_factory: UnitOfWorkFactory) -> None:
    def fail(uow: UnitOfWork) -> None:
        uow.partners.add(partner(ALPHA))
        raise RuntimeError("handler failed")

    with pytest.raises(RuntimeError):
        uow_factory.run(fail)
    assert _partner_ids(uow_factory) == []


def test_retrying_runs_the_work_once_and_returns_its_result(uow_factory: UnitOfWorkFactory) -> None:
    calls: list[str] = []

    def work() -> str:
        calls.append("ran")
        with uow_factory() as uow:
            uow.partners.add(partner(ALPHA))
            uow.commit()
        return "done"

    assert uow_factory.retrying(work) == "done"
    assert calls == ["ran"]
    assert _partner_ids(uow_factory) == [ALPHA]


def test_retrying_lets_an_error_that_is_not_transient_through(
    uow_factory: UnitOfWorkFactory,
) -> None:
    calls: list[str] = []
    failure = RuntimeError("handler failed")

    def work() -> None:
        calls.append("ran")
        raise failure

    with pytest.raises(RuntimeError) as raised:
        uow_factory.retrying(work)
    assert raised.value is failure
    assert calls == ["ran"], "not run again"
