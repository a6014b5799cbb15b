"""Language-aware tokenising for queries and highlights: lowercase words, stop words out, Snowball stems.

Pure Python (whoosh's Snowball stemmers), so highlights agree with either keyword engine.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from functools import lru_cache

WORD = re.compile(r"\w+", re.UNICODE)
SUPPORTED = {"en": "english", "nl": "dutch", "de": "german", "fr": "french", "es": "spanish"}
MAX_QUERY_TOKENS = 64


@lru_cache(maxsize=16)
def stop_words(language: str | None) -> frozenset[str]:
    """The stop words whoosh ships for ``language`` (NLTK's lists; empty when there is none).

    One list per language for everything that analyses text: both keyword engines' analysers, query
    analysis and the highlighter, so they agree on which words carry no meaning.
    """
    from whoosh.lang import has_stopwords, stopwords_for_language

    lang = normalise_language(language)
    return frozenset(stopwords_for_language(lang)) if lang and has_stopwords(lang) else frozenset()


def normalise_language(language: str | None) -> str | None:
    if not language:
        return None
    base = language.lower().split("-")[0]
    return base if base in SUPPORTED else None


@lru_cache(maxsize=8)
def _stemmer(language: str):  # noqa: ANN202
    from whoosh.lang import stemmer_for_language

    # Snowball in pure Python is slow per word; vocabularies are small, so remember every stem.
    return lru_cache(maxsize=200_000)(stemmer_for_language(language))


def fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def tokens(text: str, language: str | None) -> list[str]:
    """Stems of the words in ``text`` for ``language`` (unsupported languages: folded words)."""
    lang = normalise_language(language)
    stop = stop_words(lang)
    words = [w for w in WORD.findall(fold(text)) if w not in stop]
    if lang is None:
        return words
    stem = _stemmer(lang)
    return [stem(w) for w in words]


def query_tokens(text: str, language: str | None) -> list[str]:
    """Distinct tokens of a query, in order, capped (a long query cannot become a huge boolean query)."""
    seen: dict[str, None] = {}
    for token in tokens(text, language):
        seen.setdefault(token, None)
    return list(seen)[:MAX_QUERY_TOKENS]


@lru_cache(maxsize=100_000)
def _forms(word: str, language: str | None) -> tuple[str, str]:
    """A word as it appears folded, and its stem (the folded word where there is no stemmer)."""
    folded = fold(word)
    return folded, _stemmer(language)(folded) if language else folded


@lru_cache(maxsize=256)
def _highlighted(query: str, language: str | None) -> frozenset[str]:
    """What a word must fold or stem to, to be highlighted for ``query`` (a page of hits asks once per hit).

    The query's stems, and its words as typed (a stemmer may miss a name), both without the
    analyser's stop words for ``language``: "the", "to", "of" are never highlighted (issue 17).
    """
    stop = stop_words(normalise_language(language))
    return frozenset(query_tokens(query, language)) | frozenset(w for w in query_tokens(query, None) if w not in stop)


def iter_matches(passage: str, query: str, language: str | None) -> Iterator[tuple[int, int, str]]:
    """(start, end, the query term it matched) of each word in ``passage`` that matches a query term, in order."""
    wanted = _highlighted(query, language)
    if not wanted:
        return
    lang = normalise_language(language)
    for match in WORD.finditer(passage):
        folded, stem = _forms(match.group(), lang)
        if stem in wanted:
            yield match.start(), match.end(), stem
        elif folded in wanted:
            yield match.start(), match.end(), folded


def iter_highlights(passage: str, query: str, language: str | None) -> Iterator[tuple[int, int]]:
    """Character ranges in ``passage`` of words whose stem matches a query stem, in order, found lazily."""
    return ((start, end) for start, end, _term in iter_matches(passage, query, language))


def highlight_spans(passage: str, query: str, language: str | None) -> list[tuple[int, int]]:
    """Character ranges in ``passage`` of words whose stem matches a query stem."""
    return list(iter_highlights(passage, query, language))
