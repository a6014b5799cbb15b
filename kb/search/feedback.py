"""Relevance feedback from the first hybrid ranking: pure functions, no I/O (STYLE 9).

Hybrid search asks twice. The passages that the first fused ranking puts on top are taken as
relevant (pseudo-relevance feedback), and both rankings are asked again with what they share:

- the keyword query gains the passages' most distinctive terms (Rocchio/RM3-style expansion:
  Σ over the passages of tf / length · idf, the best ``count`` terms, weighted at most ``weight``
  of an original query term);
- the query vector moves towards the best passage's vector (Rocchio, α = β = 1), and the
  candidates both first rankings and the expanded keyword search found are scored again against it;
- the two new rankings are fused, the expanded keyword one weighing 0.4.

Since issue 18 the feedback comes from the best 2 passages (KB_SEARCH_FEEDBACK_PASSAGES), the
vector from the best one: with 10 and 3, feedback helped Cranfield (+0.013) and cost SciFact
(−0.025), whose questions have about one relevant abstract each; with 2 and 1 it helps both.

Seeding both from the *fused* ranking is what helps: each retriever learns from passages the
other one found (docs/benchmarks.md lists what was measured).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence

import numpy as np

FEEDBACK_TERMS = 10  # RM3's usual fbTerms
TERM_WEIGHT = 0.5  # an expansion term weighs at most half an original query term (RM3's usual λ)
DENSE_PASSAGES = 1  # the query vector moves towards the best passage (3: SciFact −0.018, Cranfield −0.010)
DENSE_BETA = 1.0
# The second fusion weighs the expanded keyword ranking 0.4 and the moved vector's 0.6: the expanded
# query carries ten words nobody typed. Measured on SciFact and Cranfield together, each better with
# it than with 0.5 (docs/benchmarks.md, "Search that generalises").
EXPANDED_KEYWORD_WEIGHT = 0.4


def expansion_terms(
    passages: Sequence[Sequence[str]], document_frequency: Mapping[str, int], total: int, *,
    count: int = FEEDBACK_TERMS, weight: float = TERM_WEIGHT,
) -> list[tuple[str, float]]:
    """The ``count`` terms of the feedback passages (analysed tokens) that best characterise them.

    A term scores Σ_p tf(t, p) / |p| · idf(t), idf = ln(1 + (N - df + 0.5) / (df + 0.5)) (BM25's);
    weights are scaled so the best term gets ``weight``. The query's own terms may come back: as in
    RM3, the feedback then weighs them up. Ties break alphabetically (no dependence on hash order).
    """
    scores: Counter[str] = Counter()
    for tokens in passages:
        if not tokens:
            continue
        length = len(tokens)
        for term, tf in Counter(tokens).items():
            df = document_frequency.get(term, 0)
            scores[term] += tf / length * math.log(1 + (total - df + 0.5) / (df + 0.5))
    best = sorted(scores.items(), key=lambda pair: (-pair[1], pair[0]))[:count]
    if not best or best[0][1] <= 0:
        return []
    top = best[0][1]
    return [(term, weight * score / top) for term, score in best if score > 0]


def rocchio(query: np.ndarray, feedback: np.ndarray, beta: float = DENSE_BETA) -> np.ndarray:
    """``query + beta · mean(feedback)``, L2-normalised; the query itself when there is no feedback."""
    if len(feedback) == 0:
        return query
    moved = query + beta * feedback.mean(axis=0)
    norm = float(np.linalg.norm(moved))
    return (moved / norm).astype(np.float32) if norm > 0 else query


def rescore(vector: np.ndarray, candidates: dict[int, np.ndarray], floor: float) -> list[tuple[int, float]]:
    """Candidates ranked by inner product with ``vector``, best first, those not above ``floor`` left out."""
    if not candidates:
        return []
    ids = list(candidates)
    scores = np.stack([candidates[i] for i in ids]) @ vector
    order = np.argsort(-scores, kind="stable")
    return [(ids[i], float(scores[i])) for i in order if scores[i] > floor]
