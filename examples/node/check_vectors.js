#!/usr/bin/env node
'use strict';
// Recomputes every byte string, hash and signature in docs/vectors/ with this example's own
// code and exits 1 on the first difference: the example and the protocol document agree.

const path = require('node:path');
const fs = require('node:fs');
const assert = require('node:assert/strict');
const ed25519 = require('./lib/ed25519');
const signing = require('./lib/signing');
const merkle = require('./lib/merkle');
const records = require('./lib/records');
const proto = require('./lib/proto');
const { encodeJson } = require('./lib/protojson');
const { HubKeys, decodeStatus } = require('./lib/hub');
const { verifyPayload, verifyEvent } = require('./lib/payloads');
const { verifyStatement, checkLine } = require('./lib/statement');

// COALITION_VECTORS_DIR: another copy of the vectors (the tests use it to see a change fail).
const VECTORS =
  process.env.COALITION_VECTORS_DIR || path.resolve(__dirname, '..', '..', 'docs', 'vectors');
const hex = (b) => Buffer.from(b).toString('hex');
const fromHex = (h) => Buffer.from(h, 'hex');
let checks = 0;

function load(name) {
  return JSON.parse(fs.readFileSync(path.join(VECTORS, name), 'utf8'));
}

function same(actual, expected, what) {
  assert.equal(actual, expected, what);
  checks += 1;
}

function binary(entry) {
  return fromHex(entry.value.hex);
}

function trailer(list, key) {
  const found = list.filter((t) => t.key === key);
  assert.equal(found.length, 1, `one ${key}`);
  return found[0];
}

function checkKeys() {
  const keys = new Map();
  for (const k of load('keys.json').keys) {
    const key = new ed25519.SigningKey(fromHex(k.seed_hex));
    same(hex(key.publicKey), k.public_key.hex, `${k.name} public key`);
    same(key.publicKey.toString('base64'), k.public_key.base64, `${k.name} public key base64`);
    same(key.keyId, k.key_id, `${k.name} key id`);
    same(ed25519.isSmallOrder(key.publicKey), false, `${k.name} is not small-order`);
    keys.set(k.name, key);
  }
  return keys;
}

function checkSignedLines(signed, expected, what) {
  same(hex(signed), expected.hex, `${what} signing bytes`);
  same(signed.toString('ascii'), expected.lines.join('\n'), `${what} signing lines`);
}

/** One request and its OK response: body, signed bytes, signature; then the response side. */
function checkRequest(step, keys) {
  const hub = keys.get('hub');
  const signer = keys.get(step.signer);
  const body = encodeJson(step.message);
  same(hex(body), step.body.hex, `${step.name} request bytes`);
  same(ed25519.sha256Hex(body), step.body_sha256, `${step.name} request sha256`);
  const md = Object.fromEntries(step.metadata.map((m) => [m.key, m.value]));
  same(md['cx-partner'], step.signer, `${step.name} cx-partner`);
  same(md['cx-key-id'], signer.keyId, `${step.name} cx-key-id`);
  const signed = signing.requestSigningBytes({
    method: step.method,
    audience: step.audience,
    partnerId: md['cx-partner'],
    keyId: md['cx-key-id'],
    created: md['cx-created'],
    nonce: md['cx-nonce'],
    idempotencyKey: md['cx-idempotency-key'],
    body,
  });
  checkSignedLines(signed, step.signing_bytes, step.name);
  same(hex(signer.sign(signed)), md['cx-signature-bin'].hex, `${step.name} request signature`);
  const response = step.response;
  const responseBody = encodeJson(response.message);
  same(hex(responseBody), response.body.hex, `${step.name} response bytes`);
  const responseSigned = signing.responseSigningBytes({
    method: step.method,
    audience: step.audience,
    nonce: md['cx-nonce'],
    body: responseBody,
  });
  checkSignedLines(responseSigned, response.signing_bytes, `${step.name} response`);
  same(trailer(response.trailers, 'cx-key-id').value, hub.keyId, `${step.name} response key id`);
  const signature = binary(trailer(response.trailers, 'cx-signature-bin'));
  same(hex(hub.sign(responseSigned)), hex(signature), `${step.name} response signature`);
  new HubKeys([hub.publicKey]).verifyHubSignature(hub.keyId, signature, responseSigned, step.name);
}

function checkRequests(keys) {
  const vectors = load('requests.json');
  for (const step of vectors.steps) checkRequest(step, keys);
  return vectors.steps.length;
}

