'use strict';
// Phase 1, during the business day: onboard, link a member, agree a rate, report a tier,
// quote, move points, confirm the credit on the other side, read and acknowledge the feeds.

const grpc = require('@grpc/grpc-js');
const { SigningKey } = require('./ed25519');
const signing = require('./signing');
const points = require('./points');
const { big, enumValue, timestamp, check, expectRefusal, log } = require('./util');

const PHASE = 'phase 1';
const TIER_VALID_MS = 365 * 24 * 3600 * 1000;

/** Both partners: the hub's keys (checked against the pinned one) and the directory. */
async function directory(hub, partners) {
  for (const p of Object.values(partners)) {
    const keys = await hub.call(p, 'PartnerService', 'GetHubKeys');
    check(keys.audience === hub.audience, 'the hub names the audience we sign for');
    const pinned = keys.keys.filter((k) => hub.keys.byId.has(k.key_id));
    check(pinned.length > 0, 'GetHubKeys lists the pinned hub key');
    check(
      pinned.every((k) => k.create_time && big(k.create_time.seconds) > 0n),
      'hub key create_time set',
    );
  }
  const list = await hub.call(partners.skyway, 'PartnerService', 'ListPartners', { page_size: 50 });
  const ids = list.partners.map((p) => p.partner_id);
  check(ids.includes('skyway') && ids.includes('harbor'), 'the directory lists both partners');
  const harbor = await hub.call(partners.skyway, 'PartnerService', 'GetPartner', {
    partner_id: 'harbor',
  });
  const harborKeys = harbor.partner.active_keys.map((k) => k.key_id);
  check(harborKeys.includes(partners.harbor.key.keyId), "the directory shows harbor's key");
  log(PHASE, `directory: ${ids.length} partners; hub keys pinned and verified`);
}

/** §7 and §10.4: register a new key with its proof, switch to it, revoke the old one. */
async function rotateKey(hub, partner, state) {
  const next = SigningKey.generate();
  const forged = next.sign(signing.keyRegistrationSigningBytes('harbor', next.publicKey));
  await expectRefusal(
    hub.call(partner, 'PartnerService', 'RegisterKey', {
      public_key: next.publicKey,
      proof_of_possession: forged,
    }),
    grpc.status.INVALID_ARGUMENT,
    'PROOF_OF_POSSESSION_INVALID',
  );
  const proof = next.sign(signing.keyRegistrationSigningBytes(partner.partnerId, next.publicKey));
  const registered = await hub.call(partner, 'PartnerService', 'RegisterKey', {
    public_key: next.publicKey,
    proof_of_possession: proof,
  });
  check(registered.key.key_id === next.keyId, 'the hub derives the same key id');
  const old = partner.key;
  partner.key = next;
  state.partners[partner.partnerId].seedHex = next.seed.toString('hex');
  const revoked = await hub.call(partner, 'PartnerService', 'RevokeKey', { key_id: old.keyId });
  check(revoked.key.state === enumValue('KeyState', 'KEY_STATE_REVOKED'), 'the old key is revoked');
  const withOldKey = { partnerId: partner.partnerId, key: old };
  await expectRefusal(
    hub.call(withOldKey, 'PartnerService', 'GetHubKeys'),
    grpc.status.UNAUTHENTICATED,
    'UNAUTHENTICATED',
  );
  log(PHASE, `${partner.partnerId} rotated its key to ${next.keyId}; the revoked key is refused`);
}

/** One member, enrolled at both partners and linked with a one-time code. */
async function linkMember(hub, partners) {
  await expectRefusal(
    hub.call(partners.skyway, 'IdentityService', 'EnrollMember', {}, { idempotencyKey: null }),
    grpc.status.INVALID_ARGUMENT,
    'IDEMPOTENCY_KEY_MISSING',
  );
  const atSkyway = (await hub.call(partners.skyway, 'IdentityService', 'EnrollMember')).ppid;
  const atHarbor = (await hub.call(partners.harbor, 'IdentityService', 'EnrollMember')).ppid;
  const code = await hub.call(partners.skyway, 'IdentityService', 'CreateLinkCode', {
    ppid: atSkyway,
  });
  const redeemed = await hub.call(partners.harbor, 'IdentityService', 'RedeemLinkCode', {
    link_code: code.link_code,
    ppid: atHarbor,
  });
  check(
    ['skyway', 'harbor'].every((id) => redeemed.linked_partner_ids.includes(id)),
    'linked at both',
  );
  const links = await hub.call(partners.skyway, 'IdentityService', 'ListLinks', { ppid: atSkyway });
  check(
    links.partner_ids.length === 1 && links.partner_ids[0] === 'harbor',
    'skyway sees the link to harbor',
  );
  log(PHASE, 'member enrolled at skyway and harbor and linked');
  return { skyway: atSkyway, harbor: atHarbor };
}

