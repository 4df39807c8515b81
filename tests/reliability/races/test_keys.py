"""One idempotency key carrying two different requests at once, and one batch entry's key in two
calls at once: each starts one transfer."""

from __future__ import annotations

import functools
import random
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Engine

from coalition.v1 import exchange_pb2 as xpb
from partners.sdk import BatchTransfer, HubError
from partners.sdk.exchange_client import ExchangeClient
from tests.reliability.races.support import (
    IN_PROGRESS,
    KEY_REUSED,
    POINTS,
    RacingCoalition,
    assert_no_internal,
    item_label,
    jittered,
    require_batch_rpcs,
)
from tests.support.transfer_setup import (
    CREATE_TRANSFER,
    Outcome,
    all_at_once,
    create_transfer,
    linked_member,
    quote_id,
    sdk_outcome,
    transfer_count,
)

# --- 1. one idempotency key, two different requests ----------------------------------------------

KEY_ROUNDS = 20
KEY_TWINS = 4  # callers sending the very same request
KEY_RIVALS = 2  # callers sending another request under the same key


def the_one_answer(
    engine: Engine,
    round_index: int,
    quotes: dict[str, str],
    callers: list[str],
    outcomes: list[Outcome],
) -> tuple[bytes, str]:
    """The one stored response every OK caller got, and the request that won with it; the
    others were refused as a reused key or told to wait."""
    answers = {o.response for o in outcomes if o.ok}
    assert len(answers) == 1, "every OK answer is the one stored response"
    answer = answers.pop()
    assert answer is not None
    started = xpb.CreateTransferResponse.FromString(answer).transfer
    won = next(name for name, quote in quotes.items() if quote == started.quote_id)
    for caller, outcome in zip(callers, outcomes, strict=True):
        allowed = {"OK", IN_PROGRESS} if caller == won else {KEY_REUSED, IN_PROGRESS}
        assert outcome.label in allowed, (round_index, caller, won, outcome.label)
    if engine.dialect.name == "sqlite":
        # Writers queue for SQLite's one lock: nobody finds the key in progress.
        assert IN_PROGRESS not in {o.label for o in outcomes}
    return answer, won


def test_one_key_carrying_two_different_requests_at_once_starts_one_transfer(
    racing: RacingCoalition, reliability_tally: Any
) -> None:
    """Per round, two quotes and one key: four callers send quote A, two send quote B, all
    under that key. One request wins; every OK answer is its stored bytes; the other request
    is refused as a reused key (or told to wait) and its quote stays unused."""
    skyway = racing.connection("skyway")
    engine = racing.hub.engine
    source_ppid, _ = linked_member(skyway, racing.connection("harbor"))
    winners: Counter[str] = Counter()
    for round_index in range(KEY_ROUNDS):
        rng = random.Random(round_index)
        quotes = {name: quote_id(skyway, source_ppid, "harbor", POINTS) for name in "AB"}
        key = str(uuid.uuid4())

        def send(quote: str, key: str = key) -> Outcome:
            request = xpb.CreateTransferRequest(quote_id=quote)
            return sdk_outcome(skyway, CREATE_TRANSFER, request, xpb.CreateTransferResponse, key)

        callers = ["A"] * KEY_TWINS + ["B"] * KEY_RIVALS
        rng.shuffle(callers)
        before = transfer_count(engine)
        outcomes = all_at_once([jittered(rng, functools.partial(send, quotes[c])) for c in callers])
        assert_no_internal(outcomes)

        answer, won = the_one_answer(engine, round_index, quotes, callers, outcomes)
        lost = "B" if won == "A" else "A"
        # Those told to wait retry the same request: the winner's bytes, or "reused".
        for caller in set(callers):
            retried = send(quotes[caller])
            if caller == won:
                assert (retried.label, retried.response) == ("OK", answer)
            else:
                assert retried.label == KEY_REUSED
        assert transfer_count(engine) == before + 1, "one key, one transfer"
        # The losing request wrote nothing: its quote still starts a transfer of its own.
        create_transfer(skyway, quotes[lost])
        winners[won] += 1
        reliability_tally.add("race rounds resolved exactly once")
    print(f"\n[{engine.dialect.name}] one key, two requests: winners {dict(winners)}")
    assert transfer_count(engine) == 2 * KEY_ROUNDS
    reliability_tally.add("duplicate requests collapsed into one transfer", KEY_ROUNDS)


