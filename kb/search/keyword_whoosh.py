"""Keyword index on whoosh (pure Python, BM25F): the dependency-light option.

Same contract as the tantivy engine: per-language stemmed fields, query text analysed into term
queries (never given to whoosh's ``QueryParser``, whose FieldsPlugin would let ``state:draft``
reach any field: RELIABILITY T1), filters passed as ``filter=`` so they apply before top-k.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from pathlib import Path

from kb.search.analysis import MAX_QUERY_TOKENS
from kb.validity import index_bounds
from kb.search.interfaces import (
    FALLBACK_LANGUAGE, FIELD_LANGUAGES, MAX_EXPANSION_TERMS, TAG_WEIGHT, TEXT_FIELD_WEIGHTS, Expansion, IndexedChunk,
    Ranked, SearchFilters, counted_terms, field_language, keyword_fields,
)



class WhooshKeywordIndex:
    name = "whoosh"

    def __init__(self, path: Path) -> None:
        from whoosh import index
        from whoosh.analysis import LanguageAnalyzer, StandardAnalyzer
        from whoosh.fields import ID, KEYWORD, NUMERIC, STORED, TEXT, Schema

        self._analyzers = {lang: LanguageAnalyzer(lang) for lang in FIELD_LANGUAGES}
        self._analyzers[FALLBACK_LANGUAGE] = StandardAnalyzer(stoplist=None)
        fields = {
            "chunk_id": NUMERIC(stored=True, unique=True, bits=64), "document_id": NUMERIC(bits=64),
            "space_id": NUMERIC(bits=64), "valid_from_day": NUMERIC(bits=64), "valid_until_day": NUMERIC(bits=64),
            "audience": ID, "language": ID, "tag": KEYWORD(lowercase=True, commas=True, scorable=True),
            "concept": KEYWORD(commas=True, scorable=True),
            "facts": STORED,
        }
        for lang, analyzer in self._analyzers.items():
            for field in TEXT_FIELD_WEIGHTS:
                fields[f"{field}_{lang}"] = TEXT(analyzer=analyzer)
        schema = Schema(**fields)
        path.mkdir(parents=True, exist_ok=True)
        self.index = index.open_dir(str(path)) if index.exists_in(str(path)) else index.create_in(str(path), schema)
        self._pending: list[tuple[str, object]] = []
        self._lock = threading.Lock()

    def upsert(self, chunks: Sequence[IndexedChunk]) -> None:
        with self._lock:
            self._pending.extend(("upsert", chunk) for chunk in chunks)

    def delete_documents(self, document_ids: Iterable[int]) -> None:
        with self._lock:
            self._pending.extend(("delete", int(i)) for i in document_ids)

    def clear(self) -> None:
        with self._lock:
            self._pending = [("clear", None)]

    def commit(self) -> None:
        from whoosh.query import Every

        with self._lock:
            pending, self._pending = self._pending, []
        if not pending:
            return
        # whoosh's writer does not see its own uncommitted additions: keep only the last word on each
        # chunk (an upsert followed by a later upsert or a delete of its document is dropped), apply
        # deletions to the committed index first, then add.
        survivors: list[IndexedChunk] = []
        seen_chunks: set[int] = set()
        deleted_documents: set[int] = set()
        cleared = False
        for op, item in reversed(pending):
            if op == "upsert" and not cleared:
                chunk = item  # type: ignore[assignment]
                if chunk.chunk_id not in seen_chunks and chunk.document_id not in deleted_documents:
                    survivors.append(chunk)
                seen_chunks.add(chunk.chunk_id)
            elif op == "delete":
                deleted_documents.add(item)  # type: ignore[arg-type]
            elif op == "clear":
                cleared = True
        writer = self.index.writer()
        try:
            if cleared:
                writer.delete_by_query(Every())
            for document_id in sorted(deleted_documents):
                writer.delete_by_term("document_id", document_id)
            for chunk in reversed(survivors):
                lang = field_language(chunk.language)
                writer.update_document(**{
                    "chunk_id": chunk.chunk_id, "document_id": chunk.document_id, "space_id": chunk.space_id,
                    "valid_from_day": chunk.valid_from_day, "valid_until_day": chunk.valid_until_day,
                    "audience": chunk.audience, "language": chunk.language, "tag": ",".join(chunk.tags),
                    "concept": ",".join(map(str, chunk.concepts)), "facts": chunk.facts,
                    **{f"{field}_{lang}": text for field, text in keyword_fields(chunk).items()},
                })
            writer.commit()
        except BaseException:
            writer.cancel()
            raise

    def _filter(self, filters: SearchFilters):  # noqa: ANN202
        from whoosh.query import And, NumericRange, Or, Term

        latest_start, earliest_end = index_bounds(filters.on_day)
        clauses = [NumericRange("valid_from_day", None, latest_start),
                   NumericRange("valid_until_day", earliest_end, None)]
        if not filters.include_internal:
            clauses.append(Term("audience", "public"))
        if filters.spaces is not None:
            clauses.append(Or([Term("space_id", s) for s in sorted(filters.spaces)]))
        if filters.languages is not None:
            clauses.append(Or([Term("language", lang) for lang in sorted(filters.languages)]))
        if filters.tags is not None:
            clauses.append(Or([Term("tag", tag) for tag in sorted(filters.tags)]))
        for group in filters.concepts or ():
            clauses.append(Or([Term("concept", str(c)) for c in sorted(group)]))
        return And(clauses)

    def _text_query(self, searcher, text: str, language: str | None, expansion: Sequence[Expansion] = (),  # noqa: ANN001, ANN202
                    concepts: frozenset[int] = frozenset()):
        from whoosh.query import Or, Term

        langs = [field_language(language)] if language else [*FIELD_LANGUAGES, FALLBACK_LANGUAGE]
        terms = []
        for lang in langs:
            body = f"body_{lang}"
            for token, count in counted_terms((t.text for t in self._analyzers[lang](text)), MAX_QUERY_TOKENS,
                                              lambda term: searcher.doc_frequency(body, term), searcher.doc_count()):
                terms += [Term(f"{field}_{lang}", token, boost=boost * count) for field, boost in TEXT_FIELD_WEIGHTS.items()]
        for token, _count in counted_terms((t.text for t in self._analyzers[FALLBACK_LANGUAGE](text)), MAX_QUERY_TOKENS):
            terms.append(Term("tag", token, boost=TAG_WEIGHT))
        terms += [Term("concept", str(c), boost=TAG_WEIGHT) for c in sorted(concepts)[:MAX_QUERY_TOKENS]]
        if not terms:
            return None
        for lang, term, weight in expansion[:MAX_EXPANSION_TERMS]:
            terms += [Term(f"{field}_{field_language(lang)}", term, boost=boost * weight)
                      for field, boost in TEXT_FIELD_WEIGHTS.items()]
        return Or(terms)

    def search(self, text: str, filters: SearchFilters, limit: int, language: str | None = None,
               expansion: Sequence[Expansion] = ()) -> Ranked:
        with self.index.searcher() as searcher:
            query = self._text_query(searcher, text, language, expansion, filters.boost_concepts)
            if query is None:
                return []
            results = searcher.search(query, limit=limit, filter=self._filter(filters))
            return [(int(hit["chunk_id"]), float(hit.score)) for hit in results]

    def terms(self, text: str, language: str) -> list[str]:
        return [token.text for token in self._analyzers[field_language(language)](text)]

    def term_statistics(self, language: str, terms: Iterable[str]) -> tuple[int, dict[str, int]]:
        field = f"body_{field_language(language)}"
        with self.index.searcher() as searcher:
            return searcher.doc_count(), {term: searcher.doc_frequency(field, term) for term in set(terms)}

    def chunk_ids(self) -> set[int]:
        with self.index.searcher() as searcher:
            return {int(fields["chunk_id"]) for fields in searcher.all_stored_fields()}

    def chunk_facts(self) -> dict[int, str]:
        with self.index.searcher() as searcher:
            return {int(fields["chunk_id"]): str(fields.get("facts", "")) for fields in searcher.all_stored_fields()}
