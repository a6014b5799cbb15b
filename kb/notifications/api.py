"""HTTP routes of notifications: the inbox, marking read, watches and the delivery preference.

Each route declares its row of ``kb.permissions`` and calls one action of ``kb.notifications.actions``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response, status

from kb.actors import Actor
from kb.db import MAX_ROW_ID
from kb.http import SessionDep, api_router_options, require_for
from kb.notifications import actions
from kb.notifications.models import WatchKind
from kb.notifications.schemas import (
    MarkedRead, MarkRead, NotificationsPublic, PreferencePublic, PreferenceUpdate, WatchCreate, WatchesPublic, WatchPublic,
)

router = APIRouter(prefix="/api/v1", **api_router_options("notifications"))


@router.get("/notifications", response_model=NotificationsPublic, summary="My notifications, newest first, with the unread count")
def list_notifications(session: SessionDep, actor: Annotated[Actor, Depends(require_for("notification.list"))],
                       unread: bool = False, limit: Annotated[int, Query(ge=1, le=200)] = 200,
                       before: Annotated[int | None, Query(ge=1, le=MAX_ROW_ID, description="Older than this id")] = None,
                       ) -> NotificationsPublic:
    return actions.notifications(session, actor, unread_only=unread, limit=limit, before_id=before)


@router.post("/notifications/read", response_model=MarkedRead, summary="Mark my notifications read (the given ids, or all)")
def mark_read(body: MarkRead, session: SessionDep,
              actor: Annotated[Actor, Depends(require_for("notification.read"))]) -> MarkedRead:
    return actions.mark_read(session, actor, ids=body.ids)


@router.get("/me/notification-preference", response_model=PreferencePublic, summary="How I am told: in-app, e-mail or daily digest")
def get_preference(session: SessionDep, actor: Annotated[Actor, Depends(require_for("notification.list"))]) -> PreferencePublic:
    return actions.preference(session, actor)


@router.put("/me/notification-preference", response_model=PreferencePublic, summary="Choose in-app only, e-mail at once or a daily digest")
def put_preference(body: PreferenceUpdate, session: SessionDep,
                   actor: Annotated[Actor, Depends(require_for("notify.preference"))]) -> PreferencePublic:
    return actions.set_preference(session, actor, mode=body.mode)


@router.get("/me/watches", response_model=WatchesPublic, summary="What I watch")
def list_watches(session: SessionDep, actor: Annotated[Actor, Depends(require_for("watch.list"))]) -> WatchesPublic:
    return actions.watches(session, actor)


@router.post("/me/watches", response_model=WatchPublic, status_code=status.HTTP_201_CREATED,
             summary="Watch a document, space, question or tag")
def add_watch(body: WatchCreate, session: SessionDep,
              actor: Annotated[Actor, Depends(require_for("watch.add"))]) -> WatchPublic:
    return actions.watch(session, actor, kind=body.kind, target=body.target)


@router.delete("/me/watches/{kind}/{target}", status_code=status.HTTP_204_NO_CONTENT, summary="Stop watching")
def remove_watch(kind: WatchKind, target: Annotated[str, Path(min_length=1, max_length=120)], session: SessionDep,
                 actor: Annotated[Actor, Depends(require_for("watch.remove"))]) -> Response:
    actions.unwatch(session, actor, kind=kind, target=target)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
