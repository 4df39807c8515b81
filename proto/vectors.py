"""Writes the protocol test vectors `docs/vectors/*.json` (docs/protocol.md §16) from the code.

Every byte in them comes from the hub's own signing and encoding functions (coalition.wire,
coalition.records, coalition.merkle, the hub's codecs and its refusal path), never from a second
implementation, so they cannot drift from what the hub does. Keys are seeded and Ed25519 is
deterministic: the files are byte-stable. Run `python proto/vectors.py` to write them;
`--check` exits non-zero when the committed files differ from what the code builds now.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Callable
from pathlib import Path

from google.protobuf.message import Message

sys.path.insert(0, str(Path(__file__).resolve().parent))  # its sibling modules, when imported

from vectors_common import (
    AUDIENCE,
    COMPLETED,
    HARBOR_PPID,
    PENDING,
    QUOTE,
    QUOTE_ID,
    REPO,
    SECOND_US,
    SKYWAY_PPID,
    T0_S,
    T0_US,
    TRANSFER_ID,
    VECTORS_DIR,
    Json,
    blob,
    digest,
    exchange,
    hub_public_key,
    key,
    keys,
    message_json,
    metadata_json,
    nonce_for,
    payload_vector,
    signed_text,
)
from vectors_settlement import (
    inclusion_response,
    merkle_vectors,
    records_vectors,
    statement_message,
    statement_vectors,
)

from coalition import wire
from coalition.v1 import (
    common_pb2,
    event_pb2,
    exchange_pb2,
    identity_pb2,
    partner_pb2,
    settlement_pb2,
)
from exchange.adapters.memory import FixedClock, InMemoryUnitOfWorkFactory
from exchange.api import catalog, event_codec, transfer_codec
from exchange.api.convert import timestamp
from exchange.api.idempotency import idempotency_key_missing
from exchange.api.pipeline import PipelineSettings, RequestPipeline
from exchange.api.settlement_servicer import STATEMENT_SIGNING_KIND
from exchange.domain import events
from exchange.domain.errors import DomainError, ErrorCode, FieldChecks, InvalidArgument
from exchange.domain.transfers import TransferState, VoidReason


def stored_events() -> dict[str, events.StoredEvent]:
    """One feed event of every type, encoded and signed by the hub's own event encoder."""
    timeout_us = T0_US + 902 * SECOND_US
    voided = dataclasses.replace(
        PENDING, state=TransferState.VOIDED, resolved_at_us=timeout_us,
        void_reason=VoidReason.TIMED_OUT,
    )
    bodies: list[tuple[str, str, events.FeedEvent]] = [
        ("harbor", "credit_requested", events.CreditRequested(
            TRANSFER_ID, HARBOR_PPID, 3_000, 0, timeout_us)),
        ("skyway", "transfer_completed", events.TransferCompleted(COMPLETED)),
        ("skyway", "transfer_voided", events.TransferVoided(voided)),
        ("harbor", "debit_requested", events.DebitRequested(
            "tr_b1e07d3c5a9f28640e1d7c3a", TRANSFER_ID, HARBOR_PPID, 3_000, timeout_us)),
        ("harbor", "tier_granted", events.TierGranted(
            HARBOR_PPID, "tg_0d4c8e1a7b3f92c5e6a01d7b", "GOLD", T0_US + 365 * 86_400 * SECOND_US)),
        ("harbor", "member_unlinked", events.MemberUnlinked(HARBOR_PPID)),
        ("harbor", "member_erased", events.MemberErased(HARBOR_PPID)),
    ]
    found, sequences = {}, {"harbor": 0, "skyway": 0}
    for position, (partner, name, body) in enumerate(bodies):
        sequences[partner] += 1  # each partner's feed counts from 1
        found[name] = event_codec.encode_event(
            body, event_id=digest("event:" + name)[:16].hex(), partner_id=partner,
            sequence=sequences[partner], at_us=T0_US + (3 + position) * SECOND_US,
            signer=key("hub"),
        )
    return found

def quote_message() -> exchange_pb2.Quote:
    payload, signature = transfer_codec.QuoteSigner(key("hub"))(QUOTE)
    signed = dataclasses.replace(QUOTE, payload=payload, signature=signature)
    return transfer_codec.quote_message(signed, key("hub").key_id)


def payloads() -> Json:
    events_out = []
    for stored in stored_events().values():
        message = event_codec.event_message(stored)
        events_out.append(
            payload_vector(event_codec.EVENT_SIGNING_KIND, message, stored.payload,
                           event_pb2.EventPayload)
        )
    receipt = transfer_codec.receipt(COMPLETED, key("hub"))
    quote = quote_message()
    statement = statement_message()
    return {
        "signing_key_id": key("hub").key_id,
        "quote": payload_vector(transfer_codec.QUOTE_SIGNING_KIND, quote, quote.payload,
                                exchange_pb2.QuotePayload),
        "receipt": payload_vector(transfer_codec.RECEIPT_SIGNING_KIND, receipt, receipt.payload,
                                  exchange_pb2.ReceiptPayload),
        "statement": payload_vector(STATEMENT_SIGNING_KIND, statement, statement.payload,
                                    settlement_pb2.StatementPayload),
        "events": events_out,
    }


