'use strict';
// Settlement records, cx-transfer-record-v1 (docs/settlement-records.md §1): strict decoding.

const VERSION = 'cx-transfer-record-v1';
const KINDS = new Set(['transfer', 'reversal', 'adjustment']);
const TEXT = /^[\x21-\x7b\x7d\x7e]{1,128}$/; // visible ASCII except "|" (0x7C)
const INTEGER = /^(0|[1-9][0-9]*)$/;
const CURRENCY = /^[A-Z]{3}$/;
const DAY = /^[0-9]{4}-[0-9]{2}-[0-9]{2}$/;
const INT63_MAX = 2n ** 63n - 1n;
const FIELDS = [
  ['transfer_id', 'text'],
  ['kind', 'kind'],
  ['source_partner_id', 'text'],
  ['destination_partner_id', 'text'],
  ['source_points', 'integer'],
  ['destination_points', 'integer'],
  ['currency', 'currency'],
  ['amount_minor', 'integer'],
  ['fee_minor', 'integer'],
  ['business_day', 'day'],
  ['completed_at_us', 'integer'],
];

class RecordError extends Error {}
RecordError.prototype.name = 'RecordError';

function isRealDate(text) {
  if (!DAY.test(text)) return false;
  const [y, m, d] = text.split('-').map(Number);
  const date = new Date(Date.UTC(y, m - 1, d));
  return date.getUTCFullYear() === y && date.getUTCMonth() === m - 1 && date.getUTCDate() === d;
}

function parseField(name, rule, text) {
  const ok = {
    text: () => TEXT.test(text),
    kind: () => KINDS.has(text),
    integer: () => INTEGER.test(text) && BigInt(text) <= INT63_MAX,
    currency: () => CURRENCY.test(text),
    day: () => isRealDate(text),
  }[rule]();
  if (!ok) throw new RecordError(`record field ${name} is not in its one spelling`);
  return rule === 'integer' ? BigInt(text) : text;
}

/** The record's fields (integers as BigInt); throws RecordError on any other byte string. */
function decodeRecord(bytes) {
  for (const byte of bytes) {
    if (byte < 0x21 || byte > 0x7e) throw new RecordError('a record is visible ASCII only');
  }
  const parts = Buffer.from(bytes).toString('ascii').split('|');
  if (parts.length !== FIELDS.length + 1) throw new RecordError('a record has twelve fields');
  if (parts[0] !== VERSION) throw new RecordError(`a record starts with ${VERSION}`);
  const record = {};
  FIELDS.forEach(([name, rule], i) => {
    record[name] = parseField(name, rule, parts[i + 1]);
  });
  return record;
}

/** The one byte string of a record (integers as BigInt or safe Number). */
function encodeRecord(fields) {
  const parts = [VERSION];
  for (const [name, rule] of FIELDS) {
    const text = String(fields[name]);
    parseField(name, rule, text);
    parts.push(text);
  }
  return Buffer.from(parts.join('|'), 'ascii');
}

module.exports = { decodeRecord, encodeRecord, RecordError };
