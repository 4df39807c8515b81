'use strict';
// Checking a statement line against the day's signed Merkle root (settlement-records.md §3).

const merkle = require('./merkle');
const { decodeRecord } = require('./records');
const { verifyPayload } = require('./payloads');

class StatementError extends Error {}
StatementError.prototype.name = 'StatementError';

function big(value) {
  return BigInt(String(value));
}

/** Verifies the statement's signature and returns its payload (root and size are the signed ones). */
function verifyStatement(keys, statement, { partnerId, businessDay, currencyCode }) {
  const payload = verifyPayload(keys, 'statement', statement);
  if (
    payload.partner_id !== partnerId ||
    payload.business_day !== businessDay ||
    payload.currency_code !== currencyCode
  ) {
    throw new StatementError('the statement is for another partner, day or currency');
  }
  const m = (money) => big(money ? money.amount_minor : 0);
  if (
    m(payload.net) !==
    m(payload.total_receivable) - m(payload.total_payable) - m(payload.total_fees)
  ) {
    throw new StatementError('net is not receivable - payable - fees');
  }
  return payload;
}

/** The line's record, decoded strictly and compared with the line itself. */
function lineRecord(payload, line) {
  const record = decodeRecord(line.record);
  const parties = [record.source_partner_id, record.destination_partner_id];
  const ok =
    record.transfer_id === line.transfer_id &&
    record.business_day === payload.business_day &&
    record.currency === payload.currency_code &&
    parties.includes(payload.partner_id) &&
    parties.includes(line.counterparty_id) &&
    line.counterparty_id !== payload.partner_id &&
    record.amount_minor === big(line.amount ? line.amount.amount_minor : 0);
  if (!ok) throw new StatementError(`line ${line.transfer_id} differs from its record`);
  return record;
}

/**
 * One line, in the order of §3: record, leaf hash, the proof's record/index/size against the
 * line and the signed payload, then the path against the signed root.
 */
function checkLine(payload, line, proof) {
  const record = lineRecord(payload, line);
  const leaf = merkle.leafHash(line.record);
  const treeSize = big(payload.tree_size);
  if (
    !Buffer.from(proof.record).equals(Buffer.from(line.record)) ||
    big(proof.leaf_index) !== big(line.leaf_index) ||
    big(proof.tree_size) !== treeSize
  ) {
    throw new StatementError(`the proof of ${line.transfer_id} is for another leaf or tree`);
  }
  const path = proof.audit_path.map((h) => Buffer.from(h));
  if (
    !merkle.verifyInclusion(
      leaf,
      big(line.leaf_index),
      treeSize,
      path,
      Buffer.from(payload.merkle_root),
    )
  ) {
    throw new StatementError(`line ${line.transfer_id} is not in the signed tree`);
  }
  return record;
}

module.exports = { verifyStatement, checkLine, StatementError };
