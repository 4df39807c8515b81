'use strict';
// The coalition.v1 message types, loaded at run time from the repository's .proto files.

const path = require('node:path');
const protobuf = require('protobufjs');

const REPO_PROTO = path.resolve(__dirname, '..', '..', '..', 'proto');
const LOCAL_PROTO = path.resolve(__dirname, '..', 'proto');
const FILES = [
  'coalition/v1/common.proto',
  'coalition/v1/partner.proto',
  'coalition/v1/identity.proto',
  'coalition/v1/exchange.proto',
  'coalition/v1/event.proto',
  'coalition/v1/tier.proto',
  'coalition/v1/settlement.proto',
  'coalition/v1/analytics.proto',
  'google/rpc/status.proto',
];

function load() {
  const root = new protobuf.Root();
  // google/protobuf/* resolve to protobufjs's bundled copies (returning null lets it do so).
  root.resolvePath = (_origin, target) => {
    if (target.startsWith('google/protobuf/')) return target;
    if (target.startsWith('google/rpc/')) return path.join(LOCAL_PROTO, target);
    if (path.isAbsolute(target)) return target;
    return path.join(REPO_PROTO, target);
  };
  // keepCase: field names as in the .proto files (snake_case), as in the docs and vectors.
  root.loadSync(FILES, { keepCase: true });
  root.resolveAll();
  return root;
}

const root = load();

/** The message type `name`, e.g. "coalition.v1.Quote". */
function type(name) {
  return root.lookupType(name);
}

/** The service's method `name`, its full path and its request and response types. */
function method(service, name) {
  const svc = root.lookupService(`coalition.v1.${service}`);
  const m = svc.methods[name];
  if (!m) throw new Error(`no method ${service}.${name}`);
  m.resolve();
  return {
    path: `/coalition.v1.${service}/${name}`,
    requestType: m.resolvedRequestType,
    responseType: m.resolvedResponseType,
    serverStreaming: Boolean(m.responseStream),
  };
}

/** Throws on a field name the type does not have: fromObject would drop it silently. */
function checkFieldNames(messageType, fields, where) {
  for (const [name, value] of Object.entries(fields)) {
    const field = messageType.fields[name];
    if (!field) throw new Error(`${where} has no field ${name}`);
    field.resolve();
    const nested = field.resolvedType && field.resolvedType.fields ? field.resolvedType : null;
    if (!nested || field.map || value === null || Buffer.isBuffer(value)) continue;
    for (const item of field.repeated ? value : [value]) {
      if (item.constructor === Object) checkFieldNames(nested, item, `${where}.${name}`);
    }
  }
}

/** Serializes `fields` (a plain object) as `messageType`, refusing unknown or ill-typed fields. */
function encode(messageType, fields) {
  checkFieldNames(messageType, fields, messageType.name);
  const message = messageType.fromObject(fields);
  const problem = messageType.verify(message);
  if (problem) throw new Error(`${messageType.name}: ${problem}`);
  return Buffer.from(messageType.encode(message).finish());
}

function decode(messageType, bytes) {
  return messageType.decode(bytes);
}

module.exports = { root, type, method, encode, decode };
