"""The Merkle tree of the audit log, exactly as RFC 9162 section 2.1 (Certificate Transparency v2).

Pure functions over leaf *hashes* (or leaf bytes for ``leaf_hash``), no database, no I/O:

- ``leaf_hash(d) = SHA-256(0x00 || d)``; ``node_hash(l, r) = SHA-256(0x01 || l || r)``.
- ``MTH({}) = SHA-256()``; ``MTH({d0}) = leaf_hash(d0)``; for n > 1, with k the largest power of two
  smaller than n: ``MTH(D[n]) = node_hash(MTH(D[0:k]), MTH(D[k:n]))`` (2.1.1).
- ``inclusion_proof`` is PATH(m, D[n]) (2.1.3.1), ``verify_inclusion`` the algorithm of 2.1.3.2.
- ``consistency_proof`` is PROOF(m, D[n]) = SUBPROOF(m, D[n], true) (2.1.4.1), ``verify_consistency``
  the algorithm of 2.1.4.2.

``MerkleTree`` holds the leaf hashes and memoises the hash of every complete, aligned subtree of
``MEMO_MIN_LEAVES`` leaves or more the first time it is needed: after one pass over the log, a root,
an inclusion proof or a consistency proof costs O(log n) memo look-ups plus at most ~2 x
``MEMO_MIN_LEAVES`` hashes (docs/benchmarks.md: 1,000,000 events). Recomputing MTH over a million
leaves per request would take seconds (issue 16).

Which bytes are an audit event's leaf is decided in ``kb.provenance`` (docs/transparency.md);
this module knows nothing of events. Must not import anything from kb.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

EMPTY_ROOT = hashlib.sha256(b"").digest()
_sha256 = hashlib.sha256
MEMO_MIN_LEAVES = 64


def leaf_hash(data: bytes) -> bytes:
    """SHA-256(0x00 || data): the hash of one leaf (RFC 9162 2.1.1)."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right): the hash of an interior node (RFC 9162 2.1.1)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def split_point(n: int) -> int:
    """The largest power of two smaller than ``n`` (n >= 2): where MTH splits D[n]."""
    if n < 2:
        raise ValueError(f"Bug: no split point for a tree of {n} leaves")
    return 1 << ((n - 1).bit_length() - 1)


