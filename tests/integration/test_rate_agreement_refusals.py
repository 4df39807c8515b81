"""AcceptRateAgreement over the real API: the counterparty accepts the newest proposal; the
proposer, a stale version, an outsider and an unknown agreement are refused, writing nothing;
bad input names the field. The same rule as AcceptRecognition (exchange.domain.agreements)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import grpc
import pytest

from coalition.v1 import common_pb2, exchange_pb2
from partners.programs.program import LoyaltyProgram
from partners.sdk import HubError
from tests.support.coalition import TestCoalition
from tests.support.programs import brand_programs, error_shape, refused
from tests.support.transfers import terms


@pytest.fixture
def programs(coalition: TestCoalition, tmp_path: Path) -> dict[str, LoyaltyProgram]:
    return brand_programs(coalition, tmp_path / "programs")


def propose(program: LoyaltyProgram, destination: str) -> exchange_pb2.RateAgreement:
    return program.exchange.propose_rate_agreement(
        program.partner_id, destination, terms(datetime.now(UTC))
    )


def assert_refusal(error: HubError, code: grpc.StatusCode, reason: str) -> None:
    assert (error.code, error.reason) == (code, reason)


def test_only_the_counterparty_accepts_and_only_the_newest_version(
    coalition: TestCoalition, programs: dict[str, LoyaltyProgram]
) -> None:
    skyway, harbor, orbit = (programs[p].exchange for p in ("skyway", "harbor", "orbit"))
    first = propose(programs["skyway"], "harbor")
    second = propose(programs["skyway"], "harbor")
    engine = coalition.hub.engine

    own = refused(engine, lambda: skyway.accept_rate_agreement(second.agreement_id, 2))
    stale = refused(engine, lambda: harbor.accept_rate_agreement(first.agreement_id, 1))
    outsider = refused(engine, lambda: orbit.accept_rate_agreement(second.agreement_id, 2))
    unknown = refused(engine, lambda: orbit.accept_rate_agreement("rt_0000000000000000", 2))

    assert (first.agreement_id, second.version) == (second.agreement_id, 2)
    assert_refusal(own, grpc.StatusCode.FAILED_PRECONDITION, "CANNOT_ACCEPT_OWN_PROPOSAL")
    assert_refusal(stale, grpc.StatusCode.FAILED_PRECONDITION, "AGREEMENT_VERSION_STALE")
    assert_refusal(unknown, grpc.StatusCode.NOT_FOUND, "RATE_AGREEMENT_NOT_FOUND")
    assert error_shape(outsider) == error_shape(unknown)
    accepted = harbor.accept_rate_agreement(second.agreement_id, 2)
    assert (accepted.version, accepted.state) == (2, common_pb2.AGREEMENT_STATE_ACCEPTED)
    again = refused(engine, lambda: harbor.accept_rate_agreement(second.agreement_id, 2))
    assert_refusal(again, grpc.StatusCode.FAILED_PRECONDITION, "AGREEMENT_NOT_PROPOSED")


@pytest.mark.parametrize(
    ("agreement_id", "version", "field"),
    [("", 1, "agreement_id"), ("rt_0000000000000000", 0, "version")],
)
def test_bad_input_is_refused_naming_the_field(
    coalition: TestCoalition,
    programs: dict[str, LoyaltyProgram],
    agreement_id: str,
    version: int,
    field: str,
) -> None:
    harbor = programs["harbor"].exchange
    error = refused(
        coalition.hub.engine, lambda: harbor.accept_rate_agreement(agreement_id, version)
    )
    assert error.code is grpc.StatusCode.INVALID_ARGUMENT
    assert field in error.field_violations
