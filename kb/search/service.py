"""Search's answers: employees' and citizens' results, built from what ``kb.search.retrieval`` ranks.

Retrieval (the engines, fusion, the database re-check, grouping) is ``kb.search.retrieval``; whether
any hit answers at all is ``kb.search.relevance`` (``answer_quality``); a hit's snippet is
``kb.search.snippets``. Every hit is re-checked against the database (the authority) before it is returned: the chunk must
belong to its document's current approved version and pass the filters, so a stale index can never
serve a draft, a retired version or internal content to the public (RELIABILITY T1).

Also the writer of the query log (``log_query``, called by the search actions only). No permission
checks and no transactions here: ``kb.search.actions`` is the door. Must not import FastAPI, the web
UI or ``kb.experts``; documents are read only through what ``kb.documents`` re-exports.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from sqlmodel import Session

from kb import documents, provenance, taxonomy
from kb.actors import Actor
from kb.errors import ErrorCode, KbError
from kb.provenance.schemas import Receipt
from kb.search import analysis, facets, i18n, relevance, snippets
from kb.search import language as languages
from kb.search.indexer import SearchIndexes
from kb.search.interfaces import SearchFilters
from kb.search.models import QueryLog
from kb.search.retrieval import ANY_LANGUAGE, Found, ranked_documents, with_multilingual
from kb.search.retrieval import admitted as _admitted
from kb.search.schemas import (
    MAX_QUERY_CHARS,
    AnswerQuality, Community, Mode, Passage, PublicCard, PublicCommunity, PublicComment, PublicDocument, PublicHit, PublicResults,
    SearchHit, SearchResults, TranslationLink,
)
from kb.social import service as social

logger = logging.getLogger(__name__)


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


def _load(session: Session, found: list[Found]) -> list[tuple[object, documents.Published, Found]]:
    """Full rows for one page of hits only: (chunk, published document, what retrieval found)."""
    items = {item.document.id: item for item in documents.published(session, [f.document_id for f in found], with_chunks=False)}
    chunks = documents.chunks_by_id(session, [f.chunk_id for f in found])
    return [(chunks[f.chunk_id], items[f.document_id], f) for f in found
            if f.document_id in items and f.chunk_id in chunks]


def _passage(chunk, query: str, language: str | None) -> Passage:  # noqa: ANN001
    """The snippet shown for a hit: plain text from where its best passage matches the query best."""
    return snippets.snippet(chunk.text, json.loads(chunk.heading_path), query, language)


def judge(session: Session, indexes: SearchIndexes, text: str, found: list[Found], query_language: str | None,
          filters: SearchFilters) -> list[Found]:
    """``found`` ready for the relevance bar (``kb.search.relevance``) for a query in ``query_language``.

    A question that is not surely English is judged by the multilingual encoder too: its similarity
    to the first documents' passages is filled in where the cross-lingual path did not compute it.
    """
    if query_language == "en":
        return found
    return with_multilingual(session, indexes, text, found, relevance.JUDGED, filters)


def page_count(total: int, page_size: int) -> int:
    return -(-total // page_size)


def log_query(session: Session, *, audience: str, query: str, mode: Mode, language: str | None, count: int,
              latency_ms: float, answer_quality: AnswerQuality | None = None) -> None:
    """Record one search for the search-gap analytics (analytics, not an audited state change)."""
    session.add(QueryLog(audience=audience, query=clean_query(query)[:MAX_QUERY_CHARS], mode=mode.value,
                         language=language, result_count=count, latency_ms=round(latency_ms, 2),
                         answered=None if answer_quality is None else answer_quality is AnswerQuality.good))


def _faceted(session: Session, filters: SearchFilters, text: str, concepts: Sequence[str],
             strict: bool = True) -> tuple[SearchFilters, taxonomy.Vocabulary | None, frozenset[int]]:
    """``filters`` narrowed to the selected concepts and told which concepts the query names; the
    vocabulary (None while the taxonomy is empty) and the selected concepts' ids (issue 20).
    ``strict``: an unknown concept is a 422 (employees); else it selects nothing (``facets.selection``)."""
    vocabulary = taxonomy.vocabulary(session)
    if not vocabulary.concepts:
        if concepts and strict:
            raise KbError(ErrorCode.VALIDATION_ERROR, f"No such concept: {', '.join(sorted(set(concepts)))}")
        return (replace(filters, concepts=(frozenset(),)) if concepts else filters), None, frozenset()
    groups, selected = facets.selection(vocabulary, concepts, strict=strict)
    return replace(filters, concepts=groups, boost_concepts=facets.named(vocabulary, text)), vocabulary, selected


def search(
    session: Session, indexes: SearchIndexes, *, actor: Actor, query: str, mode: Mode = Mode.hybrid,
    spaces: frozenset[int] | None = None, tags: frozenset[str] | None = None, language: str | None = None,
    page: int = 1, page_size: int = 10, concepts: Sequence[str] = (), labels_language: str | None = None,
) -> SearchResults:
    """Search curated knowledge as an employee: approved versions, internal and public.

    ``language`` filters by language; ``"any"`` instead opts into the cross-lingual path: no language
    filter, the query's language detected for the keyword analyser, and the multilingual index of
    public passages fused in (``mode`` is then hybrid). ``concepts`` (``scheme:key``) narrow the
    results to documents carrying them (``kb.search.facets``); the facets' labels are in
    ``labels_language`` (English when None).
    """
    text = _validate(query)
    cross_lingual = language == ANY_LANGUAGE
    filters = SearchFilters(include_internal=True, spaces=spaces, tags=tags,
                            languages=frozenset({language}) if language and not cross_lingual else None)
    filters, vocabulary, selected = _faceted(session, filters, text, concepts)
    query_language = languages.resolve(text).query
    if cross_lingual:
        mode = Mode.hybrid
        found = ranked_documents(session, indexes, text, mode, filters, query_language, page * page_size,
                                 multilingual=True)
    else:
        found = ranked_documents(session, indexes, text, mode, filters, language, page * page_size)
    found = judge(session, indexes, text, found, query_language, filters)
    page_items = _load(session, found[(page - 1) * page_size: page * page_size])
    people = documents.people_of(session, [item.version for _, item, _ in page_items])
    ratings = social.rating_summary(session, [item.document.id for _, item, _ in page_items])  # type: ignore[misc]
    hits = [
        SearchHit(document=item.document.slug, title=item.version.title, space=item.space.slug,
                  language=item.version.language, score=round(hit.score, 6), passage=_passage(chunk, text, item.version.language),
                  provenance=documents.provenance_card(session, item.version, item.document, users=people, vocabulary=vocabulary),
                  community=Community(rating_average=ratings[item.document.id][0], rating_count=ratings[item.document.id][1]),
                  answers=relevance.clears(hit, query_language))
        for chunk, item, hit in page_items
    ]
    return SearchResults(query=text, mode=mode, page=page, page_size=page_size, total=len(found),
                         page_count=page_count(len(found), page_size), answer_quality=relevance.answer_quality(found, query_language),
                         data=hits, community=community(session, text) if page == 1 else [],
                         facets=facets.count(vocabulary, found, selected, labels_language) if vocabulary else [])


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
        approved_on=version.approved_at.date() if version.approved_at else None,
        second_review=documents.second_review(version) is not False, intended_use=version.intended_use,
        licence=version.licence, language=version.language, valid_from=version.valid_from,
        valid_until=version.valid_until, review_overdue=documents.review_overdue(version),
        source_kind=str(version.source_kind),
    )


def _public_translations(groups: dict[int, list[documents.Published]], item: documents.Published,
                         filters: SearchFilters) -> dict[str, documents.Published]:
    """The admitted translations of ``item`` by language, from its group in ``groups`` (``translation_groups``)."""
    group = groups.get(item.document.translation_of_id or item.document.id, [])
    return {g.version.language: g for g in group if _admitted(documents.facts_of(g), filters) and g.document.id != item.document.id}


def _in_preferred_language(groups: dict[int, list[documents.Published]], item: documents.Published,
                           preferred: str | None, filters: SearchFilters,
                           ) -> tuple[documents.Published, dict[str, documents.Published], bool]:
    """``item``, or its admitted translation in ``preferred`` (``nl`` also matches ``nl-BE``) when it is in
    another language; with the chosen page's own translations, and whether it was replaced."""
    translations = _public_translations(groups, item, filters)
    if not preferred or languages.base_language(item.version.language) == preferred:
        return item, translations, False
    for code, translation in sorted(translations.items()):
        if languages.base_language(code) == preferred:
            return translation, _public_translations(groups, translation, filters), True
    return item, translations, False