# --- refusals, through the hub's own refusal path ---


def _refusing_pipeline() -> RequestPipeline:

    settings = PipelineSettings(audience=AUDIENCE, require_client_certificate=False)
    return RequestPipeline(settings, InMemoryUnitOfWorkFactory(), FixedClock(T0_US), key("hub"))


def _bad_quote_request() -> InvalidArgument:
    checks = FieldChecks()
    checks.require(False, "ppid", "is not a ppid of this partner's form (pp_ + 26 characters)")
    checks.require(False, "source_points", "must be 1-1000000000000")
    try:
        checks.raise_if_any()
    except InvalidArgument as error:
        return error
    raise AssertionError("two failed checks raise")


REFUSALS: tuple[tuple[str, str, Callable[[], DomainError], bool], ...] = (
    ("quote_expired", "/coalition.v1.ExchangeService/CreateTransfer",
     lambda: DomainError(ErrorCode.QUOTE_EXPIRED, "the quote has expired"), True),
    ("unauthenticated_without_nonce", "/coalition.v1.ExchangeService/CreateTransfer",
     catalog.unauthenticated, False),
    ("invalid_argument_two_fields", "/coalition.v1.ExchangeService/CreateQuote",
     _bad_quote_request, True),
    ("idempotency_key_missing", "/coalition.v1.IdentityService/EnrollMember",
      idempotency_key_missing, True),
    ("database_unavailable", "/coalition.v1.ExchangeService/ConfirmCredit",
     catalog.database_unavailable, True),
)


def refusals() -> Json:
    pipeline = _refusing_pipeline()
    out = []
    for label, method, error, has_nonce in REFUSALS:
        nonce = nonce_for("refusal:" + label) if has_nonce else ""
        outcome = pipeline.refusal(method, error(), nonce, "00000000000000000000000000000000")
        trailers = dict(outcome.trailers)
        details = trailers[wire.HEADER_STATUS_DETAILS]
        assert isinstance(details, bytes) and outcome.status is not None
        code = outcome.status.value[0]
        signing = wire.refusal_signing_bytes(
            method=method, audience=AUDIENCE, nonce=nonce, status_code=code,
            status_details=details,
        )
        out.append(
            {
                "name": label, "method": method, "audience": AUDIENCE, "request_nonce": nonce,
                "status_code": code, "status_name": outcome.status.name,
                "status_details": message_json(catalog.rich_status(error())),
                "status_details_sha256": wire.sha256_hex(details),
                "signing_bytes": signed_text(signing),
                "trailers": metadata_json(tuple(outcome.trailers)),
            }
        )
    return {"signing_key_id": key("hub").key_id, "refusals": out}


# --- the key-registration proof ---


def key_registration() -> Json:
    new_key = key("skyway-next")
    signing = wire.key_registration_bytes(partner_id="skyway", public_key=new_key.public_key_bytes)
    proof = new_key.sign(signing)
    request = partner_pb2.RegisterKeyRequest(
        public_key=new_key.public_key_bytes, proof_of_possession=proof
    )
    registered = common_pb2.PublicKey(
        key_id=new_key.key_id, algorithm=common_pb2.KEY_ALGORITHM_ED25519,
        public_key=new_key.public_key_bytes, state=common_pb2.KEY_STATE_ACTIVE,
        create_time=timestamp(T0_US + 30 * SECOND_US),
    )
    calls = (request, partner_pb2.RegisterKeyResponse(key=registered))
    return {
        "partner_id": "skyway",
        "new_key": {"name": "skyway-next", "key_id": new_key.key_id,
                    "public_key": blob(new_key.public_key_bytes)},
        "public_key_sha256": wire.sha256_hex(new_key.public_key_bytes),
        "signing_bytes": signed_text(signing),
        "proof_of_possession": blob(proof),
        "request": exchange("register_key", "PartnerService", "RegisterKey", "skyway", calls,
                            T0_S + 30),
    }


# --- the worked example (docs/protocol.md §14) ---


def _events_page(*names: str) -> event_pb2.ListEventsResponse:
    found = stored_events()
    chosen = [event_codec.event_message(found[name]) for name in names]
    return event_pb2.ListEventsResponse(
        events=chosen, last_sequence=chosen[-1].sequence, acked_sequence=0
    )


