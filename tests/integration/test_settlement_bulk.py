"""The database's record encoding (exchange/adapters/sql/settlement_bulk.py) on PostgreSQL: the
same bytes and leaf hash as coalition.records.encode_record for every record, and the same
refusals (its validity column is false exactly where the encoder raises)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection, Engine, create_engine, text

from coalition import merkle
from coalition.records import INTEGER_MAX, encode_record
from exchange.adapters.sql import settlement_bulk as bulk
from tests.support import databases

BUSINESS_DAY = "2026-04-14"
# The columns of settlement_bulk's day_records, one literal row standing in for them.
ONE_RECORD_SQL = f"""
SELECT {bulk.RECORD_SQL} AS record, sha256(decode('00', 'hex') || {bulk.RECORD_SQL}) AS leaf,
       {bulk.VALID_SQL} AS valid
FROM (SELECT CAST(:record_id AS text) AS record_id, CAST(:kind AS text) AS kind,
             CAST(:source_id AS text) AS source_id,
             CAST(:destination_id AS text) AS destination_id,
             CAST(:source_points AS bigint) AS source_points,
             CAST(:destination_points AS bigint) AS destination_points,
             CAST(:currency AS text) AS currency,
             CAST(:amount_minor AS bigint) AS amount_minor,
             CAST(:fee_minor AS bigint) AS fee_minor,
             CAST(:completed_at_us AS bigint) AS completed_at_us) AS day_records
"""

VISIBLE = st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters="|")
TEXTS = st.text(VISIBLE, min_size=1, max_size=128)
# Near misses: empty, too long, a separator, a space, a control character, non-ASCII.
ODD_TEXTS = st.one_of(
    st.just(""),
    st.text(VISIBLE, min_size=129, max_size=140),
    st.text(st.characters(min_codepoint=0x09, max_codepoint=0x7F), min_size=1, max_size=8),
    st.text(st.characters(min_codepoint=0xA0, max_codepoint=0x17F), min_size=1, max_size=4),
)
INTEGERS = st.one_of(st.integers(0, INTEGER_MAX), st.sampled_from([0, 1, 10, INTEGER_MAX]))
ODD_INTEGERS = st.one_of(st.integers(-(2**63), -1), st.none())
CURRENCIES = st.one_of(st.sampled_from(["USD", "EUR"]), st.text(max_size=4))
KINDS = st.sampled_from(["transfer", "reversal", "adjustment", "Transfer", "void"])


@pytest.fixture(scope="module")
def postgres() -> Iterator[Engine]:
    databases.require_or_skip_postgres()
    engine = create_engine(databases.postgres_admin_url())
    yield engine
    engine.dispose()


def _fields(valid: bool) -> st.SearchStrategy[dict[str, object]]:
    text_field = TEXTS if valid else st.one_of(TEXTS, ODD_TEXTS)
    integer = INTEGERS if valid else st.one_of(INTEGERS, ODD_INTEGERS)
    return st.fixed_dictionaries(
        {
            "record_id": text_field,
            "kind": st.sampled_from(["transfer", "reversal", "adjustment"]) if valid else KINDS,
            "source_id": text_field,
            "destination_id": text_field,
            "source_points": integer,
            "destination_points": integer,
            "currency": st.sampled_from(["USD", "EUR", "JPY"]) if valid else CURRENCIES,
            "amount_minor": integer,
            "fee_minor": integer,
            "completed_at_us": integer,
        }
    )


def _encoded(fields: dict[str, object]) -> bytes | None:
    try:
        return encode_record(
            transfer_id=fields["record_id"],  # type: ignore[arg-type]
            kind=fields["kind"],  # type: ignore[arg-type]
            source_partner_id=fields["source_id"],  # type: ignore[arg-type]
            destination_partner_id=fields["destination_id"],  # type: ignore[arg-type]
            source_points=fields["source_points"],  # type: ignore[arg-type]
            destination_points=fields["destination_points"],  # type: ignore[arg-type]
            currency=fields["currency"],  # type: ignore[arg-type]
            amount_minor=fields["amount_minor"],  # type: ignore[arg-type]
            fee_minor=fields["fee_minor"],  # type: ignore[arg-type]
            business_day=BUSINESS_DAY,
            completed_at_us=fields["completed_at_us"],  # type: ignore[arg-type]
        )
    except ValueError:
        return None


def _in_database(connection: Connection, fields: dict[str, object]) -> tuple[bytes, bytes, bool]:
    row = connection.execute(text(ONE_RECORD_SQL), {**fields, "day": BUSINESS_DAY}).one()
    return bytes(row.record or b""), bytes(row.leaf or b""), bool(row.valid)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(fields=_fields(valid=True))
def test_the_database_encodes_every_record_as_the_encoder_does(
    postgres: Engine, fields: dict[str, object]
) -> None:
    expected = _encoded(fields)
    assert expected is not None
    with postgres.connect() as connection:
        record, leaf, valid = _in_database(connection, fields)
    assert valid
    assert record == expected
    assert leaf == merkle.leaf_hash(expected)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(fields=_fields(valid=False))
def test_the_database_refuses_what_the_encoder_refuses(
    postgres: Engine, fields: dict[str, object]
) -> None:
    expected = _encoded(fields)
    with postgres.connect() as connection:
        try:
            record, _leaf, valid = _in_database(connection, fields)
        except Exception:  # a NUL byte cannot even reach the database as text
            assert expected is None
            return
    assert valid == (expected is not None)
    if valid:
        assert record == expected