# --- 3. one batch entry's key, sent twice at once ------------------------------------------------

ENTRY_ROUNDS = 15


def send_alone(client: ExchangeClient, entry: BatchTransfer) -> xpb.Transfer | HubError:
    """The entry as a lone CreateTransfer under its own key; a refusal is returned."""
    try:
        return client.create_transfer(
            idempotency_key=entry.idempotency_key,
            ppid=entry.ppid,
            destination_partner_id=entry.destination_partner_id,
            source_points=entry.source_points,
        )
    except HubError as error:
        return error


def shared_entry_answers(
    calls: tuple[Any, Any], shared: BatchTransfer, own: list[BatchTransfer]
) -> tuple[list[str], int]:
    """The transfer id each call got for the shared entry, and how many calls were told to
    wait; each call's own entries started transfers."""
    seen: list[str] = []  # the transfer id each call got for the shared entry
    busy = 0
    for results in calls:
        if isinstance(results, HubError):
            assert f"{results.code.name} {results.reason}" == IN_PROGRESS, results
            busy += 1
            continue
        if isinstance(results, xpb.Transfer):
            seen.append(results.transfer_id)
            continue
        by_key = {result.idempotency_key: result for result in results}
        for entry in (e for e in own if e.idempotency_key in by_key):
            assert by_key[entry.idempotency_key].WhichOneof("outcome") == "transfer"
        result = by_key[shared.idempotency_key]
        if result.WhichOneof("outcome") == "transfer":
            seen.append(result.transfer.transfer_id)
        else:
            assert item_label(result.error) == IN_PROGRESS, result.error
            busy += 1
    return seen, busy


@pytest.mark.parametrize("rival", ["batch", "alone"])
def test_one_entry_key_in_two_calls_at_once_starts_one_transfer(
    racing: RacingCoalition, rival: str, reliability_tally: Any
) -> None:
    """Per round, one entry (inline terms, so no quote guards it: only its key) is sent in two
    different batches at once, or in a batch and alone with CreateTransfer under its key.
    It starts one transfer, and every call that got an answer for it got that transfer."""
    skyway = racing.connection("skyway")
    require_batch_rpcs(skyway)
    client = ExchangeClient(skyway)
    engine = racing.hub.engine
    source_ppid, _ = linked_member(skyway, racing.connection("harbor"))
    for round_index in range(ENTRY_ROUNDS):
        rng = random.Random(round_index)
        shared = BatchTransfer(str(uuid.uuid4()), source_ppid, "harbor", POINTS)
        own = [BatchTransfer(str(uuid.uuid4()), source_ppid, "harbor", POINTS) for _ in "12"]

        calls: list[Callable[[], Any]]
        calls = [functools.partial(client.create_transfer_batch, [shared, own[0]])]
        if rival == "batch":
            calls.append(functools.partial(client.create_transfer_batch, [own[1], shared]))
        else:
            calls.append(functools.partial(send_alone, client, shared))
        before = transfer_count(engine)
        first, second = all_at_once([jittered(rng, call) for call in calls])

        seen, busy = shared_entry_answers((first, second), shared, own)
        assert len(seen) >= 1 and len(set(seen)) == 1, (round_index, seen, busy)
        own_sent = 2 if rival == "batch" else 1
        assert transfer_count(engine) == before + 1 + own_sent, "the shared entry started once"
        # A retry of the entry, alone and under its key, gets that same transfer.
        again = send_alone(client, shared)
        assert isinstance(again, xpb.Transfer) and again.transfer_id == seen[0]
        reliability_tally.add("race rounds resolved exactly once")
    reliability_tally.add("duplicate requests collapsed into one transfer", ENTRY_ROUNDS)
