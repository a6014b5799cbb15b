"""HTTP routes of the audit log: each declares its row of ``kb.permissions`` and calls one action.

Who may read the log (admins) is decided by ``kb.provenance.actions``; the routes only translate the
query and declare the same row with ``require_for`` for the early 401/403. ``GET /api/v1/audit/verify``
lives in ``kb.documents.api``: it checks the database against the log, which needs the documents'
and the accounts' definitions of what the log commits to.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request

from kb.actors import Actor
from kb.db import MAX_ROW_ID
from kb.http import SessionDep, api_router_options, require_for
from kb.provenance import actions
from kb.provenance.schemas import AuditPage, ConsistencyProof, InclusionProof, TreeHeadPublic

router = APIRouter(prefix="/api/v1", **api_router_options("audit"))
public_router = APIRouter(prefix="/public/v1", **api_router_options("public"))


@router.get("/audit", response_model=AuditPage, summary="Page through the audit log, in sequence order or newest first")
def list_audit_events(
    session: SessionDep,
    actor: Annotated[Actor, Depends(require_for("audit.list"))],
    after_seq: Annotated[int, Query(ge=0, le=MAX_ROW_ID, description="Return events after this sequence number")] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    action: Annotated[str | None, Query(max_length=64)] = None,
    object_type: Annotated[str | None, Query(max_length=64)] = None,
    object_id: Annotated[str | None, Query(max_length=200)] = None,
    by: Annotated[str | None, Query(max_length=64, description="Username of the actor")] = None,
    before_seq: Annotated[int | None, Query(ge=1, le=MAX_ROW_ID, description="Return events before this sequence number")] = None,
    order: Annotated[Literal["asc", "desc"], Query(description="asc: oldest first (next page: next_after_seq); "
                                                               "desc: newest first (next page: next_before_seq)")] = "asc",
) -> AuditPage:
    return actions.list_events(session, actor, after_seq=after_seq, limit=limit, action=action, object_type=object_type,
                               object_id=object_id, by=by, before_seq=before_seq, newest_first=order == "desc")


@public_router.get("/transparency/tree-head", response_model=TreeHeadPublic,
                   summary="The audit log's latest signed tree head (RFC 9162 Merkle root, Ed25519) and its public key",
                   description="Anyone may fetch it and keep it: a later head whose log does not extend this one "
                               "proves history was rewritten. The algorithm is in docs/transparency.md.")
def transparency_tree_head(
    request: Request,
    session: SessionDep,
    actor: Annotated[Actor | None, Depends(require_for("transparency.head"))],
) -> TreeHeadPublic:
    return actions.tree_head(session, actor, signing_key=request.app.state.settings.signing_key_path)


TreeSize = Annotated[int, Query(ge=0, le=MAX_ROW_ID, description="A number of events: the tree of the first N events")]


@public_router.get("/transparency/inclusion", response_model=InclusionProof,
                   summary="RFC 9162 inclusion proof of audit event `seq` in the tree of `tree_size` events (hashes only)",
                   description="Without `tree_size`: the whole log now. 422 when not 1 <= seq <= tree_size <= log size. "
                               "Verify with the loop of docs/transparency.md, section 6.")
def transparency_inclusion(
    session: SessionDep,
    actor: Annotated[Actor | None, Depends(require_for("transparency.proof"))],
    seq: Annotated[int, Query(ge=0, le=MAX_ROW_ID, description="The event's sequence number (leaf seq - 1)")],
    tree_size: TreeSize | None = None,
) -> InclusionProof:
    return actions.inclusion_proof(session, actor, seq=seq, tree_size=tree_size)


@public_router.get("/transparency/consistency", response_model=ConsistencyProof,
                   summary="RFC 9162 consistency proof from the tree of `first` events to the tree of `second` (hashes only)",
                   description="Without `second`: the whole log now. 422 when not 0 <= first <= second <= log size. "
                               "A witness who kept a signed head of size `first` checks a newer head with it.")
def transparency_consistency(
    session: SessionDep,
    actor: Annotated[Actor | None, Depends(require_for("transparency.proof"))],
    first: TreeSize,
    second: TreeSize | None = None,
) -> ConsistencyProof:
    return actions.consistency_proof(session, actor, first=first, second=second)