function checkRefusals(keys) {
  const hub = keys.get('hub');
  const vectors = load('refusals.json');
  for (const r of vectors.refusals) {
    const details = binary(trailer(r.trailers, 'grpc-status-details-bin'));
    same(hex(encodeJson(r.status_details)), hex(details), `${r.name} status details bytes`);
    same(ed25519.sha256Hex(details), r.status_details_sha256, `${r.name} details sha256`);
    const signed = signing.refusalSigningBytes({
      method: r.method,
      audience: r.audience,
      nonce: r.request_nonce,
      statusCode: r.status_code,
      statusDetails: details,
    });
    checkSignedLines(signed, r.signing_bytes, r.name);
    const signature = binary(trailer(r.trailers, 'cx-signature-bin'));
    same(hex(hub.sign(signed)), hex(signature), `${r.name} refusal signature`);
    new HubKeys([hub.publicKey]).verifyHubSignature(
      trailer(r.trailers, 'cx-key-id').value,
      signature,
      signed,
      r.name,
    );
    const decoded = decodeStatus(details, r.status_code);
    const info = r.status_details.json.details.find((d) => d['@type'].endsWith('ErrorInfo'));
    same(decoded.reason, info.reason, `${r.name} reason`);
  }
  return vectors.refusals.length;
}

/** One signed payload: its bytes, signed bytes, signature; verified the way the partner does. */
function checkPayload(entry, keys, name) {
  const hub = keys.get('hub');
  const payload = fromHex(entry.payload.hex);
  same(hex(encodeJson(entry.payload_decoded)), entry.payload.hex, `${name} payload bytes`);
  same(hex(encodeJson(entry.wrapper)), entry.wrapper_bytes.hex, `${name} wrapper bytes`);
  same(ed25519.sha256Hex(payload), entry.payload_sha256, `${name} payload sha256`);
  const signed = signing.payloadSigningBytes(entry.kind, payload);
  checkSignedLines(signed, entry.signing_bytes, name);
  same(hex(hub.sign(signed)), entry.signature.hex, `${name} signature`);
  const wrapper = proto.decode(proto.type(entry.wrapper.type), fromHex(entry.wrapper_bytes.hex));
  const pinned = new HubKeys([hub.publicKey]);
  if (entry.kind === 'event') {
    const partnerId = entry.payload_decoded.json.partner_id;
    verifyEvent(pinned, wrapper, partnerId);
    assert.throws(() => verifyEvent(pinned, wrapper, `not-${partnerId}`), /does not match/);
  } else {
    verifyPayload(pinned, entry.kind, wrapper);
  }
  const tampered = proto.decode(proto.type(entry.wrapper.type), fromHex(entry.wrapper_bytes.hex));
  tampered.payload = Buffer.concat([wrapper.payload, Buffer.from([0])]);
  assert.throws(() => verifyPayload(pinned, entry.kind, tampered), /signature/);
  checks += 2;
}

function checkPayloads(keys) {
  const vectors = load('payloads.json');
  checkPayload(vectors.quote, keys, 'quote');
  checkPayload(vectors.receipt, keys, 'receipt');
  checkPayload(vectors.statement, keys, 'statement');
  vectors.events.forEach((e, i) => checkPayload(e, keys, `event ${i + 1}`));
  return 3 + vectors.events.length;
}

function checkKeyRegistration(keys) {
  const v = load('key_registration.json');
  const newKey = keys.get(v.new_key.name);
  same(newKey.keyId, v.new_key.key_id, 'new key id');
  same(ed25519.sha256Hex(newKey.publicKey), v.public_key_sha256, 'new key sha256');
  const signed = signing.keyRegistrationSigningBytes(v.partner_id, newKey.publicKey);
  checkSignedLines(signed, v.signing_bytes, 'key registration');
  same(hex(newKey.sign(signed)), v.proof_of_possession.hex, 'proof of possession');
  checkRequest(v.request, keys);
}

function checkRecords() {
  const v = load('records.json');
  for (const r of v.records) {
    const bytes = fromHex(r.bytes.hex);
    same(hex(records.encodeRecord(r.fields)), r.bytes.hex, `record ${r.fields.transfer_id} bytes`);
    same(bytes.toString('ascii'), r.text, 'record text');
    const decoded = records.decodeRecord(bytes);
    for (const [name, value] of Object.entries(r.fields)) {
      same(String(decoded[name]), String(value), `record field ${name}`);
    }
    same(hex(merkle.leafHash(bytes)), r.leaf_hash_hex, 'leaf hash');
  }
  for (const r of v.refused) {
    assert.throws(() => records.decodeRecord(fromHex(r.bytes.hex)), records.RecordError, r.why);
    checks += 1;
  }
  return v.records.map((r) => fromHex(r.bytes.hex));
}

