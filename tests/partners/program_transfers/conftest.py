"""The hub key, a connection to the fake hub, a program and its feed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from coalition.keys import SigningKey
from partners.programs import brands
from partners.programs.program import LoyaltyProgram
from tests.partners.program_transfers.support import FakeExchangeHub, Feed


@pytest.fixture
def hub_key() -> SigningKey:
    return SigningKey.generate()


@pytest.fixture
def connection(hub_key: SigningKey) -> Iterator[FakeExchangeHub]:
    connection = FakeExchangeHub("skyway", hub_key)
    yield connection
    connection.close()


@pytest.fixture
def program(tmp_path: Path, connection: FakeExchangeHub, hub_key: SigningKey) -> LoyaltyProgram:
    program = brands.airline(
        tmp_path / "skyway.db", connection, {hub_key.key_id: hub_key.public_key_bytes}
    )
    program.enrol("SKY-1", points=10_000)  # ppid-1
    program.enrol("SKY-2", points=500)  # ppid-2
    return program


@pytest.fixture
def feed(connection: FakeExchangeHub, hub_key: SigningKey) -> Feed:
    return Feed(connection, hub_key)
