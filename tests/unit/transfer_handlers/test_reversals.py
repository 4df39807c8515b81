"""Reversals, and the member's record: erasure and linking again."""

from __future__ import annotations

from exchange.domain.errors import ErrorCode
from exchange.domain.events import DebitRequested, TransferCompleted, TransferVoided
from exchange.domain.transfers import TransferKind, TransferState
from exchange.services import identity, transfers
from tests.unit.in_memory_hub import HARBOR, ORBIT, SKYWAY, TRANSFER_SETTINGS, InMemoryHub
from tests.unit.transfer_handlers.support import (
    TIMEOUT_S,
    Member,
    accounts,
    completed,
    confirm,
    pending,
    reject,
    resolution_refusals,
    reversal_refusal,
    reverse,
    transfer_events,
)

# --- reversals -----------------------------------------------------------------------------------


def test_a_reversal_asks_the_destination_to_debit_and_completes_back(
    hub: InMemoryHub, member: Member
) -> None:
    original = completed(hub, member)

    reversal = reverse(hub, SKYWAY, original.transfer_id)

    assert (reversal.kind, reversal.state) == (TransferKind.REVERSAL, TransferState.PENDING)
    assert reversal.original_transfer_id == original.transfer_id
    assert (reversal.source_points, reversal.destination_points) == (10_000, 7_500)
    assert (reversal.fee_minor, reversal.quote_id) == (0, None)
    assert transfer_events(hub, HARBOR)[-1] == DebitRequested(
        reversal.transfer_id, original.transfer_id, member.harbor, 7_500, reversal.timeout_at_us
    )
    done = confirm(hub, HARBOR, reversal.transfer_id)
    assert done.state is TransferState.COMPLETED
    assert transfer_events(hub, SKYWAY)[-1] == TransferCompleted(done)
    # Points and money are back where they were; the hub keeps its fee.
    net = {
        account: counters.debits_posted - counters.credits_posted
        for account, counters in accounts(hub).items()
    }
    assert net[f"{SKYWAY}/members/SKYWAY_MILES"] == 0
    assert net[f"{HARBOR}/members/HARBOR_POINTS"] == 0
    assert net[f"{HARBOR}/settlement/USD"] == 0
    assert net[f"{SKYWAY}/settlement/USD"] == 7
    assert net["hub/fees/USD"] == -7


def test_only_the_source_may_request_a_reversal(hub: InMemoryHub, member: Member) -> None:
    original = completed(hub, member)
    feed_before = transfer_events(hub, HARBOR)

    # The destination is a party, so it learns why; it could otherwise reverse alone.
    assert reversal_refusal(hub, original.transfer_id, HARBOR) is ErrorCode.NOT_A_PARTY

    assert hub.transfer(original.transfer_id) == original
    assert transfer_events(hub, HARBOR) == feed_before
    assert reverse(hub, SKYWAY, original.transfer_id).state is TransferState.PENDING


def test_a_partner_that_is_neither_party_gets_the_unknown_transfer_answer(
    hub: InMemoryHub, member: Member
) -> None:
    original = completed(hub, member)

    def refusal_of(transfer_id: str) -> tuple[ErrorCode, str, tuple[object, ...]]:
        error = hub.refused(
            lambda uow: transfers.create_reversal(
                uow, hub.clock, TRANSFER_SETTINGS, ORBIT, transfer_id
            )
        )
        return error.code, error.message, error.field_violations

    assert refusal_of(original.transfer_id) == refusal_of("tr_" + "0" * 24)
    assert refusal_of(original.transfer_id)[0] is ErrorCode.TRANSFER_NOT_FOUND


