'use strict';
// Hub-signed payloads (protocol.md §6): verify the signature over the payload bytes as
// delivered, then parse them, then trust only the parsed payload.

const proto = require('./proto');
const signing = require('./signing');

const PAYLOAD_TYPES = {
  event: 'coalition.v1.EventPayload',
  quote: 'coalition.v1.QuotePayload',
  receipt: 'coalition.v1.ReceiptPayload',
  statement: 'coalition.v1.StatementPayload',
};
// EventPayload.body field → coalition.v1.EventType name.
const EVENT_TYPE_BY_BODY = {
  tier_granted: 'EVENT_TYPE_TIER_GRANTED',
  member_erased: 'EVENT_TYPE_MEMBER_ERASED',
  member_unlinked: 'EVENT_TYPE_MEMBER_UNLINKED',
  credit_requested: 'EVENT_TYPE_CREDIT_REQUESTED',
  debit_requested: 'EVENT_TYPE_DEBIT_REQUESTED',
  transfer_completed: 'EVENT_TYPE_TRANSFER_COMPLETED',
  transfer_voided: 'EVENT_TYPE_TRANSFER_VOIDED',
};

class PayloadError extends Error {}
PayloadError.prototype.name = 'PayloadError';

/**
 * With the pinned `keys` (HubKeys), verifies `wrapper` (payload, signing_key_id, signature) as
 * `kind`; returns the parsed payload.
 */
function verifyPayload(keys, kind, wrapper) {
  if (!wrapper) throw new PayloadError(`no ${kind}`);
  const signed = signing.payloadSigningBytes(kind, wrapper.payload);
  keys.verifyHubSignature(wrapper.signing_key_id, wrapper.signature, signed, kind);
  return proto.decode(proto.type(PAYLOAD_TYPES[kind]), wrapper.payload);
}

function sameTime(a, b) {
  const seconds = (t) => (t ? String(t.seconds) : '0');
  const nanos = (t) => (t ? t.nanos : 0);
  return seconds(a) === seconds(b) && nanos(a) === nanos(b);
}

/** An event for `partnerId`: its signature, its payload, and the unsigned fields beside it. */
function verifyEvent(keys, event, partnerId) {
  const payload = verifyPayload(keys, 'event', event);
  const typeName = proto.type('coalition.v1.Event').fields.type.resolvedType.valuesById[event.type];
  const consistent =
    payload.partner_id === partnerId &&
    payload.event_id === event.event_id &&
    String(payload.sequence) === String(event.sequence) &&
    sameTime(payload.create_time, event.create_time) &&
    payload.body !== undefined &&
    EVENT_TYPE_BY_BODY[payload.body] === typeName;
  if (!consistent)
    throw new PayloadError(`event ${event.event_id} does not match its signed payload`);
  if (payload.body === 'transfer_completed') {
    const receipt = verifyPayload(keys, 'receipt', payload.transfer_completed.receipt);
    if (receipt.transfer_id !== payload.transfer_completed.transfer_id) {
      throw new PayloadError('a receipt names another transfer');
    }
    payload.verifiedReceipt = receipt;
  }
  return payload;
}

module.exports = { verifyPayload, verifyEvent, PayloadError, EVENT_TYPE_BY_BODY };
