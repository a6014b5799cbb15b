"""HTTP routes of search: employees at /api/v1/search, citizens at /public/v1 (anonymous, read-only).

Each route declares its row of ``kb.permissions`` (``require_for``), translates the HTTP input, calls
one action of ``kb.search.actions`` and returns its result (adding the cache and rate-limit headers).
No transactions, no service calls, no permission checks of its own.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response
from pydantic import StringConstraints

from kb.actors import Actor
from kb.http import SessionDep, api_router_options, client_ip, require_for
from kb.provenance.schemas import Receipt
from kb.search import actions
from kb.search.schemas import (
    MAX_FACETS_SELECTED,
    MAX_QUERY_CHARS,
    ExploreResults,
    Mode,
    PublicCommunity,
    PublicDocument,
    PublicResults,
    QueryInsights,
    SearchResults,
    Similar,
    SituationInsights,
)

router = APIRouter(prefix="/api/v1", **api_router_options("search"))
public_router = APIRouter(prefix="/public/v1", **api_router_options("public"))

QueryText = Annotated[str, Query(max_length=MAX_QUERY_CHARS, description="What you are looking for, in your own words")]
PageNumber = Annotated[int, Query(ge=1, le=100)]
PageSize = Annotated[int, Query(ge=1, le=50)]
Language = Annotated[str | None, Query(max_length=16, pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})?$")]
ConceptParam = Annotated[list[Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}:[a-z0-9][a-z0-9_-]{0,63}$")]],
                         Query(max_length=MAX_FACETS_SELECTED, description="Narrow to documents carrying this concept (scheme:key, "
                               "from a facet); repeat it: concepts of one scheme widen, of different schemes narrow")]
PUBLIC_CACHE = "public, max-age=60"


@router.get("/questions/similar", response_model=Similar,
            summary="Questions and documents like the question being asked (while its title is typed)")
def similar_questions(request: Request, session: SessionDep, q: QueryText,
                      actor: Annotated[Actor, Depends(require_for("question.similar"))],
                      limit: Annotated[int, Query(ge=1, le=10)] = 5) -> Similar:
    return actions.similar_questions(session, actor, indexes=request.app.state.search, query=q, limit=limit)


@router.get("/search", response_model=SearchResults, summary="Hybrid search of curated knowledge, with provenance cards")
def search(
    request: Request,
    session: SessionDep,
    actor: Annotated[Actor, Depends(require_for("search.query"))],
    q: QueryText,
    mode: Mode = Mode.hybrid,
    space: Annotated[str | None, Query(max_length=64)] = None,
    tags: Annotated[str | None, Query(max_length=500, description="Comma-separated; any of them")] = None,
    lang: Annotated[str | None, Query(max_length=16, pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})?$",
                                      description="Only documents in this language; `any`: search across languages "
                                                  "(the multilingual index of public passages is fused in)")] = None,
    page: PageNumber = 1,
    page_size: PageSize = 10,
    concept: ConceptParam = [],  # noqa: B006  (FastAPI copies defaults)
    accept_language: Annotated[str | None, Header(max_length=200, include_in_schema=False)] = None,
) -> SearchResults:
    return actions.search(session, actor, indexes=request.app.state.search, query=q, mode=mode, space=space, tags=tags,
                          language=lang, page=page, page_size=page_size, concepts=concept, accept_language=accept_language)


@router.get("/insights/queries", response_model=QueryInsights, summary="Top queries and top zero-result queries per day")
def query_insights(
    session: SessionDep,
    actor: Annotated[Actor, Depends(require_for("insights.read"))],
    days: Annotated[int, Query(ge=1, le=365)] = 14,
    top: Annotated[int, Query(ge=1, le=100)] = 10,
) -> QueryInsights:
    return actions.query_insights(session, actor, days=days, top=top)


@router.get("/insights/situations", response_model=SituationInsights,
            summary="Which situations citizens pick on \"what applies to me\", per language, and the content gaps: "
                    "where no approved public page applies in their language")
def situation_insights(
    session: SessionDep,
    actor: Annotated[Actor, Depends(require_for("insights.read"))],
    days: Annotated[int, Query(ge=1, le=365)] = 30,
) -> SituationInsights:
    return actions.situation_insights(session, actor, days=days)


def _public_headers(response: Response, rate_limit) -> None:  # noqa: ANN001 - kb.ratelimit.Verdict | None
    """What every rate-limited public answer carries: cacheable per language, and the caller's standing."""
    response.headers["Cache-Control"] = PUBLIC_CACHE
    response.headers["Vary"] = "Accept-Language"
    if rate_limit is not None:
        response.headers["X-RateLimit-Limit"] = str(rate_limit.limit)
        response.headers["X-RateLimit-Remaining"] = str(rate_limit.remaining)


