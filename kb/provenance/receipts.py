"""Receipts: one audit event, its RFC 9162 inclusion proof and a signed tree head, checkable offline.

A receipt lets anyone check, with a SHA-256 and an Ed25519 implementation and nothing from kb,
that an event is in the audit log the organisation signed (issue 16). kb gives one per public
document: the ``version.publish`` event of its current version (docs/transparency.md, "Receipts",
is the algorithm byte for byte; change both together).

The receipt, ``kb-receipt/1``, is a JSON object with exactly these members::

    {"receipt": "kb-receipt/1",
     "event": "<the event's leaf bytes, as a UTF-8 string>",
     "leaf_index": <seq - 1>,
     "inclusion_proof": ["<base64 of a 32-byte node>", ...],
     "tree_head": {"tree_size", "root_hash", "timestamp", "key_id", "signature", "algorithm", "public_key"}}

Proof nodes are base64 (44 characters, not 64 hex digits): at 1,000,000 events a proof has 20 of
them, and the receipt must stay under 2 KB (bench/receipt_size.py). The tree head keeps hex, as
every other head kb signs.

The check is strict so that a change of any one byte of the file fails: unknown or missing members,
upper-case hex, non-canonical base64 and non-integer numbers are refused, not repaired.

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
from kb.provenance.transparency import ALGORITHM, signed_bytes

FORMAT = "kb-receipt/1"
RECEIPT_MEMBERS = frozenset({"receipt", "event", "leaf_index", "inclusion_proof", "tree_head"})
HEAD_MEMBERS = frozenset({"tree_size", "root_hash", "timestamp", "key_id", "signature", "algorithm", "public_key"})
EVENT_MEMBERS = frozenset({"action", "actor_id", "actor_name", "at", "channel", "object_id", "object_type", "payload",
                           "prev_hash", "seq"})
PUBLICATION = "version.publish"
_HEX64 = re.compile(r"[0-9a-f]{64}")
_HEX128 = re.compile(r"[0-9a-f]{128}")
_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")


def build(*, leaf: bytes, leaf_index: int, proof: Iterable[bytes], head: dict[str, Any]) -> dict[str, Any]:
    """The receipt of the event whose leaf bytes are ``leaf``, under the signed ``head`` (``transparency.sign_head``)."""
    return {
        "receipt": FORMAT,
        "event": leaf.decode("utf-8"),
        "leaf_index": leaf_index,
        "inclusion_proof": [base64.b64encode(node).decode("ascii") for node in proof],
        "tree_head": {name: head[name] for name in ("tree_size", "root_hash", "timestamp", "key_id", "signature",
                                                    "algorithm", "public_key")},
    }


@dataclass
class ReceiptCheck:
    """Outcome of checking a receipt offline.

    ``ok``: every check holds. ``key_trusted``: the signing key is one the caller named as trusted
    (by raw key or fingerprint); when False and ``ok``, the receipt is intact and signed by the key it
    carries, whose fingerprint (``key_id``) must be compared with the one the organisation publishes.
    """

    ok: bool = False
    problems: list[str] = field(default_factory=list)
    key_trusted: bool = False
    key_id: str | None = None
    tree_size: int | None = None
    timestamp: str | None = None
    seq: int | None = None
    document: str | None = None
    version: int | None = None
    title: str | None = None
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


def _node(text: Any) -> bytes:
    """A proof node: canonical base64 of exactly 32 bytes (anything else, even an equivalent spelling, is refused)."""
    if not isinstance(text, str):
        raise ValueError("a proof node is a base64 string")
    raw = base64.b64decode(text, validate=True)
    if len(raw) != 32 or base64.b64encode(raw).decode("ascii") != text:
        raise ValueError(f"proof node {text!r} is not the canonical base64 of 32 bytes")
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
    event_text, index, proof_text = receipt["event"], receipt["leaf_index"], receipt["inclusion_proof"]
    size = head["tree_size"]
    if not isinstance(event_text, str) or not _is_int(index) or not _is_int(size) or not isinstance(proof_text, list):
        raise ValueError("event is a string, leaf_index and tree_head.tree_size integers, inclusion_proof a list")
    for name, pattern in (("root_hash", _HEX64), ("key_id", _HEX64), ("public_key", _HEX64),
                          ("signature", _HEX128), ("timestamp", _TIMESTAMP)):
        if not isinstance(head[name], str) or not pattern.fullmatch(head[name]):
            raise ValueError(f"tree_head.{name} is malformed (lower-case hex, or the UTC timestamp of a kb head)")
    if head["algorithm"] != ALGORITHM:
        raise ValueError(f"tree_head.algorithm must be {ALGORITHM!r}")
    proof = [_node(node) for node in proof_text]
    result.tree_size, result.timestamp, result.key_id = size, head["timestamp"], head["key_id"]

    # 2. The event: its leaf bytes, and what it says.
    leaf = event_text.encode("utf-8")
    event = json.loads(event_text, object_pairs_hook=_no_duplicates)
    if not isinstance(event, dict) or not set(event) <= EVENT_MEMBERS or not _is_int(event.get("seq")):
        raise ValueError("event is not an audit event envelope")
    result.seq = event["seq"]
    if index != event["seq"] - 1:
        problems.append(f"leaf_index {index} is not the event's position (seq {event['seq']} is leaf {event['seq'] - 1})")

    # 3. The inclusion proof: recompute the root from the leaf hash (RFC 9162 2.1.3.2).
    computed = merkle.root_from_inclusion_proof(index, size, merkle.leaf_hash(leaf), proof) if index >= 0 else None
    if computed is None:
        problems.append(f"the inclusion proof does not fit leaf {index} of a tree of {size} events")
    elif computed.hex() != head["root_hash"]:
        problems.append("the inclusion proof leads to a different root than the signed head's: the event, the proof "
                        "or the head was changed")

    # 4. The signature over the head's four signed members, with the key whose fingerprint is key_id.
    public = bytes.fromhex(head["public_key"])
    if hashlib.sha256(public).hexdigest() != head["key_id"]:
        problems.append("the public_key in the receipt is not the key whose fingerprint is key_id")
    else:
        try:
            Ed25519PublicKey.from_public_bytes(public).verify(bytes.fromhex(head["signature"]), signed_bytes(head))
        except InvalidSignature:
            problems.append("the Ed25519 signature of the tree head does not verify: the head was changed")
    result.key_trusted = any(item in (head["key_id"], head["public_key"]) for item in trusted)

    # 5. What the event attests: the organisation's publication of one document version.
    if event.get("action") != PUBLICATION or event.get("object_type") != "document":
        problems.append(f"the event is a {event.get('action')!r} of a {event.get('object_type')!r}, "
                        f"not the {PUBLICATION!r} of a document")
        return
    payload = json.loads(event["payload"]) if isinstance(event.get("payload"), str) else None
    if not isinstance(payload, dict):
        raise ValueError("the event's payload is not a JSON object")
    approval = payload.get("approval") if isinstance(payload.get("approval"), dict) else {}
    result.document, result.version, result.title = event.get("object_id"), payload.get("version"), payload.get("title")
    result.body_sha256, result.published_at = payload.get("body_sha256"), event.get("at")
    result.approval_seq = approval.get("seq")
