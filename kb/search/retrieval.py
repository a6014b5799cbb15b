"""Retrieval: each engine asked, rankings fused, passages re-checked against the database and grouped per document.

Every mode and path returns, besides the ranking, how similar each candidate passage is to the
query as the encoders see it (cosine of the *original* query vector: feedback moves the vector for
ranking, never for judging), so that ``kb.search.relevance`` can say whether any hit answers at all.

No permission checks, no transactions, no rendering (``kb.search.service`` builds the responses).
Must not import FastAPI, the web UI or ``kb.experts``; documents are read only through what
``kb.documents`` re-exports; torch and faiss only behind ``kb.search.indexer``'s lazy components.
"""

from __future__ import annotations

import datetime as dt
import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace

import numpy as np
from sqlmodel import Session

from kb import documents, validity
from kb.search import bridge, feedback, sentences
from kb.search import language as languages
from kb.search.crosslingual import fuse_where_possible, in_turn, relative_floor, surviving_terms
from kb.search.hybrid import group_by, reciprocal_rank_fusion, zscore_fusion
from kb.search.indexer import SearchIndexes
from kb.search.interfaces import SearchFilters, concepts_meet, field_language
from kb.search.schemas import Mode

CANDIDATES = 100
# The English model's rankings keep every passage the encoder sees anything in common with (cosine
# above 0; issue 18). Whether a hit answers at all is the relevance bar's judgement
# (kb.search.relevance), made on the whole result; the absolute floor of 0.2 used before only took
# candidates away from fusion (semantic mode returned as few as 3 documents for some SciFact
# questions), and no absolute floor tells an off-topic question from a real one (MiniLM scores some
# off-topic questions at 0.60). Measured: docs/benchmarks.md, "Search that generalises".
MIN_SIMILARITY = 0.0
# On the cross-lingual path the English model's ranking is one of three, for English questions over the
# public pages, and there its floor stays: without it, kb's judged set lost an English question from
# the top 3 (public hit@3 1.000 → 0.917, hit@1 0.917 → 0.833); a floor relative to the best passage
# cost the same (bench/crosslingual.py, docs/benchmarks.md).
MIN_SIMILARITY_ENGLISH_CROSSLINGUAL = 0.2
# The multilingual encoder's ranking keeps the passages at least half as similar as the query's best
# (kb.search.crosslingual.relative_floor): the absolute floor it replaces (0.15, set on off-topic
# questions against the sample pages) dropped right answers on other collections (issue 18). "No good
# answer" is the relevance bar's to say (kb.search.relevance). MiniLM scored off-topic questions in
# other languages up to 0.60, which is why the English model is not asked non-English questions
# (bench/crosslingual.py, docs/benchmarks.md).
RELATIVE_FLOOR_MULTILINGUAL = 0.5
# The weight, in the cross-lingual fusion, of the keyword ranking of a non-English question's names and
# numbers (kb.search.crosslingual.surviving_terms): partial evidence, so half a ranking's weight.
SURVIVING_TERMS_WEIGHT = 0.5
# The multilingual ranking mixes a passage's similarity with its best sentence's (kb.search.sentences),
# half and half (issue 18, docs/benchmarks.md). The sentence index is searched 4 × the passage depth:
# a passage has about six sentences, but only its best one counts and the best sentences of the
# passages worth ranking come first; a passage missing from the sentences takes their lowest score.
SENTENCE_WEIGHT = 0.5
SENTENCES_PER_PASSAGE = 4
# The word bridge (kb.search.bridge): the English words of the multilingual ranking's best
# BRIDGE_PASSAGES English passages are what a non-English question's words can be carried to; the
# English keyword ranking of the carried words is fused at BRIDGE_WEIGHT (docs/benchmarks.md).
BRIDGE_PASSAGES = 20
BRIDGE_WEIGHT = 0.5
# Employees' opt-in to the cross-lingual path: /api/v1/search?lang=any
ANY_LANGUAGE = "any"


