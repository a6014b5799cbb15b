"""What the log says readers are served: the newest commitment of every version, space and person.

Events that change served state carry, in their payload, the commitments the domain defines
(``kb.documents.commitments``, ``kb.accounts.commitments``, ``kb.taxonomy.commitments``): ``served``
(a list, one per version changed), ``safeguards`` (a space's), ``standing`` (a person's), and
``concept_state`` (a list, one per concept changed) and ``scheme_state`` (a concept scheme's). Replaying the log in sequence
order and keeping the newest of each gives the state the log vouches for; ``kb audit verify``
compares it with the database. This module knows only the payload keys, not what they mean.

Only ``kb.provenance`` imports this module. Imports ``chain`` and ``models`` of this package.
"""

from __future__ import annotations

import json
import re
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
    """The newest commitment of each object: versions by ``(document slug, number)``, documents, spaces
    by slug, people by username; and whether the log holds a baseline (``audit.baseline``, migration 0014).

    Fill it with ``add`` in sequence order, then call ``finish``. Payloads are parsed lazily: only the
    newest events of each object are decoded, newest first, until every one of its versions is
    found — a document's old drafts and a space's old settings are never parsed.
    """

    versions: dict[tuple[str, int], Committed] = field(default_factory=dict)
    documents: dict[str, Committed] = field(default_factory=dict)
    spaces: dict[str, Committed] = field(default_factory=dict)
    people: dict[str, Committed] = field(default_factory=dict)
    tokens: dict[str, Committed] = field(default_factory=dict)
    """API tokens' credentials by token id."""
    sessions: dict[str, Committed] = field(default_factory=dict)
    """Web sessions' credentials by session id."""
    concepts: dict[str, Committed] = field(default_factory=dict)
    """Taxonomy concepts by id (as text); a deleted one's commitment says ``deleted``."""
    schemes: dict[str, Committed] = field(default_factory=dict)
    """Concept schemes by id (as text)."""
    reports: dict[str, Committed] = field(default_factory=dict)
    """Readers' reports (``review_request``) by id, as the ``flag.create`` that first made each committed it
    (``report_state``: document, version, reason, reporter, note digest; just document and reason in the
    first events that named a report's id)."""
    remade_reports: dict[str, list[int]] = field(default_factory=dict)
    """Ids a later ``flag.create`` made again (the seqs): kb never reuses one, so the report first made with it
    was deleted outside kb and its id given to another."""
    unnumbered_reports: dict[tuple[str, str], list[int]] = field(default_factory=dict)
    """The seqs of the ``flag.create`` events that made a report before they named its id, by (document slug, reason)."""
    closed_reports: dict[str, list[tuple[int, str]]] = field(default_factory=dict)
    """The reports approvals, retirements and dismissals closed (``resolved_reports``), by id: (seq, document slug)
    of each closing event, so that a closing counts only after the making and on the report's own document."""
    baseline_seq: int | None = None
    _documents: dict[str, list[tuple[int, str]]] = field(default_factory=dict, repr=False)
    _latest: dict[tuple[str, str], tuple[int, str]] = field(default_factory=dict, repr=False)

    def add(self, action: str, object_type: str, object_id: str, payload: str, seq: int) -> None:
        """Take in one event (in sequence order)."""
        if action == "audit.baseline":
            self.baseline_seq = seq
        if object_type == "document" and (('"review_requested"' in payload and action == "flag.create")
                                          or '"resolved_reports"' in payload):  # few events: decoded now
            self._add_report_event(object_id, _decoded(payload), seq)
        if object_type == "document":
            if '"served"' in payload:
                self._documents.setdefault(object_id, []).append((seq, payload))
        elif object_type == "space":
            if '"safeguards"' in payload:
                self._latest[("space", object_id)] = (seq, payload)
        elif object_type == "user":
            if '"standing"' in payload:
                self._latest[("user", object_id)] = (seq, payload)
            elif '"credential"' in payload:  # a web session started: few bytes, decoded now
                value = _decoded(payload).get("credential")
                if isinstance(value, dict) and "session" in value:
                    self.sessions[str(value["session"])] = Committed(seq, value)
        elif object_type in ("concept", "concept_scheme", "taxonomy") and (
                '"concept_state"' in payload or '"scheme_state"' in payload):  # few events: decoded now
            data = _decoded(payload)
            for item in _as_list(data.get("concept_state")):
                if isinstance(item, dict) and "id" in item:
                    self.concepts[str(item["id"])] = Committed(seq, item)
            for item in _as_list(data.get("scheme_state")):
                if isinstance(item, dict) and "id" in item:
                    self.schemes[str(item["id"])] = Committed(seq, item)
        elif object_type == "token" and '"credential"' in payload:
            value = _decoded(payload).get("credential")
            if isinstance(value, dict):
                self.tokens[object_id] = Committed(seq, value)

    def _add_report_event(self, slug: str, data: dict[str, Any], seq: int) -> None:
        for closed in _as_list(data.get("resolved_reports")):
            if isinstance(closed, int):
                self.closed_reports.setdefault(str(closed), []).append((seq, slug))
        if data.get("status") != "review_requested":
            return
        state = data.get("report_state")
        made = state if isinstance(state, dict) else {"document": slug, "reason": data.get("reason")}
        if isinstance(data.get("report"), int):
            self._made(str(data["report"]), Committed(seq, made))
        else:
            self.unnumbered_reports.setdefault((slug, str(data.get("reason"))), []).append(seq)

    def _made(self, key: str, made: Committed) -> None:
        if key in self.reports:
            self.remade_reports.setdefault(key, []).append(made.seq)
        else:
            self.reports[key] = made

    def finish(self) -> "CommittedState":
        """Decode what ``add`` kept: the newest commitment of every version, space and person."""
        for slug, events in self._documents.items():
            # Every version number any of its events names (a cheap over-estimate: parsing stops only once
            # each of 1..top has its newest commitment, so skipping never hides a version).
            top = max((int(n) for _seq, payload in events for n in _VERSION_NUMBER.findall(payload)), default=0)
            missing = set(range(1, top + 1))
            for seq, payload in reversed(events):
                data = _decoded(payload)
                if slug not in self.documents and isinstance(data.get("document"), dict):
                    self.documents[slug] = Committed(seq, data["document"])
                for item in data.get("served") or ():
                    number = item.get("version") if isinstance(item, dict) else None
                    if isinstance(number, int) and (slug, number) not in self.versions:
                        self.versions[(slug, number)] = Committed(seq, item)
                        missing.discard(number)
                if not missing and slug in self.documents:
                    break
        for (kind, object_id), (seq, payload) in self._latest.items():
            value = _decoded(payload).get("safeguards" if kind == "space" else "standing")
            if isinstance(value, dict):
                (self.spaces if kind == "space" else self.people)[object_id] = Committed(seq, value)
        self._documents.clear()
        self._latest.clear()
        return self


    def merge(self, newer: "CommittedState") -> "CommittedState":
        """Take in the finished replay of the events that follow this one's: its commitments are newer."""
        for mine, theirs in ((self.versions, newer.versions), (self.documents, newer.documents),
                             (self.spaces, newer.spaces), (self.people, newer.people),
                             (self.tokens, newer.tokens), (self.sessions, newer.sessions),
                             (self.concepts, newer.concepts), (self.schemes, newer.schemes)):
            mine.update(theirs)  # type: ignore[attr-defined]
        for key, made in newer.reports.items():
            self._made(key, made)
        for mine_lists, theirs_lists in ((self.remade_reports, newer.remade_reports),
                                         (self.unnumbered_reports, newer.unnumbered_reports),
                                         (self.closed_reports, newer.closed_reports)):
            for key, items in theirs_lists.items():
                mine_lists.setdefault(key, []).extend(items)  # type: ignore[attr-defined]
        if newer.baseline_seq is not None:
            self.baseline_seq = newer.baseline_seq
        return self


_VERSION_NUMBER = re.compile(r'"version"\s*:\s*(\d{1,9})\b')


def _as_list(value: Any) -> list[Any]:
    """A payload member that is one object or a list of them, as a list."""
    return value if isinstance(value, list) else [value] if value is not None else []


def _decoded(payload: str) -> dict[str, Any]:
    try:
        data = json.loads(payload)
    except ValueError:
        return {}  # a payload that is not JSON: the chain check names it
    return data if isinstance(data, dict) else {}


def committed_state(session: Session, batch: int = 20000) -> CommittedState:
    """Replay every event's commitments, in sequence order (its own read of the log)."""
    state = CommittedState()
    last = 0
    columns = (AuditEvent.action, AuditEvent.object_type, AuditEvent.object_id, AuditEvent.payload, AuditEvent.seq)
    while True:
        rows = session.execute(select(*columns).where(AuditEvent.seq > last).order_by(AuditEvent.seq).limit(batch)).all()
        if not rows:
            return state.finish()
        for row in rows:
            state.add(*row)
        last = rows[-1][-1]