function checkMerkle(recordBytes) {
  const v = load('merkle.json');
  for (const tree of v.trees) {
    const leaves = recordBytes.slice(0, tree.tree_size).map((b) => merkle.leafHash(b));
    same(
      JSON.stringify(leaves.map(hex)),
      JSON.stringify(tree.leaf_hashes_hex),
      `tree ${tree.tree_size} leaves`,
    );
    const root = merkle.rootOf(leaves);
    same(hex(root), tree.root_hex, `tree ${tree.tree_size} root`);
    const size = BigInt(tree.tree_size);
    for (const p of tree.proofs) {
      const mine = merkle.auditPath(p.leaf_index, leaves).map(hex);
      same(
        JSON.stringify(mine),
        JSON.stringify(p.audit_path_hex),
        `tree ${tree.tree_size} path ${p.leaf_index}`,
      );
      const pathHashes = p.audit_path_hex.map(fromHex);
      const index = BigInt(p.leaf_index);
      same(
        merkle.verifyInclusion(leaves[p.leaf_index], index, size, pathHashes, root),
        true,
        'proof verifies',
      );
      const otherLeaf = merkle.leafHash(Buffer.from('not a record'));
      same(
        merkle.verifyInclusion(otherLeaf, index, size, pathHashes, root),
        false,
        'other leaf fails',
      );
    }
  }
  return v.trees.length;
}

function checkStatement(keys) {
  const v = load('statement.json');
  const pinned = new HubKeys([keys.get('hub').publicKey]);
  const wrapper = proto.decode(
    proto.type('coalition.v1.Statement'),
    fromHex(v.statement.wrapper_bytes.hex),
  );
  const json = v.statement.payload_decoded.json;
  const payload = verifyStatement(pinned, wrapper, {
    partnerId: json.partner_id,
    businessDay: v.business_day,
    currencyCode: json.currency_code,
  });
  same(hex(payload.merkle_root), v.merkle_root_hex, 'statement root');
  same(String(payload.tree_size), String(v.tree_size), 'statement tree size');
  const proofType = proto.type('coalition.v1.GetInclusionProofResponse');
  for (const line of payload.lines) {
    const entry = v.inclusion_proofs.find((p) => p.transfer_id === line.transfer_id);
    same(hex(encodeJson(entry.response)), entry.response_bytes.hex, 'proof response bytes');
    const proof = proto.decode(proofType, fromHex(entry.response_bytes.hex));
    same(hex(merkle.leafHash(line.record)), entry.leaf_hash_hex, 'statement leaf hash');
    checkLine(payload, line, proof);
    const bad = proto.decode(proofType, fromHex(entry.response_bytes.hex));
    bad.audit_path = [Buffer.alloc(32), ...proof.audit_path.slice(1)];
    assert.throws(() => checkLine(payload, line, bad), /not in the signed tree/);
    checks += 2;
  }
  return payload.lines.length;
}

const KNOWN_FILES = [
  'key_registration.json',
  'keys.json',
  'merkle.json',
  'payloads.json',
  'records.json',
  'refusals.json',
  'requests.json',
  'statement.json',
];

function main() {
  // A vector file this check does not know would go unchecked: that is a failure too.
  const unknown = fs
    .readdirSync(VECTORS)
    .filter((f) => f.endsWith('.json') && !KNOWN_FILES.includes(f));
  assert.deepEqual(unknown, [], 'vector files this check does not know');
  const keys = checkKeys();
  const requests = checkRequests(keys);
  const refusals = checkRefusals(keys);
  const payloads = checkPayloads(keys);
  checkKeyRegistration(keys);
  const recordBytes = checkRecords();
  const trees = checkMerkle(recordBytes);
  const lines = checkStatement(keys);
  console.log(
    `vectors agree: ${checks} checks (${keys.size} keys, ${requests} requests, ${refusals} refusals, ` +
      `${payloads} payloads, 1 key registration, ${recordBytes.length} records, ${trees} trees, ` +
      `${lines} statement lines)`,
  );
}

try {
  main();
} catch (error) {
  console.error(`vectors differ: ${error.message}`);
  process.exit(1);
}
