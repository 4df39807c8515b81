"""BusinessDayRepository: days open on first use, close once and never reopen."""

from __future__ import annotations

from exchange.domain.ports import UnitOfWork, UnitOfWorkFactory
from tests.contract.support import T0, commit, contend, read

COVERS = {
    "BusinessDayRepository.open_day_at_or_after",
    "BusinessDayRepository.close",
    "BusinessDayRepository.state",
}
DAY, NEXT, AFTER = "2023-11-14", "2023-11-15", "2023-11-16"


def test_a_day_opens_on_first_use(uow_factory: UnitOfWorkFactory) -> None:
    assert read(uow_factory, lambda uow: uow.business_days.state(DAY)) is None
    assert commit(uow_factory, lambda uow: uow.business_days.open_day_at_or_after(DAY)) == DAY
    assert read(uow_factory, lambda uow: uow.business_days.state(DAY)) == "open"


def test_a_day_closes_once(uow_factory: UnitOfWorkFactory) -> None:
    assert commit(uow_factory, lambda uow: uow.business_days.close(DAY, T0))
    assert read(uow_factory, lambda uow: uow.business_days.state(DAY)) == "closed"
    assert not commit(uow_factory, lambda uow: uow.business_days.close(DAY, T0 + 1))


def test_completions_land_in_the_first_open_day(uow_factory: UnitOfWorkFactory) -> None:
    def close_two(uow: UnitOfWork) -> None:
        uow.business_days.close(DAY, T0)
        uow.business_days.close(NEXT, T0)

    commit(uow_factory, close_two)
    assert commit(uow_factory, lambda uow: uow.business_days.open_day_at_or_after(DAY)) == AFTER
    assert read(uow_factory, lambda uow: uow.business_days.state(AFTER)) == "open"


def test_a_close_not_committed_leaves_the_day_open(uow_factory: UnitOfWorkFactory) -> None:
    commit(uow_factory, lambda uow: uow.business_days.open_day_at_or_after(DAY))
    assert read(uow_factory, lambda uow: uow.business_days.close(DAY, T0))
    assert read(uow_factory, lambda uow: uow.business_days.state(DAY)) == "open"


def test_closing_waits_for_a_completion_landing_in_the_day(uow_factory: UnitOfWorkFactory) -> None:
    commit(uow_factory, lambda uow: uow.business_days.open_day_at_or_after(DAY))
    waited, closed = contend(
        uow_factory,
        hold=lambda uow: uow.business_days.open_day_at_or_after(DAY),
        attempt=lambda uow: uow.business_days.close(DAY, T0),
    )
    assert waited and closed
