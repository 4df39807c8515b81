"""Settling a day inside PostgreSQL: netting as one GROUP BY, the leaves and the stored tree
nodes written by INSERT ... SELECT, every byte encoded and hashed by the server.

The records a day settles are the same as settlement_store.day_records streams: completed
transfers and adjustments of the day, in record-id order (transfers before adjustments on a
tie, as heapq.merge keeps them). Each record's bytes are cx-transfer-record-v1
(coalition/records.py), built by RECORD_SQL; tests/test_settlement_bulk.py checks they equal
encode_record's for generated records, and tests/test_settled_day_fixture.py a recorded day.

The SQL builds the bytes without the encoder's checks, so it also computes, per record,
whether the encoder would accept it (VALID_SQL); a day with any record it would refuse is
settled by the streamed path instead, which refuses it exactly as before.

Used only where the database orders text by code point (a C collation), the order Python's
string comparison gives; elsewhere the streamed path settles.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.orm import Session

from coalition.records import RECORD_KINDS, RECORD_VERSION, TEXT_FIELD_CHARS_MAX, encode_record

CODE_POINT_COLLATIONS = frozenset({"C", "POSIX", "C.UTF-8", "C.utf8", "ucs_basic"})
HASH_STREAM_ROWS = 10_000

# One row per record of the day; `source` orders a transfer before an adjustment of one id.
DAY_RECORDS_SQL = """
day_records AS (
    SELECT transfer_id AS record_id, 0 AS source, kind, source_partner_id AS source_id,
           destination_partner_id AS destination_id, source_points, destination_points,
           currency, settlement_amount_minor AS amount_minor, fee_minor,
           resolved_at_us AS completed_at_us
    FROM transfers
    WHERE business_day = :day AND state = 'completed'
    UNION ALL
    SELECT adjustment_id, 1, 'adjustment', payer, payee, 0, 0, currency, amount_minor, 0,
           created_at_us
    FROM adjustments
    WHERE business_day = :day
)"""

# The encoder's text rule: 1 to 128 of 0x21-0x7E other than '|' (0x7C). A bounded repeat
# ({1,128}) costs PostgreSQL's regex engine sixteen times an unbounded one; the length is
# checked apart.
_TEXT_CHARS = "'^[!-{}~]+$'"


def _text(column: str) -> str:
    return f"({column} ~ {_TEXT_CHARS} AND octet_length({column}) <= {TEXT_FIELD_CHARS_MAX})"


_KINDS = ", ".join(f"'{kind}'" for kind in RECORD_KINDS)
# Whether encode_record accepts the record's own fields (bigint columns are within
# 0..2**63-1 once >= 0). NULL anywhere is false. The partner ids and the currency are the
# netting's group keys, so `gross` checks them once per group with the encoder itself, and
# the business day is checked once.
RECORD_VALID_SQL = f"""COALESCE(
    {_text("record_id")} AND kind IN ({_KINDS})
    AND source_points >= 0 AND destination_points >= 0 AND amount_minor >= 0
    AND fee_minor >= 0 AND completed_at_us >= 0, false)"""
# Every field, for streaming the hashes of a day's records one by one.
VALID_SQL = f"""({RECORD_VALID_SQL} AND COALESCE({_text("source_id")}
    AND {_text("destination_id")} AND currency ~ '^[A-Z]+$' AND octet_length(currency) = 3,
    false))"""

# cx-transfer-record-v1: twelve fields joined by '|'; a bigint's text is canonical base 10.
RECORD_SQL = f"""convert_to(concat_ws('|', '{RECORD_VERSION}', record_id, kind, source_id,
    destination_id, source_points, destination_points, currency, amount_minor, fee_minor,
    CAST(:day AS text), completed_at_us), 'UTF8')"""

LEAF_ORDER_SQL = 'ORDER BY record_id COLLATE "C", source'

# The statements below are composed of this module's constants only, never of input.
NETTING_SQL = f"""
WITH {DAY_RECORDS_SQL}
SELECT CASE WHEN kind = 'reversal' THEN destination_id ELSE source_id END AS payer,
       CASE WHEN kind = 'reversal' THEN source_id ELSE destination_id END AS payee,
       currency, SUM(amount_minor) AS amount_minor, SUM(fee_minor) AS fee_minor,
       COUNT(*) AS records, bool_and({RECORD_VALID_SQL}) AS valid
FROM day_records
GROUP BY 1, 2, 3
ORDER BY 3, 1, 2"""  # noqa: S608

INSERT_LEAVES_SQL = f"""
INSERT INTO settlement_leaves (business_day, leaf_index, transfer_id, leaf_hash, record)
WITH {DAY_RECORDS_SQL}
SELECT :day, row_number() OVER ({LEAF_ORDER_SQL}) - 1, record_id,
       sha256(decode('00', 'hex') || record), record
