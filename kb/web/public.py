"""Web pages: The citizens' public search pages: anonymous, read-only."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from kb.documents import api as documents_api
from kb.search import api as search_api
from kb.search import service as search
from kb.web.common import (
    HERE,
    SessionDep,
    WebRoute,
    page,
)

router = APIRouter(include_in_schema=False, route_class=WebRoute)


# -------------------------------------------------------------------------------------- public

PUBLIC_LANGUAGES = {"en": "English", "nl": "Nederlands"}
# The public pages' words, per language, in a message catalogue (kb/web/messages/<lang>.json).
MESSAGES = {code: json.loads((HERE / "messages" / f"{code}.json").read_text(encoding="utf-8")) for code in PUBLIC_LANGUAGES}


@router.get("/public")
def public_page(request: Request, session: SessionDep,
                q: Annotated[str, Query(max_length=search.MAX_QUERY_CHARS)] = "",
                lang: Annotated[str, Query(pattern="^(|en|nl)$")] = "") -> Response:
    """The citizens' search. Without a chosen language the query's own language (detected) or the browser's
    Accept-Language decides which translation answers and which words label the page."""
    results = None
    language = lang or _accepted(request) or "en"
    if q.strip():
        response = Response()
        results = search_api.public_search(request, response, session, None, q=q, lang=lang or None, page=1, page_size=10,
                                           accept_language=request.headers.get("accept-language"))
        if not lang and results.labels_language in MESSAGES:
            language = results.labels_language
    html = page(request, "public.html", None, q=q, lang=language, chosen=lang, languages=PUBLIC_LANGUAGES,
                results=results, t=MESSAGES[language])
    html.headers["Cache-Control"] = "no-store" if q else "public, max-age=60"
    html.headers["Vary"] = "Accept-Language"
    return html


def _accepted(request: Request) -> str | None:
    """The first language of Accept-Language that the public pages speak."""
    for part in request.headers.get("accept-language", "").split(","):
        code = part.split(";")[0].strip()[:2].lower()
        if code in MESSAGES:
            return code
    return None


@router.get("/public/d/{slug}")
def public_document_page(request: Request, session: SessionDep, slug: Annotated[str, documents_api.DocSlugPath],
                         lang: Annotated[str, Query(pattern="^(|en|nl)$")] = "") -> Response:
    # A page's address names that page: only an explicit lang= swaps it for a translation. The words
    # around it follow lang= or else the browser's Accept-Language.
    document = search.public_document(session, slug, lang or None)
    language = lang or _accepted(request) or "en"
    return page(request, "public_document.html", None, document=document, lang=language, languages=PUBLIC_LANGUAGES,
                t=MESSAGES[language])
