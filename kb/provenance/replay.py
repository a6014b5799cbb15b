"""What the log says readers are served: the newest commitment of every version, space and person.

Events that change served state carry, in their payload, the commitments the domain defines
(``kb.documents.commitments``, ``kb.accounts.commitments``): ``served`` (a list, one per version
changed), ``safeguards`` (a space's) and ``standing`` (a person's). Replaying the log in sequence
order and keeping the newest of each gives the state the log vouches for; ``kb audit verify``
compares it with the database. This module knows only the payload keys, not what they mean.

Only ``kb.provenance`` imports this module. Imports ``chain`` and ``models`` of this package.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from kb.provenance.models import AuditEvent


@dataclass(frozen=True)
class Committed:
    """One commitment and the event that made it."""

    seq: int
    value: dict[str, Any]


@dataclass
class CommittedState:
    """The newest commitment of each object: versions by ``(document slug, number)``, spaces by slug,
    people by username; and whether the log holds a baseline (``audit.baseline``, migration 0014)."""

    versions: dict[tuple[str, int], Committed] = field(default_factory=dict)
    spaces: dict[str, Committed] = field(default_factory=dict)
    people: dict[str, Committed] = field(default_factory=dict)
    baseline_seq: int | None = None


    def add(self, action: str, object_type: str, object_id: str, payload: str, seq: int) -> None:
        """Take in one event (in sequence order)."""
        if action == "audit.baseline":
            self.baseline_seq = seq
        if '"served"' not in payload and '"safeguards"' not in payload and '"standing"' not in payload:
            return
        try:
            data = json.loads(payload)
        except ValueError:
            return  # a payload that is not JSON: the chain check names it
        if not isinstance(data, dict):
            return
        for item in data.get("served") or ():
            if object_type == "document" and isinstance(item, dict) and isinstance(item.get("version"), int):
                self.versions[(object_id, item["version"])] = Committed(seq, item)
        if object_type == "space" and isinstance(data.get("safeguards"), dict):
            self.spaces[object_id] = Committed(seq, data["safeguards"])
        if object_type == "user" and isinstance(data.get("standing"), dict):
            self.people[object_id] = Committed(seq, data["standing"])


def committed_state(session: Session, batch: int = 20000) -> CommittedState:
    """Replay every event's commitments, in sequence order (its own read of the log)."""
    state = CommittedState()
    last = 0
    columns = (AuditEvent.action, AuditEvent.object_type, AuditEvent.object_id, AuditEvent.payload, AuditEvent.seq)
    while True:
        rows = session.execute(select(*columns).where(AuditEvent.seq > last).order_by(AuditEvent.seq).limit(batch)).all()
        if not rows:
            return state
        for row in rows:
            state.add(*row)
        last = rows[-1][-1]
