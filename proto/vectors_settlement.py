"""The settlement vectors of proto/vectors.py: records, Merkle trees, a statement with proofs.

Built with coalition.records, coalition.merkle and coalition.wire only, as the hub builds them.
"""

from __future__ import annotations

from vectors_common import (
    COMPLETED_US,
    SECOND_US,
    Json,
    blob,
    key,
    message_json,
    payload_vector,
    serialized,
)

from coalition import merkle, records, wire
from coalition.v1 import common_pb2, settlement_pb2
from exchange.api import transfer_codec
from exchange.api.settlement_servicer import STATEMENT_SIGNING_KIND

RECORD_ROWS = (
    ("tr_5f0c2a9e81d34b7766a1c0e3", "transfer", "skyway", "harbor", 12000, 3000, "EUR", 4500, 11),
    ("tr_0b9d47c2e6a1f3580c7e2d14", "transfer", "harbor", "orbit", 800, 1600, "EUR", 1200, 3),
    ("tr_9e41c07ab25d68f31c0d4e7b", "reversal", "harbor", "orbit", 800, 1600, "EUR", 1200, 0),
    ("tr_3c7a0e5d92b14f68a1c3e07d", "transfer", "harbor", "skyway", 2000, 5000, "EUR", 900, 2),
    ("tr_7d2e9b4c06a15f83e0b7c1d9", "transfer", "orbit", "skyway", 10000, 4000, "USD", 1600, 4),
    ("adj_1f6b3d8e0c4a72e95b1d06c3", "adjustment", "skyway", "harbor", 0, 0, "EUR", 150, 0),
    ("tr_e4a81c7f3b0d96254c8e1a0f", "transfer", "skyway", "orbit", 5000, 5000, "USD", 2500, 6),
    ("tr_a0c5f2e7d19b3846f7a2c5e1", "transfer", "orbit", "harbor", 1000, 250, "EUR", 300, 1),
)
# One hour apart from the worked example's third record on.
RECORD_TIMES_US = (
    COMPLETED_US,
    1_795_447_815_000_000,
    *(1_795_451_415_000_000 + step * 3_600 * SECOND_US for step in range(6)),
)
STATEMENT_DAY_SIZE = 5


def record_fields(position: int) -> Json:
    names = records.FIELD_NAMES[:4] + records.FIELD_NAMES[4:9]
    fields: Json = dict(zip(names, RECORD_ROWS[position], strict=True))
    return {**fields, "business_day": "2026-11-23", "completed_at_us": RECORD_TIMES_US[position]}


def record_bytes(position: int) -> bytes:
    return records.encode_record(**record_fields(position))


# Byte strings a strict decoder refuses, each next to why: a lenient reading of any of them
# would give one record two leaves.
NON_CANONICAL = (
    ("leading zero", b"|12000|", b"|012000|"),
    ("plus sign", b"|12000|", b"|+12000|"),
    ("lower-case currency", b"|EUR|", b"|eur|"),
    ("compact date", b"|2026-11-23|", b"|20261123|"),
    ("space in a text field", b"|skyway|", b"|sky way|"),
    ("trailing separator", b"123456", b"123456|"),
    ("trailing newline", b"123456", b"123456\n"),
    ("unknown kind", b"|transfer|", b"|TRANSFER|"),
    ("not a date", b"|2026-11-23|", b"|2026-11-31|"),
)


def refused_records() -> list[Json]:
    """Each spelling a strict decoder must refuse; generation fails if the decoder accepts one."""
    encoded, refused = record_bytes(0), []
    for why, old, new in NON_CANONICAL:
        wrong = encoded.replace(old, new, 1)
        assert wrong != encoded
        try:
            records.decode_record(wrong)
        except ValueError:
            refused.append({"why": why, "bytes": blob(wrong)})
            continue
        raise AssertionError(f"the decoder accepted a non-canonical record ({why})")
    return refused


def records_vectors() -> Json:
    return {
        "records": [
            {
                "fields": record_fields(position),
                "text": record_bytes(position).decode("ascii"),
                "bytes": blob(record_bytes(position)),
                "leaf_hash_hex": merkle.leaf_hash(record_bytes(position)).hex(),
            }
            for position in range(len(RECORD_ROWS))
        ],
        "refused": refused_records(),
    }


