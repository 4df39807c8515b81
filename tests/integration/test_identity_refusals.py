"""IdentityService refusals through the real hub: each with its status and reason, none writing.

Link codes that are wrong, reused or expired fail, and repeated failures are throttled
(DESIGN §3.2); another partner's ppid is answered exactly like an unknown one (§7 inv. 8); a
refused request leaves the database as it was, apart from its nonce and, for a failed link
code, the failure that feeds the throttle (§7 inv. 9).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import cast

import grpc
import pytest
from sqlalchemy import Engine

from coalition.keys import SigningKey
from coalition.v1 import identity_pb2
from exchange.adapters.sql.engine import create_database_engine
from exchange.config import Settings
from exchange.domain import limits
from exchange.domain.members import (
    display_link_code,
    link_code_digest,
    new_link_code,
    new_ppid,
    normalize_link_code,
)
from partners.sdk import HubError, IdentityClient
from tests.support.coalition import TestCoalition
from tests.support.databases import REPLAY_BOOKKEEPING, table_snapshot
from tests.support.programs import (
    ClockedCoalition,
    Race,
    clocked_coalition,
    error_shape,
    held_row_lock,
    query_rows,
    real_time_clock,
    refused,
    wait_for_lock_waiters,
)

LINK_FAILURES = frozenset({"link_failures"})
MALFORMED_PPIDS = (
    "",
    "pp_" + "a" * 25,
    "pp_" + "A" * 26,
    "pp_" + "0" * 26,  # 0, 1, 8 and 9 are not base32
    "skyway-member-1",
    " pp_" + "a" * 26,
)
MALFORMED_LINK_CODES = ("", "ABC", "ABCDE-FGHIJK", "ABCDE-FGHI!", "IIIII-LLLLL")

# Every IdentityService RPC whose request names a ppid: (client, ppid, a live link code).
PpidCall = Callable[[IdentityClient, str, str], object]
PPID_CALLS: dict[str, PpidCall] = {
    "CreateLinkCode": lambda client, ppid, code: client.create_link_code(ppid),
    "RedeemLinkCode": lambda client, ppid, code: client.redeem_link_code(code, ppid),
    "ListLinks": lambda client, ppid, code: client.list_links(ppid),
    "Unlink": lambda client, ppid, code: client.unlink(ppid, "harbor"),
    "EraseMember": lambda client, ppid, code: client.erase_member(ppid),
}


@pytest.fixture
def clocked(settings: Settings, hub_key: SigningKey, engine: Engine) -> Iterator[ClockedCoalition]:
    with clocked_coalition(settings, hub_key, engine, real_time_clock()) as coalition:
        yield coalition


def clients(coalition: TestCoalition) -> dict[str, IdentityClient]:
    return {p: IdentityClient(coalition.connection(p)) for p in ("skyway", "harbor", "orbit")}


def link_failures(engine: Engine) -> list[tuple[object, ...]]:
    return query_rows(
        engine, "SELECT partner_id, failed_at_us FROM link_failures ORDER BY failure_id"
    )


def unknown_code() -> str:
    return display_link_code(new_link_code())


def now_us() -> int:
    return time.time_ns() // 1000


def refused_link_code(
    engine: Engine,
    call: Callable[[], object],
    partner_id: str,
    hub_now_us: Callable[[], int] = now_us,
) -> HubError:
    """A failed redemption: nothing written but the nonce and exactly one failure for the caller,
    stamped with the hub's time of the call."""
    before, start_us = link_failures(engine), hub_now_us()
    error = refused(engine, call, also_changes=LINK_FAILURES)
    after, end_us = link_failures(engine), hub_now_us()
    assert after[: len(before)] == before
    [(failed_partner, failed_at_us)] = after[len(before) :]
    assert failed_partner == partner_id
    assert start_us <= cast(int, failed_at_us) <= end_us
    return error


# Link codes


