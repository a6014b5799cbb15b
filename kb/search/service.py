"""Hybrid search: keyword and semantic retrieval, reciprocal-rank fusion, grouping, the DB re-check.

Every hit is re-checked against the database (the authority) before it is returned: the chunk must
belong to its document's current approved version and pass the filters, so a stale index can never
serve a draft, a retired version or internal content to the public (RELIABILITY T1).
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlmodel import Session

from kb import documents
from kb.social import service as social
from kb.actors import Actor
from kb.db import utcnow
from kb.errors import ErrorCode, KbError
from kb.search import analysis
from kb.search.hybrid import group_by, reciprocal_rank_fusion, zscore_fusion
from kb.search.indexer import SearchIndexes
from kb.search.interfaces import SearchFilters
from kb.search.models import QueryLog
from kb.search.schemas import (
    Community, Mode, Passage, PublicCard, PublicCommunity, PublicComment, PublicDocument, PublicHit, PublicResults,
    QueryCount, QueryDay,
    SearchHit, SearchResults,
)

CANDIDATES = 100
# Below this cosine similarity a passage is not an answer, however it ranks: without a floor,
# semantic search returns something for every query and "no results" (a search gap) never shows.
MIN_SIMILARITY = 0.2
MAX_QUERY_CHARS = 500
PASSAGE_CHARS = 400


@dataclass(frozen=True)
class Candidate:
    chunk_id: int
    score: float


def clean_query(query: str) -> str:
    """Whitespace collapsed, control characters (NUL included: PostgreSQL text refuses it) removed."""
    return " ".join("".join(ch for ch in query if ch.isprintable() or ch.isspace()).split())


def _validate(query: str) -> str:
    text = clean_query(query)
    if not text:
        raise KbError(ErrorCode.BAD_REQUEST, "Say what you are looking for: the query is empty")
    if len(text) > MAX_QUERY_CHARS:
        raise KbError(ErrorCode.VALIDATION_ERROR, f"The query is longer than {MAX_QUERY_CHARS} characters")
    return text


def retrieve(indexes: SearchIndexes, text: str, mode: Mode, filters: SearchFilters, depth: int,
             language: str | None) -> list[tuple[int, float]]:  # noqa: D417
    """Chunk ids best first for one mode; filters applied inside each engine before top-k."""
    keyword = indexes.keyword.search(text, filters, depth, language=language) if mode is not Mode.semantic else []
    if mode is Mode.keyword:
        return keyword
    vector = indexes.embedder.encode([text])[0]
    semantic = [(cid, score) for cid, score in indexes.vector.search(vector, filters, depth) if score >= MIN_SIMILARITY]
    if mode is Mode.semantic:
        return semantic
    if indexes.settings.search_fusion == "rrf":
        return reciprocal_rank_fusion([keyword, semantic])  # type: ignore[return-value]
    return zscore_fusion([keyword, semantic])  # type: ignore[return-value]


def _admitted(facts: documents.ChunkFacts, filters: SearchFilters) -> bool:
    """The database-side twin of the engines' filters."""
    day = dt.date.fromordinal(filters.on_day)
    return ((filters.include_internal or facts.audience == "public")
            and (facts.valid_from is None or facts.valid_from <= day)
            and (facts.valid_until is None or facts.valid_until > day)
            and (filters.spaces is None or facts.space_id in filters.spaces)
            and (filters.languages is None or facts.language in filters.languages)
            and (filters.tags is None or bool(filters.tags & set(facts.tags))))


def _passage(chunk, query: str, language: str | None) -> Passage:  # noqa: ANN001
    text = chunk.text
    spans = analysis.highlight_spans(text, query, language)
    if len(text) > PASSAGE_CHARS:
        start = max(0, (spans[0][0] - 80) if spans else 0)
        start = text.rfind(" ", 0, start) + 1 if start else 0
        end = min(len(text), start + PASSAGE_CHARS)
        text = text[start:end]
        spans = [(a - start, b - start) for a, b in spans if a >= start and b <= end]
    return Passage(text=text, heading_path=json.loads(chunk.heading_path), highlights=spans)


@dataclass(frozen=True)
class Found:
    """A document that survived the re-check: its id, best passage and fused score."""

    document_id: int
    chunk_id: int
    score: float


def ranked_documents(session: Session, indexes: SearchIndexes, text: str, mode: Mode, filters: SearchFilters,
                     language: str | None, wanted: int) -> list[Found]:
    """Documents best first: retrieve passages, re-check each against the database, group per document."""
    depth = max(CANDIDATES, wanted * 3)
    ranked = retrieve(indexes, text, mode, filters, depth, language)
    facts = documents.published_chunk_facts(session, [cid for cid, _ in ranked])
    admitted = [(cid, score) for cid, score in ranked if cid in facts and _admitted(facts[cid], filters)]
    return [Found(doc, cid, score) for doc, score, cid in group_by(admitted, key=lambda cid: facts[cid].document_id)]  # type: ignore[arg-type]


