'use strict';
// Proto3 JSON (as the vectors print messages) to protobufjs objects, for re-encoding.

const proto = require('./proto');

/** "2026-11-23T14:30:15.123456Z" → { seconds, nanos } (RFC 3339 in UTC, as proto3 JSON). */
function parseTimestamp(text) {
  const match = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?Z$/.exec(text);
  if (!match) throw new Error(`not a proto3 JSON timestamp: ${text}`);
  const seconds = Date.parse(`${match[1]}Z`) / 1000;
  const nanos = match[2] ? Number(match[2].padEnd(9, '0')) : 0;
  return { seconds, nanos };
}

function parseDuration(text) {
  const match = /^(\d+)(?:\.(\d{1,9}))?s$/.exec(text);
  if (!match) throw new Error(`not a proto3 JSON duration: ${text}`);
  return { seconds: Number(match[1]), nanos: match[2] ? Number(match[2].padEnd(9, '0')) : 0 };
}

function convertValue(field, value) {
  const t = field.resolvedType;
  if (!t || !t.fields) return value; // scalars, enums (names), bytes (base64): fromObject copes
  if (t.fullName === '.google.protobuf.Timestamp') return parseTimestamp(value);
  if (t.fullName === '.google.protobuf.Duration') return parseDuration(value);
  if (t.fullName === '.google.protobuf.Any') return anyFromJson(value);
  return fromJson(t, value);
}

/** A google.protobuf.Any in JSON: "@type" names the packed message, the rest are its fields. */
function anyFromJson(json) {
  const { '@type': url, ...rest } = json;
  const packed = proto.type(url.slice(url.lastIndexOf('/') + 1));
  return { type_url: url, value: proto.encode(packed, fromJson(packed, rest)) };
}

function fromJson(messageType, json) {
  const out = {};
  for (const [name, value] of Object.entries(json)) {
    const field = messageType.fields[name];
    if (!field) throw new Error(`${messageType.name} has no field ${name}`);
    field.resolve();
    if (field.map) out[name] = value;
    else if (field.repeated) out[name] = value.map((v) => convertValue(field, v));
    else out[name] = convertValue(field, value);
  }
  return out;
}

/** The bytes of a vector's {"type", "json"} message, serialized by this example's encoder. */
function encodeJson({ type, json }) {
  const messageType = proto.type(type);
  return proto.encode(messageType, fromJson(messageType, json));
}

module.exports = { fromJson, encodeJson, parseTimestamp };