def tree_vector(size: int) -> Json:
    leaves = [merkle.leaf_hash(record_bytes(position)) for position in range(size)]
    tree_root = merkle.root(leaves)
    builder = merkle.RootBuilder()
    for leaf in leaves:
        builder.add(leaf)
    assert builder.root() == tree_root, "the streaming root must equal the recursive one"
    proofs = []
    for index, leaf in enumerate(leaves):
        path = merkle.inclusion_proof(leaves, index)
        assert merkle.verify_inclusion(leaf, index, size, path, tree_root)
        proofs.append({"leaf_index": index, "audit_path_hex": [value.hex() for value in path]})
    return {
        "tree_size": size,
        "records": [f"records[{position}]" for position in range(size)],
        "leaf_hashes_hex": [leaf.hex() for leaf in leaves],
        "root_hex": tree_root.hex(),
        "proofs": proofs,
    }


def merkle_vectors() -> Json:
    return {
        "leaves_from": "records.json: tree n holds records[0..n-1] in that order",
        "trees": [tree_vector(size) for size in (0, 1, 2, 3, 4, 5, 7, 8)],
    }


def _money(amount_minor: int, currency: str = "EUR") -> common_pb2.Money:
    return transfer_codec.money(amount_minor, currency)


def statement_lines() -> list[settlement_pb2.StatementLine]:
    """Skyway's EUR lines of the five-record day, as the hub builds them."""
    lines = []
    for index in range(STATEMENT_DAY_SIZE):
        fields = record_fields(index)
        if fields["currency"] != "EUR" or "skyway" not in (
            fields["source_partner_id"], fields["destination_partner_id"],
        ):
            continue
        payable = fields["source_partner_id"] == "skyway"
        lines.append(
            settlement_pb2.StatementLine(
                transfer_id=fields["transfer_id"], record=record_bytes(index), leaf_index=index,
                direction=settlement_pb2.LINE_DIRECTION_PAYABLE if payable
                else settlement_pb2.LINE_DIRECTION_RECEIVABLE,
                counterparty_id=fields["destination_partner_id"] if payable
                else fields["source_partner_id"],
                amount=_money(fields["amount_minor"]),
                fee=_money(fields["fee_minor"] if payable else 0),
            )
        )
    return lines


def day_root() -> bytes:
    return merkle.root([merkle.leaf_hash(record_bytes(i)) for i in range(STATEMENT_DAY_SIZE)])


def statement_message() -> settlement_pb2.Statement:
    lines = statement_lines()
    payable = sum(line.amount.amount_minor for line in lines if line.direction == 1)
    receivable = sum(line.amount.amount_minor for line in lines if line.direction == 2)
    fees = sum(line.fee.amount_minor for line in lines)
    payload = serialized(
        settlement_pb2.StatementPayload(
            partner_id="skyway", business_day="2026-11-23", currency_code="EUR", lines=lines,
            total_receivable=_money(receivable), total_payable=_money(payable),
            total_fees=_money(fees), net=_money(receivable - payable - fees),
            merkle_root=day_root(), tree_size=STATEMENT_DAY_SIZE,
        )
    )
    signature = key("hub").sign(
        wire.payload_signing_bytes(kind=STATEMENT_SIGNING_KIND, payload=payload)
    )
    return settlement_pb2.Statement(
        payload=payload, signing_key_id=key("hub").key_id, signature=signature
    )


def inclusion_response(index: int) -> settlement_pb2.GetInclusionProofResponse:
    leaves = [merkle.leaf_hash(record_bytes(i)) for i in range(STATEMENT_DAY_SIZE)]
    return settlement_pb2.GetInclusionProofResponse(
        leaf_index=index, tree_size=STATEMENT_DAY_SIZE,
        audit_path=merkle.inclusion_proof(leaves, index), record=record_bytes(index),
    )


def statement_vectors() -> Json:
    statement = statement_message()
    proofs = []
    for line in statement_lines():
        proof = inclusion_response(line.leaf_index)
        leaf = merkle.leaf_hash(line.record)
        assert merkle.verify_inclusion(
            leaf, proof.leaf_index, proof.tree_size, list(proof.audit_path), day_root()
        )
        proofs.append(
            {
                "transfer_id": line.transfer_id,
                "leaf_hash_hex": leaf.hex(),
                "response": message_json(proof),
                "response_bytes": blob(serialized(proof)),
            }
        )
    return {
        "business_day": "2026-11-23",
        "merkle_root_hex": day_root().hex(),
        "tree_size": STATEMENT_DAY_SIZE,
        "statement": payload_vector(
            STATEMENT_SIGNING_KIND, statement, statement.payload, settlement_pb2.StatementPayload
        ),
        "inclusion_proofs": proofs,
    }


