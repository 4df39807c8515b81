"""Stored tree nodes (coalition/merkle.py NodeBuilder, audit_path_keys, proof_from_nodes).

Proofs read from stored nodes must be the very hashes `merkle.inclusion_proof` computes from
all the leaves: that is the contract GetInclusionProof answers with.
"""

from __future__ import annotations

import hashlib
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coalition import merkle


def leaves_of(size: int, salt: int = 0) -> list[bytes]:
    return [merkle.leaf_hash(f"record-{salt}-{number}".encode()) for number in range(size)]


def reference_node(leaves: list[bytes], level: int, index: int) -> bytes:
    """The root of leaves [index * 2**level, (index + 1) * 2**level), straight from root()."""
    width = 1 << level
    return merkle.root(leaves[index * width : (index + 1) * width])


def all_nodes(leaves: list[bytes], chunk_leaves: int = 4096) -> dict[merkle.NodeKey, bytes]:
    builder = merkle.NodeBuilder(chunk_leaves)
    found: list[merkle.Node] = []
    for leaf in leaves:
        builder.add(leaf)
        found.extend(builder.take())
    found.extend(builder.finish())
    keys = [(level, index) for level, index, _hash in found]
    assert len(keys) == len(set(keys)), "every node is produced once"
    nodes = {(level, index): value for level, index, value in found}
    nodes.update({(0, index): leaf for index, leaf in enumerate(leaves)})
    return nodes


def expected_keys(size: int) -> set[merkle.NodeKey]:
    return {
        (level, index)
        for level in range(1, max(size, 1).bit_length())
        for index in range(size >> level)
    }


def stored_proof(nodes: dict[merkle.NodeKey, bytes], index: int, size: int) -> list[bytes]:
    return merkle.proof_from_nodes(merkle.audit_path_keys(index, size), nodes)


@pytest.mark.parametrize("chunk_leaves", [2, 4, 8, 4096])
def test_builder_stores_every_perfect_subtree_and_nothing_else(chunk_leaves: int) -> None:
    for size in range(0, 70):
        leaves = leaves_of(size)
        nodes = all_nodes(leaves, chunk_leaves)
        stored = {key for key in nodes if key[0] > 0}
        assert stored == expected_keys(size), size
        for level, index in stored:
            assert nodes[(level, index)] == reference_node(leaves, level, index)


@pytest.mark.parametrize("size", range(1, 101))
def test_proofs_from_nodes_equal_inclusion_proof_for_sizes_1_to_100(size: int) -> None:
    leaves = leaves_of(size)
    nodes = all_nodes(leaves, chunk_leaves=8)
    root = merkle.root(leaves)
    for index in range(size):
        proof = stored_proof(nodes, index, size)
        assert proof == merkle.inclusion_proof(leaves, index)
        assert merkle.verify_inclusion(leaves[index], index, size, proof, root)


@settings(max_examples=40, deadline=None)
@given(
    size=st.integers(min_value=101, max_value=20_000),
    chunk_exponent=st.integers(min_value=1, max_value=12),
    data=st.data(),
)
def test_proofs_from_nodes_equal_inclusion_proof_for_larger_sizes(
    size: int, chunk_exponent: int, data: st.DataObject
) -> None:
    leaves = leaves_of(size, salt=size)
    nodes = all_nodes(leaves, chunk_leaves=1 << chunk_exponent)
    indexes = {0, size - 1, data.draw(st.integers(min_value=0, max_value=size - 1))}
    for index in indexes:
        assert stored_proof(nodes, index, size) == merkle.inclusion_proof(leaves, index)


def test_a_path_needs_few_nodes() -> None:
    generator = random.Random(14)
    for _ in range(200):
        size = generator.randrange(1, 2**40)
        index = generator.randrange(size)
        keys = [key for pieces in merkle.audit_path_keys(index, size) for key in pieces]
        assert len(keys) <= 2 * size.bit_length()
        assert sum(len(pieces) > 1 for pieces in merkle.audit_path_keys(index, size)) <= 1
        for level, node_index in keys:
            # Each key names a whole perfect subtree inside the tree.
            assert (node_index + 1) << level <= size


def test_a_single_leaf_has_an_empty_path_and_no_nodes() -> None:
    assert merkle.audit_path_keys(0, 1) == []
    assert all_nodes(leaves_of(1)) == {(0, 0): leaves_of(1)[0]}


def test_the_top_node_of_a_power_of_two_tree_is_its_root() -> None:
    for exponent in range(0, 12):
        leaves = leaves_of(1 << exponent)
        assert all_nodes(leaves, chunk_leaves=16)[(exponent, 0)] == merkle.root(leaves)


def test_keys_outside_the_tree_are_refused() -> None:
    for index, size in ((0, 0), (3, 3), (-1, 4)):
        with pytest.raises(ValueError):
            merkle.audit_path_keys(index, size)


def test_a_missing_node_is_a_key_error() -> None:
    leaves = leaves_of(6)
    nodes = all_nodes(leaves)
    del nodes[(1, 2)]
    with pytest.raises(KeyError):
        stored_proof(nodes, 0, 6)


def test_builder_refuses_bad_input() -> None:
    with pytest.raises(ValueError):
        merkle.NodeBuilder(6)
    builder = merkle.NodeBuilder()
    with pytest.raises(ValueError):
        builder.add(b"record bytes, not a hash")
    builder.add(hashlib.sha256(b"x").digest())
    builder.finish()
    with pytest.raises(ValueError):
        builder.add(hashlib.sha256(b"y").digest())


def test_builder_rows_match_the_worked_example_of_the_records_document() -> None:
    # docs/settlement-records.md: node(leaf 0, leaf 1) of the three-record day.
    leaves = [
        bytes.fromhex("c634fbaff9f4e0651bac6212918398e59aee11959c1fcd6e39d82a5bb1a5d480"),
        bytes.fromhex("c24a9896748e71b21d7352a48b8f93897c1051b4ffcce3e4263ea7acf7c2643d"),
        bytes.fromhex("f6f085d8209fbd7c7659973369b1202d5faf893e84d58ad1ff3efb69170df0cd"),
    ]
    nodes = all_nodes(leaves)
    assert {key for key in nodes if key[0] > 0} == {(1, 0)}
    assert nodes[(1, 0)].hex() == (
        "b87a5e0b24234443f8e6478027d23d4db2c67140065a95d80428d0ad4d3c51de"
    )
    assert stored_proof(nodes, 0, 3) == leaves[1:]


def test_the_paths_the_records_document_spells_out() -> None:
    # docs/settlement-records.md §4.
    assert merkle.audit_path_keys(0, 6) == [((0, 1),), ((1, 1),), ((1, 2),)]
    assert merkle.audit_path_keys(4, 7) == [((0, 5),), ((0, 6),), ((2, 0),)]
    assert merkle.audit_path_keys(0, 7) == [((0, 1),), ((1, 1),), ((1, 2), (0, 6))]
