"""Wire shapes of the audit log: an event, a page of events, the chain's verification, a signed tree head."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class AuditEventPublic(BaseModel):
    seq: int
    at: str
    actor: str
    channel: str | None
    """api, web, cli or system; null for events written before channels were recorded."""
    action: str
    object_type: str
    object_id: str
    payload: dict[str, Any]
    prev_hash: str
    hash: str


class AuditPage(BaseModel):
    data: list[AuditEventPublic]
    count: int
    next_after_seq: int | None
    next_before_seq: int | None = None
    """With ``order=desc``: the ``before_seq`` of the next, older page (null on the last page)."""


class ChainStatus(BaseModel):
    ok: bool
    count: int
    head_seq: int
    head_hash: str
    first_bad_seq: int | None
    reason: str | None


class StateDifference(BaseModel):
    """One row of the database that is not what the audit log commits to (changed outside kb)."""

    subject: str
    """``document SLUG vN``, ``space SLUG`` or ``user NAME``."""
    field: str
    """The committed field that differs, or ``*`` when the object is missing from one side."""
    logged: Any
    stored: Any
    seq: int | None
    """The event whose commitment the row contradicts; null when the log never mentioned the object."""
    message: str


class LogStatus(ChainStatus):
    """``GET /api/v1/audit/verify``: the chain (as ``ChainStatus``), then the database against the log."""

    consistent: bool
    """The chain holds and every version, space and person in the database is what the log commits to."""
    differences: list[StateDifference]


class TreeHeadPublic(BaseModel):
    """A signed tree head of the audit log and the key to check it with (docs/transparency.md)."""

    tree_size: int
    root_hash: str
    timestamp: str
    key_id: str
    signature: str
    algorithm: str
    public_key: str
    public_key_pem: str
    seq: int
    hash: str


class ReceiptTreeHead(BaseModel):
    """The signed tree head inside a receipt, signature and key in base64.

    The signature covers the head kb signs everywhere (key_id, root_hash, timestamp, tree_size), with the
    root recomputed from the event and the proof and the key_id the SHA-256 of ``public_key``: neither is
    carried.
    """

    tree_size: int
    timestamp: str
    signature: str
    """Base64 of the 64-byte Ed25519 signature."""
    public_key: str
    """Base64 of the 32-byte raw Ed25519 public key."""


class Receipt(BaseModel):
    """``kb-receipt/1``: one audit event, its inclusion proof and a signed tree head (docs/transparency.md, "Receipts")."""

    receipt: str
    event: str
    """The event's leaf bytes as a string: its canonical JSON envelope, exactly as hashed. Its leaf index is seq - 1."""
    proof: str
    """RFC 9162 audit path, leaf first: base64 of its 32-byte nodes concatenated (empty for a tree of one event)."""
    tree_head: ReceiptTreeHead


class InclusionProof(BaseModel):
    """RFC 9162 inclusion proof of event ``seq`` (leaf ``seq - 1``) in the tree of ``tree_size`` events; hex."""

    seq: int
    leaf_index: int
    tree_size: int
    leaf_hash: str
    root_hash: str
    path: list[str]


class ConsistencyProof(BaseModel):
    """RFC 9162 consistency proof between the trees of ``first`` and ``second`` events, with both roots; hex."""

    first: int
    second: int
    first_root_hash: str
    second_root_hash: str
    proof: list[str]
