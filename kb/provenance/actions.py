"""Use cases of the audit log: reading it and verifying its hash chain, the one door of the API,
the web page and the CLI.

Who may read the log is decided here, once, by the rows ``audit.list`` and ``audit.verify`` of
``kb.permissions`` (the API route and the web page only declared it before, each in its own words).
Writing the log is no action: services record their events through ``kb.provenance.record`` inside
their own transaction.

kb.provenance is the lowest domain: this module imports the package's public functions, its schemas
and the foundation (kb.actors, kb.db, kb.permissions); never another kb domain, FastAPI or a surface.
"""

from __future__ import annotations

import json
from pathlib import Path

from sqlmodel import Session

from kb import provenance
from kb.actors import Actor
from kb.errors import ErrorCode, KbError
from kb.permissions import authorize
from kb.provenance.schemas import (
    AuditEventPublic, AuditPage, ConsistencyProof, InclusionProof, TreeHeadPublic,
)


def list_events(
    session: Session,
    actor: Actor,
    *,
    after_seq: int = 0,
    limit: int = 100,
    action: str | None = None,
    object_type: str | None = None,
    object_id: str | None = None,
    by: str | None = None,
    before_seq: int | None = None,
    newest_first: bool = False,
) -> AuditPage:
    """A page of audit events after ``after_seq`` (and before ``before_seq``), optionally filtered.

    Args:
        by: the username of the actor (``system`` for kb itself).
        newest_first: the newest ``limit`` events of the range, newest first (else the oldest, in order).

    Returns:
        The events; when the page is full, the ``after_seq`` of the next page in sequence order, or with
        ``newest_first`` the ``before_seq`` of the next, older page (else None).

    Raises:
        KbError NOT_AUTHENTICATED or FORBIDDEN: the actor is not an admin (``audit.list``).
    """
    authorize(actor, "audit.list")
    events = provenance.list_events(session, after_seq=after_seq, limit=limit, action=action, object_type=object_type,
                                    object_id=object_id, actor_name=by, before_seq=before_seq, newest_first=newest_first)
    data = [AuditEventPublic(seq=e.seq, at=e.at, actor=e.actor_name, channel=e.channel, action=e.action, object_type=e.object_type,
                             object_id=e.object_id, payload=json.loads(e.payload), prev_hash=e.prev_hash, hash=e.hash)
            for e in events]
    full = len(data) == limit
    if newest_first:
        return AuditPage(data=data, count=len(data), next_after_seq=None, next_before_seq=data[-1].seq if full else None)
    return AuditPage(data=data, count=len(data), next_after_seq=data[-1].seq if full else None)


def tree_head(session: Session, actor: Actor | None, *, signing_key: Path) -> TreeHeadPublic:
    """A tree head of the whole log, signed now, with the public key that verifies it (anyone: ``transparency.head``).

    The key file is created (mode 0600) if it does not exist yet, as ``kb init`` does.

    Raises:
        KbError SERVICE_UNAVAILABLE: the chain does not verify where the tree would grow, or the key
            file cannot be read; no head is signed over a broken log.
    """
    authorize(actor, "transparency.head")
    try:
        provenance.ensure_signing_key(signing_key)
        head = provenance.sign_tree_head(session, signing_key)
        info = provenance.signing_key_info(signing_key)
    except provenance.ChainBroken as exc:
        raise KbError(ErrorCode.SERVICE_UNAVAILABLE, f"No tree head is signed: {exc}") from None
    except (OSError, ValueError):
        raise KbError(ErrorCode.SERVICE_UNAVAILABLE, "No tree head is signed: the signing key cannot be read") from None
    return TreeHeadPublic(**head, public_key_pem=info["public_key_pem"])


def inclusion_proof(session: Session, actor: Actor | None, *, seq: int, tree_size: int | None = None) -> InclusionProof:
    """The RFC 9162 inclusion proof of event ``seq`` in the tree of ``tree_size`` events (default: the whole log).

    Hashes only: the event itself is not served (a public document's receipt carries its own event).
    Anyone may ask (``transparency.proof``).

    Raises:
        KbError VALIDATION_ERROR: ``seq`` or ``tree_size`` is outside the log (``1 <= seq <= tree_size <= log size``).
        KbError SERVICE_UNAVAILABLE: the chain does not verify where the tree would grow.
    """
    authorize(actor, "transparency.proof")
    try:
        return InclusionProof(**provenance.inclusion_proof(session, seq, tree_size))
    except ValueError as exc:
        raise KbError(ErrorCode.VALIDATION_ERROR, f"No inclusion proof: {exc}",
                      {"seq": seq, "tree_size": tree_size}) from None
    except provenance.ChainBroken as exc:
        raise KbError(ErrorCode.SERVICE_UNAVAILABLE, f"No proof is served: {exc}") from None


def consistency_proof(session: Session, actor: Actor | None, *, first: int, second: int | None = None) -> ConsistencyProof:
    """The RFC 9162 consistency proof from the tree of ``first`` events to the tree of ``second`` (default: the whole log).

    With both roots, so that a witness holding a signed head of size ``first`` can check that a
    newer head extends it. Anyone may ask (``transparency.proof``).

    Raises:
        KbError VALIDATION_ERROR: not ``0 <= first <= second <= log size``.
        KbError SERVICE_UNAVAILABLE: the chain does not verify where the tree would grow.
    """
    authorize(actor, "transparency.proof")
    try:
        proof = provenance.consistency_proof(session, first, second)
        size = second if second is not None else provenance.head(session)[0]
        return ConsistencyProof(first=first, second=size, first_root_hash=provenance.root_hash(session, first),
                                second_root_hash=provenance.root_hash(session, size), proof=proof)
    except ValueError as exc:
        raise KbError(ErrorCode.VALIDATION_ERROR, f"No consistency proof: {exc}",
                      {"first": first, "second": second}) from None
    except provenance.ChainBroken as exc:
        raise KbError(ErrorCode.SERVICE_UNAVAILABLE, f"No proof is served: {exc}") from None