@public_router.get("/explore", response_model=ExploreResults,
                   summary="What applies to me: the approved public pages that apply to your situation, grouped by topic",
                   description="Pick situations with `s=` (repeat it: `s=student&s=tenant`; the options are in "
                               "`questions`); a question in your own words (`q=`) ranks the pages that apply. Pages, "
                               "labels and questions come in your language (`lang=`, else `Accept-Language`). Only "
                               "anonymous counts of the situations picked are kept (docs/public.md).")
def public_explore(
    request: Request,
    response: Response,
    session: SessionDep,
    actor: Annotated[Actor | None, Depends(require_for("search.explore"))],
    s: Annotated[list[str], Query(description="A situation: its key, or scheme:key; repeat for several")] = [],  # noqa: B006
    q: Annotated[str | None, Query(max_length=MAX_QUERY_CHARS, description="Your question, to rank what applies")] = None,
    lang: Language = None,
    accept_language: Annotated[str | None, Header(max_length=200, include_in_schema=False)] = None,
) -> ExploreResults:
    found = actions.public_explore(session, actor, indexes=request.app.state.search, settings=request.app.state.settings,
                                   situations=s, query=q, language=lang, accept_language=accept_language,
                                   base_url=request.app.state.settings.base_url,
                                   caller=actions.Caller(request.app.state.rate_limiter, client_ip(request)))
    _public_headers(response, found.rate_limit)
    return found.results


@public_router.get("/search", response_model=PublicResults,
                   summary="Search approved public knowledge, anonymously, in your own words and language",
                   description="The query's language is `lang=` or detected; a page in another language answers when "
                               "none exists in yours (labelled with its language, linked to its translations), an "
                               "approved translation in your language (`lang=`, else `Accept-Language`, else the "
                               "query's) replaces it, and labels come in your language.")
def public_search(
    request: Request,
    response: Response,
    session: SessionDep,
    actor: Annotated[Actor | None, Depends(require_for("search.public"))],
    q: QueryText,
    lang: Language = None,
    page: PageNumber = 1,
    page_size: PageSize = 10,
    concept: ConceptParam = [],  # noqa: B006  (FastAPI copies defaults)
    accept_language: Annotated[str | None, Header(max_length=200, include_in_schema=False)] = None,
) -> PublicResults:
    found = actions.public_search(session, actor, indexes=request.app.state.search, settings=request.app.state.settings,
                                  query=q, language=lang, accept_language=accept_language, page=page, page_size=page_size,
                                  caller=actions.Caller(request.app.state.rate_limiter, client_ip(request)), concepts=concept)
    _public_headers(response, found.rate_limit)
    return found.results


@public_router.get("/documents/{slug}", response_model=PublicDocument,
                   summary="A public document with the organisation's provenance card (404 unless approved, public and valid)")
def public_document(
    slug: Annotated[str, Path(max_length=120)],
    response: Response,
    session: SessionDep,
    actor: Annotated[Actor | None, Depends(require_for("public.document"))],
    lang: Language = None,
    accept_language: Annotated[str | None, Header(max_length=200, include_in_schema=False)] = None,
) -> PublicDocument:
    document = actions.public_document(session, actor, slug=slug, language=lang, accept_language=accept_language)
    response.headers["Cache-Control"] = PUBLIC_CACHE
    response.headers["Vary"] = "Accept-Language"
    return document


@public_router.get("/documents/{slug}/receipt", response_model=Receipt,
                   summary="A public document's receipt: its publication event, RFC 9162 inclusion proof and a signed "
                           "tree head (404 unless approved, public and valid)",
                   description="Check it offline with `kb verify-receipt FILE --key FINGERPRINT`, or with any SHA-256 "
                               "and Ed25519 library: docs/transparency.md, \"Receipts\". The event names no person.")
def public_receipt(
    slug: Annotated[str, Path(max_length=120)],
    request: Request,
    response: Response,
    session: SessionDep,
    actor: Annotated[Actor | None, Depends(require_for("transparency.receipt"))],
) -> Receipt:
    receipt = actions.public_receipt(session, actor, slug=slug, signing_key=request.app.state.settings.signing_key_path)
    response.headers["Cache-Control"] = PUBLIC_CACHE
    return receipt


@public_router.get("/documents/{slug}/community", response_model=PublicCommunity,
                   summary="Community comments and ratings of a public document, where its space opted in (404 otherwise)")
def public_community(
    slug: Annotated[str, Path(max_length=120)],
    response: Response,
    session: SessionDep,
    actor: Annotated[Actor | None, Depends(require_for("public.community"))],
) -> PublicCommunity:
    result = actions.public_community(session, actor, slug=slug)
    response.headers["Cache-Control"] = PUBLIC_CACHE
    return result
