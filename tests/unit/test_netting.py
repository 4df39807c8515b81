"""Multilateral netting of one business day and currency (DESIGN §3.7, §7 inv. 6).

Nets sum to zero, pay-ins equal pay-outs, a reversal nets the opposite way, fees go to the
hub participant, and the result does not depend on the order the records stream in.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from settlement.model import HUB_PARTICIPANT, Direction, NetPosition, TransferRecord
from settlement.netting import Netting, NettingResult

DAY = "2026-11-23"
USD = "USD"
PARTNERS = ("skyway", "harbor", "orbit", "meridian")
KINDS = ("transfer", "reversal", "adjustment")


def record(
    transfer_id: str,
    source: str,
    destination: str,
    amount_minor: int,
    fee_minor: int = 0,
    kind: str = "transfer",
    currency: str = USD,
    business_day: str = DAY,
) -> TransferRecord:
    return TransferRecord(
        transfer_id, kind, source, destination, 1_000, 750, currency,
        amount_minor, fee_minor, business_day, 1_795_444_215_000_000,
    )  # fmt: skip


def net(records: Iterable[TransferRecord], currency: str = USD) -> NettingResult:
    netting = Netting(DAY, currency)
    for each in records:
        netting.add(each)
    return netting.result()


def nets(result: NettingResult) -> dict[str, int]:
    return {p.participant: p.net_minor for p in result.positions}


def total(result: NettingResult, direction: Direction) -> int:
    return sum(i.amount_minor for i in result.instructions if i.direction is direction)


# Examples


def test_one_transfer_nets_the_payer_down_the_payee_up_and_the_fee_to_the_hub() -> None:
    result = net([record("tr_1", "skyway", "harbor", 1_200, 3)])

    assert result.gross == {("skyway", "harbor"): 1_200, ("skyway", HUB_PARTICIPANT): 3}
    assert result.positions == [
        NetPosition("harbor", USD, 1_200, 0, 1_200),
        NetPosition(HUB_PARTICIPANT, USD, 3, 0, 3),
        NetPosition("skyway", USD, 0, 1_203, -1_203),
    ]
    assert [(i.participant, i.direction, i.amount_minor) for i in result.instructions] == [
        ("harbor", Direction.PAY_OUT, 1_200),
        (HUB_PARTICIPANT, Direction.PAY_OUT, 3),
        ("skyway", Direction.PAY_IN, 1_203),
    ]
    assert result.record_count == 1


def test_a_reversal_nets_the_opposite_way_and_the_hub_keeps_the_original_fee() -> None:
    transfer = record("tr_1", "skyway", "harbor", 1_200, 3)
    reversal = record("tr_2", "skyway", "harbor", 1_200, 0, kind="reversal")

    assert nets(net([reversal])) == {"harbor": -1_200, "skyway": 1_200}
    both = net([transfer, reversal])
    assert nets(both) == {"harbor": 0, HUB_PARTICIPANT: 3, "skyway": -3}
    assert both.gross[("harbor", "skyway")] == 1_200
    assert [(i.participant, i.direction, i.amount_minor) for i in both.instructions] == [
        (HUB_PARTICIPANT, Direction.PAY_OUT, 3),
        ("skyway", Direction.PAY_IN, 3),
    ]


def test_an_adjustment_is_owed_by_its_source_to_its_destination() -> None:
    adjustment = record("adj_1", "skyway", "harbor", 100, kind="adjustment")
    assert nets(net([adjustment])) == {"harbor": 100, "skyway": -100}


def test_obligations_around_a_cycle_cancel_and_only_the_fees_move() -> None:
    result = net(
        [
            record("tr_1", "skyway", "harbor", 500, 1),
            record("tr_2", "harbor", "orbit", 500, 1),
            record("tr_3", "orbit", "skyway", 500, 1),
        ]
    )
    assert nets(result) == {"harbor": -1, HUB_PARTICIPANT: 3, "orbit": -1, "skyway": -1}
    assert total(result, Direction.PAY_IN) == total(result, Direction.PAY_OUT) == 3


def test_a_zero_net_participant_gets_no_instruction_and_references_are_deterministic() -> None:
    result = net([record("tr_1", "skyway", "harbor", 700), record("tr_2", "harbor", "skyway", 700)])
    assert nets(result) == {"harbor": 0, "skyway": 0}
    assert result.instructions == []

    result = net([record("tr_1", "skyway", "harbor", 700, 2)])
    assert [i.clearing_reference for i in result.instructions] == [
        "CX-20261123-USD-harbor-OUT",
        "CX-20261123-USD-hub-OUT",
        "CX-20261123-USD-skyway-IN",
    ]


def test_an_empty_day_nets_to_nothing() -> None:
    result = net([])
    assert (result.positions, result.instructions, result.gross, result.record_count) == (
        [],
        [],
        {},
        0,
    )


@pytest.mark.parametrize(
    "wrong",
    [
        record("tr_1", "skyway", "harbor", 100, currency="EUR"),
        record("tr_1", "skyway", "harbor", 100, business_day="2026-11-24"),
        record("tr_1", "skyway", "harbor", -100),
        record("tr_1", "skyway", "harbor", 100, -1),
    ],
)
def test_a_record_of_another_currency_day_or_a_negative_amount_is_a_bug(
    wrong: TransferRecord,
) -> None:
    with pytest.raises(AssertionError):
        Netting(DAY, USD).add(wrong)


# Properties


records = st.lists(
    st.builds(
        record,
        st.uuids().map(lambda u: f"tr_{u.hex[:24]}"),
        st.sampled_from(PARTNERS),
        st.sampled_from(PARTNERS),
        st.integers(min_value=0, max_value=10**12),
        st.integers(min_value=0, max_value=10**9),
        st.sampled_from(KINDS),
    ).filter(lambda r: r.source_partner_id != r.destination_partner_id),
    max_size=40,
)


def independent_nets(day: list[TransferRecord]) -> dict[str, int]:
    """N[p] = Σ_q G[q][p] - Σ_q G[p][q], written from the design, not from the code."""
    gross: dict[tuple[str, str], int] = defaultdict(int)
    for each in day:
        payer, payee = (
            (each.destination_partner_id, each.source_partner_id)
            if each.kind == "reversal"
            else (each.source_partner_id, each.destination_partner_id)
        )
        gross[(payer, payee)] += each.amount_minor
        gross[(payer, HUB_PARTICIPANT)] += each.fee_minor
    found: dict[str, int] = defaultdict(int)
    for (payer, payee), amount in gross.items():
        if amount:
            found[payee] += amount
            found[payer] -= amount
    return dict(found)


@given(records)
def test_nets_sum_to_zero_and_pay_ins_equal_pay_outs(day: list[TransferRecord]) -> None:
    result = net(day)

    assert sum(p.net_minor for p in result.positions) == 0
    assert total(result, Direction.PAY_IN) == total(result, Direction.PAY_OUT)
    assert nets(result) == independent_nets(day)
    for position in result.positions:
        assert position.net_minor == position.receivable_minor - position.payable_minor
    by_participant = {i.participant: i for i in result.instructions}
    assert len(by_participant) == len(result.instructions)  # at most one each
    for position in result.positions:
        instruction = by_participant.get(position.participant)
        if position.net_minor == 0:
            assert instruction is None
            continue
        assert instruction is not None
        assert instruction.amount_minor == abs(position.net_minor)
        expected = Direction.PAY_OUT if position.net_minor > 0 else Direction.PAY_IN
        assert instruction.direction is expected
    assert result.record_count == len(day)


@given(records)
def test_fees_go_to_the_hub_and_only_to_the_hub(day: list[TransferRecord]) -> None:
    result = net(day)
    fees = sum(each.fee_minor for each in day)
    hub = {p.participant: p for p in result.positions}.get(HUB_PARTICIPANT)

    assert (hub.receivable_minor if hub else 0) == fees
    assert (hub.payable_minor if hub else 0) == 0
    # Without fees the partners' nets alone sum to zero: the fees are the hub's, nothing else.
    partners = sum(p.net_minor for p in result.positions if p.participant != HUB_PARTICIPANT)
    assert partners == -fees


@given(records, st.randoms(use_true_random=False))
def test_the_order_records_arrive_in_changes_nothing(
    day: list[TransferRecord], rng: random.Random
) -> None:
    shuffled = list(day)
    rng.shuffle(shuffled)
    assert net(shuffled) == net(day)
    assert net(reversed(day)) == net(day)


@given(records)
def test_a_reversal_of_every_record_leaves_only_the_fees(day: list[TransferRecord]) -> None:
    transfers = [
        record(f"{r.transfer_id}a", r.source_partner_id, r.destination_partner_id,
               r.amount_minor, r.fee_minor)
        for r in day
    ]  # fmt: skip
    reversals = [
        record(f"{r.transfer_id}b", r.source_partner_id, r.destination_partner_id,
               r.amount_minor, 0, kind="reversal")
        for r in day
    ]  # fmt: skip
    result = net(transfers + reversals)

    fees_by_source: dict[str, int] = defaultdict(int)
    for r in day:
        fees_by_source[r.source_partner_id] += r.fee_minor
    for participant, amount in nets(result).items():
        if participant == HUB_PARTICIPANT:
            assert amount == sum(fees_by_source.values())
        else:
            assert amount == -fees_by_source.get(participant, 0)
