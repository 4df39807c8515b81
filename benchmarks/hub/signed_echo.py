"""The signed echo: what the protocol itself costs a CreateQuote, with no storage behind it.

Per call, on a worker thread, the hub's own code (exchange.api.authentication) reads the cx-*
headers, checks the signature's age, finds the partner's key (in memory, not in a table) and
verifies the Ed25519 signature over the bytes received; the nonce is checked and remembered in
memory; the request is parsed as a CreateQuoteRequest; the answer (a real CreateQuoteResponse
the hub signed earlier in the run, the same bytes every time) is signed in the trailers as the
hub signs its responses. Its client is the SDK's `create_quote`, unchanged: it signs the
request and verifies both the trailers' signature and the quote's.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from coalition import wire
from coalition.keys import SigningKey, load_signing_key
from coalition.v1 import exchange_pb2
from exchange.api.authentication import (
    AuthenticationFailure,
    check_fresh,
    parse_signed_headers,
    verify_request,
)
from exchange.api.calls import HEADER_REQUEST_ID
from exchange.domain import limits
from exchange.domain.partners import KeyState, PartnerKey

CREATE_QUOTE_METHOD = "/coalition.v1.ExchangeService/CreateQuote"
Metadata = tuple[tuple[str, str | bytes], ...]


@dataclass
class NonceMemory:
    """Nonces seen per partner, forgotten once a signature that old is refused anyway."""

    retention_s: int = limits.NONCE_RETENTION_S
    seen: set[tuple[str, str]] = field(default_factory=set)
    expiries: deque[tuple[int, tuple[str, str]]] = field(default_factory=deque)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, partner_id: str, nonce: str, created_s: int, now_s: int) -> bool:
        """False if the partner used this nonce before; else remembers it."""
        key = (partner_id, nonce)
        with self.lock:
            while self.expiries and self.expiries[0][0] < now_s:
                self.seen.discard(self.expiries.popleft()[1])
            if key in self.seen:
                return False
            self.seen.add(key)
            self.expiries.append((created_s + self.retention_s, key))
            return True


@dataclass(frozen=True)
class SignedEcho:
    audience: str
    response: bytes
    hub_key: SigningKey
    hub_key_path: Path
    partner_keys: dict[str, PartnerKey]
    method: str = CREATE_QUOTE_METHOD
    nonces: NonceMemory = field(default_factory=NonceMemory)

    def answer(self, body: bytes, metadata: Metadata) -> Metadata:
        """The hub's checks of a signed request, then its signed trailers over `response`."""
        headers = parse_signed_headers(metadata)
        now_s = int(time.time())
        check_fresh(headers, now_s)
        key = self.partner_keys.get(headers.key_id)
        verify_request(headers, key, method=self.method, audience=self.audience, body=body)
        if not self.nonces.record(headers.partner_id, headers.nonce, headers.created_s, now_s):
            raise AuthenticationFailure("nonce already used")
        if not headers.idempotency_key:
            raise AuthenticationFailure("idempotency key missing")
        exchange_pb2.CreateQuoteRequest.FromString(body)
        signed = wire.response_signing_bytes(
            method=self.method, audience=self.audience, nonce=headers.nonce, body=self.response
        )
        return (
            (HEADER_REQUEST_ID, uuid.uuid4().hex),
            (wire.HEADER_KEY_ID, self.hub_key.key_id),
            (wire.HEADER_SIGNATURE, self.hub_key.sign(signed)),
        )

    @classmethod
    def create(
        cls,
        audience: str,
        response: bytes,
        hub_key_path: Path,
        partner_keys: dict[str, SigningKey],
    ) -> SignedEcho:
        """`partner_keys`: each partner's signing key, of which the echo keeps the public half."""
        public = {
            key.key_id: PartnerKey(key.key_id, partner_id, key.public_key_bytes, KeyState.ACTIVE, 0)
            for partner_id, key in partner_keys.items()
        }
        return cls(audience, response, load_signing_key(hub_key_path), hub_key_path, public)

    def to_json(self) -> str:
        return json.dumps(
            {
                "audience": self.audience,
                "method": self.method,
                "response_hex": self.response.hex(),
                "hub_key_path": str(self.hub_key_path),
                "partner_keys": [
                    [key.partner_id, key.key_id, key.public_key.hex()]
                    for key in self.partner_keys.values()
                ],
            }
        )

    @classmethod
    def from_json(cls, document: str) -> SignedEcho:
        data = json.loads(document)
        hub_key_path = Path(data["hub_key_path"])
        keys = {
            key_id: PartnerKey(key_id, partner_id, bytes.fromhex(public), KeyState.ACTIVE, 0)
            for partner_id, key_id, public in data["partner_keys"]
        }
        return cls(
            data["audience"],
            bytes.fromhex(data["response_hex"]),
            load_signing_key(hub_key_path),
            hub_key_path,
            keys,
            data["method"],
        )
