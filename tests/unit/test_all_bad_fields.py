"""A request with N bad fields is refused once, naming all N: on every request message.

Driven as the request pipeline parses (field limits and request-only rules, see
tests/unit/test_field_limits.py), then, for the handlers' own checks, on the in-memory fakes.
"""

from __future__ import annotations

import pytest
from google.protobuf.descriptor import Descriptor
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass

from coalition.v1 import exchange_pb2, tier_pb2
from exchange.adapters.memory import FixedClock, InMemoryUnitOfWorkFactory
from exchange.api import message_checks
from exchange.api.field_limits import Binary, Text
from exchange.domain.errors import InvalidArgument
from exchange.services import transfers
from exchange.services.transfer_engine import TransferRequest
from tests.unit.test_field_limits import (
    CASES,
    Case,
    build_valid,
    container_of,
    parse_like_the_pipeline,
    rpc_inputs,
)


def refused_fields(request: Message) -> list[str]:
    with pytest.raises(InvalidArgument) as refusal:
        parse_like_the_pipeline(type(request), request.SerializeToString())
    return [violation.field for violation in refusal.value.field_violations]


def bad_value(limit: Text | Binary) -> str | bytes:
    if isinstance(limit, Text):
        return "\u00e9" * (limit.chars_max + 1)
    return b"\x00" * (limit.bytes_max + 1)


def every_field_bad(request_type: Descriptor) -> tuple[Message, list[str]]:
    """The valid request with every scalar limited field (nested ones too) made too long."""
    message = build_valid(request_type)
    paths: list[str] = []
    for case in CASES:
        if case.request is not request_type or not isinstance(case.limit, Text | Binary):
            continue
        holder, name, index = container_of(message, case)
        if index is None:
            setattr(holder, name, bad_value(case.limit))
        else:
            getattr(holder, name)[index] = bad_value(case.limit)
        paths.append(case.path)
    return message, paths


@pytest.mark.parametrize("request_type", rpc_inputs(), ids=lambda d: d.name)
def test_every_bad_field_of_a_request_is_named_in_one_refusal(request_type: Descriptor) -> None:
    request, paths = every_field_bad(request_type)

    if not paths:
        assert message_checks.field_violations(request) == ()
    else:
        assert refused_fields(request) == paths


def test_create_quote_names_its_bad_member_destination_and_points_together() -> None:
    request = exchange_pb2.CreateQuoteRequest(
        ppid="SKY-1234", destination_partner_id="Not A Partner", source_points=0
    )

    assert refused_fields(request) == ["ppid", "destination_partner_id", "source_points"]


def test_propose_rate_agreement_names_every_bad_part_of_its_terms() -> None:
    terms = exchange_pb2.RateTerms(
        source_units=0,
        destination_units=750,
        minimum_source_points=1000,
        increment_source_points=0,
        maximum_source_points=10**13,
        member_daily_cap_source_points=1_000_000,
        settlement_currency_code="usd",
        price_per_destination_point="0,004",
    )
    request = exchange_pb2.ProposeRateAgreementRequest(
        source_partner_id="", destination_partner_id="orbit", terms=terms
    )

    assert sorted(refused_fields(request)) == sorted(
        [
            "source_partner_id",
            "terms.settlement_currency_code",
            "terms.price_per_destination_point",
            "terms.effective_from",
            "terms.source_units",
            "terms.increment_source_points",
            "terms.maximum_source_points",
        ]
    )


def test_publish_tier_ladder_names_every_bad_tier_field() -> None:
    request = tier_pb2.PublishTierLadderRequest(
        tiers=[
            tier_pb2.Tier(code="gold", display_name="Gold", rank=1, canonical_level=9),
            tier_pb2.Tier(code="SILVER", display_name="", rank=2, canonical_level=2),
        ]
    )

    assert sorted(refused_fields(request)) == sorted(
        [
            "tiers[0].code",
            "tiers[0].canonical_level",
            "tiers[1].display_name",
            "tiers.canonical_level",
        ]
    )


def test_the_quote_handler_alone_names_every_bad_field_too() -> None:
    uow_factory = InMemoryUnitOfWorkFactory()
    request = TransferRequest(
        caller="skyway", ppid="SKY-1234", destination_partner_id="Not A Partner", source_points=-5
    )

    with uow_factory() as uow, pytest.raises(InvalidArgument) as refusal:
        transfers.create_quote(
            uow,
            FixedClock(),
            transfers.TransferSettings(fee_basis_points=25, timeout_s=900),
            lambda quote: (b"", b""),
            request,
        )

    fields = [violation.field for violation in refusal.value.field_violations]
    assert fields == ["ppid", "destination_partner_id", "source_points"]


def test_every_case_names_a_distinct_field() -> None:
    for request_type in rpc_inputs():
        _, paths = every_field_bad(request_type)
        assert len(paths) == len(set(paths)), request_type.name
    assert all(isinstance(case, Case) for case in CASES)
    assert GetMessageClass(rpc_inputs()[0]) is not None
