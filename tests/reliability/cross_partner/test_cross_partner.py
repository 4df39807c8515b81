"""Every RPC has a case, the world holds every probed object, and orbit reads and acts on none of
the other partners' objects. The world is built once per backend for this module."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from coalition.keys import SigningKey
from coalition.v1 import exchange_pb2 as xpb
from coalition.v1 import identity_pb2, settlement_pb2
from exchange.adapters.sql.engine import create_database_engine
from exchange.bootstrap import bootstrap
from exchange.config import Settings
from tests.reliability.cross_partner.cases import CASES
from tests.reliability.cross_partner.comparison import foreign_in
from tests.reliability.cross_partner.world import (
    BACKENDS,
    COUNTERPARTY,
    EXCHANGE,
    IDENTITY,
    METHODS,
    OUTSIDER,
    OWNER,
    REQUEST_BOOKKEEPING,
    SETTLEMENT,
    World,
    build_world,
    call,
    empty_database,
    noon_today,
)
from tests.support import databases
from tests.support.coalition import AUDIENCE, TestCoalition, seed_partners
from tests.support.databases import table_snapshot
from tests.support.programs import clocked_coalition, query_rows, refused

if TYPE_CHECKING:
    from tests.reliability.conftest import ReliabilityTally


@pytest.fixture(scope="module", params=BACKENDS)
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    url = empty_database(request, tmp_path_factory.mktemp("cross-partner"))
    settings = Settings.load(
        environ={}, database_url=url, listen_address="127.0.0.1:0", audience=AUDIENCE
    )
    engine = create_database_engine(url)
    with clocked_coalition(settings, SigningKey.generate(), engine, noon_today()) as coalition:
        yield build_world(coalition)


# --- the tests -----------------------------------------------------------------------------------


def test_every_rpc_of_every_service_has_a_case() -> None:
    served = {path.removeprefix("/coalition.v1.") for path in METHODS}
    assert served == set(CASES), (
        f"RPCs without a cross-partner case: {sorted(served - set(CASES))}; "
        f"cases for no RPC: {sorted(set(CASES) - served)}"
    )


def test_the_world_holds_every_object_the_cases_probe(world: World) -> None:
    """The probes are only as good as their targets: each exists, and its owner can use it."""
    owner = world.connection(OWNER)
    transfers = {
        name: call(
            owner, EXCHANGE + "GetTransfer", xpb.GetTransferRequest(transfer_id=world.ids[name])
        )
        for name in ("completed transfer", "pending transfer")
    }
    assert transfers["completed transfer"].transfer.state == xpb.TRANSFER_STATE_COMPLETED  # type: ignore[attr-defined]
    assert transfers["pending transfer"].transfer.state == xpb.TRANSFER_STATE_PENDING  # type: ignore[attr-defined]
    links = call(
        owner, IDENTITY + "ListLinks", identity_pb2.ListLinksRequest(ppid=world.ids["owner ppid"])
    )
    assert list(links.partner_ids) == [COUNTERPARTY]  # type: ignore[attr-defined]
    states = query_rows(
        world.engine,
        "SELECT version, state FROM rate_agreements WHERE agreement_id = :a ORDER BY version",
        a=world.ids["rate agreement"],
    )
    assert [version for version, _ in states] == [1, 2] and states[0][1] != states[1][1]
    assert query_rows(
        world.engine,
        "SELECT count(*) FROM recognition_agreements WHERE agreement_id = :a",
        a=world.ids["recognition agreement"],
    ) == [(2,)]
    for table, column, name in (
        ("quotes", "quote_id", "unused quote"),
        ("disputes", "dispute_id", "dispute"),
        ("tier_grants", "grant_id", "grant"),
    ):
        found = query_rows(
            world.engine, f"SELECT count(*) FROM {table} WHERE {column} = :v", v=world.ids[name]
        )
        assert found == [(1,)], name
    proof = call(
        owner,
        SETTLEMENT + "GetInclusionProof",
        settlement_pb2.GetInclusionProofRequest(
            business_day=world.business_day, transfer_id=world.ids["completed transfer"]
        ),
    )
    assert proof.record  # type: ignore[attr-defined]


@pytest.mark.parametrize("rpc", sorted(CASES))
def test_the_outsider_cannot_read_or_act_on_another_partners_objects(
    world: World, rpc: str, reliability_tally: ReliabilityTally
) -> None:
    world.received.clear()

    CASES[rpc](world, reliability_tally)

    leaks = [
        leak
        for method, body in world.received
        for leak in foreign_in(world, f"a {method} response to orbit", body)
    ]
    assert leaks == []
    reliability_tally.add("cross-partner: RPCs probed", 1)
    reliability_tally.add("cross-partner: responses scanned", len(world.received))


def test_a_confirmation_batch_of_nothing_but_refusals_writes_nothing(
    sqlite_template: Path, tmp_path: Path
) -> None:
    """§7 inv. 9, and the batch's own promise: a refused item leaves nothing behind.

    On a database of its own (the defect is in the handler, not the backend), so the module's
    world on the run's shared PostgreSQL database is never emptied under it.
    """
    url = databases.fresh_sqlite_copy(sqlite_template, tmp_path)
    settings = Settings.load(
        environ={}, database_url=url, listen_address="127.0.0.1:0", audience=AUDIENCE
    )
    hub = bootstrap(settings, hub_key=SigningKey.generate(), engine=create_database_engine(url))
    coalition = TestCoalition(hub, seed_partners(hub))
    hub.start()
    try:
        confirm_nothing(coalition)
    finally:
        coalition.close()
        hub.stop(0)


def confirm_nothing(coalition: TestCoalition) -> None:
    outsider = coalition.connection(OUTSIDER)
    unknown = ["tr_" + uuid.uuid4().hex[:24] for _ in range(2)]
    single = refused(
        coalition.hub.engine,
        lambda: call(
            outsider, EXCHANGE + "ConfirmCredit", xpb.ConfirmCreditRequest(transfer_id=unknown[0])
        ),
    )
    assert single.reason == "TRANSFER_NOT_FOUND"
    before = table_snapshot(coalition.hub.engine, exclude=REQUEST_BOOKKEEPING)

    confirmed = call(
        outsider, EXCHANGE + "ConfirmCredits", xpb.ConfirmCreditsRequest(transfer_ids=unknown)
    )

    assert {r.error.reason for r in confirmed.results} == {"TRANSFER_NOT_FOUND"}  # type: ignore[attr-defined]
    assert table_snapshot(coalition.hub.engine, exclude=REQUEST_BOOKKEEPING) == before
