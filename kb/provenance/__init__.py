"""Provenance: the append-only, hash-chained audit log and W3C PROV export.

This package is the only writer of audit rows. Every service calls ``record`` inside the caller's
transaction; nothing else imports ``kb.provenance.models`` or ``kb.provenance.chain``
(import-linter contract). Must not import any other kb domain.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from kb.actors import SYSTEM_ACTOR_NAME, Actor
from kb.db import utcnow
from kb.provenance import chain
from kb.provenance.chain import VerifyResult, canonical_json
from kb.provenance.models import AuditEvent
from kb.provenance.prov_export import (
    FORMATS as PROV_FORMATS, DocumentRecord, PersonRecord, VersionRecord, build_prov, check_prov,
)
from kb.provenance.prov_export import deserialize as deserialize_prov
from kb.provenance.prov_export import serialize as serialize_prov

__all__ = [
    "AuditEvent", "VerifyResult", "record", "verify_chain", "write_checkpoint", "read_checkpoint",
    "list_events", "events_since", "head", "canonical_json", "export_jsonl",
    "PROV_FORMATS", "DocumentRecord", "PersonRecord", "VersionRecord", "build_prov", "check_prov",
    "serialize_prov", "deserialize_prov",
]


def record(
    session: Session,
    actor: Actor,
    action: str,
    subject: tuple[str, object],
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one audit event for a state change, in the caller's (uncommitted) transaction.

    Args:
        session: the session whose transaction also holds the change being recorded.
        actor: who did it; ``kb.actors.SYSTEM`` for kb itself (bootstrap, migrations, operator commands).
        action: a dotted action name from docs/audit.md, e.g. ``document.approve``.
        subject: ``(object_type, object_id)`` of the thing changed.
        detail: JSON-serialisable facts about the change (what changed, from what, to what).

    Returns:
        The event, with its sequence number and hash.
    """
    object_type, object_id = subject
    return chain.append(
        session,
        actor_id=None if actor.system else actor.id,
        actor_name=SYSTEM_ACTOR_NAME if actor.system else actor.username,
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        payload=detail or {},
    )


def verify_chain(session: Session, checkpoint: dict[str, Any] | None = None) -> VerifyResult:
    """Verify the whole chain, optionally against an exported checkpoint."""
    return chain.verify(session, checkpoint)


def head(session: Session) -> tuple[int, str]:
    """The (sequence, hash) of the newest audit event."""
    return chain.head(session)


def write_checkpoint(session: Session, path: Path) -> dict[str, Any]:
    """Write the current (sequence, head hash) to ``path``, a file kept outside the database."""
    seq, digest = chain.head(session)
    data = {"seq": seq, "hash": digest, "written_at": utcnow().isoformat()}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)
    return data


def read_checkpoint(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or "seq" not in data or "hash" not in data:
        raise ValueError(f"{path} is not a kb audit checkpoint (needs seq and hash)")
    return data


def list_events(
    session: Session,
    *,
    after_seq: int = 0,
    limit: int = 100,
    action: str | None = None,
    object_type: str | None = None,
    object_id: str | None = None,
    actor_name: str | None = None,
) -> list[AuditEvent]:
    """Events in sequence order after ``after_seq``, optionally filtered."""
    statement = select(AuditEvent).where(AuditEvent.seq > after_seq)
    if action:
        statement = statement.where(AuditEvent.action == action)
    if object_type:
        statement = statement.where(AuditEvent.object_type == object_type)
    if object_id:
        statement = statement.where(AuditEvent.object_id == object_id)
    if actor_name:
        statement = statement.where(AuditEvent.actor_name == actor_name)
    return list(session.execute(statement.order_by(AuditEvent.seq).limit(limit)).scalars())


def events_since(session: Session, after_seq: int, limit: int = 1000) -> list[AuditEvent]:
    """Events after ``after_seq``: how derived indexes catch up with the database."""
    return list_events(session, after_seq=after_seq, limit=limit)


def export_jsonl(session: Session, out: Any) -> int:
    """Write every event as one JSON object per line to the text stream ``out``; return the count."""
    written = 0
    for event in chain._events(session):
        out.write(canonical_json(event.model_dump()) + "\n")
        written += 1
    return written
