"""The files finance teams use: positions, instructions, settlement JSON, statements, pain.001.

Every function is pure and byte-for-byte deterministic: the same input gives identical bytes
whatever the input order (rows are sorted), no clock is read, text is UTF-8 with "\\n" line
endings. Amounts are integer minor units printed as exact decimals with the currency's ISO 4217
exponent, which the caller passes in as `minor_units` (settlement imports only the standard
library, so the hub's currency table is handed down rather than imported).

The builders live in export_format, day_exports, statement_export and payment_file; every name
is also importable from here.
"""

from settlement.day_exports import (
    INSTRUCTIONS_HEADER,
    MERKLE_ROOT_HEX_PATTERN,
    POSITIONS_HEADER,
    SETTLEMENT_JSON_FORMAT_VERSION,
    instructions_csv,
    positions_csv,
    settlement_json,
)
from settlement.export_format import BUSINESS_DAY_PATTERN, format_minor
from settlement.payment_file import (
    BIC_PATTERN,
    IBAN_PATTERN,
    ISO_IDENTIFIER_CHARS_MAX,
    ISO_TEXT_CHARS_MAX,
    PAIN_001_NAMESPACE,
    XML_DECLARATION,
    pain001,
)
from settlement.statement_export import STATEMENT_HEADER, STATEMENT_KIND_ORDER, statement_csv

__all__ = [
    "BIC_PATTERN",
    "BUSINESS_DAY_PATTERN",
    "IBAN_PATTERN",
    "INSTRUCTIONS_HEADER",
    "ISO_IDENTIFIER_CHARS_MAX",
    "ISO_TEXT_CHARS_MAX",
    "MERKLE_ROOT_HEX_PATTERN",
    "PAIN_001_NAMESPACE",
    "POSITIONS_HEADER",
    "SETTLEMENT_JSON_FORMAT_VERSION",
    "STATEMENT_HEADER",
    "STATEMENT_KIND_ORDER",
    "XML_DECLARATION",
    "format_minor",
    "instructions_csv",
    "pain001",
    "positions_csv",
    "settlement_json",
    "statement_csv",
]
