"""Web pages: the audit log, for admins."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from kb.db import MAX_ROW_ID
from kb.errors import ErrorCode, KbError
from kb.provenance import api as audit_api
from kb.web.common import (
    SessionDep,
    ViewerDep,
    WebRoute,
    page,
    signed_in,
)

router = APIRouter(include_in_schema=False, route_class=WebRoute)


# --------------------------------------------------------------------------------------- audit

@router.get("/audit")
def audit_page(request: Request, session: SessionDep, who: ViewerDep,
               action: Annotated[str, Query(max_length=64)] = "", by: Annotated[str, Query(max_length=64)] = "",
               object_id: Annotated[str, Query(max_length=200)] = "",
               after_seq: Annotated[int, Query(ge=0, le=MAX_ROW_ID)] = 0, verify: Annotated[int, Query(ge=0, le=1)] = 0) -> Response:
    actor = signed_in(who)
    if not actor.is_admin:
        raise KbError(ErrorCode.FORBIDDEN, "The audit log is for admins")
    events = audit_api.list_audit_events(session, actor, after_seq=after_seq, limit=50, action=action or None,
                                         object_type=None, object_id=object_id or None, by=by or None)
    status = audit_api.verify_audit_chain(session, actor) if verify else None
    filters = {"action": action, "by": by, "object_id": object_id}
    next_link = "/audit?" + urlencode({**{k: v for k, v in filters.items() if v}, "after_seq": events.next_after_seq}) if events.next_after_seq else None
    return page(request, "audit.html", who, events=events.data, status=status, filters=filters, next_link=next_link)
