"""Signed tree heads of the audit log: the Merkle tree of its events, an Ed25519 key in a file, and checks.

Owns: the signing key file (created 0600, read, never stored in the database), the bytes a tree head
signs, the per-process cache of the log's Merkle tree, and the check of a signed head against the log
as it is now. The algorithm, byte for byte, is docs/transparency.md; change both together.

Only ``kb.provenance`` imports this module (other packages call the functions ``kb.provenance``
re-exports). Imports ``chain`` and ``merkle`` of this package and ``cryptography``; no other kb domain.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlmodel import Session

from kb.db import EVENT_KEY_PATH, utcnow
from kb.provenance import chain, eventkeys, merkle
from kb.provenance.chain import canonical_json
from kb.provenance.models import GENESIS_HASH

ALGORITHM = "Ed25519"
SIGNED_FIELDS = ("key_id", "root_hash", "timestamp", "tree_size")


# --------------------------------------------------------------------------------------------- keys

def ensure_key(path: Path) -> bool:
    """Create an Ed25519 private key in ``path`` (PKCS#8 PEM, mode 0600) unless the file exists.

    Returns:
        True if a key was created.
    """
    if path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    # Written whole to a private temporary file, then linked into place: link fails if the key exists, so
    # two processes creating it at once agree on one key, and no reader ever sees a half-written file.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
        os.link(tmp, path)
    except FileExistsError:
        return False
    finally:
        tmp.unlink(missing_ok=True)
    return True


def load_key(path: Path) -> Ed25519PrivateKey:
    """The private key in ``path``.

    Raises:
        FileNotFoundError: no key there (``kb init`` creates it).
        ValueError: the file is not an Ed25519 private key.
    """
    if not path.exists():
        raise FileNotFoundError(f"No signing key at {path}: run `kb init` (or set KB_SIGNING_KEY_FILE)")
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} is not an Ed25519 private key")
    return key


def raw_public_key(key: Ed25519PrivateKey | Ed25519PublicKey) -> bytes:
    """The 32 raw bytes of the public key (RFC 8032)."""
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(public_raw: bytes) -> str:
    """SHA-256 of the raw 32-byte public key, hex: the key's fingerprint."""
    return hashlib.sha256(public_raw).hexdigest()


def public_key_info(key: Ed25519PrivateKey) -> dict[str, str]:
    """The public key as published: raw hex, PEM and fingerprint."""
    raw = raw_public_key(key)
    pem = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return {"algorithm": ALGORITHM, "public_key": raw.hex(), "public_key_pem": pem.decode("ascii"), "key_id": key_id(raw)}


# ------------------------------------------------------------------------------------- tree heads

def signed_bytes(head: dict[str, Any]) -> bytes:
    """The bytes a tree head's signature covers: canonical JSON of its four signed fields, UTF-8.

    ``{"key_id":"<64 hex>","root_hash":"<64 hex>","timestamp":"<UTC ISO 8601>","tree_size":<integer>}``
    """
    return canonical_json({name: head[name] for name in SIGNED_FIELDS}).encode("utf-8")


def sign_head(key: Ed25519PrivateKey, *, tree_size: int, root_hash: bytes, chain_hash: str) -> dict[str, Any]:
    """A signed tree head for ``tree_size`` events with Merkle root ``root_hash``.

    ``seq`` and ``hash`` (the chain head at that size) ride along unsigned, so the file is also a
    chain checkpoint (``kb audit verify --checkpoint``); the signature does not depend on them.
    """
    raw = raw_public_key(key)
    head: dict[str, Any] = {
        "tree_size": tree_size,
        "root_hash": root_hash.hex(),
        "timestamp": utcnow().strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "key_id": key_id(raw),
    }
    head["signature"] = key.sign(signed_bytes(head)).hex()
    head["algorithm"] = ALGORITHM
    head["public_key"] = raw.hex()
    head["seq"] = tree_size
    head["hash"] = chain_hash
    return head


def check_signature(head: dict[str, Any], trusted: Iterable[bytes]) -> str | None:
    """Why ``head``'s signature does not hold under any of the ``trusted`` raw public keys, or None if it does.

    The ``public_key`` the head carries is only a hint: the key that verifies must be a trusted one
    whose fingerprint is the signed ``key_id``.
    """
    try:
        message = signed_bytes(head)
        signature = bytes.fromhex(str(head["signature"]))
        size = head["tree_size"]
        if not isinstance(size, int) or size < 0 or len(bytes.fromhex(str(head["root_hash"]))) != 32:
            return "malformed tree head (tree_size or root_hash)"
    except (KeyError, ValueError, TypeError) as exc:
        return f"malformed tree head ({exc})"
    by_id = {key_id(raw): raw for raw in trusted}
    raw = by_id.get(str(head["key_id"]))
    if raw is None:
        return (f"signed by key {head['key_id']}, which is neither the current signing key nor in KB_TRUSTED_KEYS")
    try:
        Ed25519PublicKey.from_public_bytes(raw).verify(signature, message)
    except InvalidSignature:
        return "the signature does not verify: the tree head was altered or not signed by this key"
    return None


# ------------------------------------------------------------------------------- the log's tree

@dataclass
class _CachedTree:
    tree: merkle.MerkleTree = field(default_factory=merkle.MerkleTree)
    last_hash: str = GENESIS_HASH  # chain hash of the last event in the tree
    macs: eventkeys.MacCheck | None = None  # which events kb wrote, when the event key is here


_TREES: dict[str, _CachedTree] = {}
_TREES_LOCK = threading.Lock()


class ChainBroken(Exception):
    """The log's chain does not hold where the tree would grow; no head may be signed over it."""


def _extend(session: Session, cached: _CachedTree) -> None:
    tree = cached.tree
    if cached.macs is None and len(tree) == 0:
        key = eventkeys.load(session.info.get(EVENT_KEY_PATH), create=True)
        cached.macs = eventkeys.MacCheck(key) if key is not None else None
    for seq, leaf, prev_hash, digest, action, mac, channel in chain.leaf_rows(session, after_seq=len(tree)):
        if seq != len(tree) + 1 or prev_hash != cached.last_hash or hashlib.sha256(leaf).hexdigest() != digest:
            raise ChainBroken(f"the audit chain does not verify at seq {min(seq, len(tree) + 1)}; run `kb audit verify`")
        if cached.macs is not None:
            unauthenticated = cached.macs.see(seq, action, digest, mac, channel)
            if unauthenticated is not None:
                raise ChainBroken(f"{unauthenticated}; no head is signed over it — run `kb audit verify`")
        tree.append(merkle.leaf_hash(leaf))
        cached.last_hash = digest
    unauthenticated = cached.macs.finish() if cached.macs is not None else None
    if unauthenticated is not None:
        raise ChainBroken(f"{unauthenticated}; no head is signed over it — run `kb audit verify`")


def current_tree(session: Session) -> tuple[merkle.MerkleTree, str]:
    """The Merkle tree of every event now in the log and the chain hash of its last event.

    Cached per database (URL and first event) for the life of the process and extended by the events appended since,
    each checked against its chain link first. If the cached tree's last event no longer has the hash
    it had, the cache is dropped and rebuilt. Serving only: ``check_head`` never uses the cache.
    """
    # The first event's hash tells apart databases behind one URL (PostgreSQL schemas, a restored copy).
    url = f"{session.get_bind().url}#{chain.hash_at(session, 1)}"
    with _TREES_LOCK:
        cached = _TREES.get(url)
        head_seq, head_hash = chain.head(session)
        if cached is not None and len(cached.tree) > 0:
            stored = chain.hash_at(session, len(cached.tree))
            if len(cached.tree) > head_seq or stored != cached.last_hash:
                cached = None
        if cached is None:
            cached = _CachedTree()
        _extend(session, cached)
        _TREES[url] = cached
        if len(cached.tree) != head_seq or cached.last_hash != head_hash:
            raise ChainBroken(f"the chain head row (seq {head_seq}) disagrees with the last event; run `kb audit verify`")
        return cached.tree, cached.last_hash


def fresh_tree(session: Session, size: int) -> merkle.MerkleTree:
    """The Merkle tree of the first ``size`` events as stored now, computed from the rows (no cache)."""
    tree = merkle.MerkleTree()
    for _seq, leaf, _prev, _digest, _action, _mac, _channel in chain.leaf_rows(session):
        if len(tree) == size:
            break
        tree.append(merkle.leaf_hash(leaf))
    return tree


@dataclass(frozen=True)
class HeadCheck:
    """Outcome of checking a signed tree head against the log as it is now."""

    ok: bool
    tree_size: int
    log_size: int
    reason: str | None = None

    @property
    def uncovered(self) -> int:
        """Events after the signed head: no signature vouches for them yet."""
        return max(self.log_size - self.tree_size, 0)


def check_head(session: Session, head: dict[str, Any], trusted: Iterable[bytes],
               computed: tuple[int, bytes | None] | None = None) -> HeadCheck:
    """Whether ``head`` is signed by a trusted key and the log's first ``tree_size`` events hash to its root.

    Reads every event row again (no cache) unless ``computed`` is given: ``(events read, root of the
    first tree_size of them or None)`` from the same reader's pass over the rows (``kb audit verify``'s
    one pass). A row changed, deleted or inserted below the head changes the root.
    """
    reason = check_signature(head, trusted)
    log_size = chain.count(session)
    if reason is not None:
        return HeadCheck(False, int(head.get("tree_size") or 0) if isinstance(head.get("tree_size"), int) else 0,
                         log_size, reason)
    size = int(head["tree_size"])
    if computed is not None and (computed[1] is not None or computed[0] < size):
        read, root = computed
    else:
        tree = fresh_tree(session, size)
        read, root = len(tree), tree.root(size) if len(tree) >= size else None
    if read < size or root is None:
        return HeadCheck(False, size, log_size, f"the log holds {read} events, fewer than the {size} the "
                                                "signed head covers (events deleted)")
    if root.hex() != str(head["root_hash"]).lower():
        return HeadCheck(False, size, log_size,
                         f"the log's first {size} events no longer hash to the signed root {head['root_hash']}: "
                         "an event below the signed head was changed, deleted or inserted")
    return HeadCheck(True, size, log_size)
