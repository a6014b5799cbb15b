"""Pure ranking functions: reciprocal-rank and z-score fusion, and grouping passages into documents.

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


def zscores(ranking: Sequence[tuple[Hashable, float]]) -> tuple[dict[Hashable, float], float]:
    """A ranking's scores standardised (mean 0, population s.d. 1), and the lowest of them (0.0 when empty)."""
    scores = [score for _, score in ranking]
    if not scores:
        return {}, 0.0
    mean = sum(scores) / len(scores)
    spread = (sum((s - mean) ** 2 for s in scores) / len(scores)) ** 0.5 or 1.0
    z = {item: (score - mean) / spread for item, score in ranking}
    return z, min(z.values())


def zscore_fusion(
    rankings: Sequence[Sequence[tuple[Hashable, float]]], weights: Sequence[float] | None = None,
) -> list[tuple[Hashable, float]]:
    """Convex fusion of z-normalised scores: score(d) = Σ_i w_i · z_i(d), with weights summing to 1.

    Each list's scores are standardised (mean 0, population s.d. 1); an item missing from a list gets
    that list's lowest z-score, as if it ranked last. Unlike RRF it keeps how far apart scores are.
    """
    weights = weights or [1.0 / len(rankings)] * len(rankings)
    parts = [zscores(ranking) for ranking in rankings]
    fused: dict[Hashable, float] = {}
    for item in (item for ranking in rankings for item, _ in ranking):
        if item not in fused:
            fused[item] = sum(w * z.get(item, floor) for w, (z, floor) in zip(weights, parts))
    return sorted(fused.items(), key=lambda pair: -pair[1])


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