def receipt_url(slug: str) -> str:
    """Where the public API serves the receipt of the public document ``slug`` (issue 16)."""
    return f"/public/v1/documents/{slug}/receipt"


def _link(code: str, t: documents.Published, labels_in: str) -> TranslationLink:
    return TranslationLink(language=code, language_label=i18n.language_name(code, labels_in), document=t.document.slug,
                           title=t.version.title, href=f"/public/v1/documents/{t.document.slug}")


def _links(translations: dict[str, documents.Published], labels_in: str) -> list[TranslationLink]:
    return [_link(code, t, labels_in) for code, t in sorted(translations.items())]


def _original(item: documents.Published, translations: dict[str, documents.Published], labels_in: str) -> TranslationLink | None:
    """The page ``item`` translates, when it is a translation and its original is public too (issue 17: only a
    document whose translation_of is set is a translation; an original is never labelled as one)."""
    if item.document.translation_of_id is None:
        return None
    for code, t in translations.items():
        if t.document.id == item.document.translation_of_id:
            return _link(code, t, labels_in)
    return None


def public_search(
    session: Session, indexes: SearchIndexes, *, query: str, language: str | None = None,
    accept_language: str | None = None, page: int = 1, page_size: int = 10, concepts: Sequence[str] = (),
) -> PublicResults:
    """Search as a citizen: approved, public, currently valid content only; the organisation stands behind it.

    ``language`` is the citizen's explicit ``lang=``: the query is read in it and answers are
    preferred in it. Without it the query's language is detected, and answers are preferred in
    ``accept_language`` or else in the detected language. With ``KB_PUBLIC_MULTILINGUAL`` the
    multilingual index is fused in, so a page in any language can answer. A hit with an approved
    public translation in the preferred language is replaced by the translation; each page shows
    once per translation group; every hit says its language, in the citizen's words, and links to
    its translations; labels come from the message catalogue in the citizen's language.
    ``concepts`` narrow as in ``search``; facets count only what a citizen may see.
    """
    text = _validate(query)
    filters, vocabulary, selected = _faceted(session, SearchFilters(), text, concepts, strict=False)  # the public-safe defaults
    decided = languages.resolve(text, explicit=language, preferred=accept_language)
    if indexes.multilingual_enabled:
        found = ranked_documents(session, indexes, text, Mode.hybrid, filters, decided.query, page * page_size,
                                 multilingual=True)
    else:
        found = ranked_documents(session, indexes, text, Mode.hybrid, filters, None, page * page_size)
    found = judge(session, indexes, text, found, decided.query, filters)
    preferred = decided.answer
    labels_in = i18n.labels_language(preferred)
    hits: list[PublicHit] = []
    shown: set[int] = set()
    loaded = _load(session, found[:page * page_size * 3])
    groups = documents.translation_groups(session, [item.document for _, item, _ in loaded])
    for chunk, item, hit in loaded:
        if len(hits) >= page * page_size:
            break
        group = item.document.translation_of_id or item.document.id
        if group in shown:
            continue  # a translation of a page already shown: it is linked from that hit
        shown.add(group)
        original = item.document.slug
        item, translations, replaced = _in_preferred_language(groups, item, preferred, filters)
        translated_from = original if replaced else None
        if replaced:
            chunk = item.chunks[0]  # translation_groups loads the chunks; an approved version has at least one
        hits.append(PublicHit(
            document=item.document.slug, title=item.version.title, language=item.version.language,
            language_label=i18n.language_name(item.version.language, labels_in),
            in_preferred_language=None if preferred is None else languages.base_language(item.version.language) == preferred,
            passage=_passage(chunk, text, item.version.language), provenance=public_card(item),
            translations={lang: t.document.slug for lang, t in sorted(translations.items())},
            translation_links=_links(translations, labels_in), translated_from=translated_from,
            original=_original(item, translations, labels_in),
            receipt_url=receipt_url(item.document.slug), answers=relevance.clears(hit, decided.query),
        ))
    # One hit per translation group, so the count is of groups (counting every translation announced pages
    # that came out empty: the review of 2026-12-07).
    group_of = documents.group_ids(session, (f.document_id for f in found))
    total = len({group_of.get(f.document_id, f.document_id) for f in found})
    return PublicResults(query=text, page=page, page_size=page_size, total=total,
                         page_count=page_count(total, page_size), answer_quality=relevance.answer_quality(found, decided.query),
                         query_language=decided.query,
                         preferred_language=preferred, labels_language=labels_in, labels=i18n.labels(labels_in),
                         data=hits[(page - 1) * page_size: page * page_size],
                         facets=facets.count(vocabulary, found, selected, preferred or labels_in, selected_at_zero=False)
                         if vocabulary else [])


