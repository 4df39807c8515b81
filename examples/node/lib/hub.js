'use strict';
// A signed, verified connection to the hub: every request signed over the bytes sent
// (protocol.md §3), every answer verified over the bytes received (§4, §5) before it is parsed.

const grpc = require('@grpc/grpc-js');
const proto = require('./proto');
const ed25519 = require('./ed25519');
const signing = require('./signing');

const CALL_DEADLINE_MS = 15_000;
const DOMAIN = 'coalition.exchange';
// Identity (de)serializers: grpc-js sends and hands back the exact bytes we sign and verify.
const IDENTITY = (bytes) => bytes;
// Read-only calls (protocol.md §9); every other call changes state and carries an idempotency key.
const READ_ONLY = new Set([
  'PartnerService/GetPartner',
  'PartnerService/ListPartners',
  'PartnerService/GetHubKeys',
  'IdentityService/ListLinks',
  'ExchangeService/ListRateAgreements',
  'ExchangeService/GetTransfer',
  'ExchangeService/ListTransfers',
  'EventService/Subscribe',
  'EventService/ListEvents',
  'TierService/GetTierMapping',
  'SettlementService/GetSettlementRun',
  'SettlementService/GetStatement',
  'SettlementService/GetInclusionProof',
  'SettlementService/ListPaymentInstructions',
  'SettlementService/ListDisputes',
]);

/** The hub's answer could not be trusted: a missing or bad signature is no answer at all. */
class UntrustedAnswer extends Error {}
UntrustedAnswer.prototype.name = 'UntrustedAnswer';

/** A refusal whose hub signature verified: the hub's own word. */
class HubRefusal extends Error {
  constructor({ method, code, status, reason, fieldViolations, retryDelayMs }) {
    super(`${method}: ${grpc.status[code]} ${reason}: ${status.message}`);
    this.method = method;
    this.code = code;
    this.reason = reason;
    this.fieldViolations = fieldViolations;
    this.retryDelayMs = retryDelayMs;
  }
}
HubRefusal.prototype.name = 'HubRefusal';

/** A non-OK status without the hub's details: not the hub's word; the outcome is unknown. */
class OutcomeUnknown extends Error {
  constructor(method, status) {
    super(`${method}: ${grpc.status[status.code]} without hub details (${status.details})`);
    this.code = status.code;
  }
}
OutcomeUnknown.prototype.name = 'OutcomeUnknown';

function one(metadata, key) {
  const values = metadata.get(key);
  return values.length === 1 ? values[0] : null;
}

/** The hub's public keys a partner pinned (§2), and a count of the signatures they verified. */
class HubKeys {
  constructor(pinnedKeys) {
    this.byId = new Map(pinnedKeys.map((k) => [ed25519.keyIdOf(k), k]));
    this.verified = 0;
  }

  /** Verifies a hub signature with a pinned key; throws UntrustedAnswer otherwise. */
  verifyHubSignature(keyId, signature, message, what) {
    const key = this.byId.get(keyId);
    if (!key || !signature || !ed25519.verify(key, Buffer.from(signature), message)) {
      throw new UntrustedAnswer(`${what}: hub signature missing or bad`);
    }
    this.verified += 1;
  }
}

class Hub {
  /** `pinnedKeys`: raw hub public keys, distributed out of band by the operator (§2). */
  constructor({ target, audience, pinnedKeys }) {
    this.target = target;
    this.audience = audience;
    this.keys = new HubKeys(pinnedKeys);
    this.refusalsVerified = 0;
    this.client = new grpc.Client(target, grpc.credentials.createInsecure());
  }

  close() {
    this.client.close();
  }

  /** The metadata of one request, signed over `body`, the exact bytes that will be sent. */
  signedMetadata(partner, path, body, idempotencyKey) {
    const fields = {
      method: path,
      audience: this.audience,
      partnerId: partner.partnerId,
      keyId: partner.key.keyId,
      created: String(Math.floor(Date.now() / 1000)),
      nonce: signing.newNonce(),
      idempotencyKey,
      body,
    };
    const metadata = new grpc.Metadata();
    metadata.set('cx-partner', fields.partnerId);
    metadata.set('cx-key-id', fields.keyId);
    metadata.set('cx-created', fields.created);
    metadata.set('cx-nonce', fields.nonce);
    if (idempotencyKey) metadata.set('cx-idempotency-key', idempotencyKey);
    const signature = partner.key.sign(signing.requestSigningBytes(fields));
    metadata.set('cx-signature-bin', signature);
    return { metadata, nonce: fields.nonce };
  }

