"""Every tier call taking a ppid: a foreign ppid is like an unknown one, a malformed one invalid."""

from __future__ import annotations

import grpc

from coalition.v1 import tier_pb2
from exchange.domain.members import new_ppid
from partners.programs.program import LoyaltyProgram
from tests.integration.tier_refusals.support import (
    MALFORMED_PPIDS,
    PPID_CALLS,
    TIER_EXPIRES,
    assert_refusal,
    linked_member,
)
from tests.support.coalition import TestCoalition
from tests.support.programs import error_shape, ppid_of, refused


def test_every_tier_rpc_that_takes_a_ppid_is_covered_here() -> None:
    service = tier_pb2.DESCRIPTOR.services_by_name["TierService"]
    taking_ppid = {m.name for m in service.methods if "ppid" in m.input_type.fields_by_name}
    assert taking_ppid == set(PPID_CALLS)


def test_another_partners_ppid_is_answered_exactly_like_an_unknown_one_in_every_rpc(
    coalition: TestCoalition, programs: dict[str, LoyaltyProgram]
) -> None:
    linked_member(programs, "100", "GOLD")
    programs["harbor"].report_tier("HBR-100", "GOLD", TIER_EXPIRES)
    ppids = {
        "unknown": new_ppid(),
        "linked": ppid_of(programs["harbor"], "HBR-100"),  # the same person, at harbor
        "stranger": programs["harbor"].enrol("HBR-101"),
    }
    skyway = programs["skyway"].tiers

    for rpc, call in PPID_CALLS.items():
        shapes = {
            name: error_shape(refused(coalition.hub.engine, lambda c=call, p=ppid: c(skyway, p)))
            for name, ppid in ppids.items()
        }
        assert shapes["linked"] == shapes["unknown"], rpc
        assert shapes["stranger"] == shapes["unknown"], rpc
        assert shapes["unknown"][:2] == (grpc.StatusCode.NOT_FOUND, "MEMBER_NOT_FOUND"), rpc

    # The caller's own ppid still works, so the refusals above were about ownership.
    for call in PPID_CALLS.values():
        call(skyway, ppid_of(programs["skyway"], "SKY-100"))


def test_a_malformed_ppid_is_invalid_and_names_the_field_in_every_rpc(
    coalition: TestCoalition, programs: dict[str, LoyaltyProgram]
) -> None:
    skyway = programs["skyway"].tiers

    for rpc, call in PPID_CALLS.items():
        for ppid in MALFORMED_PPIDS:
            error = refused(coalition.hub.engine, lambda c=call, p=ppid: c(skyway, p))
            assert_refusal(error, grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT")
            assert list(error.field_violations) == ["ppid"], (rpc, ppid)