# Hybrid search runs its keyword searches on this pool: the first while the calling thread searches
# faiss on one core (at 100k chunks with the flat index the two took 13.5 ms side by side against
# 19.0 ms one after the other; docs/benchmarks.md), the expanded one while it reads the candidates'
# vectors. Not beside the query encoding: the encoder uses both cores, and a third busy thread made
# its workers wait on each other (hybrid p95 120 ms against 85 ms).
_KEYWORD_POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="kb-keyword")


def _fuse(indexes: SearchIndexes, rankings: list[list[tuple[int, float]]],
          weights: list[float] | None = None) -> list[tuple[int, float]]:
    if indexes.settings.search_fusion == "rrf":
        return reciprocal_rank_fusion(rankings, weights=weights)  # type: ignore[return-value,arg-type]
    return zscore_fusion(rankings, weights)  # type: ignore[return-value,arg-type]


def _similar(index, vector: np.ndarray, filters: SearchFilters, depth: int, floor: float) -> list[tuple[int, float]]:  # noqa: ANN001
    """A vector index's passages best first, those not above the similarity ``floor`` left out."""
    return [(cid, score) for cid, score in index.search(vector, filters, depth) if score > floor]


def _both_rankings(indexes: SearchIndexes, text: str, filters: SearchFilters, depth: int,
                   language: str | None) -> tuple[list[tuple[int, float]], np.ndarray, list[tuple[int, float]]]:
    """Hybrid search's first question: (keyword ranking, query vector, semantic ranking).

    The query is encoded first, on both cores with nothing beside it; then the keyword search runs on
    ``_KEYWORD_POOL`` while this thread searches faiss.
    """
    query_vector = indexes.embedder.encode([text])[0]
    pending = _KEYWORD_POOL.submit(indexes.keyword.search, text, filters, depth, language=language)
    semantic = _similar(indexes.vector, query_vector, filters, depth, MIN_SIMILARITY)
    return pending.result(), query_vector, semantic


Ranking = list[tuple[int, float]]


@dataclass
class Retrieved:
    """A ranking of chunk ids best first, the database facts of its chunks, and how similar each is to the query.

    ``similarity``: cosine of the query's English-model vector with a chunk's (the query as typed,
    before feedback moved it). ``multilingual``: the same under the multilingual encoder, on the
    cross-lingual path. A chunk absent from a map was not compared by that encoder.
    """

    ranked: Ranking
    facts: dict[int, documents.ChunkFacts] = field(default_factory=dict)
    similarity: dict[int, float] = field(default_factory=dict)
    multilingual: dict[int, float] = field(default_factory=dict)


def _cosines(vector: np.ndarray, candidates: dict[int, np.ndarray]) -> dict[int, float]:
    if not candidates:
        return {}
    ids = list(candidates)
    scores = np.stack([candidates[i] for i in ids]) @ vector
    return {cid: float(score) for cid, score in zip(ids, scores)}


def retrieve(indexes: SearchIndexes, text: str, mode: Mode, filters: SearchFilters, depth: int,
             language: str | None) -> Retrieved:  # noqa: D417
    """Chunk ids best first for one mode, asking each engine once; filters applied inside each engine before top-k.

    Keyword mode still encodes the query, to say how similar its hits are (``Retrieved.similarity``).
    """
    if mode is Mode.keyword:
        ranked = indexes.keyword.search(text, filters, depth, language=language)
        vector = indexes.embedder.encode([text])[0]
        return Retrieved(ranked, similarity=_cosines(vector, indexes.vector.vectors(cid for cid, _ in ranked)))
    if mode is Mode.semantic:
        ranked = _similar(indexes.vector, indexes.embedder.encode([text])[0], filters, depth, MIN_SIMILARITY)
        return Retrieved(ranked, similarity=dict(ranked))
    keyword, vector, semantic = _both_rankings(indexes, text, filters, depth, language)
    fused = _fuse(indexes, [keyword, semantic])
    similarity = dict(semantic)
    similarity.update(_cosines(vector, indexes.vector.vectors(cid for cid, _ in keyword if cid not in similarity)))
    return Retrieved(fused, similarity=similarity)