def test_the_destination_confirms_or_rejects_a_reversal_and_the_source_cannot(
    hub: InMemoryHub, member: Member
) -> None:
    first = reverse(hub, SKYWAY, completed(hub, member).transfer_id)

    assert resolution_refusals(hub, SKYWAY, first.transfer_id) == [ErrorCode.NOT_A_PARTY] * 2
    assert reject(hub, HARBOR, first.transfer_id, "points spent").state is TransferState.VOIDED
    second = reverse(hub, SKYWAY, first.original_transfer_id or "")
    assert resolution_refusals(hub, SKYWAY, second.transfer_id) == [ErrorCode.NOT_A_PARTY] * 2
    assert confirm(hub, HARBOR, second.transfer_id).state is TransferState.COMPLETED


def test_a_transfer_reverses_once(hub: InMemoryHub, member: Member) -> None:
    original = completed(hub, member)
    reversal = reverse(hub, SKYWAY, original.transfer_id)
    assert reversal_refusal(hub, original.transfer_id) is ErrorCode.ALREADY_REVERSED

    confirm(hub, HARBOR, reversal.transfer_id)

    assert reversal_refusal(hub, original.transfer_id) is ErrorCode.ALREADY_REVERSED


def test_a_rejected_reversal_may_be_tried_again(hub: InMemoryHub, member: Member) -> None:
    original = completed(hub, member)
    first = reverse(hub, SKYWAY, original.transfer_id)
    voided = reject(hub, HARBOR, first.transfer_id, "points spent")
    assert transfer_events(hub, SKYWAY)[-1] == TransferVoided(voided)

    second = reverse(hub, SKYWAY, original.transfer_id)

    assert second.transfer_id != first.transfer_id
    assert second.state is TransferState.PENDING


def test_only_a_completed_transfer_reverses(hub: InMemoryHub, member: Member) -> None:
    waiting = pending(hub, member)
    voided = reject(hub, HARBOR, pending(hub, member).transfer_id)
    reversal = reverse(hub, SKYWAY, completed(hub, member).transfer_id)
    done_reversal = confirm(hub, HARBOR, reversal.transfer_id)

    for transfer_id in (waiting.transfer_id, voided.transfer_id, done_reversal.transfer_id):
        assert reversal_refusal(hub, transfer_id) is ErrorCode.TRANSFER_NOT_COMPLETED


def test_an_unconfirmed_reversal_times_out(hub: InMemoryHub, member: Member) -> None:
    original = completed(hub, member)
    reversal = reverse(hub, SKYWAY, original.transfer_id)
    hub.clock.advance_s(TIMEOUT_S)

    assert hub.sweep() == 1

    voided = hub.transfer(reversal.transfer_id)
    assert voided.state is TransferState.VOIDED
    assert transfer_events(hub, SKYWAY)[-1] == TransferVoided(voided)
    assert hub.transfer(original.transfer_id) == original


# --- the member's record -------------------------------------------------------------------------


def test_erasure_scrubs_ppids_from_transfers_and_keeps_amounts(
    hub: InMemoryHub, member: Member
) -> None:
    done = completed(hub, member)
    quote = hub.quote(SKYWAY, member.skyway, HARBOR, 2_000)

    hub.commit(lambda uow: identity.erase_member(uow, hub.clock, SKYWAY, member.skyway))

    scrubbed = hub.transfer(done.transfer_id)
    assert (scrubbed.source_ppid, scrubbed.destination_ppid) == ("", "")
    assert scrubbed.destination_points == done.destination_points
    stored_quote = hub.read(lambda uow: uow.transfers.get_quote(quote.quote_id))
    assert stored_quote is not None and stored_quote.source_ppid == ""


def test_a_member_with_transfers_can_link_again_after_unlinking(
    hub: InMemoryHub, member: Member
) -> None:
    completed(hub, member)
    hub.commit(lambda uow: identity.unlink(uow, hub.clock, SKYWAY, member.skyway, HARBOR))
    orbit_ppid = hub.enroll(ORBIT)

    linked = hub.link((ORBIT, orbit_ppid), (SKYWAY, member.skyway))

    assert linked == [ORBIT, SKYWAY]