def public_document(session: Session, slug: str, language: str | None = None, *,
                    words: str | None = None) -> PublicDocument:
    """A public document by slug. Anything not approved, public and valid today is 404 (no existence oracle).

    ``language`` is the citizen's preference: an approved public translation in it is served instead,
    and the labels are in it where we have a catalogue. ``words``, when given, is the language of the
    labels alone (a page whose address names the document keeps it, but speaks the browser's language).
    """
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
    groups = documents.translation_groups(session, [item.document])
    preferred = languages.base_language(language)
    item, translations, _replaced = _in_preferred_language(groups, item, preferred, filters)
    labels_in = i18n.labels_language(words or preferred)
    return PublicDocument(document=item.document.slug, title=item.version.title, language=item.version.language,
                          language_label=i18n.language_name(item.version.language, labels_in),
                          body_md=item.version.body_md, provenance=public_card(item),
                          translations={lang: t.document.slug for lang, t in sorted(translations.items())},
                          translation_links=_links(translations, labels_in), labels_language=labels_in,
                          original=_original(item, translations, labels_in),
                          labels=i18n.labels(labels_in), receipt_url=receipt_url(item.document.slug))


def public_receipt(session: Session, slug: str, signing_key: Path) -> Receipt:
    """The receipt of a public document: the ``version.publish`` event of the version served, proved in a signed head.

    The same 404 as ``public_document`` for anything not approved, public and valid today (no existence
    oracle). The event names no person: the approval event it points to names the approver, an
    employee, and is never served to citizens (docs/transparency.md, "Receipts").

    Raises:
        KbError NOT_FOUND: as ``public_document``.
        KbError SERVICE_UNAVAILABLE: the chain does not verify where the tree would grow, or the key cannot be read.
    """
    document = public_document(session, slug)  # 404 unless approved, public and valid
    seq = documents.publication_seq(session, document.document, document.provenance.version)
    if seq is None:  # every public version has one (approval, or migration 0014's baseline)
        logger.warning("public document %s v%s has no version.publish event: no receipt", slug, document.provenance.version)
        raise KbError(ErrorCode.NOT_FOUND, f"No public document {slug!r}")
    try:
        provenance.ensure_signing_key(signing_key)
        return Receipt(**provenance.receipt(session, seq, signing_key))
    except provenance.ChainBroken as exc:
        raise KbError(ErrorCode.SERVICE_UNAVAILABLE, f"No receipt is signed: {exc}") from None
    except (OSError, ValueError):
        raise KbError(ErrorCode.SERVICE_UNAVAILABLE, "No receipt is signed: the signing key cannot be read") from None