def retrieve_with_feedback(session: Session, indexes: SearchIndexes, text: str, filters: SearchFilters, depth: int,
                           language: str | None) -> Retrieved:
    """Hybrid search that asks twice: relevance feedback from the first fused ranking (kb.search.feedback).

    The best ``KB_SEARCH_FEEDBACK_PASSAGES`` passages of the first ranking that the database admits
    (current approved versions passing the filters: a stale index entry never feeds the second
    question) give the keyword query its expansion terms and move the query vector; the candidates
    of both first rankings and of the expanded keyword search are scored against the moved vector,
    and the two new rankings are fused. The similarities are those of the query as typed.
    """
    keyword, query_vector, semantic = _both_rankings(indexes, text, filters, depth, language)
    first = _fuse(indexes, [keyword, semantic])
    facts = documents.published_chunk_facts(session, [cid for cid, _ in first])
    top = [cid for cid, _ in first if cid in facts and admitted(facts[cid], filters)]
    top = top[:indexes.settings.search_feedback_passages]
    if not top:
        return Retrieved(first, facts, similarity=dict(semantic))
    chunks = documents.chunks_by_id(session, top)
    passages: dict[str, list[list[str]]] = {}
    for cid in top:
        chunk, lang = chunks[cid], facts[cid].language
        headings = " ".join(json.loads(chunk.heading_path))
        passages.setdefault(lang, []).append(indexes.keyword.terms(f"{headings}\n{chunk.text}", lang))
    expansion = []
    for lang, tokens in passages.items():
        total, frequencies = indexes.keyword.term_statistics(lang, {term for passage in tokens for term in passage})
        expansion += [(lang, term, weight) for term, weight in feedback.expansion_terms(tokens, frequencies, total)]
    # The expanded keyword search runs on the pool while this thread moves the query vector and reads
    # the first rankings' vectors.
    pending = _KEYWORD_POOL.submit(indexes.keyword.search, text, filters, depth, language=language, expansion=expansion)
    seeds = indexes.vector.vectors(top[:feedback.DENSE_PASSAGES])
    moved = feedback.rocchio(query_vector, np.stack(list(seeds.values())) if seeds else np.zeros((0, len(query_vector))))
    candidates = indexes.vector.vectors(dict.fromkeys(cid for ranking in (keyword, semantic) for cid, _ in ranking))
    expanded = pending.result()
    candidates.update(indexes.vector.vectors([cid for cid, _ in expanded if cid not in candidates]))
    fused = _fuse(indexes, [expanded, feedback.rescore(moved, candidates, MIN_SIMILARITY)],
                  [feedback.EXPANDED_KEYWORD_WEIGHT, 1 - feedback.EXPANDED_KEYWORD_WEIGHT])
    facts.update(documents.published_chunk_facts(session, [cid for cid, _ in fused if cid not in facts]))
    return Retrieved(fused, facts, similarity=_cosines(query_vector, candidates))


