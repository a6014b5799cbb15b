"""The search layer's contracts: what is indexed, how results are filtered, and the index protocols.

``SearchFilters`` defaults to the public-safe view (approved is implied by what is indexed; public
audience; valid today). Widening to internal content takes the explicit ``include_internal=True``;
there is no bypass flag. Implementations must apply filters *inside* the engine, before top-k.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from kb.validity import NO_END, NO_START, day_number, today, valid_on_day

__all__ = ["NO_END", "NO_START", "day_number"]  # re-exported for the indexer


def embedding_text(heading_path: Sequence[str], text: str) -> str:
    """What an embedder reads of a passage: its heading path for context, then its text."""
    headings = " > ".join(heading_path)
    return f"{headings}\n{text}" if headings else text


@dataclass(frozen=True)
class IndexedChunk:
    """One passage of an approved version, with the fields search filters on."""

    chunk_id: int
    document_id: int
    version_id: int
    space_id: int
    title: str
    heading_path: tuple[str, ...]
    text: str
    tags: tuple[str, ...]
    language: str
    audience: str
    valid_from_day: int = NO_START
    valid_until_day: int = NO_END
    concepts: tuple[int, ...] = ()
    """The concept ids its version stores (applies to, topic, region; issue 20), as stored: a merge or a
    new broader concept changes how they are read (``kb.taxonomy``), never what is indexed."""

    @property
    def facts(self) -> str:
        """The fields filters read, as one string: ``kb index check`` compares it with the database's.
        (Concepts are added only when there are some: a slot indexed before issue 20 stays current.)"""
        base = (f"{self.document_id}|{self.version_id}|{self.space_id}|{self.audience}|{self.language}|"
                f"{','.join(sorted(self.tags))}|{self.valid_from_day}|{self.valid_until_day}")
        return f"{base}|{','.join(map(str, sorted(self.concepts)))}" if self.concepts else base

    @property
    def embedding_text(self) -> str:
        """What the embedder reads: the heading path gives a passage its context."""
        return embedding_text(self.heading_path, self.text)


@dataclass(frozen=True)
class SearchFilters:
    """Which chunks a query may see. The defaults are the citizen's view."""

    include_internal: bool = False
    spaces: frozenset[int] | None = None
    languages: frozenset[str] | None = None
    tags: frozenset[str] | None = None
    concepts: tuple[frozenset[int], ...] | None = None
    """Selected facets: a chunk passes when its stored concept ids meet every group (one group per
    scheme, each the stored ids read as carrying a selected concept: ``kb.taxonomy.Vocabulary.covering``)."""
    on_day: int = field(default_factory=lambda: today().toordinal())
    boost_concepts: frozenset[int] = field(default=frozenset(), compare=False)
    """Not a filter: stored concept ids whose label the query says ("renter" → *tenant*). The keyword
    engines score a chunk carrying one as a tag match. Left out of equality and hashing, so caches of
    what filters admit are shared."""

    def admits(self, chunk: IndexedChunk) -> bool:
        """The same rule the engines apply, in plain Python (used by fakes and checks)."""
        return ((self.include_internal or chunk.audience == "public")
                and (self.spaces is None or chunk.space_id in self.spaces)
                and (self.languages is None or chunk.language in self.languages)
                and (self.tags is None or bool(self.tags & set(chunk.tags)))
                and concepts_meet(self.concepts, chunk.concepts)
                and valid_on_day(chunk.valid_from_day, chunk.valid_until_day, self.on_day))


def concepts_meet(groups: tuple[frozenset[int], ...] | None, stored: Iterable[int]) -> bool:
    """Whether stored concept ids meet every selected group (no selection: always)."""
    if not groups:
        return groups is None or not groups
    held = set(stored)
    return all(group & held for group in groups)


# The field layout both keyword engines share: one set of text fields per stemming language.
FIELD_LANGUAGES = {"en": "english", "nl": "dutch", "de": "german", "fr": "french", "es": "spanish"}
FALLBACK_LANGUAGE = "xx"  # any other language: lowercased words, no stemming
# The body field holds the whole passage, its title and headings included, as plain BM25 reads a
# whole document; a query term also found in the title or headings fields adds a quarter of its
# score there. Equal weights over separate fields (before issue 18) counted a title word twice at
# full strength: SciFact keyword nDCG@10 0.660 against 0.696 now, Cranfield 0.386 against 0.384
# (docs/benchmarks.md).
TEXT_FIELD_WEIGHTS = {"title": 0.25, "headings": 0.25, "body": 1.0}
TAG_WEIGHT = 1.5


