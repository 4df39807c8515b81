'use strict';
// The example's own files: partner keys (private: owner-only) and what phase 1 leaves phase 2.

const fs = require('node:fs');
const path = require('node:path');
const { SigningKey } = require('./ed25519');

const STATE_FILE = 'state.json';
const PARTNERS = [
  { partnerId: 'skyway', name: 'Skyway Airlines', kind: 'airline', program: 'SKYWAY_MILES' },
  { partnerId: 'harbor', name: 'Harbor Hotels', kind: 'hotel', program: 'HARBOR_POINTS' },
];

function statePath(dir) {
  return path.join(dir, STATE_FILE);
}

function writeState(dir, state) {
  const json = JSON.stringify(state, null, 2);
  fs.writeFileSync(statePath(dir), json, { mode: 0o600 });
  fs.chmodSync(statePath(dir), 0o600);
}

function readState(dir) {
  return JSON.parse(fs.readFileSync(statePath(dir), 'utf8'));
}

/** Generates each partner's first key; writes <id>.pub.pem for `coalition partner add`. */
function keygen(dir) {
  fs.mkdirSync(dir, { recursive: true });
  const state = { partners: {} };
  for (const p of PARTNERS) {
    const key = SigningKey.generate();
    fs.writeFileSync(path.join(dir, `${p.partnerId}.pub.pem`), key.publicKeyPem());
    state.partners[p.partnerId] = { ...p, seedHex: key.seed.toString('hex') };
  }
  writeState(dir, state);
  return state;
}

/** The partners of a state file, each with its current signing key. */
function partnersOf(state) {
  const out = {};
  for (const [id, p] of Object.entries(state.partners)) {
    out[id] = { partnerId: id, key: new SigningKey(Buffer.from(p.seedHex, 'hex')) };
  }
  return out;
}

module.exports = { PARTNERS, keygen, readState, writeState, partnersOf };