def root(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH over the given leaf hashes (RFC 9162 2.1.1), without memoisation."""
    return MerkleTree(leaf_hashes, memo_min_leaves=0).root()


def inclusion_proof(index: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """PATH(index, D[n]) for n = len(leaf_hashes) (RFC 9162 2.1.3.1)."""
    return MerkleTree(leaf_hashes, memo_min_leaves=0).inclusion_proof(index)


def consistency_proof(old_size: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """PROOF(old_size, D[n]) for n = len(leaf_hashes) (RFC 9162 2.1.4.1)."""
    return MerkleTree(leaf_hashes, memo_min_leaves=0).consistency_proof(old_size)


class RootAccumulator:
    """The root of a growing log without keeping its leaves: the compact range of RFC 9162's MTH.

    Holds one hash per 1-bit of the leaf count (the complete subtrees the leaves so far decompose
    into, largest first); ``root()`` folds them from the right, which is MTH's split at the largest
    power of two. ``kb audit verify`` uses it to check a signed head in the same pass as the chain.
    """

    def __init__(self) -> None:
        self._stack: list[bytes] = []  # hashes of complete subtrees, largest first: one per 1-bit of the count
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def append(self, leaf_hash_value: bytes) -> None:
        digest, n = leaf_hash_value, self._count
        while n & 1:  # each trailing 1-bit of the count is a complete subtree the new leaf completes
            digest = _sha256(b"\x01" + self._stack.pop() + digest).digest()
            n >>= 1
        self._stack.append(digest)
        self._count += 1

    def root(self) -> bytes:
        """MTH of every leaf appended so far."""
        if not self._stack:
            return EMPTY_ROOT
        digest = self._stack[-1]
        for left in reversed(self._stack[:-1]):
            digest = _sha256(b"\x01" + left + digest).digest()
        return digest


class MerkleTree:
    """Leaf hashes in order, with the hashes of complete aligned subtrees memoised.

    Appending leaves never invalidates the memo: a complete subtree never changes once its last
    leaf exists (that is what makes the log append-only).
    """

    def __init__(self, leaf_hashes: Sequence[bytes] = (), *, memo_min_leaves: int = MEMO_MIN_LEAVES) -> None:
        # One flat buffer of 32-byte hashes and a memo keyed by integers: at a million leaves a list of
        # bytes objects costs twice the memory, and the garbage collector's full passes walk it (pauses
        # of tens of milliseconds in the middle of a proof; docs/benchmarks.md).
        self._leaves = bytearray()
        self._count = 0
        self._memo: dict[int, bytes] = {}
        self._memo_min = memo_min_leaves if memo_min_leaves > 0 else None
        for value in leaf_hashes:
            self.append(value)

    def __len__(self) -> int:
        return self._count

    def append(self, leaf_hash_value: bytes) -> None:
        if len(leaf_hash_value) != 32:
            raise ValueError("a leaf hash is 32 bytes")
        self._leaves += leaf_hash_value
        self._count += 1

    def leaf(self, index: int) -> bytes:
        """The hash of leaf ``index`` (0-based)."""
        if not 0 <= index < self._count:
            raise IndexError(index)
        return bytes(self._leaves[32 * index: 32 * index + 32])

    def _hash(self, lo: int, hi: int) -> bytes:
        """MTH(D[lo:hi]) for 0 <= lo < hi <= len."""
        n = hi - lo
        if n == 1:
            return bytes(self._leaves[32 * lo: 32 * lo + 32])
        memo = self._memo_min is not None and n >= self._memo_min and n & (n - 1) == 0
        key = (lo << 7) | n.bit_length()  # a complete subtree: its first leaf and its height
        if memo:
            cached = self._memo.get(key)
            if cached is not None:
                return cached
        k = split_point(n)
        digest = node_hash(self._hash(lo, lo + k), self._hash(lo + k, hi))
        if memo:
            self._memo[key] = digest
        return digest

    def _size(self, size: int | None) -> int:
        n = self._count if size is None else size
        if not 0 <= n <= self._count:
            raise ValueError(f"tree size {n} is outside 0..{self._count}")
        return n

    def root(self, size: int | None = None) -> bytes:
        """MTH of the first ``size`` leaves (all by default)."""
        n = self._size(size)
        return EMPTY_ROOT if n == 0 else self._hash(0, n)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """PATH(index, D[size]): the audit path of leaf ``index`` (0-based) in the tree of ``size`` leaves."""
        n = self._size(size)
        if not 0 <= index < n:
            raise ValueError(f"leaf index {index} is outside a tree of {n} leaves")
        path: list[bytes] = []
        lo, hi = 0, n
        while hi - lo > 1:  # PATH(m, D[lo:hi]), iteratively; siblings collected root-first
            k = split_point(hi - lo)
            if index < lo + k:
                path.append(self._hash(lo + k, hi))
                hi = lo + k
            else:
                path.append(self._hash(lo, lo + k))
                lo = lo + k
        path.reverse()  # the RFC lists them leaf-first
        return path

    def consistency_proof(self, old_size: int, size: int | None = None) -> list[bytes]:
        """PROOF(old_size, D[size]) = SUBPROOF(old_size, D[size], true)."""
        n = self._size(size)
        if not 0 <= old_size <= n:
            raise ValueError(f"old size {old_size} is outside 0..{n}")
        if old_size in (0, n):
            return []
        proof: list[bytes] = []
        lo, hi, m, whole = 0, n, old_size, True
        while True:  # SUBPROOF(m, D[lo:hi], whole), iteratively; nodes collected root-first
            if m == hi - lo:
                if not whole:
                    proof.append(self._hash(lo, hi))
                break
            k = split_point(hi - lo)
            if m <= k:
                proof.append(self._hash(lo + k, hi))
                hi = lo + k
            else:
                proof.append(self._hash(lo, lo + k))
                lo, m, whole = lo + k, m - k, False
        proof.reverse()
        return proof


def root_from_inclusion_proof(index: int, size: int, leaf: bytes, proof: Sequence[bytes]) -> bytes | None:
    """The root that ``proof`` gives for leaf hash ``leaf`` at ``index`` (RFC 9162 2.1.3.2), or None."""
    if not 0 <= index < size or len(leaf) != 32:
        return None
    fn, sn = index, size - 1
    r = leaf
    for p in proof:
        if len(p) != 32 or sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return r if sn == 0 else None


def verify_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes], expected_root: bytes) -> bool:
    """Whether ``proof`` shows leaf hash ``leaf`` at ``index`` in the tree of ``size`` leaves with ``expected_root``."""
    return root_from_inclusion_proof(index, size, leaf, proof) == expected_root


def verify_consistency(old_size: int, size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]) -> bool:
    """Whether ``proof`` shows the tree of ``old_size`` leaves (``old_root``) is a prefix of the one of ``size``
    leaves (``new_root``): the algorithm of RFC 9162 2.1.4.2, with its trivial cases (equal sizes, empty old tree).
    """
    if not 0 <= old_size <= size:
        return False
    if old_size == size:
        return not proof and old_root == new_root
    if old_size == 0:
        return not proof
    if not proof or any(len(p) != 32 for p in proof):
        return False
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # a power of two: the old root is the first node
        path.insert(0, old_root)
    fn, sn = old_size - 1, size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == old_root and sr == new_root and sn == 0