def retrieve_multilingual(session: Session, indexes: SearchIndexes, text: str, filters: SearchFilters, depth: int,
                          language: str | None) -> Retrieved:
    """The cross-lingual path (public search, employees' ``lang=any``): chunk ids best first, with their facts.

    Up to five rankings, each used where it is valid: the keyword index read with the analyser of
    the query's language (``None``: every language's fields), which can only find pages in that
    language; the English model, for English queries (or when the language is unsure); the
    multilingual index of public passages, which finds a page in any of its 16 languages, a passage
    scored by half its similarity and half its best sentence's (the multilingual sentence index,
    ``kb.search.sentences``), down to half the query's best score (``RELATIVE_FLOOR_MULTILINGUAL``);
    and, for a question in another
    language, the keyword index over every language's fields asked only the question's names and
    numbers (``surviving_terms``, weight ``SURVIVING_TERMS_WEIGHT``), which survive translation; and
    for such a question the keyword index's English fields asked the English words its own words
    are carried to (``_bridge``, weight ``BRIDGE_WEIGHT``), which counts only for English pages. They
    are fused by ``fuse_where_possible``: a page's absence from a ranking that could not have found
    it (an English page from the Dutch keyword search) does not count against it. A question in a
    language the encoder does not read takes ``_beyond_the_encoder`` instead. Filters apply inside
    each engine before top-k; the multilingual index never holds internal content. Similarities
    come from the encoders that were asked (the English model only for English or unsure queries).
    """
    if not languages.encoder_reads(language):
        return _beyond_the_encoder(session, indexes, text, filters, depth)
    keyword_field = field_language(language) if language else None
    rankings = [indexes.keyword.search(text, filters, depth, language=language)]
    readers: list[str] = ["keyword"]
    weights = [1.0]
    retrieved = Retrieved([])
    if language in (None, "en"):
        vector = indexes.embedder.encode([text])[0]
        rankings.append(_similar(indexes.vector, vector, filters, depth, MIN_SIMILARITY_ENGLISH_CROSSLINGUAL))
        readers.append("english")
        weights.append(1.0)
        retrieved.similarity = dict(rankings[-1])
        retrieved.similarity.update(_cosines(vector, indexes.vector.vectors(
            cid for cid, _ in rankings[0] if cid not in retrieved.similarity)))
    if indexes.multilingual is not None:
        vector = indexes.multilingual_embedder.encode([text])[0]
        passages = indexes.multilingual.search(vector, filters, depth)
        mixed = passages
        if indexes.multilingual_sentences is not None:
            best_sentences = sentences.best_per_chunk(
                indexes.multilingual_sentences.search(vector, filters, depth * SENTENCES_PER_PASSAGE))
            mixed = sentences.mix(passages, best_sentences, SENTENCE_WEIGHT)
        rankings.append(relative_floor(mixed, RELATIVE_FLOOR_MULTILINGUAL))  # type: ignore[arg-type]
        readers.append("multilingual")
        weights.append(1.0)
        # The relevance bar reads passage cosines, as it was set on: those found only by a sentence are computed.
        retrieved.multilingual = dict(passages)
        retrieved.multilingual.update(_cosines(vector, indexes.multilingual.vectors(
            cid for cid, _ in rankings[-1] if cid not in retrieved.multilingual)))
    terms = surviving_terms(text) if language not in (None, "en") else []
    names = indexes.keyword.search(" ".join(terms), filters, depth, language=None) if terms else []
    if names:  # an empty ranking would only weigh every page down in the fusion
        rankings.append(names)
        readers.append("names")
        weights.append(SURVIVING_TERMS_WEIGHT)
    facts = documents.published_chunk_facts(session, {cid for ranking in rankings for cid, _ in ranking})
    if language not in (None, "en") and "multilingual" in readers:
        carried = _bridge(session, indexes, text, language, rankings[readers.index("multilingual")], facts,
                          filters, depth)
        if carried:
            rankings.append(carried)
            readers.append("bridge")
            weights.append(BRIDGE_WEIGHT)
            facts.update(documents.published_chunk_facts(session, {cid for cid, _ in carried if cid not in facts}))

    def possible(reader: str):  # noqa: ANN202
        if reader == "keyword":
            return lambda cid: keyword_field is None or (cid in facts and field_language(facts[cid].language) == keyword_field)
        if reader == "multilingual":
            return lambda cid: cid in facts and facts[cid].audience == "public"
        if reader == "bridge":
            return lambda cid: cid in facts and field_language(facts[cid].language) == "en"
        return lambda cid: True

    retrieved.ranked = fuse_where_possible(rankings, [possible(r) for r in readers], weights,  # type: ignore[assignment]
                                           method=indexes.settings.search_fusion)
    retrieved.facts = facts
    return retrieved