def keyword_fields(chunk: IndexedChunk) -> dict[str, str]:
    """What each text field of the keyword engines holds for ``chunk`` (field name without language)."""
    headings = " ".join(chunk.heading_path[1:])
    return {"title": chunk.title, "headings": headings,
            "body": "\n".join(part for part in (chunk.title, headings, chunk.text) if part)}


def counted_terms(tokens: Iterable[str], cap: int,
                  document_frequency: Callable[[str], int] | None = None, total: int = 0) -> list[tuple[str, int]]:
    """A query's distinct analysed terms in order, each with how often the query says it (BM25's query
    term frequency, as Lucene and bm25s count it), at most ``cap`` of them.

    A query with more distinct terms than ``cap`` (a pasted paragraph) keeps those that weigh most in
    BM25, count × idf with idf = ln(1 + (N − df + 0.5) / (df + 0.5)), when ``document_frequency``
    (df of a term among ``total`` passages) is given; else, and on ties, the first ones said. A term
    no passage holds (df 0) is never kept then: it would score nothing and, by its idf, push out
    terms that do (a pasted log line of unknown ids and one word that matters).
    """
    counts: dict[str, int] = {}
    for token in tokens:
        counts[token] = counts.get(token, 0) + 1
    terms = list(counts.items())
    if len(terms) <= cap or document_frequency is None:
        return terms[:cap]
    terms = [(term, count) for term, count in terms if document_frequency(term) > 0]
    if len(terms) <= cap:
        return terms

    def weight(position: int) -> tuple[float, int]:
        term, count = terms[position]
        df = document_frequency(term)
        return -count * math.log(1 + (total - df + 0.5) / (df + 0.5)), position

    kept = sorted(sorted(range(len(terms)), key=weight)[:cap])
    return [terms[position] for position in kept]


def field_language(language: str) -> str:
    """Which field set a document of ``language`` is indexed in."""
    base = language.lower().split("-")[0]
    return base if base in FIELD_LANGUAGES else FALLBACK_LANGUAGE


Ranked = list[tuple[int, float]]  # (chunk_id, score), best first
# A relevance-feedback term for the keyword query: (language of the fields, analysed term, weight).
Expansion = tuple[str, str, float]
MAX_EXPANSION_TERMS = 64


class KeywordIndex(Protocol):
    """BM25 over title, heading path, body and tags, with a stemming analyser per language.

    Contract: user text is never parsed as query syntax; ``search`` tokenises it with the
    analysers and builds term queries; filters are applied inside the engine before top-k.
    """

    name: str

    def upsert(self, chunks: Sequence[IndexedChunk]) -> None: ...
    def delete_documents(self, document_ids: Iterable[int]) -> None: ...
    def commit(self) -> None: ...
    def search(self, text: str, filters: SearchFilters, limit: int, language: str | None = None,
               expansion: Sequence[Expansion] = ()) -> Ranked:
        """Chunks best first. ``expansion`` adds analysed terms (from relevance feedback) with their weights."""
        ...
    def terms(self, text: str, language: str) -> list[str]:
        """``text`` as the fields of ``language`` index it: the tokens relevance feedback counts."""
        ...
    def term_statistics(self, language: str, terms: Iterable[str]) -> tuple[int, dict[str, int]]:
        """Chunks indexed, and each term's document frequency in the body field of ``language``."""
        ...
    def chunk_ids(self) -> set[int]: ...
    def chunk_facts(self) -> dict[int, str]:
        """Each indexed chunk's ``IndexedChunk.facts`` as stored: how drift checks find stale entries."""
        ...
    def clear(self) -> None: ...


class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors."""

    name: str
    dimension: int

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


class VectorIndex(Protocol):
    """Inner product over normalised vectors (cosine), ids are chunk ids, filters as a mask before top-k."""

    def upsert(self, chunks: Sequence[IndexedChunk], vectors: np.ndarray) -> None: ...
    def search(self, vector: np.ndarray, filters: SearchFilters, limit: int) -> Ranked: ...
    def vectors(self, chunk_ids: Iterable[int]) -> dict[int, np.ndarray]:
        """The stored vector of each chunk id the index holds (relevance feedback re-scores with them)."""
        ...
    def save(self, last_seq: int) -> None:
        """Write the index and the audit sequence it reflects so that a crash leaves the old or the new state whole."""
        ...
    def chunk_ids(self) -> set[int]: ...
    def chunk_facts(self) -> dict[int, str]: ...
    def clear(self) -> None: ...