def test_a_wrong_link_code_is_not_found_and_counts_as_a_failure(
    coalition: TestCoalition,
) -> None:
    harbor = clients(coalition)["harbor"]
    ppid = harbor.enroll_member()

    error = refused_link_code(
        coalition.hub.engine, lambda: harbor.redeem_link_code(unknown_code(), ppid), "harbor"
    )

    assert (error.code, error.reason) == (grpc.StatusCode.NOT_FOUND, "LINK_CODE_NOT_FOUND")


def test_a_used_link_code_is_refused_the_second_time(coalition: TestCoalition) -> None:
    each = clients(coalition)
    code = each["skyway"].create_link_code(each["skyway"].enroll_member()).link_code
    assert each["harbor"].redeem_link_code(code, each["harbor"].enroll_member()) == [
        "harbor",
        "skyway",
    ]
    orbit_ppid = each["orbit"].enroll_member()

    error = refused_link_code(
        coalition.hub.engine, lambda: each["orbit"].redeem_link_code(code, orbit_ppid), "orbit"
    )

    assert (error.code, error.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "LINK_CODE_USED")


def test_a_code_issued_before_an_erasure_is_not_found_after_it(coalition: TestCoalition) -> None:
    each = clients(coalition)
    skyway_ppid = each["skyway"].enroll_member()
    code = each["skyway"].create_link_code(skyway_ppid).link_code
    assert each["skyway"].erase_member(skyway_ppid) == 1
    orbit_ppid = each["orbit"].enroll_member()

    error = refused_link_code(
        coalition.hub.engine, lambda: each["orbit"].redeem_link_code(code, orbit_ppid), "orbit"
    )

    assert (error.code, error.reason) == (grpc.StatusCode.NOT_FOUND, "LINK_CODE_NOT_FOUND")


def test_a_malformed_link_code_is_invalid_names_the_field_and_is_not_a_failure(
    coalition: TestCoalition,
) -> None:
    harbor = clients(coalition)["harbor"]
    ppid = harbor.enroll_member()

    for text in MALFORMED_LINK_CODES:
        error = refused(coalition.hub.engine, lambda t=text: harbor.redeem_link_code(t, ppid))
        assert (error.code, error.reason) == (
            grpc.StatusCode.INVALID_ARGUMENT,
            "INVALID_ARGUMENT",
        ), text
        assert list(error.field_violations) == ["link_code"], text


def test_a_code_is_accepted_in_any_case_and_without_its_dash(coalition: TestCoalition) -> None:
    each = clients(coalition)
    code = each["skyway"].create_link_code(each["skyway"].enroll_member()).link_code

    typed = code.replace("-", "").lower()
    linked = each["orbit"].redeem_link_code(typed, each["orbit"].enroll_member())

    assert linked == ["orbit", "skyway"]


def test_link_refusals_that_are_not_code_failures_leave_the_code_usable(
    coalition: TestCoalition,
) -> None:
    each = clients(coalition)
    sky = each["skyway"].enroll_member()
    each["harbor"].redeem_link_code(
        each["skyway"].create_link_code(sky).link_code, each["harbor"].enroll_member()
    )
    orbit_linked = each["orbit"].enroll_member()
    each["orbit"].redeem_link_code(
        each["harbor"].create_link_code(each["harbor"].enroll_member()).link_code, orbit_linked
    )
    code = each["skyway"].create_link_code(sky).link_code
    other_sky, other_hbr = each["skyway"].enroll_member(), each["harbor"].enroll_member()
    cases: dict[str, Callable[[], object]] = {
        "LINK_TO_SAME_PARTNER": lambda: each["skyway"].redeem_link_code(code, other_sky),
        "PARTNER_ALREADY_LINKED": lambda: each["harbor"].redeem_link_code(code, other_hbr),
        "ALREADY_LINKED": lambda: each["orbit"].redeem_link_code(code, orbit_linked),
    }

    for reason, call in cases.items():
        error = refused(coalition.hub.engine, call)
        assert (error.code, error.reason) == (grpc.StatusCode.FAILED_PRECONDITION, reason)

    # None of those refusals spent the code or counted as a failure: orbit can still use it.
    assert link_failures(coalition.hub.engine) == []
    assert each["orbit"].redeem_link_code(code, each["orbit"].enroll_member()) == [
        "harbor",
        "orbit",
        "skyway",
    ]


