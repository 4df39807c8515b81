"""RFC 6962 Merkle tree hashing and inclusion proofs, shared by the hub and the partner SDK."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping, Sequence

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


# --- Stored nodes: proofs in O(log n) reads ---
#
# Node (level, index) is the root of the perfect subtree over leaves
# [index * 2**level, (index + 1) * 2**level), for every such range inside the tree; level 0 is
# the leaves. Every hash of an audit path is one such node, or (once per path, where the path
# leaves the tree's right edge) the right fold of a few of them.

Node = tuple[int, int, bytes]
NodeKey = tuple[int, int]


def _level_up(hashes: Sequence[bytes]) -> list[bytes]:
    # Pairs (0, 1), (2, 3), ...; an odd last hash has no sibling at this level.
    return [
        hashlib.sha256(_NODE_PREFIX + hashes[i] + hashes[i + 1]).digest()
        for i in range(0, len(hashes) - 1, 2)
    ]


def _chunk_nodes(hashes: Sequence[bytes], first_leaf: int) -> Iterator[Node]:
    # Levels >= 1 over leaves starting at `first_leaf`, a multiple of a power of two >= len.
    level, number = list(hashes), 0
    while len(level) > 1:
        level = _level_up(level)
        number += 1
        offset = first_leaf >> number
        yield from ((number, offset + i, value) for i, value in enumerate(level))


class NodeBuilder:
    """Streams leaf hashes in order and yields every stored node (level >= 1) of their tree.

    Leaves are hashed in aligned chunks of `chunk_leaves` (a power of two), a level at a time;
    the chunks' roots are merged above them as in RootBuilder. Memory is one chunk.
    """

    def __init__(self, chunk_leaves: int = 4096) -> None:
        if chunk_leaves < 2 or chunk_leaves & (chunk_leaves - 1):
            raise ValueError("chunk_leaves is a power of two, at least 2")
        self._chunk_leaves = chunk_leaves
        self._chunk_level = chunk_leaves.bit_length() - 1
        self._size = 0
        self._pending: list[bytes] = []
        self._stack: list[bytes] = []  # chunk-level-and-above perfect roots, largest first
        self._ready: list[Node] = []
        self._finished = False

    @property
    def size(self) -> int:
        return self._size

    def add(self, leaf_hash: bytes) -> None:
        if self._finished:
            raise ValueError("the tree is finished")
        if len(leaf_hash) != HASH_BYTES:
            raise ValueError(f"a leaf hash is {HASH_BYTES} bytes, not {len(leaf_hash)}")
        self._pending.append(leaf_hash)
        self._size += 1
        if len(self._pending) == self._chunk_leaves:
            self._close_chunk()

    def take(self) -> list[Node]:
        """The nodes completed since the last call, (level, index, hash), in no set order."""
        ready, self._ready = self._ready, []
        return ready

    def finish(self) -> list[Node]:
        """Hashes the last, partial chunk; returns the nodes not yet taken."""
        if not self._finished:
            first_leaf = self._size - len(self._pending)
            self._ready.extend(_chunk_nodes(self._pending, first_leaf))
            self._finished = True
        return self.take()

    def _close_chunk(self) -> None:
        first_leaf = self._size - self._chunk_leaves
        nodes = list(_chunk_nodes(self._pending, first_leaf))
        self._pending = []
        self._ready.extend(nodes)
        merged, level = nodes[-1][2], self._chunk_level
        chunks = self._size >> self._chunk_level
        while chunks & 1 == 0:
            merged = node_hash(self._stack.pop(), merged)
            level += 1
            chunks >>= 1
            self._ready.append((level, (self._size >> level) - 1, merged))
        self._stack.append(merged)


def _perfect_pieces(start: int, end: int) -> tuple[NodeKey, ...]:
    # [start, end) as aligned perfect subtrees, largest first: RFC 6962's left-heavy split.
    pieces: list[NodeKey] = []
    while start < end:
        level = (end - start).bit_length() - 1
        while start & ((1 << level) - 1):
            level -= 1
        pieces.append((level, start >> level))
        start += 1 << level
    return tuple(pieces)


def audit_path_keys(index: int, size: int) -> list[tuple[NodeKey, ...]]:
    """For each hash of PATH(index, D[size]), leaf up: the nodes whose right fold it is.

    At most one entry has more than one node (the sibling that covers the tree's right edge);
    together the keys are O(log size) nodes.
    """
    if not 0 <= index < size <= TREE_LEAVES_MAX:
        raise ValueError(f"leaf index {index} is outside a tree of {size} leaves")
    path: list[tuple[NodeKey, ...]] = []
    start, end = 0, size
    while end - start > 1:
        middle = start + _split(end - start)
        if index < middle:
            path.append(_perfect_pieces(middle, end))
            end = middle
        else:
            path.append(_perfect_pieces(start, middle))
            start = middle
    path.reverse()
    return path


def proof_from_nodes(
    keys: Sequence[tuple[NodeKey, ...]], nodes: Mapping[NodeKey, bytes]
) -> list[bytes]:
    """The audit path from stored nodes; the same hashes as `inclusion_proof`.

    Raises KeyError if a node the path needs is missing from `nodes`.
    """
    proof: list[bytes] = []
    for pieces in keys:
        merged = nodes[pieces[-1]]
        for key in reversed(pieces[:-1]):
            merged = node_hash(nodes[key], merged)
        proof.append(merged)
    return proof


def root_node_keys(size: int) -> tuple[NodeKey, ...]:
    """The stored nodes whose right fold is the root of a tree of `size` leaves (size >= 1):
    its perfect subtrees, largest first, one per set bit of `size`."""
    if not 1 <= size <= TREE_LEAVES_MAX:
        raise ValueError(f"a tree with a root from nodes has 1 to {TREE_LEAVES_MAX} leaves")
    return _perfect_pieces(0, size)


def root_from_nodes(size: int, nodes: Mapping[NodeKey, bytes]) -> bytes:
    """MTH(D[size]) from stored nodes (level 0 the leaves); the same bytes as `root()`.

    Raises KeyError if a node `root_node_keys(size)` names is missing from `nodes`.
    """
    if size == 0:
        return _EMPTY_ROOT
    keys = root_node_keys(size)
    merged = nodes[keys[-1]]
    for key in reversed(keys[:-1]):
        merged = node_hash(nodes[key], merged)
    return merged
