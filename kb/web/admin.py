"""Web pages: the audit log, and the changes waiting for a second person (governance, issue 16).

Who may see the log (admins) is decided by ``kb.provenance.actions``, the door the API's ``/api/v1/audit``
goes through too; who may see and decide governance requests by ``kb.accounts.actions``, the door of
``/api/v1/governance/requests``. These pages only sign the viewer in (and check the CSRF token of a
form) and render. Imports actions, never an ``api``
module or a service.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import Form, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import Response

from kb.accounts import actions as accounts
from kb.accounts.schemas import GovernanceRefusal
from kb.db import MAX_ROW_ID
from kb.documents import actions as documents
from kb.provenance import actions as audit
from kb.web import audit_lines
from kb.web.common import page_router, Csrf, SessionDep, ViewerDep, back, checked, page, signed_in

router = page_router()

AUDIT_PAGE_SIZE = 50


# --------------------------------------------------------------------------------------- audit

@router.get("/audit")
def audit_page(request: Request, session: SessionDep, who: ViewerDep,
               action: Annotated[str, Query(max_length=64)] = "", by: Annotated[str, Query(max_length=64)] = "",
               object_id: Annotated[str, Query(max_length=200)] = "",
               before_seq: Annotated[int | None, Query(ge=1, le=MAX_ROW_ID)] = None,
               after_seq: Annotated[int, Query(ge=0, le=MAX_ROW_ID)] = 0, verify: Annotated[int, Query(ge=0, le=1)] = 0) -> Response:
    """The log newest first, one readable line per event (issue 17), AUDIT_PAGE_SIZE a page: ``before_seq`` pages
    to older events, ``after_seq`` back to newer ones (the events just after it, still shown newest first)."""
    actor = signed_in(who)
    filters = {"action": action, "by": by, "object_id": object_id}
    query = dict(action=action or None, object_id=object_id or None, by=by or None)
    if after_seq and before_seq is None:  # "newer": the page just after after_seq, read in order, shown newest first
        newer = audit.list_events(session, actor, after_seq=after_seq, limit=AUDIT_PAGE_SIZE + 1, **query).data
        events = list(reversed(newer[:AUDIT_PAGE_SIZE]))
        has_newer = len(newer) > AUDIT_PAGE_SIZE
        has_older = True
    else:
        found = audit.list_events(session, actor, before_seq=before_seq, limit=AUDIT_PAGE_SIZE + 1, newest_first=True, **query).data
        events = found[:AUDIT_PAGE_SIZE]
        has_newer, has_older = before_seq is not None, len(found) > AUDIT_PAGE_SIZE
    status = differences = None
    if verify:  # the chain, then the database against what the log commits to (as `kb audit verify`)
        checked, differences = documents.audit_database(session, actor, checkpoint=None, signing_key=None, trusted_keys=[])
        status = checked.chain
    kept = {k: v for k, v in filters.items() if v}
    links = {
        "newest": "/audit?" + urlencode(kept) if has_newer else None,
        "newer": "/audit?" + urlencode({**kept, "after_seq": events[0].seq}) if has_newer and events else None,
        "older": "/audit?" + urlencode({**kept, "before_seq": events[-1].seq}) if has_older and events else None,
    }
    return page(request, "audit.html", who, events=[audit_lines.line(e) for e in events], status=status,
                differences=differences, filters=filters, links=links)


# --------------------------------------------------------------------------------- governance

@router.get("/governance")
def governance_page(request: Request, session: SessionDep, who: ViewerDep) -> Response:
    requests = accounts.list_governance_requests(session, signed_in(who)).data
    return page(request, "governance.html", who, requests=requests)


@router.post("/governance/{request_id}")
def decide_governance_request(session: SessionDep, who: ViewerDep,
                              request_id: Annotated[int, PathParam(ge=1, le=MAX_ROW_ID)],
                              decision: Annotated[str, Form(pattern="^(approve|refuse)$")],
                              reason: Annotated[str, Form(max_length=1000)] = "", csrf: Csrf = None) -> Response:
    actor = checked(who, csrf)
    if decision == "approve":
        accounts.approve_governance_request(session, actor, request_id=request_id)
        return back("/governance", "governance-approved")
    accounts.refuse_governance_request(session, actor, request_id=request_id, reason=GovernanceRefusal(reason=reason).reason)  # as the API: a reason is required
    return back("/governance", "governance-refused")