const LADDERS = {
  skyway: [
    { code: 'BLUE', display_name: 'Blue', rank: 1, canonical_level: 1 },
    { code: 'GOLD', display_name: 'Gold', rank: 2, canonical_level: 3 },
  ],
  harbor: [
    { code: 'MEMBER', display_name: 'Member', rank: 1, canonical_level: 1 },
    { code: 'SILVER', display_name: 'Silver', rank: 2, canonical_level: 2 },
    { code: 'GOLD', display_name: 'Gold', rank: 3, canonical_level: 3 },
  ],
};

/** Ladders at both partners, skyway's member reported GOLD and matched at harbor. */
async function tiers(hub, partners, ppids) {
  for (const id of ['skyway', 'harbor']) {
    const published = await hub.call(partners[id], 'TierService', 'PublishTierLadder', {
      tiers: LADDERS[id],
      canonical_matching: true,
    });
    check(published.version >= 1, `${id} ladder published`);
  }
  await hub.call(partners.skyway, 'TierService', 'ReportMemberTier', {
    ppid: ppids.skyway,
    tier_code: 'GOLD',
    expire_time: timestamp(Date.now() + TIER_VALID_MS),
  });
  const mapping = await hub.call(partners.skyway, 'TierService', 'GetTierMapping', {
    source_partner_id: 'skyway',
    target_partner_id: 'harbor',
  });
  check(
    mapping.basis === enumValue('MappingBasis', 'MAPPING_BASIS_CANONICAL'),
    'canonical mapping',
  );
  const match = await hub.call(partners.skyway, 'TierService', 'RequestStatusMatch', {
    ppid: ppids.skyway,
    target_partner_id: 'harbor',
  });
  check(match.grant_id.length > 0 && match.target_partner_id === 'harbor', 'status match granted');
  log(PHASE, 'tier ladders published, GOLD reported, status matched at harbor');
  return match.grant_id;
}

function utcDay(seconds) {
  return new Date(Number(big(seconds)) * 1000).toISOString().slice(0, 10);
}

/** What the partners' books keep of a completed transfer: its signed receipt, for phase 2. */
function booked(receipt) {
  const kinds = {
    [enumValue('TransferKind', 'TRANSFER_KIND_TRANSFER')]: 'transfer',
    [enumValue('TransferKind', 'TRANSFER_KIND_REVERSAL')]: 'reversal',
  };
  return {
    transfer_id: receipt.transfer_id,
    kind: kinds[receipt.kind],
    source_partner_id: receipt.source_partner_id,
    destination_partner_id: receipt.destination_partner_id,
    source_points: String(receipt.source_points),
    destination_points: String(receipt.destination_points),
    amount_minor: String(receipt.settlement_amount.amount_minor),
    fee_minor: String(receipt.fee ? receipt.fee.amount_minor : 0),
    currency: receipt.settlement_amount.currency_code,
    // protocol.md §13: the day the transfer completed in, in the coalition calendar; this
    // example assumes the default calendar (UTC, cut-off 00:00).
    business_day: utcDay(receipt.complete_time.seconds),
  };
}

async function run(hub, partners, state) {
  await directory(hub, partners);
  await rotateKey(hub, partners.skyway, state);
  await points.agreeRate(hub, partners);
  const ppids = await linkMember(hub, partners);
  await tiers(hub, partners, ppids);
  const books = { skyway: points.newBooks(), harbor: points.newBooks() };
  const q = await points.quote(hub, partners.skyway, ppids.skyway);
  const quoted = await points.transfer(hub, partners.skyway, q);
  const receipts = [(await points.confirmCredit(hub, partners, ppids, quoted, books)).receipt];
  const inline = await points.inlineTransfer(hub, partners.skyway, ppids.skyway);
  receipts.push((await points.confirmCredit(hub, partners, ppids, inline, books)).receipt);
  receipts.push(await points.reverse(hub, partners, ppids, inline, books));
  const listed = await hub.call(partners.harbor, 'ExchangeService', 'ListTransfers', {
    state: enumValue('TransferState', 'TRANSFER_STATE_COMPLETED'),
  });
  check(
    receipts.every((r) => listed.transfers.some((t) => t.transfer_id === r.transfer_id)),
    'harbor lists all three',
  );
  check(books.harbor.balance === points.DESTINATION_POINTS, 'harbor credited 3,000 points net');
  await points.replayFeed(hub, partners.harbor, books.harbor);
  state.transfers = receipts.map(booked);
}

module.exports = { run };