def _bridge(session: Session, indexes: SearchIndexes, text: str, language: str | None, multilingual: Ranking,
            facts: dict[int, documents.ChunkFacts], filters: SearchFilters, depth: int) -> Ranking:
    """The English pages ranked by the English words a non-English question's words are carried to (``kb.search.bridge``).

    Empty when the bridge is off, the question is in a language it does not read (``UNMEASURED``)
    or written without spaces between words, or no word is carried. The English words are those of
    the multilingual ranking's best ``BRIDGE_PASSAGES`` English passages (headings and text; ``facts``,
    read for the rankings already made, says which are English); the
    carried words are asked of the keyword index's English fields, over every page the filters
    admit. The question's own words are encoded for it, never remembered.
    """
    memory = indexes.word_vectors
    if memory is None or languages.base_language(language) in bridge.UNMEASURED or not bridge.splits_words(text):
        return []
    words = bridge.question_words(text, language)
    if not words:
        return []
    english = [cid for cid, _ in multilingual if cid in facts and field_language(facts[cid].language) == "en"]
    chunks = documents.chunks_by_id(session, english[:BRIDGE_PASSAGES])
    # in the ranking's order, not the database's (which PostgreSQL does not fix): ties between words go the same way
    texts = [" ".join([*json.loads(chunks[cid].heading_path), chunks[cid].text])
             for cid in english[:BRIDGE_PASSAGES] if cid in chunks]
    carried = bridge.translate(words, bridge.english_words(texts), memory,
                               question_vectors=indexes.multilingual_embedder.encode)
    if not carried:
        return []
    return indexes.keyword.search(" ".join(carried), filters, depth, language="en")


def _beyond_the_encoder(session: Session, indexes: SearchIndexes, text: str, filters: SearchFilters,
                        depth: int) -> Retrieved:
    """The cross-lingual path for a question in a language neither encoder reads (Greek, Hindi, Vietnamese…).

    The keyword index over every language's fields ranks first: it matches the names and numbers
    such a question shares with a page in another language, and pages in the question's own
    language. The multilingual index (relative floor) only fills the places after the keyword
    hits (``in_turn``): fused with the keyword ranking, it ranked pages it cannot read above the
    ones the names found (issue 18, docs/benchmarks.md); so did the English model, which is not asked.
    """
    keyword = indexes.keyword.search(text, filters, depth, language=None)
    filling: Ranking = []
    if indexes.multilingual is not None:
        vector = indexes.multilingual_embedder.encode([text])[0]
        filling = relative_floor(indexes.multilingual.search(vector, filters, depth), RELATIVE_FLOOR_MULTILINGUAL)  # type: ignore[assignment]
    ranked = in_turn([keyword, filling])
    facts = documents.published_chunk_facts(session, [cid for cid, _ in ranked])
    return Retrieved(ranked, facts, multilingual=dict(filling))  # type: ignore[arg-type]


def admitted(facts: documents.ChunkFacts, filters: SearchFilters) -> bool:
    """The database-side twin of the engines' filters."""
    return ((filters.include_internal or facts.audience == "public")
            and validity.valid_on(facts.valid_from, facts.valid_until, dt.date.fromordinal(filters.on_day))
            and (filters.spaces is None or facts.space_id in filters.spaces)
            and (filters.languages is None or facts.language in filters.languages)
            and (filters.tags is None or bool(filters.tags & set(facts.tags)))
            and concepts_meet(filters.concepts, facts.concepts))


@dataclass(frozen=True)
class Found:
    """A document that survived the re-check: its id, best passage and fused score, and how similar it is.

    ``similarity`` / ``multilingual``: the highest cosine of any of its candidate passages with the
    query, under the English model / the multilingual encoder (None: that encoder was not asked).
    """

    document_id: int
    chunk_id: int
    score: float
    similarity: float | None = None
    multilingual: float | None = None
    concepts: tuple[int, ...] = ()
    """The concept ids its version stores, from the re-check: what facets count."""