def _load(session: Session, found: list[Found]) -> list[tuple[object, documents.Published, float]]:
    """Full rows for one page of hits only: (chunk, published document, score)."""
    items = {item.document.id: item for item in documents.published(session, [f.document_id for f in found])}
    chunks = documents.chunks_by_id(session, [f.chunk_id for f in found])
    return [(chunks[f.chunk_id], items[f.document_id], f.score) for f in found
            if f.document_id in items and f.chunk_id in chunks]


def log_query(session: Session, *, audience: str, query: str, mode: Mode, language: str | None, count: int,
              latency_ms: float) -> None:
    """Record one search for the search-gap analytics (analytics, not an audited state change)."""
    session.add(QueryLog(audience=audience, query=clean_query(query)[:MAX_QUERY_CHARS], mode=mode.value,
                         language=language, result_count=count, latency_ms=round(latency_ms, 2)))


def search(
    session: Session, indexes: SearchIndexes, *, actor: Actor, query: str, mode: Mode = Mode.hybrid,
    spaces: frozenset[int] | None = None, tags: frozenset[str] | None = None, language: str | None = None,
    page: int = 1, page_size: int = 10,
) -> SearchResults:
    """Search curated knowledge as an employee: approved versions, internal and public."""
    text = _validate(query)
    filters = SearchFilters(include_internal=True, spaces=spaces, tags=tags,
                            languages=frozenset({language}) if language else None)
    found = ranked_documents(session, indexes, text, mode, filters, language, page * page_size)
    page_items = _load(session, found[(page - 1) * page_size: page * page_size])
    people = documents.people_of(session, [item.version for _, item, _ in page_items])
    ratings = social.rating_summary(session, [item.document.id for _, item, _ in page_items])  # type: ignore[misc]
    hits = [
        SearchHit(document=item.document.slug, title=item.version.title, space=item.space.slug,
                  language=item.version.language, score=round(score, 6), passage=_passage(chunk, text, item.version.language),
                  provenance=documents.provenance_card(session, item.version, item.document, users=people),
                  community=Community(rating_average=ratings[item.document.id][0], rating_count=ratings[item.document.id][1]))
        for chunk, item, score in page_items
    ]
    return SearchResults(query=text, mode=mode, page=page, page_size=page_size, total=len(found), data=hits,
                         community=community(session, text) if page == 1 else [])


def community(session: Session, text: str, limit: int = 5) -> list[dict]:
    """Questions and accepted answers matching the query, for the labelled community section.

    Scored apart from the curated ranking (never merged into it): a TF-IDF sum over the query's stems,
    title counting double. A scan of the visible questions: fine for thousands; a community index
    is the next step beyond that.
    """
    import math

    wanted = set(analysis.query_tokens(text, "en"))
    if not wanted:
        return []
    items = social.searchable_questions(session)
    bags = []
    for item in items:
        title = analysis.tokens(item.title, "en")
        body = analysis.tokens(" ".join(filter(None, [item.body, item.accepted_answer])), "en")
        bags.append((item, Counter(title), Counter(body)))
    df = Counter(token for _, title, body in bags for token in set(title) | set(body))
    scored = []
    for item, title, body in bags:
        score = sum((2 * title[t] + body[t]) * math.log(1 + len(bags) / df[t]) for t in wanted if df[t])
        if score > 0:
            scored.append((score, item))
    scored.sort(key=lambda pair: -pair[0])
    return [{"kind": "community", "type": "question", "id": item.question_id, "title": item.title,
             "answers": item.answers, "accepted_answer": (item.accepted_answer or "")[:300] or None,
             "score": round(score, 4)} for score, item in scored[:limit]]


# ---------------------------------------------------------------------------------------- public

def public_card(item: documents.Published) -> PublicCard:
    version = item.version
    return PublicCard(
        version=version.number, organisation=item.space.name,
        approved_on=version.approved_at.date() if version.approved_at else None, intended_use=version.intended_use,
        licence=version.licence, language=version.language, valid_from=version.valid_from,
        valid_until=version.valid_until, review_overdue=documents.review_overdue(version),
        source_kind=str(version.source_kind),
    )


def _public_translations(session: Session, item: documents.Published, filters: SearchFilters) -> dict[str, documents.Published]:
    group = documents.translation_group(session, item.document)
    return {g.version.language: g for g in group if _admitted(documents.facts_of(g), filters) and g.document.id != item.document.id}


