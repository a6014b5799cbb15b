"""The sentences of a public passage, for the multilingual encoder: splitting, ids, and mixing scores.

The multilingual Universal Sentence Encoder was trained on sentences and question–answer pairs; a
question in another language is closer to the one sentence of a page that answers it than to the
whole passage, whose vector averages every sentence. So each public passage is also indexed sentence
by sentence (``kb.search.indexer``'s multilingual sentence index), and the cross-lingual path ranks
a passage by a mix of its own similarity and its best sentence's (issue 18: on MLQA-R, hit@3 of the
encoder alone 0.677 → 0.747 for German questions, 0.597 → 0.690 for Chinese; docs/benchmarks.md).

A sentence's id in that index is ``chunk_id × SLOTS + position``: filters, deletions by document and
drift checks work as for passages, and ``chunk_of`` maps a hit back. Pure functions (STYLE 9).
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Sequence

SLOTS = 64
"""At most this many sentences per passage (a passage has at most 300 words); the rest joins the last."""

# A sentence ends at . ! ? … or their CJK forms, before white space (or right after a CJK stop);
# "e.g. this", "Dr. Smith" and "3.5" stay whole because the next word must not start in lower case
# or a digit after a Latin stop. A paragraph break always ends one.
_END = re.compile(r"(?<=[.!?…])\s+(?=[^\s\da-z])|(?<=[。！？])\s*|\n\s*\n")
MIN_CHARACTERS = 12
"""Shorter pieces ("Yes.", "Fig. 2.") join the sentence before them: alone they match anything.
In Chinese and Japanese, where a character is about a word, the bar is ``MIN_CJK_CHARACTERS``."""
MIN_CJK_CHARACTERS = 4


def _short(piece: str) -> bool:
    cjk = any("\u3040" <= ch <= "\u30ff" or "\u3400" <= ch <= "\u9fff" for ch in piece)
    return len(piece) < (MIN_CJK_CHARACTERS if cjk else MIN_CHARACTERS)


def split(text: str) -> list[str]:
    """The sentences of ``text`` in order, at most ``SLOTS``; a piece too short to stand alone joins the one before."""
    pieces = [piece.strip() for piece in _END.split(text) if piece and piece.strip()]
    merged: list[str] = []
    for piece in pieces:
        if merged and (_short(piece) or len(merged) == SLOTS):
            merged[-1] = f"{merged[-1]} {piece}"
        else:
            merged.append(piece)
    return merged


def sentence_id(chunk_id: int, position: int) -> int:
    if not 0 <= position < SLOTS:
        raise ValueError(f"Bug: sentence position {position} outside 0..{SLOTS - 1}")
    return chunk_id * SLOTS + position


def chunk_of(sid: int) -> int:
    return sid // SLOTS


def best_per_chunk(ranking: Sequence[tuple[int, float]]) -> list[tuple[int, float]]:
    """A ranking of sentences (best first) as a ranking of their passages, each scored by its best sentence."""
    best: dict[int, float] = {}
    for sid, score in ranking:
        best.setdefault(chunk_of(sid), score)
    return list(best.items())


def mix(passages: Sequence[tuple[Hashable, float]], sentences: Sequence[tuple[Hashable, float]],
        weight: float = 0.5) -> list[tuple[Hashable, float]]:
    """Passages ranked by (1 − weight) · their similarity + weight · their best sentence's, best first.

    Both are cosines of one encoder, so they mix as they are. A passage missing from one ranking takes
    that ranking's lowest score (it ranked below everything listed there), as in ``zscore_fusion``.
    Ties keep first-seen order.
    """
    whole, parts = dict(passages), dict(sentences)
    if not whole and not parts:
        return []
    whole_floor = min(whole.values(), default=0.0)
    parts_floor = min(parts.values(), default=0.0)
    mixed: dict[Hashable, float] = {}
    for item in (item for ranking in (passages, sentences) for item, _ in ranking):
        if item not in mixed:
            mixed[item] = (1 - weight) * whole.get(item, whole_floor) + weight * parts.get(item, parts_floor)
    return sorted(mixed.items(), key=lambda pair: -pair[1])
