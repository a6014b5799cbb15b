"""Use cases of notifications: the one door the API, the web pages and the CLI go through.

The inbox (``notification.list``), marking read (``notification.read``), watching (``watch.add``,
``watch.remove``, ``watch.list``) and the delivery preference (``notify.preference``). Each checks
the actor against ``kb.permissions`` and runs in one transaction where state changes. Must not import
FastAPI, the web UI or the API modules.
"""

from __future__ import annotations

from sqlmodel import Session

from kb.actors import Actor
from kb.db import transaction
from kb.notifications import service
from kb.notifications.models import DeliveryMode, Notification, Watch, WatchKind
from kb.notifications.schemas import (
    MarkedRead, NotificationPublic, NotificationsPublic, PreferencePublic, WatchesPublic, WatchPublic,
)
from kb.permissions import authorize


def _public(row: Notification) -> NotificationPublic:
    return NotificationPublic(id=row.id, key=row.key, kind=row.kind, title=row.title, body=row.body, link=row.link,  # type: ignore[arg-type]
                              created_at=row.created_at, read=row.read_at is not None)


def notifications(session: Session, actor: Actor, *, unread_only: bool = False, limit: int = service.INBOX_LIMIT,
                  before_id: int | None = None) -> NotificationsPublic:
    """A page of the actor's notifications, newest first (``limit``, at most 200, older than ``before_id``),
    with the unread count and, when the page is full, the ``next_before`` of the next, older page."""
    authorize(actor, "notification.list")
    rows, unread = service.inbox(session, actor=actor, unread_only=unread_only, limit=min(limit, service.INBOX_LIMIT),
                                 before_id=before_id)
    full = len(rows) == min(limit, service.INBOX_LIMIT)
    return NotificationsPublic(data=[_public(row) for row in rows], count=len(rows), unread=unread,
                               next_before=rows[-1].id if full and rows else None)


def unread_count(session: Session, actor: Actor | None) -> int:
    """The header's badge: 0 for nobody."""
    if actor is None or actor.id is None:
        return 0
    return service.unread_count(session, actor=actor)


def mark_read(session: Session, actor: Actor, *, ids: list[int] | None = None) -> MarkedRead:
    """Mark the actor's notifications ``ids`` read (all when None); ids of others' notifications change nothing."""
    authorize(actor, "notification.read")
    with transaction(session):
        marked = service.mark_read(session, actor=actor, ids=ids)
    return MarkedRead(marked=marked, unread=service.unread_count(session, actor=actor))


def _watch_public(row: Watch) -> WatchPublic:
    return WatchPublic(kind=WatchKind(row.kind), target=row.target, created_at=row.created_at)


def watch(session: Session, actor: Actor, *, kind: WatchKind, target: str) -> WatchPublic:
    """Follow a document, space, question or tag (audited as ``watch.add``).

    Raises:
        KbError NOT_FOUND: no such document (or one the actor may not see), space or question.
        KbError BAD_REQUEST: a tag with spaces.
    """
    authorize(actor, "watch.add")
    with transaction(session):
        row = service.watch(session, actor=actor, kind=kind, target=target)
    return _watch_public(row)


def unwatch(session: Session, actor: Actor, *, kind: WatchKind, target: str) -> bool:
    """Stop following (audited as ``watch.remove``); False if the actor did not watch it."""
    authorize(actor, "watch.remove")
    with transaction(session):
        return service.unwatch(session, actor=actor, kind=kind, target=target)


def watches(session: Session, actor: Actor) -> WatchesPublic:
    authorize(actor, "watch.list")
    rows = service.watches(session, actor=actor)
    return WatchesPublic(data=[_watch_public(row) for row in rows], count=len(rows))


def is_watching(session: Session, actor: Actor | None, *, kind: WatchKind, target: str) -> bool:
    """Whether the page shows "unwatch" rather than "watch"."""
    return actor is not None and service.is_watching(session, actor=actor, kind=kind, target=target)


def preference(session: Session, actor: Actor) -> PreferencePublic:
    authorize(actor, "notification.list")
    mode, email = service.preference(session, actor=actor)
    return PreferencePublic(mode=DeliveryMode(mode), email=email)


def set_preference(session: Session, actor: Actor, *, mode: DeliveryMode) -> PreferencePublic:
    """Choose in-app only, e-mail at once, or a daily digest (audited as ``notify.preference`` when it changes).

    Raises:
        KbError BAD_REQUEST: e-mail for an account without an address.
    """
    authorize(actor, "notify.preference")
    with transaction(session):
        service.set_preference(session, actor=actor, mode=mode)
    return preference(session, actor)
