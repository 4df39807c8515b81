"""GetHubKeys dates the hub key: from its key file when loaded from one, stable across calls."""

from __future__ import annotations

import os
from pathlib import Path

from coalition.keys import PRIVATE_KEY_FILE, SigningKey, write_key_pair
from coalition.v1 import partner_pb2
from exchange.adapters.memory import FixedClock, InMemoryUnitOfWorkFactory
from exchange.api.partner_servicer import PartnerServicer, key_file_created_at_us
from exchange.api.pipeline import CallContext

KEY_FILE_TIME_S = 1_700_000_000


def hub_key_time_us(servicer: PartnerServicer) -> int:
    call = CallContext("skyway", "request", InMemoryUnitOfWorkFactory()())
    [key] = servicer.get_hub_keys(partner_pb2.GetHubKeysRequest(), call).keys
    return key.create_time.seconds * 1_000_000 + key.create_time.nanos // 1000


def test_a_key_loaded_from_a_file_is_dated_by_the_file_whenever_the_hub_starts(
    tmp_path: Path,
) -> None:
    key = SigningKey.generate()
    private_path, _ = write_key_pair(tmp_path, key)
    os.utime(private_path, (KEY_FILE_TIME_S, KEY_FILE_TIME_S))
    created_us = key_file_created_at_us(tmp_path / PRIVATE_KEY_FILE)

    first = PartnerServicer(FixedClock(), key, "aud", created_us)
    clock = FixedClock()
    clock.advance_s(86_400)
    restarted = PartnerServicer(clock, key, "aud", key_file_created_at_us(private_path))

    assert created_us == KEY_FILE_TIME_S * 1_000_000
    assert hub_key_time_us(first) == hub_key_time_us(restarted) == created_us


def test_a_key_given_without_a_file_is_dated_when_the_hub_took_it_up() -> None:
    clock = FixedClock()
    servicer = PartnerServicer(clock, SigningKey.generate(), "aud")
    started_us = clock.now_us()
    clock.advance_s(60)

    assert hub_key_time_us(servicer) == hub_key_time_us(servicer) == started_us > 0
