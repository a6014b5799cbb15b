"""HTTP routes of search: employees at /api/v1/search, citizens at /public/v1 (anonymous, read-only)."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response

from kb.accounts import service as accounts
from kb.actors import Access, Actor
from kb.db import transaction
from kb.http import SessionDep, api_router_options, client_ip, require
from kb.search import service
from kb.search.schemas import Mode, PublicCommunity, PublicDocument, PublicResults, QueryInsights, SearchResults

router = APIRouter(prefix="/api/v1", **api_router_options("search"))
public_router = APIRouter(prefix="/public/v1", **api_router_options("public"))

QueryText = Annotated[str, Query(max_length=service.MAX_QUERY_CHARS, description="What you are looking for, in your own words")]
PageNumber = Annotated[int, Query(ge=1, le=100)]
PageSize = Annotated[int, Query(ge=1, le=50)]
Language = Annotated[str | None, Query(max_length=16, pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})?$")]
PUBLIC_CACHE = "public, max-age=60"


def _preferred_language(lang: str | None, accept_language: str | None) -> str | None:
    if lang:
        return lang
    if accept_language:
        first = accept_language.split(",")[0].split(";")[0].strip()
        return first[:16] or None
    return None


@router.get("/search", response_model=SearchResults, summary="Hybrid search of curated knowledge, with provenance cards")
def search(
    request: Request,
    session: SessionDep,
    actor: Annotated[Actor, Depends(require(Access.signed_in))],
    q: QueryText,
    mode: Mode = Mode.hybrid,
    space: Annotated[str | None, Query(max_length=64)] = None,
    tags: Annotated[str | None, Query(max_length=500, description="Comma-separated; any of them")] = None,
    lang: Annotated[str | None, Query(max_length=16, pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})?$",
                                      description="Only documents in this language; `any`: search across languages "
                                                  "(the multilingual index of public passages is fused in)")] = None,
    page: PageNumber = 1,
    page_size: PageSize = 10,
) -> SearchResults:
    started = time.perf_counter()
    spaces = frozenset({accounts.get_space(session, space).id}) if space else None  # type: ignore[arg-type]
    tag_set = frozenset(t.strip().lower() for t in tags.split(",") if t.strip()) if tags else None
    results = service.search(session, request.app.state.search, actor=actor, query=q, mode=mode, spaces=spaces,
                             tags=tag_set, language=lang.lower() if lang else None, page=page, page_size=page_size)
    with transaction(session):
        service.log_query(session, audience="employee", query=q, mode=mode, language=lang, count=results.total,
                          latency_ms=(time.perf_counter() - started) * 1000)
    return results


@router.get("/insights/queries", response_model=QueryInsights, summary="Top queries and top zero-result queries per day")
def query_insights(
    session: SessionDep,
    actor: Annotated[Actor, Depends(require(Access.owner_or_admin))],
    days: Annotated[int, Query(ge=1, le=365)] = 14,
    top: Annotated[int, Query(ge=1, le=100)] = 10,
) -> QueryInsights:
    return QueryInsights(data=service.query_insights(session, days=days, top=top))


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
    _: Annotated[None, Depends(require(Access.anonymous))],
    q: QueryText,
    lang: Language = None,
    page: PageNumber = 1,
    page_size: PageSize = 10,
    accept_language: Annotated[str | None, Header(max_length=200, include_in_schema=False)] = None,
) -> PublicResults:
    started = time.perf_counter()
    settings = request.app.state.settings
    verdict = request.app.state.rate_limiter.enforce(settings.rate_limit_public_search, "public-search", client_ip(request))
    results = service.public_search(session, request.app.state.search, query=q, language=lang,
                                    accept_language=_preferred_language(None, accept_language), page=page,
                                    page_size=page_size)
    with transaction(session):
        service.log_query(session, audience="public", query=q, mode=Mode.hybrid, language=results.query_language,
                          count=results.total, latency_ms=(time.perf_counter() - started) * 1000)
    response.headers["Cache-Control"] = PUBLIC_CACHE
    response.headers["Vary"] = "Accept-Language"
    response.headers["X-RateLimit-Limit"] = str(verdict.limit)
    response.headers["X-RateLimit-Remaining"] = str(verdict.remaining)
    return results


@public_router.get("/documents/{slug}", response_model=PublicDocument,
                   summary="A public document with the organisation's provenance card (404 unless approved, public and valid)")
def public_document(
    slug: Annotated[str, Path(max_length=120)],
    response: Response,
    session: SessionDep,
    _: Annotated[None, Depends(require(Access.anonymous))],
    lang: Language = None,
    accept_language: Annotated[str | None, Header(max_length=200, include_in_schema=False)] = None,
) -> PublicDocument:
    document = service.public_document(session, slug, _preferred_language(lang, accept_language))
    response.headers["Cache-Control"] = PUBLIC_CACHE
    response.headers["Vary"] = "Accept-Language"
    return document


@public_router.get("/documents/{slug}/community", response_model=PublicCommunity,
                   summary="Community comments and ratings of a public document, where its space opted in (404 otherwise)")
def public_community(
    slug: Annotated[str, Path(max_length=120)],
    response: Response,
    session: SessionDep,
    _: Annotated[None, Depends(require(Access.anonymous))],
) -> PublicCommunity:
    result = service.public_community(session, slug)
    response.headers["Cache-Control"] = PUBLIC_CACHE
    return result
