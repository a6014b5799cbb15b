"""Web pages: Employees' search page and "did this answer your question?".

The page calls the search action (``kb.search.actions.search``: the permission row, the query log)
and, when no hit clears the relevance bar (``answer_quality`` none), the experts action: the same doors as the API and the CLI. Must not import
the API modules.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import Query, Request
from fastapi.responses import RedirectResponse, Response

from kb.experts import actions as experts
from kb.search import actions as search
from kb.search.schemas import MAX_FACETS_SELECTED, MAX_QUERY_CHARS, AnswerQuality, Mode
from kb.web.common import page_router, SessionDep, ViewerDep, facet_links, page, signed_in

router = page_router()
EXPERTS_WHEN_NOTHING_ANSWERS = 3


# ------------------------------------------------------------------------------------- search

@router.get("/")
def home(request: Request, who: ViewerDep) -> Response:
    if who.actor is None:
        return RedirectResponse("/login", status_code=303)
    return page(request, "search.html", who, q="", results=None, experts=[], filters={}, spaces=sorted(who.spaces.values()))


@router.get("/search")
def search_page(
    request: Request, session: SessionDep, who: ViewerDep,
    q: Annotated[str, Query(max_length=MAX_QUERY_CHARS)] = "",
    space: Annotated[str, Query(max_length=64)] = "",
    tags: Annotated[str, Query(max_length=500)] = "",
    lang: Annotated[str, Query(max_length=16)] = "",
    page_number: Annotated[int, Query(alias="page", ge=1, le=100)] = 1,
    concept: Annotated[list[str], Query(max_length=MAX_FACETS_SELECTED)] = [],  # noqa: B006
) -> Response:
    actor = signed_in(who)
    filters = {"space": space, "tags": tags, "lang": lang}
    if not q.strip():
        return page(request, "search.html", who, q="", results=None, experts=[], filters=filters,
                    spaces=sorted(who.spaces.values()))
    results = search.search(session, actor, indexes=request.app.state.search, query=q, mode=Mode.hybrid,
                            space=space or None, tags=tags or None, language=lang or None, page=page_number, page_size=10,
                            concepts=concept, accept_language=request.headers.get("accept-language"))
    experts_found = []
    if results.answer_quality is AnswerQuality.none:  # no good answer: who may know comes first (issue 17)
        experts_found = experts.find_experts(session, actor, indexes=request.app.state.search,
                                             settings=request.app.state.settings, query=q, exclude_me=True,
                                             limit=EXPERTS_WHEN_NOTHING_ANSWERS).data
    query_string = urlencode([*((k, v) for k, v in {"q": q, **filters}.items() if v), *(("concept", c) for c in concept)])
    return page(request, "search.html", who, q=q, results=results, experts=experts_found, filters=filters,
                spaces=sorted(who.spaces.values()), query_string=query_string, concepts=concept,
                facet_links=facet_links("/search", {"q": q, **filters}, concept, results.facets))
