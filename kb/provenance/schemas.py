"""Wire shapes of the audit log: an event, a page of events, the chain's verification."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class AuditEventPublic(BaseModel):
    seq: int
    at: str
    actor: str
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
