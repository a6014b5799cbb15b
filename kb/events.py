"""Domain events and the in-process event bus.

Services queue frozen event objects on the session (``queue_event``); ``kb.db.transaction``
dispatches them only after the commit succeeded, so subscribers (the search indexer) never see a
change that was rolled back. Imports nothing from kb.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Callable

log = logging.getLogger("kb.events")

PENDING_EVENTS_KEY = "kb_pending_events"


@dataclass(frozen=True)
class DomainEvent:
    """Base of every event: the audit sequence number that recorded the change."""

    audit_seq: int


@dataclass(frozen=True)
class VersionPublished(DomainEvent):
    """A version became the approved (current) version of its document."""

    document_id: int
    version_id: int


@dataclass(frozen=True)
class DocumentWithdrawn(DomainEvent):
    """A document has no searchable version any more (retired, deleted)."""

    document_id: int


@dataclass(frozen=True)
class DocumentChanged(DomainEvent):
    """Metadata that search filters on (audience, tags, space) changed."""

    document_id: int


@dataclass(frozen=True)
class Recorded:
    """An audit event as ``kb.provenance.record`` just appended it, handed to the session's record hooks
    inside the same transaction (the notifications outbox is written that way, issue 17)."""

    seq: int
    action: str
    object_type: str
    object_id: str
    actor_id: int | None
    actor_name: str
    detail: dict[str, Any]
    rows: tuple[Any, ...] = ()
    """The rows the event is about as the recording transaction holds them (a submission's document and
    version), so a hook need not read them again; never part of the audit record. Empty when the caller did
    not pass them: a hook then reads what it needs."""


RECORD_HOOKS_KEY = "kb_record_hooks"
"""Session info: callables ``hook(session, Recorded)`` that ``kb.provenance.record`` calls after each append."""

Subscriber = Callable[[DomainEvent], None]


class EventBus:
    """Synchronous publish/subscribe within one process."""

    def __init__(self) -> None:
        self._subscribers: dict[type, list[Subscriber]] = defaultdict(list)

    def subscribe(self, event_type: type, subscriber: Subscriber) -> None:
        self._subscribers[event_type].append(subscriber)

    def publish(self, event: DomainEvent) -> None:
        for event_type, subscribers in self._subscribers.items():
            if isinstance(event, event_type):
                for subscriber in subscribers:
                    try:
                        subscriber(event)
                    except Exception:  # a subscriber must never undo a committed change
                        log.exception("Event subscriber %r failed on %r", subscriber, event)


def queue_event(session: Any, event: DomainEvent) -> None:
    """Queue ``event`` on the session; it is published after the session's transaction commits."""
    session.info.setdefault(PENDING_EVENTS_KEY, []).append(event)
