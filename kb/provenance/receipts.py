"""Receipts: one audit event, its RFC 9162 inclusion proof and a signed tree head, checkable offline.

A receipt lets anyone check, with a SHA-256 and an Ed25519 implementation and nothing from kb,
that an event is in the audit log the organisation signed (issue 16). kb gives one per public
document: the ``version.publish`` event of its current version (docs/transparency.md, "Receipts",
is the algorithm byte for byte; change both together).

The receipt, ``kb-receipt/1``, is a JSON object with exactly these members::

    {"receipt": "kb-receipt/1",
     "event": "<the event's leaf bytes, as a UTF-8 string>",
     "proof": "<base64 of the concatenated 32-byte nodes of the inclusion proof, leaf first; '' for none>",
     "tree_head": {"tree_size": N, "timestamp": "...", "signature": "<base64, 64 bytes>",
                   "public_key": "<base64, the 32 raw key bytes>"}}

Everything else is derived, not carried: the leaf index is the event's ``seq`` - 1, the root is
recomputed from the leaf and the proof, the key id is the SHA-256 of the public key, the algorithm is
Ed25519. The signature must then verify over the head kb signs everywhere (``transparency.signed_bytes``:
key_id, root_hash, timestamp, tree_size) built with the *recomputed* root, so nothing given is merely
compared with something else given. At 1,000,000 events (20 proof nodes) a receipt stays under
2 KB (bench/receipt_size.py).

The check is strict so that a change of any one byte of the file fails: unknown or missing members,
non-canonical base64, a proof whose length is not a multiple of 32 bytes and non-integer numbers are
refused, not repaired.

Only ``kb.provenance`` imports this module. Imports ``merkle`` and ``transparency`` of this package
and ``cryptography``; no other kb domain, no database.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from kb.provenance import merkle
from kb.provenance.transparency import signed_bytes

FORMAT = "kb-receipt/1"
RECEIPT_MEMBERS = frozenset({"receipt", "event", "proof", "tree_head"})
HEAD_MEMBERS = frozenset({"tree_size", "timestamp", "signature", "public_key"})
EVENT_MEMBERS = frozenset({"action", "actor_id", "actor_name", "at", "channel", "object_id", "object_type", "payload",
                           "prev_hash", "seq"})
PUBLICATION = "version.publish"
NODE_SIZE = 32
_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def build(*, leaf: bytes, proof: Iterable[bytes], head: dict[str, Any]) -> dict[str, Any]:
    """The receipt of the event whose leaf bytes are ``leaf``, under the signed ``head`` (``transparency.sign_head``).

    ``proof`` is the event's inclusion proof in the tree of ``head["tree_size"]`` events, leaf first.
    """
    return {
        "receipt": FORMAT,
        "event": leaf.decode("utf-8"),
        "proof": _b64(b"".join(proof)),
        "tree_head": {"tree_size": head["tree_size"], "timestamp": head["timestamp"],
                      "signature": _b64(bytes.fromhex(head["signature"])),
                      "public_key": _b64(bytes.fromhex(head["public_key"]))},
    }


@dataclass
class ReceiptCheck:
    """Outcome of checking a receipt offline.

    ``ok``: every check holds. ``key_trusted``: the signing key is one the caller named as trusted
    (by raw key or fingerprint); when False and ``ok``, the receipt is intact and signed by the key it
    carries, whose fingerprint (``key_id``) must be compared with the one the organisation publishes.
    ``key_id`` and ``root_hash`` are derived (the key's SHA-256, the root recomputed from the proof).
    """

    ok: bool = False
    problems: list[str] = field(default_factory=list)
    key_trusted: bool = False
    key_id: str | None = None
    root_hash: str | None = None
    tree_size: int | None = None
    timestamp: str | None = None
    seq: int | None = None
    document: str | None = None
    version: int | None = None
    body_sha256: str | None = None
    published_at: str | None = None
    approval_seq: int | None = None


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ValueError(f"duplicate member {sorted(k for k in keys if keys.count(k) > 1)[0]!r}")
    return dict(pairs)


def _parse(data: bytes | str | dict[str, Any]) -> dict[str, Any]:
    if isinstance(data, dict):
        return data
    if isinstance(data, bytes):
        data = data.decode("utf-8")  # UnicodeDecodeError is a ValueError
    value = json.loads(data, object_pairs_hook=_no_duplicates)
    if not isinstance(value, dict):
        raise ValueError("a receipt is a JSON object")
    return value


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _decode(name: str, text: Any) -> bytes:
    """Canonical standard base64 (with padding) only: any other spelling of the same bytes is refused."""
    if not isinstance(text, str):
        raise ValueError(f"{name} is a base64 string")
    raw = base64.b64decode(text, validate=True)
    if _b64(raw) != text:
        raise ValueError(f"{name} is not canonical base64")
    return raw


def _exactly(name: str, text: Any, size: int) -> bytes:
    raw = _decode(name, text)
    if len(raw) != size:
        raise ValueError(f"{name} is not the base64 of {size} bytes")
    return raw


def verify(data: bytes | str | dict[str, Any], trusted: Iterable[str] = ()) -> ReceiptCheck:
    """Check a receipt offline: its event, its inclusion proof, its signed head and who signed it.

    Args:
        data: the receipt as served (bytes or text of the JSON file), or already parsed.
        trusted: keys the caller trusts, each 64 hex digits: a raw Ed25519 public key or its
            fingerprint (SHA-256 of the raw key, the ``key_id`` kb publishes).

    Returns:
        The check: ``ok`` with the event's facts, or ``problems`` naming the first thing that does
        not hold. ``key_trusted`` says whether the signing key is one of ``trusted``.
    """
    result = ReceiptCheck()
    try:
        _verify(data, result, [item.strip().lower() for item in trusted])
    except (ValueError, TypeError, KeyError, binascii.Error) as exc:
        result.problems.append(f"not a valid {FORMAT} receipt: {exc}")
    result.ok = not result.problems
    return result


def _verify(data: bytes | str | dict[str, Any], result: ReceiptCheck, trusted: list[str]) -> None:  # noqa: C901
    receipt = _parse(data)
    problems = result.problems
    # 1. The shape, exactly: a changed member name or an added member is a change.
    if set(receipt) != RECEIPT_MEMBERS:
        raise ValueError(f"members must be {sorted(RECEIPT_MEMBERS)}, found {sorted(receipt)}")
    if receipt["receipt"] != FORMAT:
        raise ValueError(f"receipt must be {FORMAT!r}, found {receipt['receipt']!r}")
    head = receipt["tree_head"]
    if not isinstance(head, dict) or set(head) != HEAD_MEMBERS:
        raise ValueError(f"tree_head members must be {sorted(HEAD_MEMBERS)}")
    event_text, size = receipt["event"], head["tree_size"]
    if not isinstance(event_text, str) or not _is_int(size):
        raise ValueError("event is a string, tree_head.tree_size an integer")
    if not isinstance(head["timestamp"], str) or not _TIMESTAMP.fullmatch(head["timestamp"]):
        raise ValueError("tree_head.timestamp is not the UTC timestamp of a kb head")
    packed = _decode("proof", receipt["proof"])
    if len(packed) % NODE_SIZE:
        raise ValueError(f"proof is {len(packed)} bytes, not a whole number of {NODE_SIZE}-byte nodes")
    proof = [packed[at:at + NODE_SIZE] for at in range(0, len(packed), NODE_SIZE)]
    signature = _exactly("tree_head.signature", head["signature"], 64)
    public = _exactly("tree_head.public_key", head["public_key"], 32)
    result.tree_size, result.timestamp = size, head["timestamp"]
    result.key_id = hashlib.sha256(public).hexdigest()  # the key's fingerprint, derived

    # 2. The event: its leaf bytes, its position (seq - 1), and what it says.
    leaf = event_text.encode("utf-8")
    event = json.loads(event_text, object_pairs_hook=_no_duplicates)
    if not isinstance(event, dict) or not set(event) <= EVENT_MEMBERS or not _is_int(event.get("seq")):
        raise ValueError("event is not an audit event envelope")
    result.seq = event["seq"]
    index = event["seq"] - 1

    # 3. The inclusion proof: recompute the root from the leaf hash (RFC 9162 2.1.3.2).
    computed = merkle.root_from_inclusion_proof(index, size, merkle.leaf_hash(leaf), proof) if index >= 0 else None
    if computed is None:
        problems.append(f"the inclusion proof does not fit event {event['seq']} (leaf {index}) of a tree of {size} "
                        "events: the event, the proof or the tree size was changed")
    else:
        result.root_hash = computed.hex()
        # 4. The signature over the head kb signs (key_id, root_hash, timestamp, tree_size), with the recomputed root.
        signed = signed_bytes({"key_id": result.key_id, "root_hash": result.root_hash, "timestamp": head["timestamp"],
                               "tree_size": size})
        try:
            Ed25519PublicKey.from_public_bytes(public).verify(signature, signed)
        except InvalidSignature:
            problems.append("the Ed25519 signature does not verify over the recomputed root: the event, the proof "
                            "or the tree head was changed")
    result.key_trusted = any(item in (result.key_id, public.hex()) for item in trusted)

    # 5. What the event attests: the organisation's publication of one document version.
    if event.get("action") != PUBLICATION or event.get("object_type") != "document":
        problems.append(f"the event is a {event.get('action')!r} of a {event.get('object_type')!r}, "
                        f"not the {PUBLICATION!r} of a document")
        return
    payload = json.loads(event["payload"]) if isinstance(event.get("payload"), str) else None
    if not isinstance(payload, dict):
        raise ValueError("the event's payload is not a JSON object")
    result.document, result.version = event.get("object_id"), payload.get("version")
    result.body_sha256, result.published_at = payload.get("body_sha256"), event.get("at")
    result.approval_seq = payload.get("approval_seq")