def test_an_expired_link_code_is_refused_and_counts_as_a_failure(
    clocked: ClockedCoalition,
) -> None:
    each = clients(clocked)
    sky = each["skyway"].enroll_member()
    in_time = each["skyway"].create_link_code(sky)
    late = each["skyway"].create_link_code(sky).link_code
    issued_us = clocked.clock.now_us()
    assert in_time.expire_time.ToMicroseconds() == issued_us + limits.LINK_CODE_TTL_S * 1_000_000

    clocked.clock.advance_s(limits.LINK_CODE_TTL_S - 1)
    assert each["harbor"].redeem_link_code(in_time.link_code, each["harbor"].enroll_member())
    clocked.clock.advance_s(1)
    orbit_ppid = each["orbit"].enroll_member()
    error = refused_link_code(
        clocked.hub.engine,
        lambda: each["orbit"].redeem_link_code(late, orbit_ppid),
        "orbit",
        clocked.clock.now_us,
    )

    assert (error.code, error.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "LINK_CODE_EXPIRED")


def test_repeated_failures_throttle_even_the_right_code_until_the_window_passes(
    clocked: ClockedCoalition,
) -> None:
    each = clients(clocked)
    engine = clocked.hub.engine
    code = each["skyway"].create_link_code(each["skyway"].enroll_member()).link_code
    harbor_ppid = each["harbor"].enroll_member()
    for _ in range(limits.LINK_CODE_FAILURES_MAX):
        with pytest.raises(HubError) as caught:
            each["harbor"].redeem_link_code(unknown_code(), harbor_ppid)
        assert caught.value.reason == "LINK_CODE_NOT_FOUND"

    throttled = refused(
        engine, lambda: each["harbor"].redeem_link_code(code, harbor_ppid), LINK_FAILURES
    )

    assert (throttled.code, throttled.reason) == (
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        "LINK_CODE_THROTTLED",
    )
    # The throttle is per partner: orbit still gets the ordinary answer.
    orbit_ppid = each["orbit"].enroll_member()
    other = refused(
        engine, lambda: each["orbit"].redeem_link_code(unknown_code(), orbit_ppid), LINK_FAILURES
    )
    assert other.reason == "LINK_CODE_NOT_FOUND"
    clocked.clock.advance_s(limits.LINK_CODE_FAILURE_WINDOW_S - 1)
    still = refused(
        engine, lambda: each["harbor"].redeem_link_code(code, harbor_ppid), LINK_FAILURES
    )
    assert still.reason == "LINK_CODE_THROTTLED"
    clocked.clock.advance_s(2)
    assert each["harbor"].redeem_link_code(code, harbor_ppid) == ["harbor", "skyway"]


@pytest.mark.postgres_only
def test_a_code_redeemed_by_two_partners_at_once_links_only_one_of_them(
    coalition: TestCoalition, database_url: str
) -> None:
    each = clients(coalition)
    code = each["skyway"].create_link_code(each["skyway"].enroll_member()).link_code
    redeemers = {p: each[p].enroll_member() for p in ("harbor", "orbit")}
    race = Race(
        [lambda p=p: each[p].redeem_link_code(code, redeemers[p]) for p in ("harbor", "orbit")]
    )
    observer = create_database_engine(database_url)
    digest = link_code_digest(normalize_link_code(code))
    try:
        # Both redemptions read the live code, then queue behind the test for its row.
        with held_row_lock(observer, "link_codes", "code_sha256", digest):
            race.start()
            wait_for_lock_waiters(observer, 2)
        outcomes = race.join()
    finally:
        observer.dispose()

    refusals = [outcome for outcome in outcomes if isinstance(outcome, HubError)]
    assert len(refusals) == 1, f"a one-time code was redeemed {2 - len(refusals)} times"
    assert (refusals[0].code, refusals[0].reason) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        "LINK_CODE_USED",
    )


