"""Pure ranking functions, checked against hand-computed numbers (STYLE 9)."""

from __future__ import annotations

import pytest

from kb.search.analysis import highlight_spans, query_tokens, tokens
from kb.search.hybrid import group_by, reciprocal_rank_fusion


def test_rrf_matches_hand_computation() -> None:
    keyword = [("a", 9.0), ("b", 5.0), ("c", 1.0)]
    semantic = [("c", 0.9), ("a", 0.8)]
    fused = dict(reciprocal_rank_fusion([keyword, semantic], k=60))
    assert fused["a"] == pytest.approx(1 / 61 + 1 / 62)
    assert fused["c"] == pytest.approx(1 / 63 + 1 / 61)
    assert fused["b"] == pytest.approx(1 / 62)
    assert [item for item, _ in reciprocal_rank_fusion([keyword, semantic])] == ["a", "c", "b"]


def test_rrf_weights() -> None:
    fused = dict(reciprocal_rank_fusion([[("a", 1.0)], [("b", 1.0)]], k=60, weights=[2.0, 1.0]))
    assert fused == pytest.approx({"a": 2 / 61, "b": 1 / 61})


def test_group_by_keeps_best_passage_per_document() -> None:
    ranked = [(1, 0.9), (2, 0.8), (3, 0.7), (4, 0.1)]
    document_of = {1: "x", 2: "y", 3: "x", 4: "z"}
    assert group_by(ranked, document_of.__getitem__) == [("x", 0.9, 1), ("y", 0.8, 2), ("z", 0.1, 4)]


def test_tokens_stem_per_language_and_drop_stop_words() -> None:
    assert tokens("The children's benefits", "en") == ["children", "s", "benefit"]
    assert tokens("De kinderen krijgen", "nl") == ["kinder", "krijg"]
    assert query_tokens("a " * 500 + " ".join(f"w{i}" for i in range(100)), "en")[-1] == "w63"


def test_highlights_match_stems() -> None:
    passage = "Benefits are paid to parents; a benefit claim needs form CB-1."
    spans = highlight_spans(passage, "benefit claims", "en")
    assert [passage[a:b] for a, b in spans] == ["Benefits", "benefit", "claim"]
