"""Web page "my work" (issue 17): ``/me/work`` renders ``kb.work.actions.my_work``, the same read as
``GET /api/v1/me/work`` (linked as its alternate). Each item links to where it is edited: the write
form for a draft, a draft reopened by a rejection or a promoted answer. Never imports an API module.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import Response

from kb.web.common import SessionDep, ViewerDep, page, page_router, signed_in
from kb.work import actions

router = page_router()


@router.get("/me/work")
def my_work_page(request: Request, session: SessionDep, who: ViewerDep) -> Response:
    work = actions.my_work(session, signed_in(who))
    return page(request, "my_work.html", who, work=work)