# ppids: another partner's looks exactly like an unknown one; a malformed one is bad input


def test_every_identity_rpc_that_takes_a_ppid_is_covered_here() -> None:
    service = identity_pb2.DESCRIPTOR.services_by_name["IdentityService"]
    taking_ppid = {m.name for m in service.methods if "ppid" in m.input_type.fields_by_name}
    assert taking_ppid == set(PPID_CALLS)


def test_another_partners_ppid_is_answered_exactly_like_an_unknown_one_in_every_rpc(
    coalition: TestCoalition,
) -> None:
    each = clients(coalition)
    skyway_ppid = each["skyway"].enroll_member()
    linked_harbor_ppid = each["harbor"].enroll_member()  # the same person, at harbor
    each["harbor"].redeem_link_code(
        each["skyway"].create_link_code(skyway_ppid).link_code, linked_harbor_ppid
    )
    stranger_harbor_ppid = each["harbor"].enroll_member()
    orbit_code = each["orbit"].create_link_code(each["orbit"].enroll_member()).link_code
    ppids = {"unknown": new_ppid(), "linked": linked_harbor_ppid, "stranger": stranger_harbor_ppid}

    for rpc, call in PPID_CALLS.items():
        shapes = {
            name: error_shape(
                refused(
                    coalition.hub.engine, lambda c=call, p=ppid: c(each["skyway"], p, orbit_code)
                )
            )
            for name, ppid in ppids.items()
        }
        assert shapes["linked"] == shapes["unknown"], rpc
        assert shapes["stranger"] == shapes["unknown"], rpc
        assert shapes["unknown"][:2] == (grpc.StatusCode.NOT_FOUND, "MEMBER_NOT_FOUND"), rpc

    # The caller's own ppid still works, so the refusals above were about ownership.
    assert each["skyway"].list_links(skyway_ppid) == ["harbor"]


def test_a_malformed_ppid_is_invalid_and_names_the_field_in_every_rpc(
    coalition: TestCoalition,
) -> None:
    each = clients(coalition)
    orbit_code = each["orbit"].create_link_code(each["orbit"].enroll_member()).link_code

    for rpc, call in PPID_CALLS.items():
        for ppid in MALFORMED_PPIDS:
            error = refused(
                coalition.hub.engine, lambda c=call, p=ppid: c(each["skyway"], p, orbit_code)
            )
            assert (error.code, error.reason) == (
                grpc.StatusCode.INVALID_ARGUMENT,
                "INVALID_ARGUMENT",
            ), (rpc, ppid)
            assert list(error.field_violations) == ["ppid"], (rpc, ppid)


def test_unlink_of_a_partner_the_member_is_not_linked_at_is_not_linked(
    coalition: TestCoalition,
) -> None:
    each = clients(coalition)
    skyway_ppid = each["skyway"].enroll_member()

    error = refused(coalition.hub.engine, lambda: each["skyway"].unlink(skyway_ppid, "orbit"))

    assert (error.code, error.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "NOT_LINKED")


# Idempotency


def test_enroll_member_retried_with_its_idempotency_key_returns_the_same_ppid(
    coalition: TestCoalition,
) -> None:
    skyway = clients(coalition)["skyway"]
    engine = coalition.hub.engine
    key = "6f1c3d2e-0b7a-4c55-9f3e-2a1b0c9d8e7f"
    ppid = skyway.enroll_member(idempotency_key=key)
    before = table_snapshot(engine, exclude=REPLAY_BOOKKEEPING)

    retried = skyway.enroll_member(idempotency_key=key)

    assert retried == ppid
    assert table_snapshot(engine, exclude=REPLAY_BOOKKEEPING) == before
    assert skyway.enroll_member() != ppid  # a new key is a new member
