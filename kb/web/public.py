"""Web pages: The citizens' public search pages: anonymous, read-only.

The pages call the search actions (``kb.search.actions``: the permission rows, the per-caller rate
limit, the query log), the same doors as the public API. Must not import the API modules.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import Query, Request
from fastapi import Path as PathParam
from fastapi.responses import Response

from kb.errors import ErrorCode, KbError
from kb.http import client_ip
from kb.search import actions as search
from kb.search.schemas import MAX_FACETS_SELECTED, MAX_QUERY_CHARS
from kb.web.common import page_router, SessionDep, facet_links, page, public_error_page
from kb.web.i18n import LANG_PATTERN, MESSAGES, PUBLIC_LANGUAGES, accepted

router = page_router()
DocSlug = Annotated[str, PathParam(max_length=120, description="The document's slug")]


# -------------------------------------------------------------------------------------- public

# The public pages' words, per language: kb/web/i18n.py and its catalogues (kb/web/messages/<lang>.json).
Lang = Annotated[str, Query(pattern=LANG_PATTERN)]


@router.get("/public")
def public_page(request: Request, session: SessionDep,
                q: Annotated[str, Query(max_length=MAX_QUERY_CHARS)] = "",
                lang: Lang = "",
                page_number: Annotated[int, Query(alias="page", ge=1, le=100)] = 1,
                concept: Annotated[list[str], Query(max_length=MAX_FACETS_SELECTED)] = []) -> Response:  # noqa: B006
    """The citizens' search, ten hits a page. Without a chosen language the query's own language (detected) or the browser's
    Accept-Language decides which translation answers and which words label the page."""
    results = None
    language = lang or _accepted(request) or "en"
    if q.strip():
        results = search.public_search(
            session, None, indexes=request.app.state.search, settings=request.app.state.settings, query=q,
            language=lang or None, accept_language=request.headers.get("accept-language"), page=page_number, page_size=10,
            caller=search.Caller(request.app.state.rate_limiter, client_ip(request)), concepts=concept).results
        if not lang and results.labels_language in MESSAGES:
            language = results.labels_language
    links = facet_links("/public", {"q": q, "lang": lang}, concept, results.facets) if results is not None else {}
    html = page(request, "public.html", None, q=q, lang=language, chosen=lang, languages=PUBLIC_LANGUAGES,
                results=results, t=MESSAGES[language], concepts=concept, facet_links=links,
                pager_href="/public?" + urlencode([("q", q), *([("lang", lang)] if lang else []), *(("concept", c) for c in concept)]))
    html.headers["Cache-Control"] = "no-store" if q else "public, max-age=60"
    html.headers["Vary"] = "Accept-Language"
    return html


def _accepted(request: Request) -> str | None:
    """The first language of Accept-Language that the public pages speak."""
    return accepted(request.headers.get("accept-language"))


@router.get("/public/explore")
def public_explore_page(request: Request, session: SessionDep,
                        s: Annotated[list[str], Query()] = [],  # noqa: B006
                        q: Annotated[str, Query(max_length=MAX_QUERY_CHARS)] = "",
                        lang: Lang = "") -> Response:
    """What applies to me (issue 20): situations picked with checkboxes (no JavaScript), kept in the address
    so the result can be bookmarked and shared; the pages that apply grouped by topic, each with its card."""
    try:
        found = search.public_explore(
            session, None, indexes=request.app.state.search, settings=request.app.state.settings, situations=s,
            query=q or None, language=lang or None, accept_language=request.headers.get("accept-language"),
            base_url=request.app.state.settings.base_url, caller=search.Caller(request.app.state.rate_limiter, client_ip(request))).results
    except KbError as error:
        if error.code is ErrorCode.VALIDATION_ERROR and "problems" in (error.details or {}):
            # a situation this site does not know (a shared link whose situation was removed since): say so
            return public_error_page(request, 422, invalid_key="invalid_situation")
        raise
    language = lang or (found.labels_language if found.labels_language in MESSAGES else None) or _accepted(request) or "en"
    html = page(request, "public_explore.html", None, results=found, q=q, lang=language, chosen=lang,
                languages=PUBLIC_LANGUAGES, t=MESSAGES[language], L=found.labels, picked=bool(found.situations))
    html.headers["Cache-Control"] = "no-store" if q else "public, max-age=60"
    html.headers["Vary"] = "Accept-Language"
    return html


@router.get("/public/d/{slug}")
def public_document_page(request: Request, session: SessionDep, slug: DocSlug,
                         lang: Lang = "", q: Annotated[str, Query(max_length=MAX_QUERY_CHARS)] = "",
                         page_number: Annotated[int, Query(alias="page", ge=1, le=100)] = 1) -> Response:
    # A page's address names that page: only an explicit lang= swaps it for a translation. The words
    # around it follow lang= or else the browser's Accept-Language.
    language = lang or _accepted(request) or "en"
    document = search.public_document(session, None, slug=slug, language=lang or None, words=language)
    # "Back to the results" returns to the search the citizen came from: its query, language and page (issue 17).
    results = "/public?" + urlencode([*([("q", q)] if q.strip() else []), *([("lang", lang)] if lang else []),
                                      *([("page", str(page_number))] if page_number > 1 and q.strip() else [])])
    return page(request, "public_document.html", None, document=document, lang=language, languages=PUBLIC_LANGUAGES,
                t=MESSAGES[language], results_href=results.rstrip("?"), from_search=bool(q.strip()))
