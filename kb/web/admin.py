"""Web pages: the audit log.

Who may see it (admins) is decided by ``kb.provenance.actions``, the door the API's ``/api/v1/audit``
goes through too; this page only signs the viewer in and renders. Imports actions, never an ``api``
module or a service.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import Query, Request
from fastapi.responses import Response

from kb.db import MAX_ROW_ID
from kb.provenance import actions as audit
from kb.web.common import page_router, SessionDep, ViewerDep, page, signed_in

router = page_router()

AUDIT_PAGE_SIZE = 50


# --------------------------------------------------------------------------------------- audit

@router.get("/audit")
def audit_page(request: Request, session: SessionDep, who: ViewerDep,
               action: Annotated[str, Query(max_length=64)] = "", by: Annotated[str, Query(max_length=64)] = "",
               object_id: Annotated[str, Query(max_length=200)] = "",
               after_seq: Annotated[int, Query(ge=0, le=MAX_ROW_ID)] = 0, verify: Annotated[int, Query(ge=0, le=1)] = 0) -> Response:
    actor = signed_in(who)
    events = audit.list_events(session, actor, after_seq=after_seq, limit=AUDIT_PAGE_SIZE, action=action or None,
                               object_id=object_id or None, by=by or None)
    status = audit.verify_chain(session, actor) if verify else None
    filters = {"action": action, "by": by, "object_id": object_id}
    next_link = "/audit?" + urlencode({**{k: v for k, v in filters.items() if v}, "after_seq": events.next_after_seq}) if events.next_after_seq else None
    return page(request, "audit.html", who, events=events.data, status=status, filters=filters, next_link=next_link)
