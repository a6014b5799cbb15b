"""Helpers to read the audit log in tests (through kb.provenance's public functions only)."""

from __future__ import annotations

import json
from typing import Any

from kb import provenance
from kb.db import Database


def audit_events(database: Database, after_seq: int = 0) -> list[dict[str, Any]]:
    with database.session() as session:
        return [
            {"seq": e.seq, "actor": e.actor_name, "action": e.action, "object_type": e.object_type,
             "object_id": e.object_id, "payload": json.loads(e.payload)}
            for e in provenance.list_events(session, after_seq=after_seq, limit=100_000)
        ]


def head_seq(database: Database) -> int:
    with database.session() as session:
        return provenance.head(session)[0]
