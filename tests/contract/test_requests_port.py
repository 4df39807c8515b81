"""RequestLedger: replay nonces, idempotency locks and stored responses, and their purge."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from exchange.domain.ports import StoredResponse, UnitOfWork, UnitOfWorkFactory
from tests.contract.support import ALPHA, BRAVO, CONFLICT, T0, commit, contend, read

COVERS = {
    "RequestLedger.record_nonce",
    "RequestLedger.lock_idempotency_key",
    "RequestLedger.stored_response",
    "RequestLedger.store_response",
    "RequestLedger.lock_idempotency_keys",
    "RequestLedger.stored_responses",
    "RequestLedger.store_responses",
    "RequestLedger.purge",
}
T0_S = T0 // 1_000_000


def response(tag: str) -> StoredResponse:
    return StoredResponse(
        f"/coalition.v1/{tag}", tag.encode().ljust(32, b"."), b"reply " + tag.encode()
    )


def test_a_nonce_is_accepted_once_per_partner(uow_factory: UnitOfWorkFactory) -> None:
    with uow_factory() as uow:
        assert uow.requests.record_nonce(ALPHA, "n1", T0_S)
        assert not uow.requests.record_nonce(ALPHA, "n1", T0_S), "twice in one unit"
        assert uow.requests.record_nonce(BRAVO, "n1", T0_S), "another partner's nonce"
        uow.commit()
    assert not read(uow_factory, lambda uow: uow.requests.record_nonce(ALPHA, "n1", T0_S))
    assert read(uow_factory, lambda uow: uow.requests.record_nonce(ALPHA, "n2", T0_S))


def test_a_nonce_not_committed_is_not_spent(uow_factory: UnitOfWorkFactory) -> None:
    assert read(uow_factory, lambda uow: uow.requests.record_nonce(ALPHA, "n1", T0_S))
    assert read(uow_factory, lambda uow: uow.requests.record_nonce(ALPHA, "n1", T0_S))


def test_a_stored_response_round_trips_under_its_partner_and_key(
    uow_factory: UnitOfWorkFactory,
) -> None:
    stored = response("CreateTransfer")
    commit(uow_factory, lambda uow: uow.requests.store_response(ALPHA, "idem-1", stored, T0))
    assert read(uow_factory, lambda uow: uow.requests.stored_response(ALPHA, "idem-1")) == stored
    assert read(uow_factory, lambda uow: uow.requests.stored_response(ALPHA, "idem-2")) is None
    assert read(uow_factory, lambda uow: uow.requests.stored_response(BRAVO, "idem-1")) is None


def test_a_key_stores_one_response(uow_factory: UnitOfWorkFactory) -> None:
    commit(uow_factory, lambda uow: uow.requests.store_response(ALPHA, "k", response("a"), T0))
    with pytest.raises(CONFLICT), uow_factory() as uow:
        uow.requests.store_response(ALPHA, "k", response("b"), T0)


def test_stored_responses_are_the_batch_keys_found(uow_factory: UnitOfWorkFactory) -> None:
    batch = [("k1", response("one")), ("k2", response("two"))]

    def store(uow: UnitOfWork) -> None:
        uow.requests.store_responses(ALPHA, batch, T0)
        uow.requests.store_responses(ALPHA, [], T0)
        uow.requests.store_response(BRAVO, "k3", response("three"), T0)

    commit(uow_factory, store)
    found = read(uow_factory, lambda uow: uow.requests.stored_responses(ALPHA, ["k2", "k3", "k1"]))
    assert found == dict(batch), "another partner's key and unknown keys are absent"
    assert read(uow_factory, lambda uow: uow.requests.stored_responses(ALPHA, [])) == {}


def test_free_idempotency_keys_are_granted(uow_factory: UnitOfWorkFactory) -> None:
    with uow_factory() as uow:
        assert uow.requests.lock_idempotency_key(ALPHA, "k1")
        assert uow.requests.lock_idempotency_keys(ALPHA, ["k2", "k3"]) == set()
        assert uow.requests.lock_idempotency_keys(ALPHA, []) == set()


def _holding(keys: list[str]) -> Callable[[UnitOfWork], None]:
    def hold(uow: UnitOfWork) -> None:
        uow.requests.record_nonce(ALPHA, "n-holder", T0_S)  # a request's first write
        for key in keys:
            assert uow.requests.lock_idempotency_key(ALPHA, key)

    return hold


def _lock_then_look(key: str) -> Callable[[UnitOfWork], bool]:
    """What a call does: takes its key, then looks for a stored response."""

    def attempt(uow: UnitOfWork) -> bool:
        granted = uow.requests.lock_idempotency_key(ALPHA, key)
        uow.requests.stored_response(ALPHA, key)
        return granted

    return attempt


def test_a_held_key_makes_a_second_call_wait_or_be_told(uow_factory: UnitOfWorkFactory) -> None:
    """PostgreSQL answers False at once; SQLite and the fakes let one unit work at a time, so
    the second call's first statement waits for the first call to end."""
    waited, granted = contend(uow_factory, _holding(["k1"]), _lock_then_look("k1"))
    assert granted is waited
    _, other_key = contend(uow_factory, _holding(["k1"]), _lock_then_look("k2"))
    assert other_key, "another key is free"


def _lock_batch_then_look(uow: UnitOfWork) -> set[str]:
    held = uow.requests.lock_idempotency_keys(ALPHA, ["k1", "k2", "k3"])
    uow.requests.stored_responses(ALPHA, ["k1", "k2", "k3"])
    return held


def test_held_keys_of_a_batch_are_named_or_waited_for(uow_factory: UnitOfWorkFactory) -> None:
    waited, held = contend(
        uow_factory,
        _holding(["k2"]),
        _lock_batch_then_look,
    )
    assert held == (set() if waited else {"k2"})


def test_purge_removes_what_expired_and_keeps_the_rest(uow_factory: UnitOfWorkFactory) -> None:
    def store(uow: UnitOfWork) -> None:
        for nonce, created_s in (("old", T0_S - 10), ("new", T0_S)):
            uow.requests.record_nonce(ALPHA, nonce, created_s)
        uow.requests.store_response(ALPHA, "old", response("old"), T0 - 10)
        uow.requests.store_response(ALPHA, "new", response("new"), T0)

    commit(uow_factory, store)
    assert commit(uow_factory, lambda uow: uow.requests.purge(T0_S - 5, T0 - 5)) == 2
    with uow_factory() as uow:
        assert uow.requests.record_nonce(ALPHA, "old", T0_S - 10), "an expired nonce is gone"
        assert not uow.requests.record_nonce(ALPHA, "new", T0_S)
        assert uow.requests.stored_response(ALPHA, "old") is None
        assert uow.requests.stored_response(ALPHA, "new") == response("new")
    assert commit(uow_factory, lambda uow: uow.requests.purge(T0_S - 5, T0 - 5)) == 0
