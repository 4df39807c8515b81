"""RFC 6962 Merkle tree hashing and inclusion proofs, shared by the hub and the partner SDK."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

HASH_BYTES = 32
# RFC 6962 tree sizes are 64-bit; a proof for such a tree has at most one hash per level.
TREE_LEAVES_MAX = 2**64 - 1
PROOF_HASHES_MAX = 64

# The prefixes keep a leaf from ever hashing like an interior node (second-preimage defence).
_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"
_EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(record: bytes) -> bytes:
    """MTH({d}) = SHA-256(0x00 || d)."""
    return hashlib.sha256(_LEAF_PREFIX + record).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right)."""
    return hashlib.sha256(_NODE_PREFIX + left + right).digest()


def _split(size: int) -> int:
    """The largest power of two strictly below `size` (size >= 2): RFC 6962's k."""
    return 1 << ((size - 1).bit_length() - 1)


def _check_leaf_hashes(leaf_hashes: Sequence[bytes]) -> None:
    # Catches the easy mistake of passing record bytes where their leaf hashes belong.
    for position, value in enumerate(leaf_hashes):
        if len(value) != HASH_BYTES:
            raise ValueError(f"leaf hash {position} is {len(value)} bytes, not {HASH_BYTES}")


def _subtree_root(leaf_hashes: Sequence[bytes], start: int, end: int) -> bytes:
    # Index ranges rather than slices: no copying, recursion depth is log2(n).
    if end - start == 1:
        return leaf_hashes[start]
    middle = start + _split(end - start)
    return node_hash(
        _subtree_root(leaf_hashes, start, middle), _subtree_root(leaf_hashes, middle, end)
    )


def root(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH(D[n]) over already-hashed leaves; the empty tree's root is SHA-256("")."""
    _check_leaf_hashes(leaf_hashes)
    if not leaf_hashes:
        return _EMPTY_ROOT
    return _subtree_root(leaf_hashes, 0, len(leaf_hashes))


class RootBuilder:
    """Streams leaf hashes in order and yields the same root as `root()` in O(log n) memory.

    The stack holds the roots of perfect subtrees, largest first: exactly one per set bit of
    `size`, which is the decomposition RFC 6962's left-heavy split produces.
    """

    def __init__(self) -> None:
        self._size = 0
        self._stack: list[bytes] = []

    @property
    def size(self) -> int:
        return self._size

    def add(self, leaf_hash: bytes) -> None:
        if len(leaf_hash) != HASH_BYTES:
            raise ValueError(f"a leaf hash is {HASH_BYTES} bytes, not {len(leaf_hash)}")
        self._size += 1
        merged = leaf_hash
        # Each trailing zero bit of the new size is a pair of equal perfect subtrees to merge.
        pending = self._size
        while pending & 1 == 0:
            merged = node_hash(self._stack.pop(), merged)
            pending >>= 1
        self._stack.append(merged)

    def root(self) -> bytes:
        if not self._stack:
            return _EMPTY_ROOT
        # Right to left: the smallest subtrees are the right spine of the RFC 6962 tree.
        merged = self._stack[-1]
        for subtree in reversed(self._stack[:-1]):
            merged = node_hash(subtree, merged)
        return merged


def _path(leaf_hashes: Sequence[bytes], index: int, start: int, end: int) -> list[bytes]:
    # PATH(m, D[start:end]) collected root-to-leaf; the caller reverses it.
    if end - start == 1:
        return []
    middle = start + _split(end - start)
    if index < middle:
        return [_subtree_root(leaf_hashes, middle, end), *_path(leaf_hashes, index, start, middle)]
    return [_subtree_root(leaf_hashes, start, middle), *_path(leaf_hashes, index, middle, end)]


def inclusion_proof(leaf_hashes: Sequence[bytes], index: int) -> list[bytes]:
    """PATH(index, D[n]): the audit path, ordered from the leaf's sibling up to the root's child.

    Costs O(n) hashing per proof, since every sibling subtree is rehashed.
    """
    _check_leaf_hashes(leaf_hashes)
    if not 0 <= index < len(leaf_hashes):
        raise ValueError(f"leaf index {index} is outside a tree of {len(leaf_hashes)} leaves")
    return list(reversed(_path(leaf_hashes, index, 0, len(leaf_hashes))))


def _well_formed(leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes]) -> bool:
    # The SDK feeds this with data parsed off the wire: check the shapes before trusting them.
    if not all(isinstance(value, int) and not isinstance(value, bool) for value in (index, size)):
        return False
    if not 0 <= index < size <= TREE_LEAVES_MAX:
        return False
    if not isinstance(proof, Sequence) or len(proof) > PROOF_HASHES_MAX:
        return False
    hashes = [leaf_hash, *proof]
    return all(isinstance(value, bytes) and len(value) == HASH_BYTES for value in hashes)


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], expected_root: bytes
) -> bool:
    """RFC 9162 §2.1.3.2: does `proof` place `leaf_hash` at `index` in the tree `expected_root`?

    Returns False, never raises, for any malformed input.
    """
    if not _well_formed(leaf_hash, index, size, proof):
        return False
    if not isinstance(expected_root, bytes) or len(expected_root) != HASH_BYTES:
        return False
    node_index, last_index = index, size - 1
    computed = leaf_hash
    for sibling in proof:
        if last_index == 0:
            return False  # the proof is longer than the path to the root
        if node_index & 1 or node_index == last_index:
            computed = node_hash(sibling, computed)
            # A right-edge node with no sibling at this level is promoted unchanged.
            while node_index & 1 == 0 and node_index != 0:
                node_index >>= 1
                last_index >>= 1
        else:
            computed = node_hash(computed, sibling)
        node_index >>= 1
        last_index >>= 1
    return last_index == 0 and computed == expected_root
