'use strict';
// Ed25519 keys (RFC 8032, pure, through node:crypto), key ids and the small-order check.

const crypto = require('node:crypto');

// DER prefixes that wrap a raw 32-byte seed (PKCS#8) or public key (SPKI) for node:crypto.
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

function sha256(bytes) {
  return crypto.createHash('sha256').update(bytes).digest();
}

function sha256Hex(bytes) {
  return sha256(bytes).toString('hex');
}

/** protocol.md §2: "ed25519:" + the first 16 hex digits of SHA-256 of the raw key. */
function keyIdOf(publicKey) {
  return `ed25519:${sha256Hex(publicKey).slice(0, 16)}`;
}

class SigningKey {
  constructor(seed) {
    if (seed.length !== 32) throw new Error('an Ed25519 seed is 32 bytes');
    this.seed = Buffer.from(seed);
    this.privateKey = crypto.createPrivateKey({
      key: Buffer.concat([PKCS8_PREFIX, this.seed]),
      format: 'der',
      type: 'pkcs8',
    });
    const spki = crypto.createPublicKey(this.privateKey).export({ format: 'der', type: 'spki' });
    this.publicKey = Buffer.from(spki.subarray(SPKI_PREFIX.length));
    this.keyId = keyIdOf(this.publicKey);
  }

  static generate() {
    return new SigningKey(crypto.randomBytes(32));
  }

  sign(message) {
    return crypto.sign(null, message, this.privateKey);
  }

  /** SPKI PEM, the form `coalition partner add --public-key` reads. */
  publicKeyPem() {
    return crypto.createPublicKey(this.privateKey).export({ format: 'pem', type: 'spki' });
  }
}

/** The 32 raw bytes of an Ed25519 public key in an SPKI PEM file (the hub's signing.pub). */
function rawPublicKeyFromPem(pem) {
  const key = crypto.createPublicKey(pem);
  if (key.asymmetricKeyType !== 'ed25519') throw new Error('not an Ed25519 public key');
  return Buffer.from(key.export({ format: 'der', type: 'spki' }).subarray(SPKI_PREFIX.length));
}

// Curve25519 in twisted Edwards form, for the small-order check only (no secrets involved).
const P = 2n ** 255n - 19n;
const D = (-121665n * modInverse(121666n)) % P;
const SQRT_M1 = modPow(2n, (P - 1n) / 4n, P);

function mod(a) {
  const r = a % P;
  return r < 0n ? r + P : r;
}

function modPow(base, exponent, modulus) {
  let result = 1n;
  let b = base % modulus;
  let e = exponent;
  while (e > 0n) {
    if (e & 1n) result = (result * b) % modulus;
    b = (b * b) % modulus;
    e >>= 1n;
  }
  return result;
}

function modInverse(a) {
  return modPow(((a % P) + P) % P, P - 2n, P);
}

/** RFC 8032 §5.1.3 point decoding; null when the bytes are not a point. */
function decodePoint(bytes) {
  const copy = Buffer.from(bytes);
  const sign = copy[31] >> 7;
  copy[31] &= 0x7f;
  const y = BigInt(`0x${Buffer.from(copy).reverse().toString('hex')}`);
  if (y >= P) return null;
  const u = mod(y * y - 1n);
  const v = mod(D * y * y + 1n);
  let x = mod(u * modPow(v, 3n, P) * modPow(u * modPow(v, 7n, P), (P - 5n) / 8n, P));
  const vx2 = mod(v * x * x);
  if (vx2 === mod(-u)) x = mod(x * SQRT_M1);
  else if (vx2 !== u) return null;
  if (x === 0n && sign === 1) return null;
  if (Number(x & 1n) !== sign) x = mod(-x);
  return { x, y, z: 1n, t: mod(x * y) };
}

function double(p) {
  const a = mod(p.x * p.x);
  const b = mod(p.y * p.y);
  const c = mod(2n * p.z * p.z);
  const h = mod(a + b);
  const e = mod(h - mod((p.x + p.y) * (p.x + p.y)));
  const g = mod(a - b);
  const f = mod(c + g);
  return { x: mod(e * f), y: mod(g * h), z: mod(f * g), t: mod(e * h) };
}

/** True for keys without a usable private half: points P with [8]P the identity. */
function isSmallOrder(publicKey) {
  if (publicKey.length !== 32) return true;
  const point = decodePoint(publicKey);
  if (point === null) return true;
  const p8 = double(double(double(point)));
  // The identity in extended coordinates: X = 0 and Y = Z.
  return p8.x === 0n && p8.y === p8.z;
}

/** Verifies an Ed25519 signature; small-order keys never verify (protocol.md §2). */
function verify(publicKey, signature, message) {
  if (!Buffer.isBuffer(signature) || signature.length !== 64) return false;
  if (isSmallOrder(publicKey)) return false;
  const key = crypto.createPublicKey({
    key: Buffer.concat([SPKI_PREFIX, publicKey]),
    format: 'der',
    type: 'spki',
  });
  return crypto.verify(null, message, key, signature);
}

module.exports = {
  SigningKey,
  keyIdOf,
  rawPublicKeyFromPem,
  isSmallOrder,
  verify,
  sha256,
  sha256Hex,
};
