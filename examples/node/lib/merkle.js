'use strict';
// The day's RFC 6962 Merkle tree and inclusion proofs (docs/settlement-records.md §2-§3).

const { sha256 } = require('./ed25519');

const HASH_SIZE = 32;
const AUDIT_PATH_MAX = 64;

function leafHash(record) {
  return sha256(Buffer.concat([Buffer.from([0x00]), record]));
}

function nodeHash(left, right) {
  return sha256(Buffer.concat([Buffer.from([0x01]), left, right]));
}

function largestPowerOfTwoBelow(n) {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** The root over leaf hashes: split at the largest power of two below n (not the midpoint). */
function rootOf(leafHashes) {
  if (leafHashes.length === 0) return sha256(Buffer.alloc(0));
  if (leafHashes.length === 1) return leafHashes[0];
  const k = largestPowerOfTwoBelow(leafHashes.length);
  return nodeHash(rootOf(leafHashes.slice(0, k)), rootOf(leafHashes.slice(k)));
}

/** RFC 6962 PATH(m, D[n]): the audit path of leaf m, from the leaf's sibling up. */
function auditPath(index, leafHashes) {
  const n = leafHashes.length;
  if (n <= 1) return [];
  const k = largestPowerOfTwoBelow(n);
  if (index < k) return [...auditPath(index, leafHashes.slice(0, k)), rootOf(leafHashes.slice(k))];
  return [...auditPath(index - k, leafHashes.slice(k)), rootOf(leafHashes.slice(0, k))];
}

/** RFC 9162 §2.1.3.2; leafIndex and treeSize as BigInt, from the signed statement. */
function verifyInclusion(leaf, leafIndex, treeSize, path, root) {
  if (path.length > AUDIT_PATH_MAX) return false;
  if ([leaf, root, ...path].some((h) => !Buffer.isBuffer(h) || h.length !== HASH_SIZE))
    return false;
  if (leafIndex < 0n || leafIndex >= treeSize) return false;
  let fn = leafIndex;
  let sn = treeSize - 1n;
  let r = leaf;
  for (const p of path) {
    if (sn === 0n) return false;
    if ((fn & 1n) === 1n || fn === sn) {
      r = nodeHash(p, r);
      while ((fn & 1n) === 0n && fn !== 0n) {
        fn >>= 1n;
        sn >>= 1n;
      }
    } else {
      r = nodeHash(r, p);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  return sn === 0n && r.equals(root);
}

module.exports = { leafHash, nodeHash, rootOf, auditPath, verifyInclusion };