def walkthrough() -> list[Json]:
    pb_i, pb_x, pb_e, pb_s = identity_pb2, exchange_pb2, event_pb2, settlement_pb2
    code = "K7QXM3RTPA"
    expire = timestamp(T0_US + 610 * SECOND_US)
    steps: list[tuple[str, str, str, str, tuple[Message, Message], int]] = [
        ("get_hub_keys", "PartnerService", "GetHubKeys", "skyway", (
            partner_pb2.GetHubKeysRequest(),
            partner_pb2.GetHubKeysResponse(keys=[hub_public_key()], audience=AUDIENCE)), -40),
        ("enroll_at_skyway", "IdentityService", "EnrollMember", "skyway", (
            pb_i.EnrollMemberRequest(), pb_i.EnrollMemberResponse(ppid=SKYWAY_PPID)), -30),
        ("enroll_at_harbor", "IdentityService", "EnrollMember", "harbor", (
            pb_i.EnrollMemberRequest(), pb_i.EnrollMemberResponse(ppid=HARBOR_PPID)), -25),
        ("create_link_code", "IdentityService", "CreateLinkCode", "skyway", (
            pb_i.CreateLinkCodeRequest(ppid=SKYWAY_PPID),
            pb_i.CreateLinkCodeResponse(link_code=code, expire_time=expire)), -20),
        ("redeem_link_code", "IdentityService", "RedeemLinkCode", "harbor", (
            pb_i.RedeemLinkCodeRequest(link_code=code, ppid=HARBOR_PPID),
            pb_i.RedeemLinkCodeResponse(linked_partner_ids=["harbor", "skyway"])), -10),
        ("create_quote", "ExchangeService", "CreateQuote", "skyway", (
            pb_x.CreateQuoteRequest(ppid=SKYWAY_PPID, destination_partner_id="harbor",
                                    source_points=12_000),
            pb_x.CreateQuoteResponse(quote=quote_message())), 1),
        ("create_transfer", "ExchangeService", "CreateTransfer", "skyway", (
            pb_x.CreateTransferRequest(quote_id=QUOTE_ID),
            pb_x.CreateTransferResponse(
                transfer=transfer_codec.transfer_message(PENDING, "skyway"))), 2),
        ("harbor_lists_events", "EventService", "ListEvents", "harbor", (
            pb_e.ListEventsRequest(), _events_page("credit_requested")), 5),
        ("confirm_credit", "ExchangeService", "ConfirmCredit", "harbor", (
            pb_x.ConfirmCreditRequest(transfer_id=TRANSFER_ID),
            pb_x.ConfirmCreditResponse(
                transfer=transfer_codec.transfer_message(COMPLETED, "harbor"))), 15),
        ("skyway_lists_events", "EventService", "ListEvents", "skyway", (
            pb_e.ListEventsRequest(), _events_page("transfer_completed")), 20),
        ("skyway_acks_events", "EventService", "AckEvents", "skyway", (
            pb_e.AckEventsRequest(up_to_sequence=1), pb_e.AckEventsResponse(acked_sequence=1)),
         21),
        ("get_statement", "SettlementService", "GetStatement", "skyway", (
            pb_s.GetStatementRequest(business_day="2026-11-23", currency_code="EUR"),
            pb_s.GetStatementResponse(statement=statement_message())), 86_400),
        ("get_inclusion_proof", "SettlementService", "GetInclusionProof", "skyway", (
            pb_s.GetInclusionProofRequest(business_day="2026-11-23", transfer_id=TRANSFER_ID),
            inclusion_response(0)), 86_401),
    ]
    return [
        exchange(label, service, rpc, partner, calls, T0_S + offset_s)
        for label, service, rpc, partner, calls, offset_s in steps
    ]


def requests() -> Json:
    return {"audience": AUDIENCE, "steps": walkthrough()}


FILES: dict[str, Callable[[], Json]] = {
    "keys.json": keys,
    "requests.json": requests,
    "refusals.json": refusals,
    "payloads.json": payloads,
    "key_registration.json": key_registration,
    "records.json": records_vectors,
    "merkle.json": merkle_vectors,
    "statement.json": statement_vectors,
}


def rendered() -> dict[str, str]:
    """Every vector file's exact text, built from the code now."""
    return {
        name: json.dumps(build(), indent=2, ensure_ascii=True) + "\n"
        for name, build in FILES.items()
    }


def stale_files() -> list[str]:
    fresh = rendered()
    committed = {p.name for p in VECTORS_DIR.glob("*.json")} if VECTORS_DIR.exists() else set()
    differing = sorted(committed - set(fresh))
    for name, text in fresh.items():
        path = VECTORS_DIR / name
        if not path.exists() or path.read_text(encoding="ascii") != text:
            differing.append(name)
    return differing


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if committed vectors drifted")
    args = parser.parse_args()
    if args.check:
        stale = stale_files()
        if stale:
            print("test vectors drifted; run `python proto/vectors.py`: " + ", ".join(stale))
            return 1
        print("test vectors are up to date")
        return 0
    VECTORS_DIR.mkdir(parents=True, exist_ok=True)
    for name, text in rendered().items():
        (VECTORS_DIR / name).write_text(text, encoding="ascii")
    print(f"wrote {len(FILES)} files to {VECTORS_DIR.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
