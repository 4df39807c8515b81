'use strict';
// The signed byte strings of protocol.md §3-§7, built from their lines.

const crypto = require('node:crypto');
const { sha256Hex } = require('./ed25519');

const REQUEST_V1 = 'cx-request-v1';
const RESPONSE_V1 = 'cx-response-v1';
const REFUSAL_V1 = 'cx-refusal-v1';
const PAYLOAD_V1 = 'cx-payload-v1';
const KEY_REGISTRATION_V1 = 'cx-key-registration-v1';
const PAYLOAD_KINDS = new Set(['event', 'quote', 'receipt', 'statement']);
// §1: every line is printable ASCII 0x21-0x7E, or empty.
const LINE = /^[\x21-\x7e]*$/;

/** Lines joined by "\n"; a value that is not a valid line is refused, never escaped. */
function signedLines(lines) {
  for (const line of lines) {
    if (typeof line !== 'string' || !LINE.test(line)) {
      throw new Error('a value cannot be signed: not printable ASCII without spaces');
    }
  }
  return Buffer.from(lines.join('\n'), 'ascii');
}

/** §3: what the partner signs for one request. */
function requestSigningBytes({
  method,
  audience,
  partnerId,
  keyId,
  created,
  nonce,
  idempotencyKey,
  body,
}) {
  return signedLines([
    REQUEST_V1,
    method,
    audience,
    partnerId,
    keyId,
    created,
    nonce,
    idempotencyKey || '',
    sha256Hex(body),
  ]);
}

/** §4: what the hub signs over an OK response. */
function responseSigningBytes({ method, audience, nonce, body }) {
  return signedLines([RESPONSE_V1, method, audience, nonce, sha256Hex(body)]);
}

/** §5: what the hub signs over a refusal; statusDetails are the grpc-status-details-bin bytes. */
function refusalSigningBytes({ method, audience, nonce, statusCode, statusDetails }) {
  return signedLines([
    REFUSAL_V1,
    method,
    audience,
    nonce || '',
    String(statusCode),
    sha256Hex(statusDetails),
  ]);
}

/** §6: what the hub signs over an event, quote, receipt or statement payload. */
function payloadSigningBytes(kind, payload) {
  if (!PAYLOAD_KINDS.has(kind)) throw new Error(`unknown payload kind ${kind}`);
  return signedLines([PAYLOAD_V1, kind, sha256Hex(payload)]);
}

/** §7: what the new key signs to prove its holder registers it for `partnerId`. */
function keyRegistrationSigningBytes(partnerId, publicKey) {
  return signedLines([KEY_REGISTRATION_V1, partnerId, sha256Hex(publicKey)]);
}

/** §3: 16 random bytes, base64url without padding (22 characters, canonical). */
function newNonce() {
  return crypto.randomBytes(16).toString('base64url');
}

/** §3: a lower-case UUID. */
function newIdempotencyKey() {
  return crypto.randomUUID();
}

module.exports = {
  signedLines,
  requestSigningBytes,
  responseSigningBytes,
  refusalSigningBytes,
  payloadSigningBytes,
  keyRegistrationSigningBytes,
  newNonce,
  newIdempotencyKey,
};