  /**
   * One unary call. `options.idempotencyKey`: a key to reuse on a retry; `null` leaves it off
   * (only to show the hub's refusal); by default a fresh one goes on every state-changing call.
   * Resolves to the verified, decoded response; rejects with HubRefusal (verified),
   * OutcomeUnknown or UntrustedAnswer.
   */
  async call(partner, service, name, fields = {}, options = {}) {
    const m = proto.method(service, name);
    const body = proto.encode(m.requestType, fields);
    const idempotencyKey = this.idempotencyKeyFor(`${service}/${name}`, options);
    const { metadata, nonce } = this.signedMetadata(partner, m.path, body, idempotencyKey);
    const { value, status } = await this.unary(m.path, body, metadata);
    if (status.code !== grpc.status.OK) throw this.refusal(m.path, nonce, status);
    if (value === null) throw new UntrustedAnswer(`${m.path}: OK without a response message`);
    const keyId = one(status.metadata, 'cx-key-id');
    const signature = one(status.metadata, 'cx-signature-bin');
    const signed = signing.responseSigningBytes({
      method: m.path,
      audience: this.audience,
      nonce,
      body: value,
    });
    this.keys.verifyHubSignature(keyId, signature, signed, m.path);
    return proto.decode(m.responseType, value);
  }

  idempotencyKeyFor(qualifiedName, options) {
    if (options.idempotencyKey !== undefined) return options.idempotencyKey;
    return READ_ONLY.has(qualifiedName) ? null : signing.newIdempotencyKey();
  }

  unary(path, body, metadata) {
    return new Promise((resolve) => {
      let value = null;
      const call = this.client.makeUnaryRequest(
        path,
        IDENTITY,
        IDENTITY,
        body,
        metadata,
        { deadline: Date.now() + CALL_DEADLINE_MS },
        (_error, response) => {
          value = response === undefined ? null : response;
        },
      );
      // The trailers arrive with the status, after the callback: wait for both.
      call.on('status', (status) => resolve({ value, status }));
    });
  }

  /** §5: verifies a refusal's signature over the status code and the details' exact bytes. */
  refusal(path, nonce, status) {
    const details = one(status.metadata, 'grpc-status-details-bin');
    if (details === null) return new OutcomeUnknown(path, status);
    const signed = signing.refusalSigningBytes({
      method: path,
      audience: this.audience,
      nonce,
      statusCode: status.code,
      statusDetails: details,
    });
    this.keys.verifyHubSignature(
      one(status.metadata, 'cx-key-id'),
      one(status.metadata, 'cx-signature-bin'),
      signed,
      `${path} refusal`,
    );
    this.refusalsVerified += 1;
    return new HubRefusal({
      method: path,
      code: status.code,
      ...decodeStatus(details, status.code),
    });
  }

  /**
   * Server streaming (Subscribe): no response signature; every event is verified by the
   * caller. Collects events until `count` arrived or none came for `idleMs`, then cancels.
   */
  stream(partner, service, name, fields, { count, idleMs }) {
    const m = proto.method(service, name);
    const body = proto.encode(m.requestType, fields);
    const { metadata, nonce } = this.signedMetadata(partner, m.path, body, null);
    return new Promise((resolve, reject) => {
      const messages = [];
      const call = this.client.makeServerStreamRequest(m.path, IDENTITY, IDENTITY, body, metadata, {
        deadline: Date.now() + CALL_DEADLINE_MS * 4,
      });
      let timer = null;
      const finish = () => {
        clearTimeout(timer);
        call.cancel();
      };
      const arm = () => {
        clearTimeout(timer);
        timer = setTimeout(finish, idleMs);
      };
      call.on('data', (bytes) => {
        messages.push(proto.decode(m.responseType, bytes));
        if (messages.length >= count) finish();
        else arm();
      });
      call.on('error', () => {}); // the outcome is read from 'status'
      call.on('status', (status) => {
        clearTimeout(timer);
        if (status.code === grpc.status.OK || status.code === grpc.status.CANCELLED) {
          resolve(messages);
        } else {
          try {
            reject(this.refusal(m.path, nonce, status));
          } catch (error) {
            reject(error);
          }
        }
      });
      arm();
    });
  }
}

/** Reads google.rpc.Status: the ErrorInfo reason, BadRequest fields, RetryInfo delay. */
function decodeStatus(bytes, code) {
  const status = proto.decode(proto.type('google.rpc.Status'), bytes);
  if (status.code !== code) throw new UntrustedAnswer('status code differs from its details');
  let reason = '';
  let fieldViolations = [];
  let retryDelayMs = null;
  for (const any of status.details) {
    const typeName = any.type_url.slice(any.type_url.lastIndexOf('/') + 1);
    if (typeName === 'google.rpc.ErrorInfo') {
      const info = proto.decode(proto.type(typeName), any.value);
      if (info.domain === DOMAIN) reason = info.reason;
    } else if (typeName === 'google.rpc.BadRequest') {
      fieldViolations = proto.decode(proto.type(typeName), any.value).field_violations;
    } else if (typeName === 'google.rpc.RetryInfo') {
      const delay = proto.decode(proto.type(typeName), any.value).retry_delay;
      if (delay) retryDelayMs = Number(delay.seconds) * 1000 + Math.floor(delay.nanos / 1e6);
    }
  }
  return { status, reason, fieldViolations, retryDelayMs };
}

module.exports = {
  Hub,
  HubKeys,
  HubRefusal,
  OutcomeUnknown,
  UntrustedAnswer,
  decodeStatus,
  READ_ONLY,
};
