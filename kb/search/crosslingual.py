"""Fusion for the cross-lingual path: each ranking counts only for the items it could have found.

``zscore_fusion`` treats an item missing from a ranking as ranked last there. That is right when
every ranking looked at every item, and wrong across languages: the keyword index read with the
Dutch analyser only searches Dutch pages, so an English page's absence from it says nothing about
the English page. Here each ranking comes with a predicate ``possible(item)``; an item's fused score
is the weighted mean of its z-scores over the rankings that contain it or could have contained it
(absent but possible: that ranking's lowest z-score, as in ``zscore_fusion``).

Also the path's other pure parts (issue 18): the relative similarity floor, rankings taken in turn,
and the words of a query that survive translation (numbers and names).

Pure: ranked lists in, a ranked list out (STYLE 9); checked by hand in tests/test_crosslingual.py.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Hashable, Sequence

from kb.search.hybrid import RRF_K, zscores
from kb.search.language import main_script, script

Ranking = Sequence[tuple[Hashable, float]]


def fuse_where_possible(
    rankings: Sequence[Ranking], possible: Sequence[Callable[[Hashable], bool]],
    weights: Sequence[float] | None = None, method: str = "zscore", k: int = RRF_K,
) -> list[tuple[Hashable, float]]:
    """Fuse rankings; ranking i speaks about an item only if it holds it or ``possible[i](item)``.

    zscore: score(d) = Σ w_i·z_i(d) / Σ w_i over the rankings that speak about d.
    rrf:    score(d) = Σ w_i/(k + rank_i(d)) over the rankings holding d, / Σ w_i over those that speak.
    Ties keep first-seen order.
    """
    if len(possible) != len(rankings):
        raise ValueError("Bug: one 'possible' predicate per ranking")
    weights = list(weights or [1.0] * len(rankings))
    if method == "rrf":
        parts = [({item: 1.0 / (k + rank) for rank, (item, _) in enumerate(r, start=1)}, 0.0) for r in rankings]
    else:
        parts = [zscores(r) for r in rankings]
    fused: dict[Hashable, float] = {}
    for item in (item for ranking in rankings for item, _ in ranking):
        if item in fused:
            continue
        total = weight_sum = 0.0
        for (values, floor), can, weight in zip(parts, possible, weights):
            if item in values:
                total += weight * values[item]
            elif can(item):
                total += weight * floor
            else:
                continue
            weight_sum += weight
        fused[item] = total / weight_sum if weight_sum else 0.0
    return sorted(fused.items(), key=lambda pair: -pair[1])


def relative_floor(ranking: Ranking, ratio: float) -> list[tuple[Hashable, float]]:
    """The items of a similarity ranking (best first) scoring at least ``ratio`` × the best score.

    Issue 18: an absolute cosine floor tuned on one collection dropped right answers on another (an
    Arabic question's right page in the encoder's top 10 at 0.13, under a 0.15 floor), and left
    some questions with no result at all. Relative to the query's best, the floor keeps the pages
    about as similar as the best one, whatever the collection and language. A best score at or
    below zero is no similarity at all: nothing is kept. Whether any hit answers is not decided
    here but by the relevance bar (``kb.search.relevance``).
    """
    if not ranking or ranking[0][1] <= 0:
        return []
    bar = ratio * ranking[0][1]
    return [(item, score) for item, score in ranking if score >= bar]


def in_turn(rankings: Sequence[Ranking]) -> list[tuple[Hashable, float]]:
    """Rankings one after the other: every item of the first, then the items of the next not given yet, and so on.

    score(d) = 1 / position(d) in the result (1, 1/2, 1/3…). A later ranking only fills the places
    after the earlier ones' items: it never moves its items above theirs.
    """
    seen: dict[Hashable, None] = {}
    for ranking in rankings:
        for item, _score in ranking:
            seen.setdefault(item, None)
    return [(item, 1.0 / position) for position, item in enumerate(seen, start=1)]


_WORD = re.compile(r"\w+")
MAX_SURVIVING_TERMS = 16


def script_runs(word: str) -> list[str]:
    """A word split where it changes between digits, Latin letters, Chinese characters and other characters.

    ("1945年" → "1945", "年"; "adobe开发了" → "adobe", "开发了"). A combining mark stays in its
    letter's run.
    """
    runs: list[str] = []
    kind = None
    for character in word:
        if unicodedata.category(character).startswith("M") and runs:
            runs[-1] += character
            continue
        now = ("digit" if character.isdecimal() else "latin" if (name := script(character)) == "LATIN"
               else "cjk" if name == "CJK" else "other")
        if now != kind:
            runs.append("")
            kind = now
        runs[-1] += character
    return runs


def surviving_terms(text: str) -> list[str]:
    """The words of a query that survive translation into another language: numbers and names.

    Numbers in any digits, written in ASCII digits ("٢٠١٩" → "2019"); in a query not written in
    Latin script, every Latin-script word (names and terms kept as written: "DNA", "Kyrgyzstan"); in
    a Latin-script query, the words other than the first that begin with a capital, and acronyms
    (two capitals or more). Distinct, in order, at most ``MAX_SURVIVING_TERMS``. Issue 18: a
    question in another language about an English page shares its names and numbers, not its words.
    """
    latin_query = main_script(text) == "LATIN"
    found: dict[str, None] = {}
    for position, match in enumerate(_WORD.finditer(text)):
        for run in script_runs(match.group()):
            if run.isdecimal():
                found.setdefault("".join(str(unicodedata.decimal(ch)) for ch in run), None)
            elif script(run[0]) == "LATIN":
                capitals = sum(ch.isupper() for ch in run)
                if not latin_query or capitals >= 2 or (position > 0 and run[0].isupper()):
                    found.setdefault(run, None)
    return list(found)[:MAX_SURVIVING_TERMS]
