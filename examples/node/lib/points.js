'use strict';
// Points moving between the two partners: the rate agreement, a quote, transfers, the
// destination's confirmation from its feed, the source's signed receipt, and a reversal.

const grpc = require('@grpc/grpc-js');
const signing = require('./signing');
const { verifyPayload, verifyEvent } = require('./payloads');
const { big, enumValue, timestamp, timestampMs, check, expectRefusal, log } = require('./util');

const PHASE = 'phase 1';
const CURRENCY = 'EUR';
// 1000 skyway miles become 250 harbor points; harbor charges EUR 0.015 a point, so the
// 12,000 miles below are 3,000 points and EUR 45.00 exactly (no rounding to argue about).
const TERMS = {
  source_units: 1000,
  destination_units: 250,
  minimum_source_points: 1000,
  increment_source_points: 1000,
  maximum_source_points: 100000,
  member_daily_cap_source_points: 50000,
  settlement_currency_code: CURRENCY,
  price_per_destination_point: '0.015',
};
const SOURCE_POINTS = 12000n;
const DESTINATION_POINTS = 3000n;
const AMOUNT_MINOR = 4500n;
const INLINE_SOURCE_POINTS = 6000n;
const INLINE_DESTINATION_POINTS = 1500n;
const EVENT_WAIT_MS = 15000;
const EVENT_POLL_MS = 200;

/** The source proposes, the destination accepts that exact version. */
async function agreeRate(hub, partners) {
  const terms = { ...TERMS, effective_from: timestamp(Date.now() - 300_000) };
  const proposed = await hub.call(partners.skyway, 'ExchangeService', 'ProposeRateAgreement', {
    source_partner_id: 'skyway',
    destination_partner_id: 'harbor',
    terms,
  });
  const { agreement_id: agreementId, version } = proposed.agreement;
  const accepted = await hub.call(partners.harbor, 'ExchangeService', 'AcceptRateAgreement', {
    agreement_id: agreementId,
    version,
  });
  check(
    accepted.agreement.state === enumValue('AgreementState', 'AGREEMENT_STATE_ACCEPTED'),
    'agreement accepted',
  );
  const listed = await hub.call(partners.skyway, 'ExchangeService', 'ListRateAgreements', {});
  check(
    listed.agreements.some((a) => a.agreement_id === agreementId),
    'the agreement is listed',
  );
  log(PHASE, `rate agreement ${agreementId} v${version} accepted by harbor`);
}

/** A firm, hub-signed quote: verified before it is shown to the member. */
async function quote(hub, skyway, ppid) {
  const response = await hub.call(skyway, 'ExchangeService', 'CreateQuote', {
    ppid,
    destination_partner_id: 'harbor',
    source_points: Number(SOURCE_POINTS),
  });
  const q = verifyPayload(hub.keys, 'quote', response.quote);
  check(
    q.source_partner_id === 'skyway' && q.destination_partner_id === 'harbor' && q.ppid === ppid,
    'quote parties',
  );
  check(
    big(q.source_points) === SOURCE_POINTS && big(q.destination_points) === DESTINATION_POINTS,
    'quote points',
  );
  check(
    big(q.settlement_amount.amount_minor) === AMOUNT_MINOR &&
      q.settlement_amount.currency_code === CURRENCY,
    'quote amount',
  );
  check(timestampMs(q.expire_time) > timestampMs(q.create_time), 'quote expires after it is made');
  log(
    PHASE,
    `quote ${q.quote_id}: ${SOURCE_POINTS} miles -> ${q.destination_points} points, ` +
      `${q.settlement_amount.amount_minor} minor, fee ${q.fee.amount_minor}`,
  );
  return q;
}

/** §10.3: the same key and bytes give the stored answer, and start nothing new. */
async function transfer(hub, skyway, q) {
  const key = signing.newIdempotencyKey();
  const fields = { quote_id: q.quote_id };
  const first = await hub.call(skyway, 'ExchangeService', 'CreateTransfer', fields, {
    idempotencyKey: key,
  });
  const retry = await hub.call(skyway, 'ExchangeService', 'CreateTransfer', fields, {
    idempotencyKey: key,
  });
  const t = first.transfer;
  check(retry.transfer.transfer_id === t.transfer_id, 'a retry returns the same transfer');
  // Under a new key the same quote is a second intent: refused, nothing started.
  await expectRefusal(
    hub.call(skyway, 'ExchangeService', 'CreateTransfer', fields),
    grpc.status.FAILED_PRECONDITION,
    'QUOTE_ALREADY_USED',
  );
  check(
    t.state === enumValue('TransferState', 'TRANSFER_STATE_PENDING'),
    'the transfer is pending',
  );
  check(
    t.quote_id === q.quote_id && big(t.destination_points) === DESTINATION_POINTS,
    'the transfer is the quote',
  );
  log(PHASE, `transfer ${t.transfer_id} pending at harbor`);
  return t;
}

/** Polls the partner's feed (verifying every event) until `wanted` matches one; acks all. */
async function awaitEvent(hub, partner, books, wanted) {
  const deadline = Date.now() + EVENT_WAIT_MS;
  while (Date.now() < deadline) {
    const page = await hub.call(partner, 'EventService', 'ListEvents', { page_size: 100 });
    let found = null;
    for (const event of page.events) {
      const payload = verifyEvent(hub.keys, event, partner.partnerId);
      if (books.seenEvents.has(payload.event_id)) continue; // at least once: deduplicate
      books.seenEvents.add(payload.event_id);
      books.eventBodies.push(payload.body);
      if (wanted(payload)) found = payload;
    }
    if (page.events.length > 0) {
      const last = page.events[page.events.length - 1].sequence;
      const acked = await hub.call(partner, 'EventService', 'AckEvents', { up_to_sequence: last });
      check(big(acked.acked_sequence) === big(last), 'the hub acknowledged up to the last event');
    }
    if (found) return found;
    await new Promise((resolve) => setTimeout(resolve, EVENT_POLL_MS));
  }
  throw new Error(`${partner.partnerId}: the expected event did not arrive`);
}

