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
"""At most this many sentences per passage; a passage with more (a long Chinese section, which the
chunker's word count does not cut) has its sentences grouped evenly into ``SLOTS`` pieces."""

SPLIT_VERSION = 1
"""Bump when ``split`` would cut any text differently: sentence vectors are kept by (passage, position),
so an index slot split another way empties its sentence index and fills it again (kb.search.indexer)."""

# Where a sentence may end: after . ! ? … before white space; right after a CJK stop; at a paragraph break.
_CANDIDATE = re.compile(r"(?<=[.!?…])\s+|(?<=[。！？．｡])\s*|\n\s*\n")
# Words a stop often follows without ending the sentence ("Dr. Smith", "z. B. drei", "No. 5").
ABBREVIATIONS = frozenset({"dr", "mr", "mrs", "ms", "prof", "st", "sr", "jr", "no", "nr", "vs", "etc", "eg", "ie",
                           "cf", "fig", "art", "bzw", "ca", "zb", "usw", "mme", "mlle", "sra", "sr", "dhr", "mevr"})
MIN_CHARACTERS = 12
"""Shorter pieces ("Yes.", "Fig. 2.") join a neighbour: alone they match anything. In Chinese and
Japanese, where a character is about a word, the bar is ``MIN_CJK_CHARACTERS``."""
MIN_CJK_CHARACTERS = 4


def _short(piece: str) -> bool:
    cjk = any("\u3040" <= ch <= "\u30ff" or "\u3400" <= ch <= "\u9fff" for ch in piece)
    return len(piece) < (MIN_CJK_CHARACTERS if cjk else MIN_CHARACTERS)


def _ends_here(text: str, match: re.Match) -> bool:
    """Whether the candidate ``match`` really ends a sentence (paragraph breaks and CJK stops always do)."""
    if "\n\n" in match.group().replace(" ", "").replace("\t", "") or text[match.start() - 1] not in ".!?…":
        return True
    following = text[match.end():match.end() + 1]
    if following and (following.islower() or following.isdecimal()):  # "e.g. the", "3. April", Unicode case
        return False
    word = re.search(r"(\w+)\W*$", text[:match.start()])
    if word and text[match.start() - 1] == ".":
        last = word.group(1).casefold()
        # an abbreviation, a single letter ("U.S.", "z. B."), or initials
        if last in ABBREVIATIONS or len(last) == 1:
            return False
    return True


def split(text: str) -> list[str]:
    """The sentences of ``text`` in order: at most ``SLOTS``, and a piece too short to stand alone joined to a neighbour."""
    pieces, start = [], 0
    for match in _CANDIDATE.finditer(text):
        if match.start() > start and _ends_here(text, match):
            pieces.append(text[start:match.start()])
            start = match.end()
    pieces.append(text[start:])
    merged: list[str] = []
    for piece in (p.strip() for p in pieces):
        if not piece:
            continue
        if merged and (_short(piece) or _short(merged[-1])):
            merged[-1] = f"{merged[-1]} {piece}"
        else:
            merged.append(piece)
    if len(merged) <= SLOTS:
        return merged
    size, extra = divmod(len(merged), SLOTS)  # the first ``extra`` groups take one sentence more
    groups, at = [], 0
    for group in range(SLOTS):
        width = size + (1 if group < extra else 0)
        groups.append(" ".join(merged[at:at + width]))
        at += width
    return groups


def sentence_id(chunk_id: int, position: int) -> int:
    if not 0 <= position < SLOTS:
        raise ValueError(f"Bug: sentence position {position} outside 0..{SLOTS - 1}")
    if not 0 <= chunk_id < 2 ** 63 // SLOTS:
        raise ValueError(f"Bug: chunk id {chunk_id} too large for a sentence id")
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