def public_community(session: Session, slug: str) -> PublicCommunity:
    """The community block of a public document, only where its space opted in (default: 404).

    Only comments written at or after the space's opt-in are served: their authors were told, as they
    wrote, that the comment would be shown publicly; earlier ones stay internal (issue 16). When a comment
    was written is read from its ``comment.create`` event too (``social.posted_at``): its row's time alone
    could be moved forward outside kb.
    """
    document = public_document(session, slug)  # 404 unless approved, public and valid
    item = documents.published(session, [documents.get_document(session, document.document).id])[0]
    since = item.space.public_community_since
    if not item.space.public_community or since is None:
        raise KbError(ErrorCode.NOT_FOUND, f"No public community content for {slug!r}")
    comments = [c for c in social.comments_on(session, item.document.id)  # type: ignore[arg-type]
                if c.deleted_at is None and not c.hidden and c.created_at >= since]
    posted = social.posted_at(session, [c.id for c in comments])  # type: ignore[misc]
    since = since if since.tzinfo is not None else since.replace(tzinfo=dt.UTC)
    average, count, _mine = social.rating_summary(session, [item.document.id])[item.document.id]  # type: ignore[index]
    return PublicCommunity(document=document.document, rating_average=average, rating_count=count, comments=[
        PublicComment(body_html=c.body_html, on_version=c.version_number, created_at=c.created_at)
        for c in comments if c.id in posted and posted[c.id] >= since])