FROM (SELECT record_id, source, {RECORD_SQL} AS record FROM day_records) AS encoded"""  # noqa: S608

LEAF_HASHES_SQL = f"""
WITH {DAY_RECORDS_SQL}
SELECT sha256(decode('00', 'hex') || {RECORD_SQL}) AS leaf_hash, {VALID_SQL} AS valid
FROM day_records
{LEAF_ORDER_SQL}"""  # noqa: S608

_LEAF_LEVEL = """SELECT leaf_index AS i, leaf_hash AS h FROM settlement_leaves
    WHERE business_day = :day"""
_NODE_LEVEL = """SELECT node_index AS i, node_hash AS h FROM settlement_tree_nodes
    WHERE business_day = :day AND level = :level"""
# Node (level + 1, i) over nodes (level, 2i) and (level, 2i + 1); an odd last one has none.
_LEVEL_UP_SQL = """
INSERT INTO settlement_tree_nodes (business_day, level, node_index, node_hash)
SELECT :day, :level + 1, i / 2, sha256(decode('01', 'hex') || h || next_h)
FROM (SELECT i, h, lead(h) OVER (ORDER BY i) AS next_h FROM ({below}) AS below) AS pairs
WHERE mod(i, 2) = 0 AND next_h IS NOT NULL"""


@dataclass(frozen=True)
class GrossRow:
    """The day's records of one (payer, payee, currency), summed."""

    payer: str
    payee: str
    currency: str
    amount_minor: int
    fee_minor: int
    records: int


def supported(session: Session) -> bool:
    """PostgreSQL ordering text by code point, as the streamed path's merge does."""
    if session.get_bind().dialect.name != "postgresql":
        return False
    collation = session.execute(
        text("SELECT datcollate FROM pg_database WHERE datname = current_database()")
    ).scalar()
    return collation in CODE_POINT_COLLATIONS


def gross(session: Session, business_day: str) -> list[GrossRow] | None:
    """The day's gross obligations by (payer, payee, currency), ordered by currency, payer,
    payee; None if any record is one the encoder refuses."""
    rows = session.execute(text(NETTING_SQL), {"day": business_day}).all()
    if not all(row.valid and _encodable(row.payer, row.payee, row.currency) for row in rows):
        return None
    return [
        GrossRow(
            row.payer,
            row.payee,
            row.currency,
            int(row.amount_minor),
            int(row.fee_minor),
            int(row.records),
        )
        for row in rows
    ]


def _encodable(payer: str, payee: str, currency: str) -> bool:
    try:
        encode_record(
            transfer_id="probe",
            kind="transfer",
            source_partner_id=payer,
            destination_partner_id=payee,
            source_points=0,
            destination_points=0,
            currency=currency,
            amount_minor=0,
            fee_minor=0,
            business_day="1970-01-01",
            completed_at_us=0,
        )
    except ValueError:
        return False
    return True


def write_leaves(session: Session, business_day: str) -> int:
    """Writes the day's leaves (index, id, hash, record bytes); returns how many."""
    result = session.execute(text(INSERT_LEAVES_SQL), {"day": business_day})
    return int(result.rowcount)  # type: ignore[attr-defined]


def write_nodes(session: Session, business_day: str, size: int) -> int:
    """Writes every stored node (level >= 1) over the day's `size` written leaves, a level
    per statement; returns how many."""
    written, level, below = 0, 0, size
    while below > 1:
        query = _LEVEL_UP_SQL.format(below=_LEAF_LEVEL if level == 0 else _NODE_LEVEL)
        result = session.execute(text(query), {"day": business_day, "level": level})
        count = int(result.rowcount)  # type: ignore[attr-defined]
        assert count == below // 2, "a level has a node per pair below it"
        written, level, below = written + count, level + 1, count
    return written


def current_leaf_hashes(session: Session, business_day: str) -> Iterator[bytes | None]:
    """The leaf hash of each record of the day as it is now, in leaf order; None for a record
    the encoder would refuse."""
    query = text(LEAF_HASHES_SQL).execution_options(yield_per=HASH_STREAM_ROWS)
    for leaf_hash, valid in session.execute(query, {"day": business_day}):
        yield bytes(leaf_hash) if valid else None


def record_at(session: Session, business_day: str, leaf_index: int) -> bytes:
    """The stored record bytes of one leaf of the day."""
    data = session.execute(
        text(
            "SELECT record FROM settlement_leaves"
            " WHERE business_day = :day AND leaf_index = :leaf_index"
        ),
        {"day": business_day, "leaf_index": leaf_index},
    ).scalar_one()
    return bytes(data)
