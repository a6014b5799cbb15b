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
    assert tokens("The children's benefits", "en") == ["children", "benefit"]  # "the" and "s" are stop words
    assert tokens("De kinderen krijgen", "nl") == ["kinder", "krijg"]
    assert query_tokens("a " * 500 + " ".join(f"w{i}" for i in range(100)), "en")[-1] == "w63"


def test_highlights_match_stems() -> None:
    passage = "Benefits are paid to parents; a benefit claim needs form CB-1."
    spans = highlight_spans(passage, "benefit claims", "en")
    assert [passage[a:b] for a, b in spans] == ["Benefits", "benefit", "claim"]


def test_zscore_fusion_matches_hand_computation() -> None:
    from kb.search.hybrid import zscore_fusion

    keyword = [("x", 3.0), ("y", 1.0)]  # mean 2, s.d. 1: z = +1, -1
    semantic = [("y", 0.9), ("z", 0.5), ("x", 0.1)]  # mean 0.5, s.d. sqrt(0.32/3): z = +1.2247, 0, -1.2247
    fused = dict(zscore_fusion([keyword, semantic]))
    z = 0.4 / (0.32 / 3) ** 0.5
    assert fused["y"] == pytest.approx(0.5 * -1 + 0.5 * z)
    assert fused["x"] == pytest.approx(0.5 * 1 + 0.5 * -z)
    assert fused["z"] == pytest.approx(0.5 * -1 + 0.5 * 0)  # missing from keyword: that list's lowest z
    assert [item for item, _ in zscore_fusion([keyword, semantic])] == ["y", "x", "z"]
    assert zscore_fusion([[], [("a", 1.0)]]) == [("a", 0.0)]


def test_feedback_terms_match_hand_computation() -> None:
    import math

    from kb.search.feedback import expansion_terms

    passages = [["allow", "famili", "allow"], ["famili", "rent"]]
    df = {"allow": 1, "famili": 9, "rent": 3}  # of 10 chunks
    idf = {t: math.log(1 + (10 - n + 0.5) / (n + 0.5)) for t, n in df.items()}
    raw = {"allow": 2 / 3 * idf["allow"], "famili": (1 / 3 + 1 / 2) * idf["famili"], "rent": 1 / 2 * idf["rent"]}
    best = max(raw.values())
    terms = expansion_terms(passages, df, 10, count=2, weight=0.5)
    expected = sorted(raw, key=lambda t: -raw[t])[:2]
    assert [t for t, _ in terms] == expected
    assert [w for _, w in terms] == pytest.approx([0.5 * raw[t] / best for t in expected])
    assert expansion_terms([], df, 10) == [] and expansion_terms([[]], df, 10) == []


def test_rocchio_moves_the_query_towards_the_feedback_and_rescore_ranks_by_it() -> None:
    import numpy as np

    from kb.search.feedback import rescore, rocchio

    query = np.array([1.0, 0.0], dtype=np.float32)
    moved = rocchio(query, np.array([[0.0, 1.0], [0.0, 1.0]], dtype=np.float32), beta=1.0)
    assert moved == pytest.approx(np.array([2 ** -0.5, 2 ** -0.5]))
    assert rocchio(query, np.zeros((0, 2), dtype=np.float32)) is query
    candidates = {7: np.array([1.0, 0.0]), 8: np.array([0.0, 1.0]), 9: np.array([-1.0, 0.0])}
    ranked = rescore(np.array([0.6, 0.8]), candidates, floor=0.2)
    assert [cid for cid, _ in ranked] == [8, 7] and ranked[0][1] == pytest.approx(0.8)


def test_benchmark_scores_ndcg_as_trec_eval_does(monkeypatch) -> None:  # noqa: ANN001
    """bench/search_quality.py's nDCG@10 is trec_eval's (gain = grade), as BEIR reports it.

    Judged a=3, b=1, c=2; ranked b, x, a. DCG = 1/log2(2) + 3/log2(4) = 2.5; ideal DCG =
    3 + 2/log2(3) + 1/log2(4) = 4.7619; nDCG = 0.52500. A query with nothing retrieved scores 0.
    """
    import math
    from pathlib import Path

    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parent.parent / "bench"))
    from search_quality import evaluate, ndcg_exp_at

    qrels = {"q1": {"a": 3, "b": 1, "c": 2}, "q2": {"a": 1}}
    ndcg, recall = evaluate({"q1": ["b", "x", "a"], "q2": []}, qrels)
    expected = (1 + 3 / 2) / (3 + 2 / math.log2(3) + 1 / 2)
    assert ndcg == pytest.approx(expected / 2, abs=1e-9)
    assert recall == pytest.approx((2 / 3) / 2, abs=1e-9)
    # The exponential-gain variant weighs the top grade more: (1 + 7/2) / (7 + 3/log2(3) + 1/2).
    assert ndcg_exp_at(["b", "x", "a"], qrels["q1"]) == pytest.approx(4.5 / (7.5 + 3 / math.log2(3)), abs=1e-9)


WORDS = ["benefit", "benefits", "claim", "child", "children", "paid", "the", "form", "quarter", "CB-1", "kinderen", "é"]


@pytest.mark.parametrize("seed", range(40))
def test_a_snippet_highlights_what_the_whole_passage_would_and_holds_the_most_query_terms(seed: int) -> None:
    """The snippet's highlights equal those of the full scan (highlight_spans) that fall inside it, shifted
    to it; no other window of its length holds more distinct query terms (issue 17)."""
    import random

    from kb.search import analysis
    from kb.search.snippets import SNIPPET_CHARS, snippet

    rng = random.Random(seed)
    text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 200)))
    said = [w for w in text.split() if w.casefold() not in analysis.stop_words("en")]
    query = " ".join(rng.sample(WORDS, rng.randint(1, 3)) + [rng.choice(said)] * bool(said))  # one in the text when it can
    passage = snippet(text, [], query, "en")
    start = text.find(passage.text)
    assert start >= 0 and len(passage.text) <= SNIPPET_CHARS
    expected = [(a - start, b - start) for a, b in highlight_spans(text, query, "en")
                if a >= start and b <= start + len(passage.text)]
    assert passage.highlights == expected
    assert all(passage.text[a:b].casefold() != "the" for a, b in passage.highlights)
    matches = list(analysis.iter_matches(text, query, "en"))
    assert matches or not said  # the windows below are looked at
    shown = {term for a, b, term in matches if a >= start and b <= start + len(passage.text)}
    for first, _end, _term in matches:  # every window that opens at a match holds no more distinct terms
        other = {term for a, b, term in matches if a >= first and b <= first + SNIPPET_CHARS - 2 * len(max(WORDS, key=len))}
        assert len(other) <= len(shown)


def test_snippets_are_plain_text_without_stop_word_highlights() -> None:
    """Issue 17: `**twice a year**` was shown raw, and "the", "to", "of" were highlighted."""
    from kb.search.snippets import snippet

    body = ("An introduction that says little about anything in particular, " * 12 + "\n\n"
            "The allowance is paid **twice a year** to the parents of a [child](https://example.org/c).\n\n"
            "| when | amount |\n|---|---|\n| May | 100 |\n")
    passage = snippet(body, ["Child allowance"], "when is the allowance paid to parents of a child", "en")
    assert "**" not in passage.text and "](" not in passage.text and "|" not in passage.text
    assert "paid twice a year to the parents" in passage.text
    assert not passage.text.startswith("An introduction")
    marked = {passage.text[a:b].casefold() for a, b in passage.highlights}
    assert {"allowance", "paid", "parents", "child"} <= marked
    assert not marked & {"the", "to", "of", "a", "is", "when"}
