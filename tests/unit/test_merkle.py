"""RFC 6962 tree hashing, streaming roots and inclusion proofs (coalition/merkle.py)."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from coalition import merkle

# The Certificate Transparency reference data (google/certificate-transparency
# merkle_tree_test.cc, reused by transparency-dev/merkle): leaf inputs, then the published root
# of the tree over the first n of them for n = 0..8. Written out, not computed, so a drift in
# the prefixes, the split rule or the empty-tree hash shows up as a mismatch with the world.
REFERENCE_LEAVES = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    b"\x50\x51\x52\x53\x54\x55\x56\x57",
    b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
]
REFERENCE_ROOTS_HEX = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
# (leaf index, tree size, audit path leaf-to-root) from the same reference test.
REFERENCE_PATHS_HEX = [
    (0, 1, []),
    (
        0,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (
        1,
        5,
        [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]

REFERENCE_LEAF_HASHES = [merkle.leaf_hash(leaf) for leaf in REFERENCE_LEAVES]

# Distinct leaves: with two equal leaves a proof for one also proves the other's position,
# which is a property of any hash tree, not a defect to detect.
leaf_lists = st.lists(st.binary(max_size=12), min_size=1, max_size=40, unique=True)


def hashes_of(leaves: list[bytes]) -> list[bytes]:
    return [merkle.leaf_hash(leaf) for leaf in leaves]


def flip_bit(value: bytes, bit: int) -> bytes:
    position = (bit // 8) % len(value)
    changed = bytearray(value)
    changed[position] ^= 1 << (bit % 8)
    return bytes(changed)


# An independent, literal transcription of RFC 6962 §2.1 over slices (no index arithmetic, no
# shared helpers) to compare the module against beyond the eight published sizes.
def reference_split(size: int) -> int:
    split = 1
    while split * 2 < size:
        split *= 2
    return split


def reference_root(data: list[bytes]) -> bytes:
    if not data:
        return hashlib.sha256(b"").digest()
    if len(data) == 1:
        return hashlib.sha256(b"\x00" + data[0]).digest()
    k = reference_split(len(data))
    return hashlib.sha256(b"\x01" + reference_root(data[:k]) + reference_root(data[k:])).digest()


def reference_path(index: int, data: list[bytes]) -> list[bytes]:
    if len(data) == 1:
        return []
    k = reference_split(len(data))
    if index < k:
        return [*reference_path(index, data[:k]), reference_root(data[k:])]
    return [*reference_path(index - k, data[k:]), reference_root(data[:k])]


def sibling_sides(index: int, size: int) -> list[str]:
    """Leaf-to-root, which side each audit path hash sits on: all a verifier learns of size."""
    if size == 1:
        return []
    k = reference_split(size)
    if index < k:
        return [*sibling_sides(index, k), "right"]
    return [*sibling_sides(index - k, size - k), "left"]


def test_leaf_and_node_hashes_use_the_domain_separation_prefixes() -> None:
    assert merkle.leaf_hash(b"") == hashlib.sha256(b"\x00").digest()
    assert merkle.node_hash(b"a", b"b") == hashlib.sha256(b"\x01ab").digest()


@pytest.mark.parametrize("size", range(len(REFERENCE_ROOTS_HEX)))
def test_roots_match_the_published_certificate_transparency_values(size: int) -> None:
    leaf_hashes = REFERENCE_LEAF_HASHES[:size]
    assert merkle.root(leaf_hashes).hex() == REFERENCE_ROOTS_HEX[size]


@pytest.mark.parametrize("size", range(len(REFERENCE_ROOTS_HEX)))
def test_streamed_roots_match_the_published_values(size: int) -> None:
    builder = merkle.RootBuilder()
    for leaf_hash in REFERENCE_LEAF_HASHES[:size]:
        builder.add(leaf_hash)
    assert builder.size == size
    assert builder.root().hex() == REFERENCE_ROOTS_HEX[size]


@pytest.mark.parametrize(("index", "size", "path_hex"), REFERENCE_PATHS_HEX)
def test_inclusion_proofs_match_the_published_audit_paths(
    index: int, size: int, path_hex: list[str]
) -> None:
    leaf_hashes = REFERENCE_LEAF_HASHES[:size]
    proof = merkle.inclusion_proof(leaf_hashes, index)
    assert [element.hex() for element in proof] == path_hex
    expected_root = bytes.fromhex(REFERENCE_ROOTS_HEX[size])
    assert merkle.verify_inclusion(leaf_hashes[index], index, size, proof, expected_root)


def test_every_proof_in_every_small_tree_verifies_and_matches_the_rfc() -> None:
    leaves = [bytes([value]) for value in range(70)]
    for size in range(1, len(leaves) + 1):
        leaf_hashes = hashes_of(leaves[:size])
        tree_root = merkle.root(leaf_hashes)
        assert tree_root == reference_root(leaves[:size])
        for index in range(size):
            proof = merkle.inclusion_proof(leaf_hashes, index)
            assert proof == reference_path(index, leaves[:size])
            assert merkle.verify_inclusion(leaf_hashes[index], index, size, proof, tree_root)


@given(leaf_lists)
def test_root_builder_equals_root_after_every_leaf(leaves: list[bytes]) -> None:
    leaf_hashes = hashes_of(leaves)
    builder = merkle.RootBuilder()
    assert builder.root() == merkle.root([])
    for count, leaf_hash in enumerate(leaf_hashes, start=1):
        builder.add(leaf_hash)
        assert builder.size == count
        assert builder.root() == merkle.root(leaf_hashes[:count])
    assert merkle.root(leaf_hashes) == reference_root(leaves)


def test_root_builder_keeps_one_hash_per_set_bit_of_its_size() -> None:
    builder = merkle.RootBuilder()
    for count in range(1, 1100):
        builder.add(merkle.leaf_hash(count.to_bytes(2, "big")))
        assert len(builder._stack) == count.bit_count()


@given(leaf_lists)
def test_every_index_proof_verifies(leaves: list[bytes]) -> None:
    leaf_hashes = hashes_of(leaves)
    tree_root = merkle.root(leaf_hashes)
    for index, leaf_hash in enumerate(leaf_hashes):
        proof = merkle.inclusion_proof(leaf_hashes, index)
        assert merkle.verify_inclusion(leaf_hash, index, len(leaves), proof, tree_root)


@given(leaf_lists, st.data())
def test_a_different_leaf_fails(leaves: list[bytes], data: st.DataObject) -> None:
    leaf_hashes = hashes_of(leaves)
    index = data.draw(st.integers(0, len(leaves) - 1))
    other = data.draw(st.binary(max_size=12).filter(lambda leaf: leaf != leaves[index]))
    proof = merkle.inclusion_proof(leaf_hashes, index)
    tree_root = merkle.root(leaf_hashes)
    assert not merkle.verify_inclusion(
        merkle.leaf_hash(other), index, len(leaves), proof, tree_root
    )
    # The record bytes themselves, hashed without the leaf prefix, are not the leaf either.
    assert not merkle.verify_inclusion(
        hashlib.sha256(leaves[index]).digest(), index, len(leaves), proof, tree_root
    )


@given(leaf_lists, st.data())
def test_a_different_index_fails(leaves: list[bytes], data: st.DataObject) -> None:
    leaf_hashes = hashes_of(leaves)
    size = len(leaves)
    index = data.draw(st.integers(0, size - 1))
    other = data.draw(st.integers(-3, size + 3).filter(lambda value: value != index))
    proof = merkle.inclusion_proof(leaf_hashes, index)
    tree_root = merkle.root(leaf_hashes)
    assert not merkle.verify_inclusion(leaf_hashes[index], other, size, proof, tree_root)


@given(leaf_lists, st.data())
def test_a_different_size_fails_unless_it_gives_the_same_path_shape(
    leaves: list[bytes], data: st.DataObject
) -> None:
    leaf_hashes = hashes_of(leaves)
    size = len(leaves)
    index = data.draw(st.integers(0, size - 1))
    other = data.draw(st.integers(0, 2 * size + 2).filter(lambda value: value != size))
    proof = merkle.inclusion_proof(leaf_hashes, index)
    verified = merkle.verify_inclusion(
        leaf_hashes[index], index, other, proof, merkle.root(leaf_hashes)
    )
    # A proof binds the size only through the left/right sides of its hashes (RFC 9162
    # §2.1.3.2): e.g. leaf 0 of 3 and leaf 0 of 4 are both "right, right". That is why a
    # partner takes the size from the hub's signed statement, never from the proof line.
    assert verified == (index < other and sibling_sides(index, other) == sibling_sides(index, size))


def test_a_wrong_size_with_the_same_path_shape_is_the_documented_rfc_behaviour() -> None:
    leaf_hashes = REFERENCE_LEAF_HASHES[:3]
    proof = merkle.inclusion_proof(leaf_hashes, 0)
    tree_root = merkle.root(leaf_hashes)
    assert merkle.verify_inclusion(leaf_hashes[0], 0, 4, proof, tree_root)
    assert not merkle.verify_inclusion(leaf_hashes[0], 0, 5, proof, tree_root)


@given(leaf_lists, st.data())
def test_a_changed_proof_element_fails(leaves: list[bytes], data: st.DataObject) -> None:
    leaf_hashes = hashes_of(leaves)
    size = len(leaves)
    index = data.draw(st.integers(0, size - 1))
    proof = merkle.inclusion_proof(leaf_hashes, index)
    tree_root = merkle.root(leaf_hashes)
    if proof:
        position = data.draw(st.integers(0, len(proof) - 1))
        bit = data.draw(st.integers(0, 8 * merkle.HASH_BYTES - 1))
        changed = [*proof]
        changed[position] = flip_bit(proof[position], bit)
        assert not merkle.verify_inclusion(leaf_hashes[index], index, size, changed, tree_root)
        assert not merkle.verify_inclusion(leaf_hashes[index], index, size, proof[:-1], tree_root)
        swapped = [*proof[1:], proof[0]]
        if swapped != proof:
            assert not merkle.verify_inclusion(leaf_hashes[index], index, size, swapped, tree_root)
    extra = data.draw(st.binary(min_size=merkle.HASH_BYTES, max_size=merkle.HASH_BYTES))
    assert not merkle.verify_inclusion(leaf_hashes[index], index, size, [*proof, extra], tree_root)


@given(leaf_lists, st.data())
def test_a_different_root_fails(leaves: list[bytes], data: st.DataObject) -> None:
    leaf_hashes = hashes_of(leaves)
    index = data.draw(st.integers(0, len(leaves) - 1))
    bit = data.draw(st.integers(0, 8 * merkle.HASH_BYTES - 1))
    proof = merkle.inclusion_proof(leaf_hashes, index)
    wrong_root = flip_bit(merkle.root(leaf_hashes), bit)
    assert not merkle.verify_inclusion(leaf_hashes[index], index, len(leaves), proof, wrong_root)


GOOD_LEAF = REFERENCE_LEAF_HASHES[0]
GOOD_PROOF = merkle.inclusion_proof(REFERENCE_LEAF_HASHES, 0)
GOOD_ROOT = bytes.fromhex(REFERENCE_ROOTS_HEX[8])
GOOD_ARGUMENTS: dict[str, Any] = {
    "leaf_hash": GOOD_LEAF,
    "index": 0,
    "size": 8,
    "proof": GOOD_PROOF,
    "expected_root": GOOD_ROOT,
}


@pytest.mark.parametrize(
    "changes",
    [
        {"index": 8},
        {"index": -1},
        {"index": 2**64},
        {"index": True},
        {"index": 0.0},
        {"index": "0"},
        {"size": 0},
        {"size": -8},
        {"size": 2**64},
        {"size": 2**4096},
        {"size": 8.0},
        {"size": None},
        {"leaf_hash": GOOD_LEAF[:31]},
        {"leaf_hash": GOOD_LEAF + b"\x00"},
        {"leaf_hash": GOOD_LEAF.hex()},
        {"leaf_hash": bytearray(GOOD_LEAF)},
        {"leaf_hash": None},
        {"expected_root": GOOD_ROOT[:31]},
        {"expected_root": GOOD_ROOT.hex()},
        {"expected_root": None},
        {"proof": GOOD_PROOF[:2]},
        {"proof": []},
        {"proof": [GOOD_PROOF[0][:31], *GOOD_PROOF[1:]]},
        {"proof": [GOOD_PROOF[0].hex(), *GOOD_PROOF[1:]]},
        {"proof": [None, *GOOD_PROOF[1:]]},
        {"proof": None},
        {"proof": b"".join(GOOD_PROOF)},
        {"proof": GOOD_PROOF * 30},
    ],
    ids=repr,
)
def test_malformed_input_returns_false_and_never_raises(changes: dict[str, Any]) -> None:
    assert merkle.verify_inclusion(**GOOD_ARGUMENTS)
    assert merkle.verify_inclusion(**{**GOOD_ARGUMENTS, **changes}) is False


def test_a_proof_is_refused_for_an_index_outside_the_tree() -> None:
    with pytest.raises(ValueError, match="outside"):
        merkle.inclusion_proof(REFERENCE_LEAF_HASHES, 8)
    with pytest.raises(ValueError, match="outside"):
        merkle.inclusion_proof(REFERENCE_LEAF_HASHES, -1)
    with pytest.raises(ValueError, match="outside"):
        merkle.inclusion_proof([], 0)


def test_record_bytes_passed_as_leaf_hashes_are_refused() -> None:
    with pytest.raises(ValueError, match="leaf hash"):
        merkle.root([b"cx-transfer-record-v1|tr_1|transfer"])
    with pytest.raises(ValueError, match="leaf hash"):
        merkle.inclusion_proof([GOOD_LEAF, b"short"], 0)
    with pytest.raises(ValueError, match="leaf hash"):
        merkle.RootBuilder().add(b"short")
