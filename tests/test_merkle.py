"""The audit log's Merkle tree (kb/provenance/merkle.py) against RFC 6962/9162 reference vectors and a naive
implementation written straight from the RFC's recursive definitions (issue 16)."""

from __future__ import annotations

import hashlib

import pytest

from kb.provenance import merkle

# Reference vectors copied (hashes and leaf bytes only) from transparency-dev/merkle, file
# proof/verify_test.go (commit 02194e9afb6c1d95b5381350007963aa70fff472), Copyright 2017 Google LLC,
# Apache License 2.0. They are the RFC 6962 test data used by Certificate Transparency implementations.
# Inclusion vectors there number leaves from 1; here they are 0-based (leaf - 1).
LEAVES = [bytes.fromhex(h) for h in (
    "", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f")]
ROOTS = [bytes.fromhex(h) for h in (
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
)]
EMPTY_TREE = bytes.fromhex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
INCLUSION = [  # (0-based leaf index, tree size, path)
    (0, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (5, 8, ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (1, 5, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]
CONSISTENCY = [  # (size1, size2, proof)
    (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (6, 8, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 5, ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
    (6, 7, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
]
HASHES = [merkle.leaf_hash(leaf) for leaf in LEAVES]


# --- a naive implementation, the RFC's recursive definitions word for word --------------------------

def naive_mth(d: list[bytes]) -> bytes:
    n = len(d)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return d[0]
    k = 1
    while k * 2 < n:
        k *= 2
    return hashlib.sha256(b"\x01" + naive_mth(d[:k]) + naive_mth(d[k:])).digest()


def naive_path(m: int, d: list[bytes]) -> list[bytes]:
    n = len(d)
    if n == 1:
        return []
    k = 1
    while k * 2 < n:
        k *= 2
    if m < k:
        return naive_path(m, d[:k]) + [naive_mth(d[k:])]
    return naive_path(m - k, d[k:]) + [naive_mth(d[:k])]


def naive_subproof(m: int, d: list[bytes], b: bool) -> list[bytes]:
    n = len(d)
    if m == n:
        return [] if b else [naive_mth(d)]
    k = 1
    while k * 2 < n:
        k *= 2
    if m <= k:
        return naive_subproof(m, d[:k], b) + [naive_mth(d[k:])]
    return naive_subproof(m - k, d[k:], False) + [naive_mth(d[:k])]


def leaves(n: int) -> list[bytes]:
    return [merkle.leaf_hash(b"event %d" % i) for i in range(n)]


# --- the published vectors ----------------------------------------------------------------------------

def test_leaf_and_node_hashes_have_their_prefixes() -> None:
    assert merkle.leaf_hash(b"") == ROOTS[0] == hashlib.sha256(b"\x00").digest()
    assert merkle.node_hash(HASHES[0], HASHES[1]) == ROOTS[1]


def test_reference_roots_for_every_size() -> None:
    assert merkle.root([]) == EMPTY_TREE
    accumulator = merkle.RootAccumulator()
    for n in range(1, 9):
        assert merkle.root(HASHES[:n]) == ROOTS[n - 1], n
        assert merkle.MerkleTree(HASHES, memo_min_leaves=2).root(n) == ROOTS[n - 1], n
        accumulator.append(HASHES[n - 1])
        assert accumulator.root() == ROOTS[n - 1], n


@pytest.mark.parametrize(("index", "size", "path"), INCLUSION)
def test_reference_inclusion_proofs(index: int, size: int, path: list[str]) -> None:
    proof = [bytes.fromhex(h) for h in path]
    assert merkle.inclusion_proof(index, HASHES[:size]) == proof
    assert merkle.verify_inclusion(index, size, HASHES[index], proof, ROOTS[size - 1])
    assert not merkle.verify_inclusion(index + 1, size, HASHES[index], proof, ROOTS[size - 1])
    assert not merkle.verify_inclusion(index, size, HASHES[index], proof[:-1], ROOTS[size - 1])
    assert not merkle.verify_inclusion(index, size, HASHES[index], proof + [ROOTS[0]], ROOTS[size - 1])
    flipped = [bytes([proof[0][0] ^ 8]) + proof[0][1:]] + proof[1:]
    assert not merkle.verify_inclusion(index, size, HASHES[index], flipped, ROOTS[size - 1])


@pytest.mark.parametrize(("size1", "size2", "path"), CONSISTENCY)
def test_reference_consistency_proofs(size1: int, size2: int, path: list[str]) -> None:
    proof = [bytes.fromhex(h) for h in path]
    assert merkle.consistency_proof(size1, HASHES[:size2]) == proof
    root1, root2 = ROOTS[size1 - 1], ROOTS[size2 - 1]
    assert merkle.verify_consistency(size1, size2, root1, root2, proof)
    assert not merkle.verify_consistency(size1, size2, root2, root1, proof)
    assert not merkle.verify_consistency(size1, size2, root1, root2, [])
    assert not merkle.verify_consistency(size1, size2, root1, root2, proof[:-1])
    assert not merkle.verify_consistency(size1, size2, root1, root2, proof + [root1])
    assert not merkle.verify_consistency(size1 + 1, size2, root1, root2, proof)


def test_trivial_consistency() -> None:
    assert merkle.verify_consistency(0, 5, EMPTY_TREE, ROOTS[4], [])
    assert merkle.verify_consistency(3, 3, ROOTS[2], ROOTS[2], [])
    assert not merkle.verify_consistency(3, 3, ROOTS[2], ROOTS[3], [])
    assert not merkle.verify_consistency(4, 3, ROOTS[3], ROOTS[2], [])


# --- every (m, n) up to 20 against the naive implementation -----------------------------------------

def test_roots_and_proofs_agree_with_the_naive_definitions() -> None:
    d = leaves(20)
    tree = merkle.MerkleTree(d, memo_min_leaves=2)
    for n in range(1, 21):
        root_n = naive_mth(d[:n])
        assert tree.root(n) == merkle.root(d[:n]) == root_n, n
        for m in range(n):
            proof = tree.inclusion_proof(m, n)
            assert proof == merkle.inclusion_proof(m, d[:n]) == naive_path(m, d[:n]), (m, n)
            assert merkle.verify_inclusion(m, n, d[m], proof, root_n), (m, n)
            assert not merkle.verify_inclusion(m, n, d[(m + 1) % n], proof, root_n) or n == 1, (m, n)
            assert not merkle.verify_inclusion(m, n, d[m], proof, naive_mth(d[: n - 1] + [d[0]])) or n == 1, (m, n)
        for m in range(1, n + 1):
            proof = tree.consistency_proof(m, n)
            assert proof == naive_subproof(m, d[:n], True), (m, n)
            assert merkle.verify_consistency(m, n, naive_mth(d[:m]), root_n, proof), (m, n)
            if m < n:
                other = naive_mth(d[: m - 1] + [merkle.leaf_hash(b"forged")])
                assert not merkle.verify_consistency(m, n, other, root_n, proof), (m, n)
                assert not merkle.verify_consistency(m, n, naive_mth(d[:m]), naive_mth(d[: n - 1] + [d[0]]), proof)


def test_the_memo_survives_appends() -> None:
    d = leaves(300)
    tree = merkle.MerkleTree(d[:130], memo_min_leaves=4)
    assert tree.root() == naive_mth(d[:130])
    for h in d[130:]:
        tree.append(h)
    assert tree.root() == naive_mth(d)
    assert tree.root(130) == naive_mth(d[:130])
    assert tree.inclusion_proof(257) == naive_path(257, d)


def test_the_root_accumulator_agrees_with_the_tree_at_every_size() -> None:
    """``kb audit verify``'s streaming root (compact range) equals MTH for every size 0..300."""
    tree, accumulator = merkle.MerkleTree(), merkle.RootAccumulator()
    assert accumulator.root() == merkle.EMPTY_ROOT
    for i in range(300):
        leaf = merkle.leaf_hash(f"event {i}".encode())
        tree.append(leaf)
        accumulator.append(leaf)
        assert accumulator.root() == tree.root() == merkle.root([tree.leaf(j) for j in range(i + 1)]), i + 1
