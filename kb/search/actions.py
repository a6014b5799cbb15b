"""Use cases of search: the one door that the API, the web pages and the CLI go through.

Employees' search (``search.query``), citizens' search (``search.public``) and "what applies to me"
(``search.explore``, issue 20), the public document and its community block (``public.document``,
``public.community``) and the insights for owners and admins (``insights.read``: the query log's gaps
and the situations citizens pick with no approved page in their language). Each action checks the actor against its row of ``kb.permissions`` with
``authorize``, calls the search services and performs the side effects: every search, on every
surface, writes one row of the query log (public or employee, the result count, whether it found a
good answer, the mode, the latency; never the person), in a transaction of its own; a search still answers when that row
cannot be written because another writer holds the database (the failure is logged). The
citizens' search counts against the caller's rate limit when the surface names a caller
(``Caller``; the CLI, in-process, names none).

Surfaces translate their input, call one action and render its result; they never open a
transaction, check a role or write the query log themselves. Must not import FastAPI, the web UI,
the API modules or ``kb.experts``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from kb.accounts import service as accounts
from kb.actors import Actor
from kb.config import Settings
from kb.db import transaction
from kb.permissions import authorize
from kb.provenance.schemas import Receipt
from kb.ratelimit import RateLimiter, Verdict
from kb.search import explore, insights, service
from kb.search.indexer import SearchIndexes
from kb.search.schemas import AnswerQuality, ExploreResults, Mode, PublicCommunity, PublicDocument, PublicResults, QueryInsights
from kb.search.schemas import SearchResults, SituationInsights
from kb.search.schemas import Similar, SimilarItem

EMPLOYEE = "employee"
PUBLIC = "public"

logger = logging.getLogger(__name__)


def _log(session: Session, *, audience: str, query: str, mode: Mode, language: str | None, count: int,
         started: float, answer_quality: AnswerQuality) -> None:
    """One row of the query log for a search that answered (a refused or invalid query writes none).

    A search never fails because a writer holds the database (issue 16: a long import made the
    citizens' search answer 500 "database is locked"): when the row cannot be written — the lock
    not obtained within the busy timeout, a lock timeout — the failure is logged and the search
    answers without its row. The log is analytics; the answer is what the citizen came for.
    """
    try:
        with transaction(session):
            service.log_query(session, audience=audience, query=query, mode=mode, language=language, count=count,
                              latency_ms=(time.perf_counter() - started) * 1000, answer_quality=answer_quality)
    except OperationalError as exc:
        session.rollback()
        logger.warning("query log row not written, the %s search answered anyway: %s", audience,
                       str(exc.orig or exc).splitlines()[0][:200])


def similar_questions(session: Session, actor: Actor, *, indexes: SearchIndexes, query: str, limit: int = 5) -> Similar:
    """Questions and approved documents like a question being asked, shown while its title is typed
    (issue 17): the community section and the curated hits that clear the relevance bar, by keyword (fast
    while typing). Not written to the query log: a half-typed title is no search.

    Raises:
        KbError VALIDATION_ERROR: an empty or too long query (service).
    """
    authorize(actor, "question.similar")
    results = service.search(session, indexes, actor=actor, query=query, mode=Mode.keyword, page_size=limit)
    return Similar(
        query=results.query,
        questions=[SimilarItem(kind="question", title=str(q["title"]), link=f"/questions/{q['id']}", answers=int(q["answers"]),
                               accepted=bool(q.get("accepted_answer"))) for q in results.community[:limit]],
        documents=[SimilarItem(kind="document", title=hit.title, link=f"/d/{hit.document}") for hit in results.data if hit.answers],
    )


def first_accepted_language(accept_language: str | None) -> str | None:
    """The first language of an Accept-Language header (at most 16 characters), or None."""
    if accept_language:
        first = accept_language.split(",")[0].split(";")[0].strip()
        return first[:16] or None
    return None


def _tag_set(tags: str | None) -> frozenset[str] | None:
    return frozenset(t.strip().lower() for t in tags.split(",") if t.strip()) if tags else None


def search(session: Session, actor: Actor, *, indexes: SearchIndexes, query: str, mode: Mode = Mode.hybrid,
           space: str | None = None, tags: str | None = None, language: str | None = None, page: int = 1,
           page_size: int = 10, concepts: Sequence[str] = (), accept_language: str | None = None) -> SearchResults:
    """Search curated knowledge as an employee (approved versions, internal and public); logged.

    Args:
        space: a space's slug: only its documents.
        tags: comma-separated; documents with any of them.
        concepts: selected facets (``scheme:key``): documents carrying them (issue 20).
        accept_language: the caller's Accept-Language: the language of the facets' labels.
        language: only documents in this language; ``any``: across languages (see ``service.search``).

    Raises:
        KbError NOT_AUTHENTICATED: nobody is signed in.
        KbError NOT_FOUND: no space ``space``.
        KbError BAD_REQUEST / VALIDATION_ERROR: the query is empty or too long (service).
    """
    authorize(actor, "search.query")
    started = time.perf_counter()
    spaces = frozenset({accounts.get_space(session, space).id}) if space else None  # type: ignore[arg-type]
    results = service.search(session, indexes, actor=actor, query=query, mode=mode, spaces=spaces, tags=_tag_set(tags),
                             language=language.lower() if language else None, page=page, page_size=page_size,
                             concepts=concepts, labels_language=first_accepted_language(accept_language))
    _log(session, audience=EMPLOYEE, query=query, mode=mode, language=language, count=results.total, started=started,
         answer_quality=results.answer_quality)
    return results


@dataclass(frozen=True)
class Caller:
    """Where an anonymous search comes from: the key of its per-caller rate limit (KB_RATE_LIMIT_PUBLIC_SEARCH)."""

    limiter: RateLimiter
    address: str


@dataclass(frozen=True)
class PublicSearch:
    """The citizens' results, and the caller's rate-limit standing (``None`` when no caller was named)."""

    results: PublicResults
    rate_limit: Verdict | None


def public_search(session: Session, actor: Actor | None, *, indexes: SearchIndexes, settings: Settings, query: str,
                  language: str | None = None, accept_language: str | None = None, page: int = 1, page_size: int = 10,
                  caller: Caller | None = None, concepts: Sequence[str] = ()) -> PublicSearch:
    """Search as a citizen: approved, public, currently valid content only; rate-limited per caller; logged.

    Args:
        actor: ignored beyond the gate: the public search never depends on who asks.
        language: the citizen's explicit ``lang=``.
        accept_language: the caller's Accept-Language header: its first language is the preferred
            answer language when there is no ``lang=`` (see ``service.public_search``).
        settings: the configuration: KB_RATE_LIMIT_PUBLIC_SEARCH.
        caller: the surface's caller, counted against KB_RATE_LIMIT_PUBLIC_SEARCH (``None``: not limited).

    Raises:
        KbError RATE_LIMITED: the caller is over the limit (nothing is searched or logged).
        KbError BAD_REQUEST / VALIDATION_ERROR: the query is empty or too long (service).
    """
    authorize(actor, "search.public")
    started = time.perf_counter()
    verdict = None
    if caller is not None:
        verdict = caller.limiter.enforce(settings.rate_limit_public_search, "public-search", caller.address)
    results = service.public_search(session, indexes, query=query, language=language,
                                    accept_language=first_accepted_language(accept_language), page=page,
                                    page_size=page_size, concepts=concepts)
    _log(session, audience=PUBLIC, query=query, mode=Mode.hybrid, language=results.query_language, count=results.total,
         started=started, answer_quality=results.answer_quality)
    return PublicSearch(results=results, rate_limit=verdict)


@dataclass(frozen=True)
class PublicExplore:
    """What applies to the citizen, and the caller's rate-limit standing (``None`` when no caller was named)."""

    results: ExploreResults
    rate_limit: Verdict | None


def public_explore(session: Session, actor: Actor | None, *, indexes: SearchIndexes | None, settings: Settings,
                   situations: list[str], query: str | None = None, language: str | None = None,
                   accept_language: str | None = None, base_url: str = "", caller: Caller | None = None) -> PublicExplore:
    """What applies to me (issue 20): the approved public pages that apply to the situations a citizen
    picked, grouped by topic, ranked by their question if they asked one; anonymous; rate-limited per
    caller as the public search is.

    The visit is counted, never recorded: one more pick of exactly these situations, in this language,
    with this many results, on this day (``explore.count_pick``); a question is written to the query log
    as a public search's is (text, language, result count; never the person). Like the query log, the
    count is analytics: a visit still answers when another writer holds the database.

    Args:
        indexes: the search indexes; needed only with a question (the CLI opens none without one).
        situations: keys or ``scheme:key`` of situation concepts (``s=``).
        query: the citizen's question in their own words (optional).
        language: the citizen's explicit ``lang=``; else the first language of ``accept_language``.
        base_url: the site's address, for the share link.
        caller: the surface's caller, counted against KB_RATE_LIMIT_PUBLIC_SEARCH (``None``: not limited).

    Raises:
        KbError RATE_LIMITED: the caller is over the limit (nothing is read or counted).
        KbError VALIDATION_ERROR: a situation that is none, too many of them, a question too long.
    """
    authorize(actor, "search.explore")
    started = time.perf_counter()
    verdict = None
    if caller is not None:
        verdict = caller.limiter.enforce(settings.rate_limit_public_search, "public-search", caller.address)
    found = explore.explore(session, indexes, situations=situations, query=query, language=language,
                            accept_language=first_accepted_language(accept_language), base_url=base_url)
    try:
        with transaction(session):
            explore.count_pick(session, situations=found.picked, language=found.language, results=found.results.total)
    except OperationalError as exc:
        session.rollback()
        logger.warning("situation count not written, the explore page answered anyway: %s",
                       str(exc.orig or exc).splitlines()[0][:200])
    if found.results.query is not None:
        _log(session, audience=PUBLIC, query=found.results.query, mode=Mode.hybrid, language=found.query_language,
             count=found.results.total, started=started, answer_quality=explore.answer_quality(found))
    return PublicExplore(results=found.results, rate_limit=verdict)


def public_document(session: Session, actor: Actor | None, *, slug: str, language: str | None = None,
                    accept_language: str | None = None, words: str | None = None) -> PublicDocument:
    """A public document with the organisation's card; in the preferred language where an approved translation exists.

    Args:
        language: the citizen's explicit ``lang=``, else the first language of ``accept_language``
            (the Accept-Language header; a surface whose addresses name one page passes none).
        words: the language of the card's and the page's labels when it is not ``language`` (the web page:
            its address names one document, its words follow the browser).

    Raises:
        KbError NOT_FOUND: no document ``slug`` that is approved, public and valid today (no existence oracle).
    """
    authorize(actor, "public.document")
    return service.public_document(session, slug, language or first_accepted_language(accept_language), words=words)


def public_receipt(session: Session, actor: Actor | None, *, slug: str, signing_key: Path) -> Receipt:
    """The receipt of a public document (``kb-receipt/1``): its publication event, inclusion proof and a head signed now.

    Anyone may ask (``transparency.receipt``); ``kb verify-receipt`` checks it offline.

    Raises:
        KbError NOT_FOUND: exactly as ``public_document`` (no document ``slug`` approved, public and valid today).
        KbError SERVICE_UNAVAILABLE: the audit chain does not verify, or the signing key cannot be read.
    """
    authorize(actor, "transparency.receipt")
    return service.public_receipt(session, slug, signing_key)


def public_community(session: Session, actor: Actor | None, *, slug: str) -> PublicCommunity:
    """The community comments and ratings of a public document, where its space opted in (no names).

    Raises:
        KbError NOT_FOUND: the document is not public, or its space did not opt in.
    """
    authorize(actor, "public.community")
    return service.public_community(session, slug)


def query_insights(session: Session, actor: Actor, *, days: int = 14, top: int = 10) -> QueryInsights:
    """Per day: searches, those with no good answer and with no result, and the top queries of each.

    Raises:
        KbError FORBIDDEN: the actor owns no space and is no admin.
    """
    authorize(actor, "insights.read")
    return QueryInsights(data=insights.query_insights(session, days=days, top=top))


def situation_insights(session: Session, actor: Actor, *, days: int = 30) -> SituationInsights:
    """Which situations citizens pick on "what applies to me", per language, and where no approved
    public page applies in that language: the content gaps (issue 20). Taxonomy-wide, not per space:
    every owner and admin sees them.

    Raises:
        KbError FORBIDDEN: the actor owns no space and is no admin.
    """
    authorize(actor, "insights.read")
    demand = explore.situation_demand(session, days=days)
    return SituationInsights(days=days, data=demand, gaps=[d for d in demand if d.gap])


def insights_overview(session: Session, actor: Actor, *, days: int = 30) -> insights.Overview:
    """The insights page's figures: searches and gaps, helpfulness, questions, reviews and approvals.

    Raises:
        KbError FORBIDDEN: the actor owns no space and is no admin.
    """
    authorize(actor, "insights.read")
    return insights.overview(session, days=days)