def public_search(
    session: Session, indexes: SearchIndexes, *, query: str, language: str | None = None, page: int = 1, page_size: int = 10,
) -> PublicResults:
    """Search as a citizen: approved, public, currently valid content only; the organisation stands behind it.

    ``language`` is a preference: a hit with an approved public translation in that language is
    replaced by the translation, and every hit says which language it is in.
    """
    text = _validate(query)
    filters = SearchFilters()  # the public-safe defaults
    found = ranked_documents(session, indexes, text, Mode.hybrid, filters, None, page * page_size)
    preferred = analysis.normalise_language(language) or (language.lower() if language else None)
    hits: list[PublicHit] = []
    shown: set[int] = set()
    for chunk, item, _score in _load(session, found[:page * page_size + page_size]):
        if len(hits) >= page * page_size:
            break
        translations = _public_translations(session, item, filters)
        translated_from = None
        if preferred and item.version.language != preferred and preferred in translations:
            translated_from, item = item.document.slug, translations.pop(preferred)
            translations = _public_translations(session, item, filters)
            first = item.chunks or documents.published(session, [item.document.id])[0].chunks
            chunk = first[0]
        if item.document.id in shown:
            continue
        shown.add(item.document.id)
        hits.append(PublicHit(
            document=item.document.slug, title=item.version.title, language=item.version.language,
            passage=_passage(chunk, text, item.version.language), provenance=public_card(item),
            translations={lang: t.document.slug for lang, t in sorted(translations.items())},
            translated_from=translated_from,
        ))
    return PublicResults(query=text, page=page, page_size=page_size, total=len(found),
                         data=hits[(page - 1) * page_size: page * page_size])


def public_document(session: Session, slug: str, language: str | None = None) -> PublicDocument:
    """A public document by slug. Anything not approved, public and valid today is 404 (no existence oracle)."""
    not_found = KbError(ErrorCode.NOT_FOUND, f"No public document {slug!r}")
    try:
        document = documents.get_document(session, slug)
    except KbError:
        raise not_found from None
    found = documents.published(session, [document.id])
    filters = SearchFilters()
    if not found or not _admitted(documents.facts_of(found[0]), filters):
        raise not_found
    item = found[0]
    translations = _public_translations(session, item, filters)
    preferred = analysis.normalise_language(language)
    if preferred and item.version.language != preferred and preferred in translations:
        item = translations.pop(preferred)
        translations = _public_translations(session, item, filters)
    return PublicDocument(document=item.document.slug, title=item.version.title, language=item.version.language,
                          body_md=item.version.body_md, provenance=public_card(item),
                          translations={lang: t.document.slug for lang, t in sorted(translations.items())})


def public_community(session: Session, slug: str) -> PublicCommunity:
    """The community block of a public document, only where its space opted in (default: 404)."""
    document = public_document(session, slug)  # 404 unless approved, public and valid
    item = documents.published(session, [documents.get_document(session, document.document).id])[0]
    if not item.space.public_community:
        raise KbError(ErrorCode.NOT_FOUND, f"No public community content for {slug!r}")
    comments, _current = social.comments_of(session, slug=document.document)
    average, count, _mine = social.rating_summary(session, [item.document.id])[item.document.id]  # type: ignore[index]
    return PublicCommunity(document=document.document, rating_average=average, rating_count=count, comments=[
        PublicComment(body_html=c.body_html, on_version=c.version_number, created_at=c.created_at)
        for c in comments if c.deleted_at is None and not c.hidden])


# -------------------------------------------------------------------------------------- insights

def query_insights(session: Session, *, days: int = 14, top: int = 10, on: dt.date | None = None) -> list[QueryDay]:
    """Per day: searches, zero-result searches, top queries and top zero-result queries."""
    end = on or utcnow().date()
    start = dt.datetime.combine(end - dt.timedelta(days=days - 1), dt.time(), tzinfo=dt.UTC)
    rows = session.execute(select(QueryLog.at, QueryLog.query, QueryLog.result_count)
                           .where(QueryLog.at >= start).order_by(QueryLog.at)).all()
    per_day: dict[dt.date, list[tuple[str, int]]] = {}
    for at, query, count in rows:
        per_day.setdefault(at.date(), []).append((query.casefold(), count))
    result = []
    for day in sorted(per_day, reverse=True):
        entries = per_day[day]
        all_queries = Counter(q for q, _ in entries)
        zero = Counter(q for q, c in entries if c == 0)
        result.append(QueryDay(day=day, searches=len(entries), zero_result=sum(zero.values()),
                               top_queries=[QueryCount(query=q, count=n) for q, n in all_queries.most_common(top)],
                               top_zero_result_queries=[QueryCount(query=q, count=n) for q, n in zero.most_common(top)]))
    return result


def query_log_size(session: Session) -> int:
    return session.execute(select(func.count()).select_from(QueryLog)).scalar_one()
