"""Refused redemptions: bad codes, throttling after failures, conflicting links."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from exchange.domain import limits
from exchange.domain.errors import ErrorCode
from exchange.domain.members import new_link_code
from tests.unit.identity_handlers.support import failures, redeem, stored_code
from tests.unit.in_memory_hub import HARBOR, ORBIT, SKYWAY, InMemoryHub


def _unknown_code(hub: InMemoryHub, skyway_ppid: str) -> str:
    hub.link_code(SKYWAY, skyway_ppid)
    return new_link_code()


def _expired_code(hub: InMemoryHub, skyway_ppid: str) -> str:
    code = hub.link_code(SKYWAY, skyway_ppid)
    hub.clock.advance_s(limits.LINK_CODE_TTL_S + 1)
    return code


def _used_code(hub: InMemoryHub, skyway_ppid: str) -> str:
    code = hub.link_code(SKYWAY, skyway_ppid)
    hub.commit(redeem(hub, ORBIT, code, hub.enroll(ORBIT)))
    return code


@pytest.mark.parametrize(
    ("make_code", "code"),
    [
        (_unknown_code, ErrorCode.LINK_CODE_NOT_FOUND),
        (_expired_code, ErrorCode.LINK_CODE_EXPIRED),
        (_used_code, ErrorCode.LINK_CODE_USED),
    ],
    ids=["wrong", "expired", "reused"],
)
def test_redeem_refuses_a_bad_code_and_keeps_only_the_failure_record(
    hub: InMemoryHub, make_code: Callable[[InMemoryHub, str], str], code: ErrorCode
) -> None:
    skyway_ppid, harbor_ppid = hub.enroll(SKYWAY), hub.enroll(HARBOR)
    text = make_code(hub, skyway_ppid)
    harbor_cmid = hub.cmid(HARBOR, harbor_ppid)
    stored_before = stored_code(hub, text)

    error = hub.refused(redeem(hub, HARBOR, text, harbor_ppid))

    assert error.code is code
    assert error.keep_writes
    assert failures(hub, HARBOR) == 1
    assert stored_code(hub, text) == stored_before
    assert hub.cmid(HARBOR, harbor_ppid) == harbor_cmid
    assert hub.links(HARBOR, harbor_ppid) == []


def test_failures_past_the_limit_throttle_even_a_good_code_until_the_window_passes(
    hub: InMemoryHub,
) -> None:
    skyway_ppid, harbor_ppid = hub.enroll(SKYWAY), hub.enroll(HARBOR)
    good = hub.link_code(SKYWAY, skyway_ppid)
    for _ in range(limits.LINK_CODE_FAILURES_MAX):
        wrong = hub.refused(redeem(hub, HARBOR, new_link_code(), harbor_ppid))
        assert wrong.code is ErrorCode.LINK_CODE_NOT_FOUND

    throttled = hub.refused(redeem(hub, HARBOR, good, harbor_ppid))

    assert throttled.code is ErrorCode.LINK_CODE_THROTTLED
    assert not throttled.keep_writes
    assert failures(hub, HARBOR) == limits.LINK_CODE_FAILURES_MAX
    good_record = stored_code(hub, good)
    assert good_record is not None and good_record.redeemed_at_us is None
    hub.clock.advance_s(limits.LINK_CODE_FAILURE_WINDOW_S + 1)
    assert hub.commit(redeem(hub, HARBOR, good, harbor_ppid)) == [HARBOR, SKYWAY]


def test_one_partners_failures_do_not_throttle_another_partner(hub: InMemoryHub) -> None:
    skyway_ppid, harbor_ppid, orbit_ppid = hub.enroll(SKYWAY), hub.enroll(HARBOR), hub.enroll(ORBIT)
    for _ in range(limits.LINK_CODE_FAILURES_MAX):
        hub.refused(redeem(hub, HARBOR, new_link_code(), harbor_ppid))

    assert hub.link((SKYWAY, skyway_ppid), (ORBIT, orbit_ppid)) == [ORBIT, SKYWAY]


def test_redeem_refuses_a_code_from_the_same_partner(hub: InMemoryHub) -> None:
    issuer, redeemer = hub.enroll(SKYWAY), hub.enroll(SKYWAY)
    code = hub.link_code(SKYWAY, issuer)

    error = hub.refused(redeem(hub, SKYWAY, code, redeemer))

    assert error.code is ErrorCode.LINK_TO_SAME_PARTNER
    assert not error.keep_writes
    record = stored_code(hub, code)
    assert record is not None and record.redeemed_at_us is None
    assert hub.cmid(SKYWAY, issuer) != hub.cmid(SKYWAY, redeemer)


def test_redeem_refuses_a_redeemer_who_is_linked_already(hub: InMemoryHub) -> None:
    skyway_ppid, harbor_ppid, orbit_ppid = hub.enroll(SKYWAY), hub.enroll(HARBOR), hub.enroll(ORBIT)
    hub.link((ORBIT, orbit_ppid), (HARBOR, harbor_ppid))
    code = hub.link_code(SKYWAY, skyway_ppid)

    error = hub.refused(redeem(hub, HARBOR, code, harbor_ppid))

    assert error.code is ErrorCode.ALREADY_LINKED
    assert not error.keep_writes
    assert hub.links(SKYWAY, skyway_ppid) == []


def test_redeem_refuses_when_the_issuer_is_linked_to_another_account_here(
    hub: InMemoryHub,
) -> None:
    skyway_ppid, first_harbor, second_harbor = (
        hub.enroll(SKYWAY),
        hub.enroll(HARBOR),
        hub.enroll(HARBOR),
    )
    hub.link((SKYWAY, skyway_ppid), (HARBOR, first_harbor))
    code = hub.link_code(SKYWAY, skyway_ppid)

    error = hub.refused(redeem(hub, HARBOR, code, second_harbor))

    assert error.code is ErrorCode.PARTNER_ALREADY_LINKED
    assert hub.links(SKYWAY, skyway_ppid) == [HARBOR]
    assert hub.cmid(HARBOR, first_harbor) == hub.cmid(SKYWAY, skyway_ppid)
