"""HTTP routes of the audit log (admins only)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from kb import provenance
from kb.db import MAX_ROW_ID
from kb.actors import Access, Actor
from kb.http import SessionDep, api_router_options, require

router = APIRouter(prefix="/api/v1", **api_router_options("audit"))


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


@router.get("/audit", response_model=AuditPage, summary="Page through the audit log in sequence order")
def list_audit_events(
    session: SessionDep,
    actor: Annotated[Actor, Depends(require(Access.admin))],
    after_seq: Annotated[int, Query(ge=0, le=MAX_ROW_ID, description="Return events after this sequence number")] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    action: Annotated[str | None, Query(max_length=64)] = None,
    object_type: Annotated[str | None, Query(max_length=64)] = None,
    object_id: Annotated[str | None, Query(max_length=200)] = None,
    by: Annotated[str | None, Query(max_length=64, description="Username of the actor")] = None,
) -> AuditPage:
    import json

    events = provenance.list_events(session, after_seq=after_seq, limit=limit, action=action,
                                    object_type=object_type, object_id=object_id, actor_name=by)
    data = [AuditEventPublic(seq=e.seq, at=e.at, actor=e.actor_name, action=e.action, object_type=e.object_type,
                             object_id=e.object_id, payload=json.loads(e.payload), prev_hash=e.prev_hash, hash=e.hash)
            for e in events]
    return AuditPage(data=data, count=len(data), next_after_seq=data[-1].seq if len(data) == limit else None)


@router.get("/audit/verify", response_model=ChainStatus, summary="Verify the audit hash chain")
def verify_audit_chain(session: SessionDep, actor: Annotated[Actor, Depends(require(Access.admin))]) -> ChainStatus:
    return ChainStatus(**provenance.verify_chain(session).as_dict())
