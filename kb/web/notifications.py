"""Web pages: Notifications: the inbox, marking read, the delivery preference, watching and unwatching.

Each page calls the actions of ``kb.notifications.actions`` (the same door as the API and the CLI).
Must not import the API modules.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Request
from fastapi.responses import Response

from kb.notifications import actions
from kb.notifications.models import DeliveryMode, WatchKind
from kb.notifications.schemas import WatchCreate
from kb.web.common import Csrf, SessionDep, ViewerDep, back, checked, local_path, page, page_router, signed_in

router = page_router()


@router.get("/notifications")
def notifications_page(request: Request, session: SessionDep, who: ViewerDep) -> Response:
    actor = signed_in(who)
    inbox = actions.notifications(session, actor)
    return page(request, "notifications.html", who, inbox=inbox, preference=actions.preference(session, actor),
                watches=actions.watches(session, actor).data, modes=list(DeliveryMode), kinds=list(WatchKind))


@router.post("/notifications/read")
def mark_read(session: SessionDep, who: ViewerDep, csrf: Csrf = None,
              notification_id: Annotated[int | None, Form(ge=1, le=2**31 - 1)] = None) -> Response:
    actor = checked(who, csrf)
    actions.mark_read(session, actor, ids=[notification_id] if notification_id else None)
    return back("/notifications", "notifications-read")


@router.post("/notifications/preference")
def set_preference(session: SessionDep, who: ViewerDep, mode: Annotated[DeliveryMode, Form()], csrf: Csrf = None) -> Response:
    actor = checked(who, csrf)
    actions.set_preference(session, actor, mode=mode)
    return back("/notifications", "notification-preference")


@router.post("/watch")
def watch(session: SessionDep, who: ViewerDep, kind: Annotated[WatchKind, Form()],
          target: Annotated[str, Form(min_length=1, max_length=120)], csrf: Csrf = None,
          stop: Annotated[str, Form(max_length=3)] = "", next: Annotated[str, Form(max_length=500)] = "/notifications") -> Response:  # noqa: A002
    """The watch / unwatch button of any page (document, space, question, tag), and the form on /notifications."""
    actor = checked(who, csrf)
    body = WatchCreate(kind=kind, target=target)
    if stop == "yes":
        actions.unwatch(session, actor, kind=body.kind, target=body.target)
        return back(local_path(next, "/notifications"), "unwatched")
    actions.watch(session, actor, kind=body.kind, target=body.target)
    return back(local_path(next, "/notifications"), "watching")
