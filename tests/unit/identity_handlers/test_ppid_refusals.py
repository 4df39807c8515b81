"""Another partner's ppid is refused like an unknown one; malformed ppids and codes."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from exchange.adapters.memory import InMemoryUnitOfWork
from exchange.domain.errors import DomainError, ErrorCode, InvalidArgument
from exchange.domain.members import new_link_code, new_ppid
from exchange.services import identity
from tests.unit.identity_handlers.support import failures, redeem
from tests.unit.in_memory_hub import HARBOR, SKYWAY, InMemoryHub

MemberCall = Callable[[InMemoryHub, str], Callable[[InMemoryUnitOfWork], object]]
MEMBER_CALLS: dict[str, MemberCall] = {
    "create_link_code": lambda hub, ppid: (
        lambda uow: identity.create_link_code(uow, hub.clock, HARBOR, ppid)
    ),
    "redeem_link_code": lambda hub, ppid: redeem(hub, HARBOR, new_link_code(), ppid),
    "list_links": lambda hub, ppid: lambda uow: identity.list_links(uow, HARBOR, ppid),
    "unlink": lambda hub, ppid: lambda uow: identity.unlink(uow, hub.clock, HARBOR, ppid, ""),
    "erase_member": lambda hub, ppid: (
        lambda uow: identity.erase_member(uow, hub.clock, HARBOR, ppid)
    ),
}


def _shape(error: DomainError) -> tuple[object, ...]:
    return (type(error), error.code, error.message, error.field_violations, error.keep_writes)


@pytest.mark.parametrize("call", MEMBER_CALLS.values(), ids=MEMBER_CALLS.keys())
def test_another_partners_ppid_is_refused_exactly_like_an_unknown_ppid(
    hub: InMemoryHub, call: MemberCall
) -> None:
    skyway_ppid = hub.enroll(SKYWAY)
    hub.link((SKYWAY, skyway_ppid), (HARBOR, hub.enroll(HARBOR)))

    foreign = hub.refused(call(hub, skyway_ppid))
    unknown = hub.refused(call(hub, new_ppid()))

    assert foreign.code is ErrorCode.MEMBER_NOT_FOUND
    assert _shape(foreign) == _shape(unknown)
    assert hub.links(SKYWAY, skyway_ppid) == [HARBOR]


@pytest.mark.parametrize("ppid", ["", "pp_short", "PP_" + "A" * 26, "cm_" + "a" * 26])
@pytest.mark.parametrize("call", MEMBER_CALLS.values(), ids=MEMBER_CALLS.keys())
def test_a_malformed_ppid_is_an_invalid_argument_naming_the_field(
    hub: InMemoryHub, call: MemberCall, ppid: str
) -> None:
    error = hub.refused(call(hub, ppid))

    assert isinstance(error, InvalidArgument)
    assert [violation.field for violation in error.field_violations] == ["ppid"]
    assert not error.keep_writes


@pytest.mark.parametrize("text", ["", "ABCDE-FGHJ", "ABCDE-FGHJKM", "ABCDE-FGHIL", "ABCDE_FGHJK"])
def test_a_malformed_link_code_is_an_invalid_argument_and_no_failure(
    hub: InMemoryHub, text: str
) -> None:
    harbor_ppid = hub.enroll(HARBOR)

    error = hub.refused(redeem(hub, HARBOR, text, harbor_ppid))

    assert isinstance(error, InvalidArgument)
    assert [violation.field for violation in error.field_violations] == ["link_code"]
    assert failures(hub, HARBOR) == 0