def ranked_documents(session: Session, indexes: SearchIndexes, text: str, mode: Mode, filters: SearchFilters,
                     language: str | None, wanted: int, *, multilingual: bool = False) -> list[Found]:
    """Documents best first: retrieve passages, re-check each against the database, group per document.

    ``multilingual`` takes the cross-lingual path (``retrieve_multilingual``) instead of ``mode``.
    """
    if filters.concepts is not None and not all(filters.concepts):
        return []  # a selected concept that names nothing: nothing passes (kb.search.facets.selection)
    depth = max(CANDIDATES, wanted * 3)
    if multilingual:
        retrieved = retrieve_multilingual(session, indexes, text, filters, depth, language)
    elif mode is Mode.hybrid and indexes.settings.search_feedback_passages > 0:
        retrieved = retrieve_with_feedback(session, indexes, text, filters, depth, language)
    else:
        retrieved = retrieve(indexes, text, mode, filters, depth, language)
        retrieved.facts = documents.published_chunk_facts(session, [cid for cid, _ in retrieved.ranked])
    facts = retrieved.facts
    kept = [(cid, score) for cid, score in retrieved.ranked if cid in facts and admitted(facts[cid], filters)]
    best: dict[int, list[float | None]] = {}
    for cid, _score in kept:
        document = best.setdefault(facts[cid].document_id, [None, None])
        for slot, similarities in enumerate((retrieved.similarity, retrieved.multilingual)):
            value = similarities.get(cid)
            if value is not None and (document[slot] is None or value > document[slot]):  # type: ignore[operator]
                document[slot] = value
    return [Found(doc, cid, score, *best[doc], concepts=facts[cid].concepts)  # type: ignore[arg-type, misc]
            for doc, score, cid in group_by(kept, key=lambda cid: facts[cid].document_id)]


def with_multilingual(session: Session, indexes: SearchIndexes, text: str, found: list[Found], first: int,
                      filters: SearchFilters) -> list[Found]:
    """``found`` with the multilingual similarity of its first ``first`` documents filled in.

    What the relevance bar needs for a question the English model cannot judge (one in another
    language), measured as on the cross-lingual path: the best similarity of a document's passages
    in the multilingual index (public passages passing ``filters``), else, for a document it does
    not hold (internal), of its best passage encoded now (at most ``first`` passages). Unchanged
    when the multilingual index is switched off (``KB_PUBLIC_MULTILINGUAL=false``).
    """
    wanted = {f.document_id for f in found[:first] if f.multilingual is None}
    if not wanted or indexes.multilingual is None:
        return found
    vector = indexes.multilingual_embedder.encode([text])[0]
    ranked = indexes.multilingual.search(vector, filters, CANDIDATES)
    facts = documents.published_chunk_facts(session, [cid for cid, _ in ranked])
    best: dict[int, float] = {}
    for cid, score in ranked:
        document = facts[cid].document_id if cid in facts else None
        if document in wanted and score > best.get(document, -1.0):
            best[document] = score
    unheld = [f.chunk_id for f in found[:first] if f.document_id in wanted and f.document_id not in best]
    if unheld:
        chunks = documents.chunks_by_id(session, unheld)
        texts = {cid: "\n".join([" > ".join(json.loads(chunks[cid].heading_path)), chunks[cid].text]).strip()
                 for cid in unheld if cid in chunks}
        encoded = dict(zip(texts, indexes.multilingual_embedder.encode(list(texts.values())))) if texts else {}
        similarity = _cosines(vector, encoded)
        best.update({f.document_id: similarity[f.chunk_id] for f in found[:first] if f.chunk_id in similarity})
    return [replace(f, multilingual=best.get(f.document_id))
            if position < first and f.multilingual is None else f for position, f in enumerate(found)]
