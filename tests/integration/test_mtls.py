"""Production transport: TLS with client certificates whose partner id must equal cx-partner."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import grpc
import pytest
from sqlalchemy import Engine

from coalition.keys import SigningKey
from exchange.bootstrap import bootstrap
from exchange.config import Settings
from partners.sdk import HubError, PartnerClient
from partners.sdk.connection import connect
from tests.support.certs import Pki, make_pki
from tests.support.coalition import AUDIENCE, TestCoalition, seed_partners
from tests.support.databases import table_snapshot


@pytest.fixture
def pki() -> Pki:
    return make_pki()


@pytest.fixture
def tls_coalition(
    settings: Settings, hub_key: SigningKey, engine: Engine, pki: Pki, tmp_path: Path
) -> Iterator[TestCoalition]:
    files = {
        "tls_cert_path": pki.server_cert_pem,
        "tls_key_path": pki.server_key_pem,
        "client_ca_path": pki.ca_cert_pem,
    }
    for name, pem in files.items():
        (tmp_path / name).write_bytes(pem)
    tls_settings = replace(settings, **{name: tmp_path / name for name in files})
    hub = bootstrap(tls_settings, hub_key=hub_key, engine=engine)
    keys = seed_partners(hub)
    hub.start()
    coalition = TestCoalition(hub, keys)
    yield coalition
    coalition.close()
    hub.stop(0)


def tls_client(
    coalition: TestCoalition, pki: Pki, partner_id: str, certificate_for: str
) -> PartnerClient:
    cert, key = pki.client_cert(certificate_for)
    credentials = grpc.ssl_channel_credentials(
        root_certificates=pki.ca_cert_pem, private_key=key, certificate_chain=cert
    )
    connection = connect(
        coalition.target,
        partner_id,
        coalition.keys[partner_id],
        AUDIENCE,
        coalition.hub_public_keys,
        credentials,
    )
    coalition.connections.append(connection)
    return PartnerClient(connection)


def test_matching_certificate_passes(tls_coalition: TestCoalition, pki: Pki) -> None:
    client = tls_client(tls_coalition, pki, "skyway", certificate_for="skyway")
    assert client.get_partner("harbor").partner_id == "harbor"


def test_certificate_of_another_partner_is_refused(tls_coalition: TestCoalition, pki: Pki) -> None:
    client = tls_client(tls_coalition, pki, "skyway", certificate_for="harbor")
    before = table_snapshot(tls_coalition.hub.engine)
    with pytest.raises(HubError) as refused:
        client.get_partner("harbor")
    assert refused.value.code is grpc.StatusCode.UNAUTHENTICATED
    assert refused.value.message == "request authentication failed"
    assert table_snapshot(tls_coalition.hub.engine) == before


def test_certificate_from_another_ca_fails_the_handshake(
    tls_coalition: TestCoalition, pki: Pki
) -> None:
    stranger = make_pki()
    cert, key = stranger.client_cert("skyway")
    credentials = grpc.ssl_channel_credentials(
        root_certificates=pki.ca_cert_pem, private_key=key, certificate_chain=cert
    )
    connection = connect(
        tls_coalition.target,
        "skyway",
        tls_coalition.keys["skyway"],
        AUDIENCE,
        tls_coalition.hub_public_keys,
        credentials,
    )
    tls_coalition.connections.append(connection)
    connection.retry = replace(connection.retry, attempts_max=1)
    with pytest.raises(HubError) as refused:
        PartnerClient(connection).get_partner("harbor")
    assert refused.value.code is grpc.StatusCode.UNAVAILABLE
