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


class ChainStatus(BaseModel):
    ok: bool
    count: int
    head_seq: int
    head_hash: str
    first_bad_seq: int | None
    reason: str | None


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