/** Harbor credits its member on CreditRequested and confirms; skyway gets the receipt. */
async function confirmCredit(hub, partners, ppids, transfer, books) {
  const credit = await awaitEvent(
    hub,
    partners.harbor,
    books.harbor,
    (p) => p.body === 'credit_requested' && p.credit_requested.transfer_id === transfer.transfer_id,
  );
  const request = credit.credit_requested;
  check(request.ppid === ppids.harbor, "the credit request names harbor's own ppid");
  check(
    big(request.destination_points) === big(transfer.destination_points),
    'credit request points',
  );
  books.harbor.balance += big(request.destination_points); // harbor's own books: credit, then confirm
  await confirm(hub, partners.harbor, transfer.transfer_id);
  return completion(hub, partners.skyway, books.skyway, transfer);
}

async function confirm(hub, partner, transferId) {
  const confirmed = await hub.call(partner, 'ExchangeService', 'ConfirmCredit', {
    transfer_id: transferId,
  });
  check(
    confirmed.transfer.state === enumValue('TransferState', 'TRANSFER_STATE_COMPLETED'),
    'completed',
  );
}

/** The source's TransferCompleted event and its signed receipt, which must match the transfer. */
async function completion(hub, skyway, books, transfer) {
  const done = await awaitEvent(
    hub,
    skyway,
    books,
    (p) =>
      p.body === 'transfer_completed' && p.transfer_completed.transfer_id === transfer.transfer_id,
  );
  const receipt = done.verifiedReceipt;
  check(receipt.kind === transfer.kind, 'receipt kind');
  check(
    big(receipt.source_points) === big(transfer.source_points) &&
      big(receipt.destination_points) === big(transfer.destination_points),
    'receipt points',
  );
  check(
    big(receipt.settlement_amount.amount_minor) === big(transfer.settlement_amount.amount_minor),
    'receipt amount',
  );
  const got = await hub.call(skyway, 'ExchangeService', 'GetTransfer', {
    transfer_id: transfer.transfer_id,
  });
  check(
    got.transfer.state === enumValue('TransferState', 'TRANSFER_STATE_COMPLETED'),
    'skyway sees it completed',
  );
  return { receipt, event: done.transfer_completed };
}

/** A second transfer with inline terms (no quote), priced by the agreement in force. */
async function inlineTransfer(hub, skyway, ppid) {
  const { transfer } = await hub.call(skyway, 'ExchangeService', 'CreateTransfer', {
    ppid,
    destination_partner_id: 'harbor',
    source_points: Number(INLINE_SOURCE_POINTS),
  });
  check(
    transfer.quote_id === '' && big(transfer.destination_points) === INLINE_DESTINATION_POINTS,
    'inline terms',
  );
  log(PHASE, `inline transfer ${transfer.transfer_id} pending at harbor`);
  return transfer;
}

/** §13: the source reverses a completed transfer; harbor debits its member and confirms. */
async function reverse(hub, partners, ppids, original, books) {
  const { reversal } = await hub.call(partners.skyway, 'ExchangeService', 'CreateReversal', {
    transfer_id: original.transfer_id,
  });
  check(reversal.kind === enumValue('TransferKind', 'TRANSFER_KIND_REVERSAL'), 'a reversal');
  check(reversal.original_transfer_id === original.transfer_id, 'the reversal names its transfer');
  const debit = await awaitEvent(
    hub,
    partners.harbor,
    books.harbor,
    (p) => p.body === 'debit_requested' && p.debit_requested.transfer_id === reversal.transfer_id,
  );
  const request = debit.debit_requested;
  check(
    request.original_transfer_id === original.transfer_id && request.ppid === ppids.harbor,
    'debit request',
  );
  check(
    big(request.points) === big(original.destination_points),
    'the debit takes back what was credited',
  );
  books.harbor.balance -= big(request.points);
  await confirm(hub, partners.harbor, reversal.transfer_id);
  const done = await completion(hub, partners.skyway, books.skyway, reversal);
  check(
    big(done.event.points) === big(original.source_points),
    'skyway gives its member the miles back',
  );
  log(PHASE, `reversal ${reversal.transfer_id} of ${original.transfer_id} completed`);
  return done.receipt;
}

/** Harbor replays its whole feed on a stream: every event verified again, none new. */
async function replayFeed(hub, harbor, books) {
  const messages = await hub.stream(
    harbor,
    'EventService',
    'Subscribe',
    { after_sequence: 0 },
    {
      count: books.seenEvents.size,
      idleMs: 3000,
    },
  );
  for (const m of messages) verifyEvent(hub.keys, m.event, harbor.partnerId);
  check(messages.length === books.seenEvents.size, 'the stream replays every event');
  check(
    messages.every((m) => books.seenEvents.has(m.event.event_id)),
    'no event is new',
  );
  check(books.eventBodies.includes('tier_granted'), 'harbor got the TierGranted event');
  log(PHASE, `harbor's Subscribe replayed ${messages.length} events, each verified`);
}

function newBooks() {
  return { seenEvents: new Set(), eventBodies: [], balance: 0n };
}

module.exports = {
  agreeRate,
  quote,
  transfer,
  confirmCredit,
  inlineTransfer,
  reverse,
  replayFeed,
  newBooks,
  DESTINATION_POINTS,
};
