"""Receipts verify only with the hub's key; listing helpers follow page tokens."""

from __future__ import annotations

from typing import Any

import pytest

from coalition import wire
from coalition.keys import SigningKey
from coalition.v1 import common_pb2, exchange_pb2
from partners.sdk import ExchangeClient, PayloadVerificationError, verify_quote, verify_receipt
from tests.partners.fakes import FakeHubConnection


def signed(kind: str, payload: bytes, key: SigningKey) -> tuple[bytes, str, bytes]:
    return payload, key.key_id, key.sign(wire.payload_signing_bytes(kind=kind, payload=payload))


class PagedConnection(FakeHubConnection):
    """Answers both list calls in pages of one item, to check that the helpers follow tokens."""

    IDS = ("id-3", "id-2", "id-1")

    def call(
        self,
        method: str,
        request: Any,
        response_type: type[Any],
        *,
        changes_state: bool,
        idempotency_key: str | None = None,
    ) -> Any:
        self.requests.append((method, request))
        index = int(request.page_token or "0")
        token = str(index + 1) if index + 1 < len(self.IDS) else ""
        if response_type is exchange_pb2.ListRateAgreementsResponse:
            agreement = exchange_pb2.RateAgreement(agreement_id=self.IDS[index])
            return response_type(agreements=[agreement], next_page_token=token)
        transfer = exchange_pb2.Transfer(transfer_id=self.IDS[index])
        return exchange_pb2.ListTransfersResponse(transfers=[transfer], next_page_token=token)


def test_a_receipt_verifies_only_with_the_hubs_key_and_its_own_kind(hub_key: SigningKey) -> None:
    body = exchange_pb2.ReceiptPayload(
        transfer_id="tr_1",
        source_points=4_000,
        settlement_amount=common_pb2.Money(amount_minor=1_200, currency_code="USD"),
    ).SerializeToString()
    trusted = {hub_key.key_id: hub_key.public_key_bytes}
    payload, key_id, signature = signed("receipt", body, hub_key)

    receipt = exchange_pb2.Receipt(payload=payload, signing_key_id=key_id, signature=signature)
    assert verify_receipt(receipt, trusted).settlement_amount.amount_minor == 1_200

    as_quote = exchange_pb2.Quote(payload=payload, signing_key_id=key_id, signature=signature)
    with pytest.raises(PayloadVerificationError):
        verify_quote(as_quote, trusted)  # a receipt's signature is not a quote's
    tampered = exchange_pb2.Receipt(
        payload=payload.replace(b"tr_1", b"tr_2"), signing_key_id=key_id, signature=signature
    )
    with pytest.raises(PayloadVerificationError):
        verify_receipt(tampered, trusted)
    with pytest.raises(PayloadVerificationError):
        verify_receipt(receipt, {})


def test_listing_helpers_follow_page_tokens() -> None:
    connection = PagedConnection("skyway")
    client = ExchangeClient(connection)

    transfers = [t.transfer_id for t in client.transfers(page_size=1)]
    agreements = [a.agreement_id for a in client.rate_agreements(page_size=1)]

    assert transfers == agreements == list(PagedConnection.IDS)
    tokens = [getattr(request, "page_token", None) for _, request in connection.requests]
    assert tokens == ["", "1", "2"] * 2
    connection.close()
