#!/usr/bin/env node
'use strict';
// An example Coalition Exchange partner, acting as two partners (skyway and harbor):
//   node partner.js keygen --dir DIR
//   node partner.js phase1 --dir DIR --target HOST:PORT --hub-key HUB.pub [--audience A]
//   node partner.js phase2 --dir DIR --target HOST:PORT --hub-key HUB.pub [--audience A]
// phase1 runs during the business day, phase2 after the operator settled it.

const fs = require('node:fs');
const { parseArgs } = require('node:util');
const { Hub } = require('./lib/hub');
const { rawPublicKeyFromPem } = require('./lib/ed25519');
const state = require('./lib/state');
const phase1 = require('./lib/phase1');
const phase2 = require('./lib/phase2');

const AUDIENCE_DEFAULT = 'coalition-exchange';
const SERVICES = [
  'PartnerService',
  'IdentityService',
  'EventService',
  'TierService',
  'ExchangeService',
  'SettlementService',
  'AnalyticsService',
];

function options() {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      dir: { type: 'string' },
      target: { type: 'string' },
      'hub-key': { type: 'string' },
      audience: { type: 'string', default: AUDIENCE_DEFAULT },
    },
  });
  if (positionals.length !== 1 || !values.dir)
    throw new Error('usage: partner.js keygen|phase1|phase2 --dir DIR ...');
  return { command: positionals[0], ...values };
}

/** The hub's key is pinned from the operator's file, never learned from an answer (§2). */
function connect(opts) {
  if (!opts.target || !opts['hub-key'])
    throw new Error('phase1 and phase2 need --target and --hub-key');
  const pinned = rawPublicKeyFromPem(fs.readFileSync(opts['hub-key']));
  return new Hub({ target: opts.target, audience: opts.audience, pinnedKeys: [pinned] });
}

async function runPhase(opts, phase, name) {
  const saved = state.readState(opts.dir);
  const partners = state.partnersOf(saved);
  const hub = connect(opts);
  const called = new Set();
  const call = hub.call.bind(hub);
  hub.call = (partner, service, ...rest) => {
    called.add(service);
    return call(partner, service, ...rest);
  };
  try {
    await phase.run(hub, partners, saved);
  } finally {
    state.writeState(opts.dir, saved); // a rotated key must survive a failed run
    hub.close();
  }
  saved[name] = {
    services: SERVICES.filter((s) => called.has(s)),
    hub_signatures_verified: hub.keys.verified,
    refusals_verified: hub.refusalsVerified,
  };
  state.writeState(opts.dir, saved);
  console.log(
    `[${name}] ok: ${hub.keys.verified} hub signatures verified (${hub.refusalsVerified} on refusals); services ${saved[name].services.join(', ')}`,
  );
}

async function main() {
  const opts = options();
  if (opts.command === 'keygen') {
    state.keygen(opts.dir);
    console.log(
      `[keygen] keys written to ${opts.dir}: ${state.PARTNERS.map((p) => `${p.partnerId}.pub.pem`).join(', ')}`,
    );
  } else if (opts.command === 'phase1') {
    await runPhase(opts, phase1, 'phase1');
  } else if (opts.command === 'phase2') {
    await runPhase(opts, phase2, 'phase2');
  } else {
    throw new Error(`unknown command ${opts.command}`);
  }
}

main().catch((error) => {
  console.error(`partner.js: ${error.name}: ${error.message}`);
  process.exit(1);
});
