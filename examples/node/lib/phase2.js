'use strict';
// Phase 2, after the day is settled: each partner reads the run and its signed statement,
// proves its line is in the day's Merkle tree, compares it with its books and reconciles.

const { decodeRecord } = require('./records');
const { verifyStatement, checkLine } = require('./statement');
const { big, enumValue, check, log } = require('./util');

const PHASE = 'phase 2';

/**
 * What this partner's books say about one completed transfer (from its signed receipt): the
 * statement line it expects and its reconciliation record (protocol.md §13: the payer is the
 * source of a transfer and the destination of a reversal; points in the partner's own program;
 * the amount without the hub fee).
 */
function expectedLine(partnerId, t) {
  const isSource = partnerId === t.source_partner_id;
  const pays = t.kind === 'reversal' ? !isSource : isSource;
  return {
    direction: enumValue(
      'LineDirection',
      pays ? 'LINE_DIRECTION_PAYABLE' : 'LINE_DIRECTION_RECEIVABLE',
    ),
    counterparty: isSource ? t.destination_partner_id : t.source_partner_id,
    reconciliation: {
      transfer_id: t.transfer_id,
      direction: pays ? 'outgoing' : 'incoming',
      points: Number(isSource ? t.source_points : t.destination_points),
      amount: { amount_minor: Number(t.amount_minor), currency_code: t.currency },
    },
  };
}

/** The run shows the signed root and size, and only the caller's own position. */
async function settlementRun(hub, partner, day, currency) {
  const { run } = await hub.call(partner, 'SettlementService', 'GetSettlementRun', {
    business_day: day,
    currency_code: currency,
  });
  check(run.business_day === day && run.currency_code === currency, 'the run is of the day');
  check(
    run.positions.every((p) => p.participant === partner.partnerId),
    'the run shows only our position',
  );
  return run;
}

/** The statement, each of its lines proven against the signed root (settlement-records §3). */
async function statement(hub, partner, day, currency, run) {
  const response = await hub.call(partner, 'SettlementService', 'GetStatement', {
    business_day: day,
    currency_code: currency,
  });
  const payload = verifyStatement(hub.keys, response.statement, {
    partnerId: partner.partnerId,
    businessDay: day,
    currencyCode: currency,
  });
  check(
    Buffer.from(payload.merkle_root).equals(Buffer.from(run.merkle_root)),
    'the run shows the signed root',
  );
  check(big(payload.tree_size) === big(run.tree_size), 'the run shows the signed tree size');
  for (const line of payload.lines) {
    const proof = await hub.call(partner, 'SettlementService', 'GetInclusionProof', {
      business_day: day,
      transfer_id: line.transfer_id,
    });
    checkLine(payload, line, proof);
  }
  return payload;
}

/** Our line: the record the hub committed to equals what our own books hold. */
function compareWithBooks(partner, payload, t) {
  const expected = expectedLine(partner.partnerId, t);
  const line = payload.lines.find((l) => l.transfer_id === t.transfer_id);
  check(line !== undefined, `the statement has ${t.transfer_id}`);
  check(
    line.direction === expected.direction && line.counterparty_id === expected.counterparty,
    'line direction',
  );
  const record = decodeRecord(line.record);
  check(record.kind === t.kind, `record kind ${record.kind}, books ${t.kind}`);
  check(
    record.source_partner_id === t.source_partner_id &&
      record.destination_partner_id === t.destination_partner_id,
    'record parties',
  );
  check(
    record.source_points === big(t.source_points) &&
      record.destination_points === big(t.destination_points),
    'record points',
  );
  check(
    record.amount_minor === big(t.amount_minor) && record.fee_minor === big(t.fee_minor),
    'record amounts',
  );
  check(record.business_day === payload.business_day, 'record day');
  return expected.reconciliation;
}

async function partnerPhase(hub, partner, day, transfers) {
  const currency = transfers[0].currency;
  const run = await settlementRun(hub, partner, day, currency);
  const payload = await statement(hub, partner, day, currency, run);
  check(payload.lines.length === transfers.length, 'one line per transfer in our books');
  const ours = transfers.map((t) => compareWithBooks(partner, payload, t));
  const instructions = await hub.call(partner, 'SettlementService', 'ListPaymentInstructions', {
    business_day: day,
  });
  check(
    instructions.instructions.every((i) => i.participant === partner.partnerId),
    'only our payments',
  );
  const reconciled = await hub.call(partner, 'SettlementService', 'SubmitReconciliation', {
    business_day: day,
    records: ours,
  });
  const breaks = reconciled.breaks.map((b) => `${b.kind}:${b.transfer_id}:${b.detail}`);
  check(breaks.length === 0, `no reconciliation breaks (got ${breaks.join('; ')})`);
  const disputes = await hub.call(partner, 'SettlementService', 'ListDisputes', {});
  check(disputes.disputes.length === 0, 'no disputes');
  log(
    PHASE,
    `${partner.partnerId}: statement of ${day} verified, ${payload.lines.length} lines ` +
      `proven in a tree of ${payload.tree_size}; net ${payload.net.amount_minor} minor; ` +
      'reconciled without breaks',
  );
}

/** The day's measures, rolled up at settlement; and programme totals beside the coalition's. */
async function analytics(hub, partner, day) {
  const series = await hub.call(partner, 'AnalyticsService', 'GetMetricSeries', {
    metric: 'transfer_count',
    start_date: day,
    end_date: day,
    granularity: enumValue('Granularity', 'GRANULARITY_DAY'),
  });
  check(series.metric === 'transfer_count', 'the series of the metric asked for');
  const period = day.slice(0, 7);
  await hub.call(partner, 'AnalyticsService', 'ReportProgrammeTotals', {
    period,
    points_issued: 100000,
    points_redeemed: 40000,
    points_expired: 1000,
    active_members: 250,
  });
  const comparison = await hub.call(partner, 'AnalyticsService', 'GetProgrammeComparison', {
    period,
  });
  check(
    comparison.period === period && comparison.reporting_partners >= 1,
    'our report is counted',
  );
  log(
    PHASE,
    `${partner.partnerId}: ${series.series.length} transfer_count series; totals for ${period} reported`,
  );
}

async function run(hub, partners, state) {
  const day = state.transfers[0].business_day;
  check(
    state.transfers.every((t) => t.business_day === day),
    'every transfer completed the same day',
  );
  for (const id of ['skyway', 'harbor']) {
    await partnerPhase(hub, partners[id], day, state.transfers);
  }
  for (const id of ['skyway', 'harbor']) await analytics(hub, partners[id], day);
}

module.exports = { run };
