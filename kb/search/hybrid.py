"""Pure ranking functions: reciprocal-rank fusion and grouping passages into documents.

No I/O; ranked lists in, ranked lists out (STYLE 9), checked against hand-computed numbers in
tests/test_search_ranking.py.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence

RRF_K = 60


def reciprocal_rank_fusion(
    rankings: Sequence[Sequence[tuple[Hashable, float]]], k: int = RRF_K, weights: Sequence[float] | None = None,
) -> list[tuple[Hashable, float]]:
    """Fuse ranked lists: score(d) = Σ_i w_i / (k + rank_i(d)), ranks from 1. Ties keep first-seen order."""
    weights = weights or [1.0] * len(rankings)
    scores: dict[Hashable, float] = {}
    for ranking, weight in zip(rankings, weights):
        for rank, (item, _score) in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + weight / (k + rank)
    return sorted(scores.items(), key=lambda pair: -pair[1])


def group_by(
    ranked: Sequence[tuple[Hashable, float]], key: Callable[[Hashable], Hashable],
) -> list[tuple[Hashable, float, Hashable]]:
    """Group ranked passages by ``key`` (their document): (group, best score, best passage), best first."""
    best: dict[Hashable, tuple[float, Hashable]] = {}
    for item, score in ranked:
        group = key(item)
        if group not in best:
            best[group] = (score, item)
    return [(group, score, item) for group, (score, item) in best.items()]
