'use strict';
// Small helpers shared by the phases: integers, enums, timestamps, expectations.

const proto = require('./proto');
const { HubRefusal } = require('./hub');

/** int64 fields arrive as Long (or number); compare them as BigInt, never as floats. */
function big(value) {
  return BigInt(String(value === undefined || value === null ? 0 : value));
}

function enumValue(enumName, valueName) {
  const value = proto.root.lookupEnum(`coalition.v1.${enumName}`).values[valueName];
  if (value === undefined) throw new Error(`no ${enumName}.${valueName}`);
  return value;
}

function timestamp(ms) {
  return { seconds: Math.floor(ms / 1000), nanos: 0 };
}

function timestampMs(t) {
  return Number(big(t.seconds)) * 1000 + Math.floor((t.nanos || 0) / 1e6);
}

class CheckFailed extends Error {}
CheckFailed.prototype.name = 'CheckFailed';

function check(condition, what) {
  if (!condition) throw new CheckFailed(what);
}

/** Awaits a call that must be refused with `code` and `reason`, its refusal signature verified. */
async function expectRefusal(promise, code, reason) {
  try {
    await promise;
  } catch (error) {
    if (error instanceof HubRefusal && error.code === code && error.reason === reason) return error;
    throw error;
  }
  throw new CheckFailed(`expected a refusal ${reason}, got an answer`);
}

function log(phase, message) {
  console.log(`[${phase}] ${message}`);
}

module.exports = { big, enumValue, timestamp, timestampMs, check, expectRefusal, log, CheckFailed };
